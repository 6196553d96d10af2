//! Tests of the partial hash on real files, against the layout written out by hand.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use xxhash_rust::xxh64::xxh64;

use crate::hash::{hash_paths, partial_hash, to_hex, EDGE, WHOLE_FILE_LIMIT};
use crate::supervisor::Progress;

const KIB: usize = 1024;

/// Content that differs at every offset pattern, so a read from the wrong place changes the hash.
fn content(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

/// The documented layout, built independently of the streaming code under test.
fn expected(data: &[u8]) -> u64 {
    let size = data.len() as u64;
    let mut layout = Vec::new();
    if size <= WHOLE_FILE_LIMIT {
        layout.extend_from_slice(data);
    } else {
        let edge = EDGE as usize;
        layout.extend_from_slice(&data[..edge]);
        layout.extend_from_slice(&data[data.len() - edge..]);
    }
    layout.extend_from_slice(&size.to_le_bytes());
    xxh64(&layout, 0)
}

fn file_with(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, data).expect("write");
    path
}

#[test]
fn every_size_boundary_hashes_the_documented_bytes() {
    let tmp = TempDir::new().expect("tempdir");
    let sizes = [
        0,
        1,
        64 * KIB - 1,
        64 * KIB,
        64 * KIB + 1,
        128 * KIB - 1,
        128 * KIB,
        128 * KIB + 1,
        3 * 1024 * KIB + 7,
    ];
    for size in sizes {
        let data = content(size);
        let path = file_with(tmp.path(), &format!("f{size}"), &data);
        assert_eq!(
            partial_hash(&path).expect("hash"),
            expected(&data),
            "size {size}"
        );
    }
}

#[test]
fn the_empty_file_hashes_only_its_size() {
    let tmp = TempDir::new().expect("tempdir");
    let path = file_with(tmp.path(), "empty.mkv", b"");
    assert_eq!(
        partial_hash(&path).expect("hash"),
        xxh64(&0u64.to_le_bytes(), 0)
    );
}

#[test]
fn small_and_large_files_differ_where_they_should() {
    let tmp = TempDir::new().expect("tempdir");
    let size = 1024 * KIB;
    let base = content(size);
    let hash_of = |name: &str, data: &[u8]| partial_hash(&file_with(tmp.path(), name, data));
    let original = hash_of("original", &base).expect("hash");

    let mut middle = base.clone();
    middle[size / 2] ^= 0xff;
    // The middle of a large file is not read: by design, that is what keeps the hash cheap.
    assert_eq!(hash_of("middle", &middle).expect("hash"), original);

    let mut head = base.clone();
    head[10] ^= 0xff;
    assert_ne!(hash_of("head", &head).expect("hash"), original);

    let mut tail = base.clone();
    tail[size - 10] ^= 0xff;
    assert_ne!(hash_of("tail", &tail).expect("hash"), original);

    let mut longer = base.clone();
    longer.insert(size / 2, 0);
    assert_ne!(hash_of("longer", &longer).expect("hash"), original);

    // A small file is read whole, so its middle counts.
    let small = content(100 * KIB);
    let mut small_changed = small.clone();
    small_changed[50 * KIB] ^= 0xff;
    assert_ne!(
        hash_of("small", &small).expect("hash"),
        hash_of("small_changed", &small_changed).expect("hash")
    );
}

#[test]
fn unreadable_inputs_give_errors_not_panics_or_hangs() {
    let tmp = TempDir::new().expect("tempdir");
    let missing = tmp.path().join("missing.mkv");
    let error = partial_hash(&missing).expect_err("missing file");
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);

    let directory = partial_hash(tmp.path()).expect_err("directory");
    assert!(
        directory.to_string().contains("not a regular file"),
        "{directory}"
    );

    // A FIFO with no writer would block a plain open forever.
    let fifo = tmp.path().join("pipe.mkv");
    let c_path = CString::new(fifo.as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: c_path is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let fifo_error = partial_hash(&fifo).expect_err("fifo");
    assert!(
        fifo_error.to_string().contains("not a regular file"),
        "{fifo_error}"
    );
}

#[test]
fn hex_is_sixteen_lowercase_digits() {
    assert_eq!(to_hex(0xab), "00000000000000ab");
    assert_eq!(to_hex(u64::MAX), "ffffffffffffffff");
    assert_eq!(to_hex(0xDEAD_BEEF_0000_0001), "deadbeef00000001");
}

#[test]
fn hash_paths_keeps_input_order_and_reports_each_error() {
    let tmp = TempDir::new().expect("tempdir");
    let mut paths = Vec::new();
    let mut expected_hashes = Vec::new();
    for i in 0..100 {
        if i % 10 == 3 {
            paths.push(tmp.path().join(format!("missing{i}")));
            expected_hashes.push(None);
        } else {
            let data = content(i * 3 * KIB);
            paths.push(file_with(tmp.path(), &format!("f{i}"), &data));
            expected_hashes.push(Some(expected(&data)));
        }
    }
    let progress = Progress::new(8);
    let outcomes = hash_paths(&paths, &progress);
    assert_eq!(progress.count(), 100);
    for (outcome, expected_hash) in outcomes.into_iter().zip(expected_hashes) {
        match (outcome, expected_hash) {
            (Some(Ok(hash)), Some(want)) => assert_eq!(hash, want),
            (Some(Err(message)), None) => assert!(message.contains("No such file")),
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }
}

#[test]
fn a_cancelled_hash_run_skips_the_remaining_files() {
    let tmp = TempDir::new().expect("tempdir");
    let paths: Vec<PathBuf> = (0..10)
        .map(|i| file_with(tmp.path(), &format!("f{i}"), b"x"))
        .collect();
    let progress = Progress::new(1);
    progress.cancel();
    let outcomes = hash_paths(&paths, &progress);
    assert!(outcomes.iter().all(Option::is_none));
    assert_eq!(progress.count(), 0);
}
