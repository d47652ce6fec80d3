//! Integration tests: one binary, one module per area (tests/suite/).
//! Tests that need the live kernel run as root; they skip with a message
//! only when FTR_REQUIRE_KERNEL is unset and the kernel lacks the feature.

mod util;

mod suite {
    pub mod block;
    pub mod cli;
    pub mod doctor;
    pub mod funcs;
    pub mod guest;
    pub mod guest_funcs;
    pub mod instance;
    pub mod list;
    pub mod release;
    pub mod sched;
    pub mod signals;
    pub mod stat;
    pub mod tp;
    pub mod tracedat;
}
