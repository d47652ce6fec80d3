//! Where the header fields of a ring-buffer sub-buffer sit, as described by
//! `events/header_page` (see `ring_buffer_print_page_header` in the kernel's
//! kernel/trace/ring_buffer.c).

use crate::endian::Endian;

/// Layout of one ring-buffer sub-buffer ("page") of a given kernel.
///
/// Built from the text of `events/header_page` by
/// [`crate::format::parse_header_page`], or by hand for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLayout {
    /// Byte order of the kernel that wrote the pages.
    pub endian: Endian,
    /// Offset of the u64 page timestamp (always 0 in practice).
    pub timestamp_offset: usize,
    /// Offset of `commit` (a kernel `local_t`).
    pub commit_offset: usize,
    /// Size of `commit`, which is the kernel's `long`: 4 or 8.
    pub commit_size: usize,
    /// Offset of the first event (16 on 64-bit kernels, 12 on 32-bit).
    pub data_offset: usize,
    /// Whole sub-buffer size in bytes: `data_offset` plus the `data` field's
    /// size. Equals the page size unless `buffer_subbuf_size_kb` (6.8+) grew it.
    pub page_size: usize,
}

impl PageLayout {
    /// The layout of a 64-bit kernel with 4 KiB sub-buffers in `endian` order.
    pub const fn default_64(endian: Endian) -> PageLayout {
        PageLayout {
            endian,
            timestamp_offset: 0,
            commit_offset: 8,
            commit_size: 8,
            data_offset: 16,
            page_size: 4096,
        }
    }

    /// The layout of a 32-bit kernel with 4 KiB sub-buffers in `endian` order.
    pub const fn default_32(endian: Endian) -> PageLayout {
        PageLayout {
            endian,
            timestamp_offset: 0,
            commit_offset: 8,
            commit_size: 4,
            data_offset: 12,
            page_size: 4096,
        }
    }

    /// The kernel's `sizeof(long)`, inferred from the size of `commit`.
    pub const fn kernel_long_size(&self) -> usize {
        self.commit_size
    }
}
