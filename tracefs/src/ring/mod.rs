//! Ring-buffer sub-buffers as read from `per_cpu/cpuN/trace_pipe_raw`.

mod encode;
mod layout;
mod merge;
mod page;

pub use encode::PageEncoder;
pub use layout::PageLayout;
pub use merge::{merge_sorted, OrderedMerge};
pub use page::{Events, Missed, Page, PageError, Pages, RawEvent};
