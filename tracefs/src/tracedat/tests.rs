//! Round trips through the writer, synthetic v7 files in every
//! compression, and robustness against truncated or random bytes.

use super::*;
use crate::Endian;
use proptest::prelude::*;

const HEADER_PAGE: &str = "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n\
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;\n\
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n\
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:1;\n";

const EXEC: &str = "name: sched_process_exec\nID: 316\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;\n\
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;\n\n\
print fmt: \"filename=%s pid=%d\", __get_str(filename), REC->pid\n";

fn page(endian: Endian) -> Vec<u8> {
    let mut p = vec![0u8; 4096];
    let put = |p: &mut Vec<u8>, off: usize, b: &[u8]| p[off..off + b.len()].copy_from_slice(b);
    let (ts, commit) = match endian {
        Endian::Little => (1000u64.to_le_bytes(), 28u64.to_le_bytes()),
        Endian::Big => (1000u64.to_be_bytes(), 28u64.to_be_bytes()),
    };
    put(&mut p, 0, &ts);
    put(&mut p, 8, &commit);
    // One event, type_len 6 (24 bytes), delta 0.
    let hdr: u32 = 6;
    put(&mut p, 16, &hdr.to_le_bytes());
    put(&mut p, 20, &316u16.to_le_bytes());
    put(&mut p, 28, &((8u32 << 16) | 16).to_le_bytes());
    put(&mut p, 36, b"/bin/ls\0");
    p
}

fn config() -> WriterConfig {
    WriterConfig {
        endian: Endian::Little,
        long_size: 8,
        page_size: 4096,
        header_page: HEADER_PAGE.into(),
        header_event: "# compressed entry header\n\ttype_len    :    5 bits\n".into(),
        ftrace_formats: vec!["name: function\nID: 1\nformat:\n".into()],
        event_systems: vec![("sched".into(), vec![EXEC.into()])],
        kallsyms: "ffffffff81000000 T _stext\n".into(),
        printk_formats: "0xffffffff82000000 : \"hello\\n\"\n".into(),
        cmdlines: "1 init\n42 ls\n".into(),
        cpus: 2,
        options: vec![
            text_option(option_id::UNAME, "Linux host 6.18 #1 x86_64"),
            text_option(option_id::TRACECLOCK, "[local] global counter"),
            text_option(option_id::CPUSTAT, "CPU: 0\nentries: 0\n"),
        ],
        clock: Some("local".into()),
    }
}

fn written() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = Writer::start(&mut out, &config()).unwrap();
    w.write_cpu_data(0, &page(Endian::Little)).unwrap();
    w.write_cpu_data(1, &[]).unwrap();
    w.finish().unwrap();
    out.into_inner()
}

#[test]
fn v6_round_trip_keeps_everything() {
    let bytes = written();
    let t = TraceDat::parse(&bytes).unwrap();
    assert_eq!(
        (t.version, t.endian, t.long_size, t.page_size, t.cpus),
        (6, Endian::Little, 8, 4096, 2)
    );
    assert_eq!(t.header_page, HEADER_PAGE);
    assert_eq!(t.event_formats, vec![("sched".to_owned(), EXEC.to_owned())]);
    assert_eq!(t.cmdlines().collect::<Vec<_>>(), vec![(1, "init"), (42, "ls")]);
    assert_eq!(t.uname().as_deref(), Some("Linux host 6.18 #1 x86_64"));
    assert_eq!(t.trace_clock().as_deref(), Some("local"));
    assert_eq!(t.cpu_stats(), vec!["CPU: 0\nentries: 0\n".to_owned()]);
    assert!(t.timestamps_in_ns());
    let cpus = t.cpu_data();
    assert_eq!(cpus.len(), 2);
    assert_eq!(&cpus[0].data[..], &page(Endian::Little)[..]);
    assert!(cpus[1].data.is_empty());
    // CPU data starts page-aligned in the file.
    let off = cpus[0].data.as_ptr() as usize - bytes.as_ptr() as usize;
    assert_eq!(off % 4096, 0);
    let (formats, bad) = t.formats();
    assert!(bad.is_empty() || bad.iter().all(|(s, _)| s == "ftrace"));
    assert_eq!(formats.find("sched", "sched_process_exec").unwrap().id, 316);
    let layout = t.layout().unwrap();
    let ev: Vec<_> = crate::ring::Pages::new(&cpus[0].data, &layout)
        .flat_map(|p| p.unwrap().events().collect::<Vec<_>>())
        .collect();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].as_ref().unwrap().ts, 1000);
}

