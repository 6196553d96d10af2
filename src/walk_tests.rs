//! Tests of the parallel walker on real directory trees in temporary directories.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::supervisor::Progress;
use crate::walk::{discover, resolve_root, walk, Discovery, RootError, WalkOptions};

const VIDEO: [&str; 3] = ["mkv", "mp4", "avi"];

fn write(path: &Path, size: usize) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent");
    }
    fs::write(path, vec![7u8; size]).expect("write file");
}

fn run(root: &Path, follow_symlinks: bool) -> Discovery {
    let options = WalkOptions::new(&VIDEO, follow_symlinks);
    discover(&[root.to_path_buf()], &options, &Progress::new(256)).expect("root is valid")
}

fn names(discovery: &Discovery, root: &Path) -> Vec<String> {
    discovery
        .files
        .iter()
        .map(|file| {
            let relative = file.path.strip_prefix(root).expect("path under the root");
            relative.to_string_lossy().into_owned()
        })
        .collect()
}

fn error_for<'a>(discovery: &'a Discovery, path: &Path) -> &'a str {
    discovery
        .errors
        .iter()
        .find(|error| error.path == path)
        .map(|error| error.message.as_str())
        .unwrap_or_else(|| panic!("no error for {}: {:?}", path.display(), discovery.errors))
}

#[test]
fn finds_matching_extensions_in_any_case_sorted_with_size_and_mtime() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    write(&root.join("b/Show.S01E01.MKV"), 10);
    write(&root.join("a/movie.mp4"), 20);
    write(&root.join("a/movie.Avi"), 0);
    write(&root.join("a/deep/er/x.mkv"), 5);
    write(&root.join("a/notes.txt"), 5);
    write(&root.join("a/mkv"), 5);
    write(&root.join("a/movie.mkv.part"), 5);

    let discovery = run(root, false);

    assert_eq!(
        names(&discovery, root),
        [
            "a/deep/er/x.mkv",
            "a/movie.Avi",
            "a/movie.mp4",
            "b/Show.S01E01.MKV"
        ]
    );
    assert!(discovery.errors.is_empty(), "{:?}", discovery.errors);
    for file in &discovery.files {
        let meta = fs::metadata(&file.path).expect("stat");
        assert_eq!(file.size, meta.len());
        assert_eq!(
            file.mtime,
            meta.mtime() as f64 + meta.mtime_nsec() as f64 * 1e-9
        );
    }
    assert!(discovery.files.iter().all(|file| file.path.is_absolute()));
}

#[test]
fn extensions_are_taken_with_or_without_dot_and_in_any_case() {
    let options = WalkOptions::new(&[".MKV", "", "Mp4"], false);
    let tmp = TempDir::new().expect("tempdir");
    write(&tmp.path().join("a.mkv"), 1);
    write(&tmp.path().join("b.MP4"), 1);
    let discovery = discover(&[tmp.path().to_path_buf()], &options, &Progress::new(1)).expect("ok");
    assert_eq!(names(&discovery, tmp.path()), ["a.mkv", "b.MP4"]);
    assert!(!WalkOptions::new(&["", "."], false).has_extensions());
}

#[test]
fn hidden_entries_are_skipped_but_a_hidden_root_is_walked() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path().join(".library");
    write(&root.join("shown/a.mkv"), 1);
    write(&root.join(".hidden/b.mkv"), 1);
    write(&root.join("shown/.trash/deeper/c.mkv"), 1);
    write(&root.join("shown/._a.mkv"), 1);

    let discovery = run(&root, false);

    assert_eq!(names(&discovery, &root), ["shown/a.mkv"]);
}

#[test]
fn symlink_loops_terminate_and_are_reported_when_following() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    write(&root.join("a/one.mkv"), 1);
    write(&root.join("b/two.mkv"), 1);
    symlink("..", root.join("a/up")).expect("symlink");
    symlink("../b", root.join("a/to_b")).expect("symlink");
    symlink("../a", root.join("b/to_a")).expect("symlink");

    let discovery = run(root, true);

    // Each directory is entered once along every loop-free path and the loops are reported.
    assert_eq!(
        names(&discovery, root),
        ["a/one.mkv", "a/to_b/two.mkv", "b/to_a/one.mkv", "b/two.mkv"]
    );
    assert!(error_for(&discovery, &root.join("a/up")).contains("directory loop"));
    assert!(error_for(&discovery, &root.join("a/to_b/to_a")).contains("directory loop"));
    assert!(error_for(&discovery, &root.join("b/to_a/to_b")).contains("directory loop"));
    assert_eq!(discovery.errors.len(), 4, "{:?}", discovery.errors);
    assert!(error_for(&discovery, &root.join("b/to_a/up")).contains("directory loop"));
}

