//! Format texts shared by the unit tests: real captures (noted) and
//! hand-made layouts for kernels without a public capture.

/// sched_switch verbatim from the 6.18.44 host (host-6.18-lockdown archive).
pub const SCHED_SWITCH_6_18: &str = "name: sched_switch
ID: 372
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

print fmt: \"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d\", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), \"|\", { 0x00000001, \"S\" }, { 0x00000002, \"D\" }, { 0x00000004, \"T\" }, { 0x00000008, \"t\" }, { 0x00000010, \"X\" }, { 0x00000020, \"Z\" }, { 0x00000040, \"P\" }, { 0x00000080, \"I\" }) : \"R\", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? \"+\" : \"\", REC->next_comm, REC->next_pid, REC->next_prio
";

/// block_rq_complete from the 6.18 host (print fmt shortened): `int error`
/// and, since ~6.11, `ioprio` before `rwbs`.
pub const BLOCK_RQ_COMPLETE_6_18: &str = "name: block_rq_complete
ID: 2107
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;
\tfield:sector_t sector;\toffset:16;\tsize:8;\tsigned:0;
\tfield:unsigned int nr_sector;\toffset:24;\tsize:4;\tsigned:0;
\tfield:int error;\toffset:28;\tsize:4;\tsigned:1;
\tfield:unsigned short ioprio;\toffset:32;\tsize:2;\tsigned:0;
\tfield:char rwbs[10];\toffset:34;\tsize:10;\tsigned:0;
\tfield:__data_loc char[] cmd;\toffset:44;\tsize:4;\tsigned:0;

print fmt: \"%d,%d %s (%s) %llu + %u %s,%u,%u [%d]\", ((unsigned int) ((REC->dev) >> 20)), ((unsigned int) ((REC->dev) & ((1U << 20) - 1))), REC->rwbs, __get_str(cmd), (unsigned long long)REC->sector, REC->nr_sector, REC->error
";

/// Hand-made RHEL7 (3.10.0-*.el7 x86_64) block_rq_complete: `int errors`
/// of the block_rq_with_error class (no public capture exists).
pub const BLOCK_RQ_COMPLETE_RHEL7: &str = "name: block_rq_complete
ID: 1139
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:dev_t dev;\toffset:8;\tsize:4;\tsigned:0;
\tfield:sector_t sector;\toffset:16;\tsize:8;\tsigned:0;
\tfield:unsigned int nr_sector;\toffset:24;\tsize:4;\tsigned:0;
\tfield:int errors;\toffset:28;\tsize:4;\tsigned:1;
\tfield:char rwbs[8];\toffset:32;\tsize:8;\tsigned:0;
\tfield:__data_loc char[] cmd;\toffset:40;\tsize:4;\tsigned:0;

print fmt: \"%d,%d %s (%s) %llu + %u [%d]\", ((unsigned int) ((REC->dev) >> 20)), ((unsigned int) ((REC->dev) & ((1U << 20) - 1))), REC->rwbs, __get_str(cmd), (unsigned long long)REC->sector, REC->nr_sector, REC->errors
";

/// 2.6.3x style: no `signed:`, and `common_lock_depth`.
pub const NO_SIGNED: &str = "name: old_event
ID: 21
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;
\tfield:int common_pid;\toffset:4;\tsize:4;
\tfield:int common_lock_depth;\toffset:8;\tsize:4;

\tfield:long delta;\toffset:16;\tsize:8;
\tfield:s16 small;\toffset:24;\tsize:2;
\tfield:u16 usmall;\toffset:26;\tsize:2;
\tfield:char comm[16];\toffset:28;\tsize:16;
\tfield:const char * fmt;\toffset:48;\tsize:8;
\tfield:unsigned long long big;\toffset:56;\tsize:8;

print fmt: \"delta=%ld\", REC->delta
";

/// A 5.x+ `__rel_loc` field (used by user_events and eprobes).
pub const REL_LOC: &str = "name: rel
ID: 1500
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:u32 before;\toffset:8;\tsize:4;\tsigned:0;
\tfield:__rel_loc char[] msg;\toffset:12;\tsize:4;\tsigned:0;

print fmt: \"%s\", __get_rel_str(msg)
";

/// One event with every field kind; offsets are x86_64-like.
pub const ALL_KINDS: &str = "name: all_kinds
ID: 900
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:s8 i8;\toffset:8;\tsize:1;\tsigned:1;
\tfield:short i16;\toffset:10;\tsize:2;\tsigned:1;
\tfield:int i32;\toffset:12;\tsize:4;\tsigned:1;
\tfield:long i64;\toffset:16;\tsize:8;\tsigned:1;
\tfield:unsigned long u64;\toffset:24;\tsize:8;\tsigned:0;
\tfield:void * ptr;\toffset:32;\tsize:8;\tsigned:0;
\tfield:char comm[8];\toffset:40;\tsize:8;\tsigned:0;
\tfield:unsigned int arr[3];\toffset:48;\tsize:12;\tsigned:0;
\tfield:__data_loc char[] name;\toffset:60;\tsize:4;\tsigned:0;
\tfield:__rel_loc char[] rel;\toffset:64;\tsize:4;\tsigned:0;
\tfield:__data_loc u16[] ids;\toffset:68;\tsize:4;\tsigned:0;
\tfield:__data_loc u8[] buf;\toffset:72;\tsize:4;\tsigned:0;
\tfield:struct pair other;\toffset:76;\tsize:4;\tsigned:0;

print fmt: \"\"
";

/// header_page of a 64-bit kernel with 4 KiB sub-buffers (6.18 host).
pub const PAGE_64: &str = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
";

/// 3.4.0 32-bit ARM (perfetto android_hammerhead).
pub const PAGE_32: &str = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;
";

/// header_event of a 4.17+ kernel (prints `time_stamp`), 6.18 host.
pub const EVENT_NEW: &str = "# compressed entry header
\ttype_len    :    5 bits
\ttime_delta  :   27 bits
\tarray       :   32 bits

\tpadding     : type == 29
\ttime_extend : type == 30
\ttime_stamp : type == 31
\tdata max type_len  == 28
";
