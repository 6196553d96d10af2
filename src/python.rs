//! The `vpo._core` extension module: the Python face of `walk` and `hash`.
//!
//! All file work runs with the GIL released. The calling thread takes the GIL back only at
//! batch boundaries (and every `supervisor::CHECK_INTERVAL`) to call `progress` and
//! `should_cancel` and to let Python handle signals, so Ctrl+C and a cancel request both stop
//! the work within a fraction of a second.

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyNotADirectoryError, PyOSError, PyValueError,
};
use pyo3::prelude::*;

use crate::hash;
use crate::supervisor::{supervise, Progress};
use crate::walk::{self, RootError, WalkOptions};

create_exception!(
    vpo._core,
    Cancelled,
    PyException,
    "Raised when should_cancel() returned True at a batch boundary; the work has stopped."
);

/// Matching files found between two calls of the discovery callbacks.
const DISCOVER_BATCH: usize = 256;
/// Files hashed between two calls of the hashing callbacks.
const HASH_BATCH: usize = 32;

type DiscoverResult = (Vec<(PathBuf, u64, f64)>, Vec<(PathBuf, String)>);
type HashResult = Vec<(PathBuf, Option<String>, Option<String>)>;

/// Discover video files under `roots` in parallel.
///
/// Returns (files as (absolute path, size bytes, mtime seconds float), errors as (path, message)).
/// Extension match is case-insensitive, without the dot ("mkv"). Hidden directories (name starts
/// with '.') are skipped. Unreadable directories, broken symbolic links and directory loops are
/// listed in the errors, and the rest of the tree is still walked. A missing root or a root that
/// is not a directory raises FileNotFoundError / NotADirectoryError with the path in the message.
/// Files are returned sorted by path. `follow_symlinks` decides whether symbolic links to
/// directories are descended into; symbolic links to matching files are always listed.
/// `progress(found_so_far)` and `should_cancel()` are called every 256 files found, at least
/// every 200 ms, and once at the end (so the last report is the total); when should_cancel()
/// returns True, `Cancelled` is raised.
#[pyfunction]
#[pyo3(signature = (roots, extensions, follow_symlinks=false, progress=None, should_cancel=None))]
fn discover(
    py: Python<'_>,
    roots: Vec<PathBuf>,
    extensions: Vec<String>,
    follow_symlinks: bool,
    progress: Option<PyObject>,
    should_cancel: Option<PyObject>,
) -> PyResult<DiscoverResult> {
    let options = WalkOptions::new(&extensions, follow_symlinks);
    if !options.has_extensions() {
        return Err(PyValueError::new_err(
            "extensions must name at least one file extension, e.g. [\"mkv\"]",
        ));
    }
    let counter = Progress::new(DISCOVER_BATCH);
    let mut callbacks = Callbacks::new(progress.as_ref(), should_cancel.as_ref(), "discovery");
    let discovery = py.allow_threads(|| {
        supervise(
            &counter,
            || walk::discover(&roots, &options, &counter),
            |found| callbacks.check(|callback, py| callback.call1(py, (found,)), found),
        )
    })?;
    let discovery = discovery.map_err(root_error)?;
    let found = discovery.files.len();
    callbacks.finish(py, |callback, py| callback.call1(py, (found,)), found)?;
    let files = discovery
        .files
        .into_iter()
        .map(|file| (file.path, file.size, file.mtime))
        .collect();
    let errors = discovery
        .errors
        .into_iter()
        .map(|error| (error.path, error.message))
        .collect();
    Ok((files, errors))
}

/// Partial content hash of each path, in parallel, in input order.
///
/// Returns (path, 16-hex-digit xxh64 or None, error message or None) per path. Files <= 128 KiB:
/// xxh64 over the whole content then the size as u64 LE; larger files: over the first 64 KiB,
/// the last 64 KiB, then the size as u64 LE (seed 0). A file that cannot be read gets its error
/// message; nothing is raised for it. `progress(done, total)` and `should_cancel()` are called
/// every 32 files, at least every 200 ms, and once at the end; when should_cancel() returns
/// True, `Cancelled` is raised.
#[pyfunction]
#[pyo3(signature = (paths, progress=None, should_cancel=None))]
fn hash_files(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    progress: Option<PyObject>,
    should_cancel: Option<PyObject>,
) -> PyResult<HashResult> {
    let total = paths.len();
    let counter = Progress::new(HASH_BATCH);
    let mut callbacks = Callbacks::new(progress.as_ref(), should_cancel.as_ref(), "hashing");
    let outcomes = py.allow_threads(|| {
        supervise(
            &counter,
            || hash::hash_paths(&paths, &counter),
            |done| callbacks.check(|callback, py| callback.call1(py, (done, total)), done),
        )
    })?;
    callbacks.finish(py, |callback, py| callback.call1(py, (total, total)), total)?;
    Ok(paths
        .into_iter()
        .zip(outcomes)
        .map(|(path, outcome)| match outcome {
            Some(Ok(hash)) => (path, Some(hash::to_hex(hash)), None),
            Some(Err(message)) => (path, None, Some(message)),
            // Unreachable in practice: skipping only happens after a cancel, which raised above.
            None => (path, None, Some("not hashed: cancelled".to_owned())),
        })
        .collect())
}

