//! Partial content hashing: cheap enough to run over a whole library on every full scan, yet
//! it changes whenever a file is replaced, re-muxed or truncated (the head holds the container
//! header, the tail the index, and the size catches the rest).
//!
//! Layout (xxHash64, seed 0): a file of at most `WHOLE_FILE_LIMIT` bytes is hashed whole; a
//! larger one as its first `EDGE` bytes followed by its last `EDGE` bytes. The size as a
//! little-endian u64 comes last in both cases.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use xxhash_rust::xxh64::Xxh64;

use crate::supervisor::Progress;

/// Bytes read from each end of a large file.
pub const EDGE: u64 = 64 * 1024;
/// Files up to this size are hashed whole (head and tail would overlap or touch).
pub const WHOLE_FILE_LIMIT: u64 = 2 * EDGE;

/// The partial hash of one file, or why it could not be computed.
pub fn partial_hash(path: &Path) -> io::Result<u64> {
    // Non-blocking open: a FIFO given by mistake must fail below, not hang the worker forever
    // waiting for a writer. Regular files ignore the flag.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let size = meta.len();
    let mut hasher = Xxh64::new(0);
    if size <= WHOLE_FILE_LIMIT {
        hasher.update(&read_at(&file, 0, size)?);
    } else {
        hasher.update(&read_at(&file, 0, EDGE)?);
        hasher.update(&read_at(&file, size - EDGE, EDGE)?);
    }
    hasher.update(&size.to_le_bytes());
    Ok(hasher.digest())
}

/// The hash as the 16 lowercase hex digits stored and compared by the Python side.
pub fn to_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    // `len` is at most WHOLE_FILE_LIMIT, so the conversion cannot truncate.
    let mut buffer = vec![0u8; len as usize];
    file.read_exact_at(&mut buffer, offset).map_err(|error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::other("file shrank while it was being hashed")
        } else {
            error
        }
    })?;
    Ok(buffer)
}

/// Outcome for one input path: `None` only for files skipped because the work was cancelled.
pub type HashOutcome = Option<Result<u64, String>>;

/// Hashes `paths` in parallel, in input order. `progress` advances once per file; after it is
/// cancelled the remaining files are skipped.
pub fn hash_paths(paths: &[PathBuf], progress: &Progress) -> Vec<HashOutcome> {
    paths
        .par_iter()
        // One file is a meaningful unit of I/O; let idle threads steal single files.
        .with_max_len(1)
        .map(|path| {
            if progress.is_cancelled() {
                return None;
            }
            let outcome = partial_hash(path).map_err(|error| error.to_string());
            progress.advance();
            Some(outcome)
        })
        .collect()
}