/// A v7 file as trace-cmd lays it out (trace-output.c), with `algo`.
fn v7(algo: &str) -> Vec<u8> {
    let compress = |data: &[u8]| -> Vec<u8> {
        match algo {
            "zlib" => miniz_oxide::deflate::compress_to_vec_zlib(data, 6),
            "zstd" => ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest),
            _ => data.to_vec(),
        }
    };
    let flags: u16 = if algo == "none" { 0 } else { 1 };
    let mut f = Vec::new();
    f.extend_from_slice(b"\x17\x08\x44tracing7\0");
    f.push(0);
    f.push(8);
    f.extend_from_slice(&4096u32.to_le_bytes());
    f.extend_from_slice(algo.as_bytes());
    f.push(0);
    f.extend_from_slice(b"1.0\0");
    let opt_ptr = f.len();
    f.extend_from_slice(&0u64.to_le_bytes());
    let section = |f: &mut Vec<u8>, id: u16, body: &[u8]| -> u64 {
        let at = f.len() as u64;
        f.extend_from_slice(&id.to_le_bytes());
        f.extend_from_slice(&flags.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        let mut b = Vec::new();
        if flags == 1 {
            let z = compress(body);
            b.extend_from_slice(&(z.len() as u32).to_le_bytes());
            b.extend_from_slice(&(body.len() as u32).to_le_bytes());
            b.extend_from_slice(&z);
        } else {
            b.extend_from_slice(body);
        }
        f.extend_from_slice(&(b.len() as u64).to_le_bytes());
        f.extend_from_slice(&b);
        at
    };
    let mut hi = Vec::new();
    hi.extend_from_slice(b"header_page\0");
    hi.extend_from_slice(&(HEADER_PAGE.len() as u64).to_le_bytes());
    hi.extend_from_slice(HEADER_PAGE.as_bytes());
    hi.extend_from_slice(b"header_event\0");
    hi.extend_from_slice(&0u64.to_le_bytes());
    let hi_at = section(&mut f, option_id::HEADER_INFO, &hi);
    let mut ev = Vec::new();
    ev.extend_from_slice(&1u32.to_le_bytes());
    ev.extend_from_slice(b"sched\0");
    ev.extend_from_slice(&1u32.to_le_bytes());
    ev.extend_from_slice(&(EXEC.len() as u64).to_le_bytes());
    ev.extend_from_slice(EXEC.as_bytes());
    let ev_at = section(&mut f, option_id::EVENT_FORMATS, &ev);
    let mut cl = Vec::new();
    cl.extend_from_slice(&8u64.to_le_bytes());
    cl.extend_from_slice(b"42 ls\n\0\0");
    let cl_at = section(&mut f, option_id::CMDLINES, &cl);
    // Flyrecord section header, then the CPU's chunks.
    let buf_at = f.len() as u64;
    f.extend_from_slice(&option_id::BUFFER.to_le_bytes());
    f.extend_from_slice(&flags.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    let cpu_at = f.len() as u64;
    let pg = page(Endian::Little);
    if flags == 1 {
        f.extend_from_slice(&1u32.to_le_bytes());
        let z = compress(&pg);
        f.extend_from_slice(&(z.len() as u32).to_le_bytes());
        f.extend_from_slice(&(pg.len() as u32).to_le_bytes());
        f.extend_from_slice(&z);
    } else {
        f.extend_from_slice(&pg);
    }
    let cpu_size = f.len() as u64 - cpu_at;
    let mut opts = Vec::new();
    let mut opt = |id: u16, data: &[u8]| {
        opts.extend_from_slice(&id.to_le_bytes());
        opts.extend_from_slice(&(data.len() as u32).to_le_bytes());
        opts.extend_from_slice(data);
    };
    opt(option_id::HEADER_INFO, &hi_at.to_le_bytes());
    opt(option_id::EVENT_FORMATS, &ev_at.to_le_bytes());
    opt(option_id::CMDLINES, &cl_at.to_le_bytes());
    opt(option_id::CPUCOUNT, &1u32.to_le_bytes());
    let mut b = Vec::new();
    b.extend_from_slice(&buf_at.to_le_bytes());
    b.extend_from_slice(b"\0local\0");
    b.extend_from_slice(&4096u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&cpu_at.to_le_bytes());
    b.extend_from_slice(&cpu_size.to_le_bytes());
    opt(option_id::BUFFER, &b);
    opt(option_id::DONE, &0u64.to_le_bytes());
    let opts_at = section(&mut f, option_id::DONE, &opts);
    f[opt_ptr..opt_ptr + 8].copy_from_slice(&opts_at.to_le_bytes());
    f
}

#[test]
fn v7_reads_in_every_compression() {
    for algo in ["none", "zlib", "zstd"] {
        let bytes = v7(algo);
        let t = TraceDat::parse(&bytes).unwrap_or_else(|e| panic!("{algo}: {e}"));
        assert_eq!(t.version, 7);
        assert_eq!(t.compression.as_deref(), (algo != "none").then_some(algo));
        assert_eq!(t.cpus, 1, "{algo}");
        assert_eq!(t.header_page, HEADER_PAGE);
        assert_eq!(t.cmdlines().collect::<Vec<_>>(), vec![(42, "ls")]);
        assert_eq!(t.trace_clock().as_deref(), Some("local"));
        assert_eq!(&t.cpu_data()[0].data[..], &page(Endian::Little)[..], "{algo}");
    }
}

#[test]
fn every_truncation_is_an_error_naming_an_offset() {
    for bytes in [written(), v7("zlib"), v7("zstd")] {
        for cut in (0..bytes.len()).step_by(7) {
            match TraceDat::parse(&bytes[..cut]) {
                Ok(t) => assert!(t.cpu_data().iter().all(|c| c.data.len() <= cut)),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(!msg.is_empty());
                }
            }
        }
    }
    let e = TraceDat::parse(&written()[..30]).unwrap_err();
    assert!(e.to_string().contains("at byte"), "{e}");
    assert_eq!(TraceDat::parse(b"nope").unwrap_err(), TraceDatError::BadMagic);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(tail in prop::collection::vec(any::<u8>(), 0..600), v7 in any::<bool>()) {
        let mut b = b"\x17\x08\x44tracing".to_vec();
        b.extend_from_slice(if v7 { b"7\0" } else { b"6\0" });
        b.extend_from_slice(&tail);
        let _ = TraceDat::parse(&b);
        let _ = TraceDat::parse(&tail);
    }

    #[test]
    fn corrupted_real_layouts_never_panic(pos in 0usize..20_000, byte in any::<u8>(), which in 0usize..3) {
        let mut b = match which { 0 => written(), 1 => v7("zlib"), _ => v7("zstd") };
        let i = pos % b.len();
        b[i] = byte;
        if let Ok(t) = TraceDat::parse(&b) {
            let _ = t.formats();
            let _ = t.layout();
            let _ = t.trace_clock();
        }
    }
}