#[test]
fn a_symlink_pointing_at_itself_is_reported_not_followed_forever() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    write(&root.join("x.mkv"), 1);
    symlink("self", root.join("self")).expect("symlink");

    let discovery = run(root, true);

    assert_eq!(names(&discovery, root), ["x.mkv"]);
    assert!(error_for(&discovery, &root.join("self")).contains("broken symbolic link"));
}

#[test]
fn symlinked_directories_are_left_alone_unless_following() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path().join("lib");
    write(&tmp.path().join("elsewhere/far.mkv"), 3);
    fs::create_dir_all(&root).expect("mkdir");
    symlink(tmp.path().join("elsewhere"), root.join("linked")).expect("symlink");
    symlink(root.join("nowhere"), root.join("unmounted")).expect("symlink");

    let not_following = run(&root, false);
    assert!(not_following.files.is_empty());
    assert!(
        not_following.errors.is_empty(),
        "{:?}",
        not_following.errors
    );

    let following = run(&root, true);
    assert_eq!(names(&following, &root), ["linked/far.mkv"]);
    // A directory link to nowhere (a disk that is not mounted) is an error, not silence.
    assert!(error_for(&following, &root.join("unmounted")).contains("broken symbolic link"));
}

#[test]
fn symlinks_to_video_files_are_listed_with_their_target_size() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path().join("lib");
    write(&tmp.path().join("store/real.bin"), 1234);
    fs::create_dir_all(&root).expect("mkdir");
    symlink(tmp.path().join("store/real.bin"), root.join("film.mkv")).expect("symlink");
    symlink(root.join("missing.bin"), root.join("gone.mkv")).expect("symlink");

    let discovery = run(&root, false);

    assert_eq!(names(&discovery, &root), ["film.mkv"]);
    assert_eq!(discovery.files[0].size, 1234);
    assert!(error_for(&discovery, &root.join("gone.mkv")).contains("broken symbolic link"));
}

#[test]
fn empty_files_and_empty_directories_are_fine() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    fs::create_dir_all(root.join("empty/dir")).expect("mkdir");
    write(&root.join("zero.mkv"), 0);

    let discovery = run(root, false);

    assert_eq!(names(&discovery, root), ["zero.mkv"]);
    assert_eq!(discovery.files[0].size, 0);
}

#[test]
fn overlapping_roots_list_each_file_once() {
    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    write(&root.join("tv/show/e1.mkv"), 1);
    let options = WalkOptions::new(&VIDEO, false);
    let roots = [root.join("tv"), root.join("tv/show"), root.join("tv/")];
    let discovery = discover(&roots, &options, &Progress::new(1)).expect("ok");
    assert_eq!(names(&discovery, root), ["tv/show/e1.mkv"]);
}

