//! Integration tests: one binary, one module per area (tests/suite/).
//! Tests that need the live kernel run as root; they skip with a message
//! only when FTR_REQUIRE_KERNEL is unset and the kernel lacks the feature.

mod util;

mod suite {
    pub mod block;
    pub mod cache;
    pub mod cli;
    pub mod deadlock;
    pub mod doctor;
    pub mod ftrace_report;
    pub mod funcs;
    pub mod guest;
    pub mod guest_cache;
    pub mod guest_funcs;
    pub mod guest_memleak;
    pub mod guest_record;
    pub mod guest_sampling;
    pub mod instance;
    pub mod kept;
    pub mod list;
    pub mod memleak;
    pub mod memleak_kernel;
    pub mod offcputime;
    pub mod profile;
    pub mod record_tracer;
    pub mod release;
    pub mod sampling;
    pub mod sched;
    pub mod signals;
    pub mod stat;
    pub mod symbols;
    pub mod tp;
    pub mod tracedat;
}
