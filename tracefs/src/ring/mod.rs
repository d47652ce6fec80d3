//! Ring-buffer sub-buffers as read from `per_cpu/cpuN/trace_pipe_raw`.

mod layout;

pub use layout::PageLayout;