#[test]
fn bad_roots_are_refused_with_their_path() {
    let tmp = TempDir::new().expect("tempdir");
    let file = tmp.path().join("movie.mkv");
    write(&file, 1);
    let missing = tmp.path().join("no/such/dir");

    match resolve_root(&missing) {
        Err(error @ RootError::Missing(_)) => {
            assert!(error.to_string().contains(&*missing.to_string_lossy()));
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(matches!(resolve_root(&file), Err(RootError::NotADirectory(p)) if p == file));
    assert!(matches!(
        resolve_root(&file.join("below")),
        Err(RootError::Missing(_))
    ));
    let options = WalkOptions::new(&VIDEO, false);
    let both = [tmp.path().to_path_buf(), missing];
    assert!(matches!(
        discover(&both, &options, &Progress::new(1)),
        Err(RootError::Missing(_))
    ));
}

#[test]
fn a_relative_root_gives_absolute_paths() {
    let relative = PathBuf::from("src");
    let options = WalkOptions::new(&["rs"], false);
    let discovery = discover(&[relative], &options, &Progress::new(1)).expect("ok");
    let expected = std::env::current_dir()
        .expect("cwd")
        .join("src/walk_tests.rs");
    assert!(discovery.files.iter().any(|file| file.path == expected));
}

#[test]
fn a_cancelled_walk_reads_nothing_more() {
    let tmp = TempDir::new().expect("tempdir");
    write(&tmp.path().join("a/b.mkv"), 1);
    let progress = Progress::new(1);
    progress.cancel();
    let options = WalkOptions::new(&VIDEO, false);
    let discovery = walk(&[tmp.path().to_path_buf()], &options, &progress);
    assert!(discovery.files.is_empty());
}

#[test]
fn progress_counts_every_matching_file() {
    let tmp = TempDir::new().expect("tempdir");
    for dir in 0..20 {
        for file in 0..30 {
            write(&tmp.path().join(format!("d{dir}/f{file}.mkv")), 0);
        }
        write(&tmp.path().join(format!("d{dir}/skip.txt")), 0);
    }
    let progress = Progress::new(7);
    let options = WalkOptions::new(&VIDEO, false);
    let discovery = walk(&[tmp.path().to_path_buf()], &options, &progress);
    assert_eq!(discovery.files.len(), 600);
    assert_eq!(progress.count(), 600);
}

const UNREADABLE_TEST: &str = "walk_tests::an_unreadable_directory_is_reported_and_the_rest_walked";
const MARKER_VAR: &str = "VPO_WALK_TEST_MARKER";
// linux/capability.h: the capabilities that let root ignore permission bits.
const CAP_DAC_OVERRIDE: libc::c_ulong = 1;
const CAP_DAC_READ_SEARCH: libc::c_ulong = 2;

/// Root reads any directory, so as root this test re-runs itself without CAP_DAC_OVERRIDE and
/// CAP_DAC_READ_SEARCH (dropped from the bounding set before exec): the kernel then checks the
/// mode bits for root too, so the permission error is real, not simulated. The re-run writes a
/// marker file at the end, which proves that it executed the body rather than matching no test.
#[test]
fn an_unreadable_directory_is_reported_and_the_rest_walked() {
    let marker = std::env::var_os(MARKER_VAR);
    // SAFETY: geteuid has no preconditions and cannot fail.
    if marker.is_none() && unsafe { libc::geteuid() } == 0 {
        let marker_dir = TempDir::new().expect("tempdir");
        let marker = marker_dir.path().join("ran");
        let exe = std::env::current_exe().expect("test binary");
        let mut rerun = Command::new(exe);
        rerun
            .args([
                "--exact",
                UNREADABLE_TEST,
                "--nocapture",
                "--test-threads=1",
            ])
            .env(MARKER_VAR, &marker);
        // SAFETY: the closure only makes prctl system calls, which are async-signal-safe.
        unsafe {
            rerun.pre_exec(|| {
                for capability in [CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH] {
                    if libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let output = rerun
            .output()
            .expect("re-run the test without DAC capabilities");
        assert!(
            output.status.success(),
            "re-run: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(marker.exists(), "the re-run did not execute the test body");
        return;
    }

    let tmp = TempDir::new().expect("tempdir");
    let root = tmp.path();
    write(&root.join("open/a.mkv"), 1);
    write(&root.join("locked/secret.mkv"), 1);
    write(&root.join("listable_only/inner/c.mkv"), 1);
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o000)).expect("chmod");
    // Readable but not searchable: names can be listed, nothing inside can be stat'ed.
    fs::set_permissions(
        root.join("listable_only"),
        fs::Permissions::from_mode(0o400),
    )
    .expect("chmod");

    let discovery = run(root, false);

    for dir in ["locked", "listable_only"] {
        // Restore access first so TempDir can clean up even if an assertion fails.
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    assert_eq!(names(&discovery, root), ["open/a.mkv"]);
    assert!(error_for(&discovery, &root.join("locked")).contains("Permission denied"));
    assert!(error_for(&discovery, &root.join("listable_only/inner")).contains("Permission denied"));
    if let Some(marker) = marker {
        fs::write(marker, b"ran").expect("write marker");
    }
}