/// The two optional Python callbacks and what was last reported through `progress`.
struct Callbacks<'a> {
    progress: Option<&'a PyObject>,
    should_cancel: Option<&'a PyObject>,
    what: &'static str,
    last_reported: Option<usize>,
}

impl<'a> Callbacks<'a> {
    fn new(
        progress: Option<&'a PyObject>,
        should_cancel: Option<&'a PyObject>,
        what: &'static str,
    ) -> Self {
        Callbacks {
            progress,
            should_cancel,
            what,
            last_reported: None,
        }
    }

    /// Called at a batch boundary without the GIL: takes it and runs `check_holding_gil`.
    fn check<F>(&mut self, report: F, count: usize) -> PyResult<()>
    where
        F: FnOnce(&PyObject, Python<'_>) -> PyResult<PyObject>,
    {
        Python::with_gil(|py| self.check_holding_gil(py, report, count))
    }

    /// Once the work is done: the last progress report always carries the final count, and a
    /// cancel requested after the last batch boundary is still honoured (the caller asked to
    /// stop while the call ran, so it must not go on as if nothing happened).
    fn finish<F>(&mut self, py: Python<'_>, report: F, count: usize) -> PyResult<()>
    where
        F: FnOnce(&PyObject, Python<'_>) -> PyResult<PyObject>,
    {
        self.check_holding_gil(py, report, count)
    }

    /// Lets Python run pending signal handlers (so Ctrl+C raises KeyboardInterrupt here),
    /// reports progress if it moved, and asks whether to stop. Any exception ends the work and
    /// propagates to the caller.
    fn check_holding_gil<F>(&mut self, py: Python<'_>, report: F, count: usize) -> PyResult<()>
    where
        F: FnOnce(&PyObject, Python<'_>) -> PyResult<PyObject>,
    {
        py.check_signals()?;
        self.report(py, report, count)?;
        if let Some(should_cancel) = self.should_cancel {
            if should_cancel.call0(py)?.is_truthy(py)? {
                return Err(Cancelled::new_err(format!("{} cancelled", self.what)));
            }
        }
        Ok(())
    }

    fn report<F>(&mut self, py: Python<'_>, report: F, count: usize) -> PyResult<()>
    where
        F: FnOnce(&PyObject, Python<'_>) -> PyResult<PyObject>,
    {
        if let Some(progress) = self.progress {
            if self.last_reported != Some(count) {
                report(progress, py)?;
                self.last_reported = Some(count);
            }
        }
        Ok(())
    }
}

/// FileNotFoundError / NotADirectoryError / OSError carrying errno and the path (as
/// `filename`), so `str(error)` reads e.g. "[Errno 2] scan root does not exist: '/tv'".
fn root_error(error: RootError) -> PyErr {
    match error {
        RootError::Missing(path) => {
            PyFileNotFoundError::new_err((libc::ENOENT, "scan root does not exist", path))
        }
        RootError::NotADirectory(path) => {
            PyNotADirectoryError::new_err((libc::ENOTDIR, "scan root is not a directory", path))
        }
        RootError::Inaccessible(path, io_error) => {
            let message = format!("cannot access scan root ({io_error})");
            match io_error.raw_os_error() {
                // OSError(errno, ...) picks the matching subclass, e.g. PermissionError.
                Some(errno) => PyOSError::new_err((errno, message, path)),
                None => PyOSError::new_err(format!("{message}: {}", path.display())),
            }
        }
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Cancelled", m.py().get_type::<Cancelled>())?;
    m.add_function(wrap_pyfunction!(discover, m)?)?;
    m.add_function(wrap_pyfunction!(hash_files, m)?)?;
    Ok(())
}
