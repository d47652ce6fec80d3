//! Decompression of trace.dat v7 blocks: zstd (`ruzstd`) and zlib
//! (`miniz_oxide`), both pure Rust so the static build needs no C library.
//! See trace-cmd lib/trace-cmd/trace-compress-{zstd,zlib}.c.

use super::cursor::Cursor;
use super::error::{Result, TraceDatError};

/// Largest block we agree to inflate (trace-cmd chunks are ~10 pages; metadata
/// sections are at most a few tens of MB of kallsyms).
const MAX_BLOCK: u64 = 1 << 30;

/// Decompresses `data` with the named algorithm into exactly `size` bytes.
pub(crate) fn decompress(algo: &str, data: &[u8], size: u64, offset: u64) -> Result<Vec<u8>> {
    let fail = |msg: String| TraceDatError::Decompress {
        algo: algo.to_owned(),
        offset,
        msg,
    };
    if size > MAX_BLOCK {
        return Err(fail(format!("claims {size} uncompressed bytes")));
    }
    let out = match algo {
        "zstd" => {
            use std::io::Read;
            let mut input = data;
            let mut dec =
                ruzstd::decoding::StreamingDecoder::new(&mut input).map_err(|e| fail(e.to_string()))?;
            let mut out = Vec::with_capacity(size as usize);
            (&mut dec)
                .take(size + 1)
                .read_to_end(&mut out)
                .map_err(|e| fail(e.to_string()))?;
            out
        }
        "zlib" => miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, size as usize + 1)
            .map_err(|e| fail(format!("{:?}", e.status)))?,
        "none" => data.to_vec(),
        other => return Err(fail(format!("unknown compression {other:?}"))),
    };
    if out.len() as u64 != size {
        return Err(fail(format!(
            "gave {} bytes, not the {size} announced",
            out.len()
        )));
    }
    Ok(out)
}

/// Reads one `{u32 compressed size, u32 uncompressed size, data}` block
/// (trace-cmd `tracecmd_uncompress_block`).
pub(crate) fn read_block(c: &mut Cursor<'_>, algo: &str) -> Result<Vec<u8>> {
    let at = c.offset();
    let zsize = c.u32("compressed block size")?;
    let size = c.u32("uncompressed block size")?;
    let data = c.bytes(u64::from(zsize), "compressed block")?;
    decompress(algo, data, u64::from(size), at)
}

/// Reads flyrecord chunks: u32 count, then count blocks, concatenated
/// (trace-cmd `tracecmd_load_chunks_info`).
pub(crate) fn read_chunks(c: &mut Cursor<'_>, algo: &str) -> Result<Vec<u8>> {
    let count = c.u32("chunk count")?;
    let mut out = Vec::new();
    for _ in 0..count {
        let block = read_block(c, algo)?;
        if out.len() as u64 + block.len() as u64 > MAX_BLOCK * 64 {
            return Err(TraceDatError::Invalid {
                what: "decompressed CPU data is implausibly large".into(),
                offset: c.offset(),
            });
        }
        out.extend_from_slice(&block);
    }
    Ok(out)
}
