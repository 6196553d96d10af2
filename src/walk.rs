//! Parallel discovery of video files under a set of roots.
//!
//! Every directory is read by its own rayon task, so directories are listed in parallel (which
//! is what makes a walk fast on a NAS, where each `readdir` is a round trip), not merely stat'ed
//! in parallel after a sequential listing. The walk never stops at a bad directory: whatever
//! cannot be read becomes an entry in `Discovery::errors` and the rest of the tree is still
//! walked.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::supervisor::Progress;

/// A file whose extension matched.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundFile {
    pub path: PathBuf,
    pub size: u64,
    /// Seconds since the epoch, computed exactly as Python's `os.stat().st_mtime` is, so a
    /// caller comparing against values it stored earlier sees equal floats for unchanged files.
    pub mtime: f64,
}

/// Something under a root that could not be walked: an unreadable directory, a broken symbolic
/// link, a symbolic link loop, a file that vanished before it could be stat'ed.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Discovery {
    /// Sorted by the bytes of the path, without duplicates (overlapping roots list a file once).
    pub files: Vec<FoundFile>,
    /// Sorted by path.
    pub errors: Vec<WalkError>,
}

/// Why a root cannot be walked at all. Unlike problems inside the tree these end the call,
/// because a typo in a root would otherwise look like an empty library.
#[derive(Debug)]
pub enum RootError {
    Missing(PathBuf),
    NotADirectory(PathBuf),
    Inaccessible(PathBuf, io::Error),
}

impl fmt::Display for RootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootError::Missing(path) => write!(f, "scan root does not exist: {}", path.display()),
            RootError::NotADirectory(path) => {
                write!(f, "scan root is not a directory: {}", path.display())
            }
            RootError::Inaccessible(path, error) => {
                write!(f, "cannot access scan root {}: {error}", path.display())
            }
        }
    }
}

/// What to look for.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    extensions: HashSet<String>,
    follow_symlinks: bool,
}

impl WalkOptions {
    /// `extensions` without the dot ("mkv"); a leading dot is tolerated, case is ignored, empty
    /// entries are dropped. `follow_symlinks` decides whether symbolic links to directories are
    /// descended into; symbolic links to files with a matching extension are always listed
    /// (with their target's size and mtime), as `os.walk` lists them.
    pub fn new<S: AsRef<str>>(extensions: &[S], follow_symlinks: bool) -> Self {
        let extensions = extensions
            .iter()
            .map(|ext| ext.as_ref().trim_start_matches('.').to_lowercase())
            .filter(|ext| !ext.is_empty())
            .collect();
        WalkOptions {
            extensions,
            follow_symlinks,
        }
    }

    pub fn has_extensions(&self) -> bool {
        !self.extensions.is_empty()
    }

    fn matches(&self, name: &OsStr) -> bool {
        Path::new(name)
            .extension()
            .and_then(OsStr::to_str)
            .is_some_and(|ext| self.extensions.contains(&ext.to_lowercase()))
    }
}

/// Turns a root into the absolute path that results are reported under, after checking that it
/// exists and is a directory (following a symbolic link at the root itself). The path is made
/// absolute without resolving symbolic links, so results stay under the path the user gave.
pub fn resolve_root(root: &Path) -> Result<PathBuf, RootError> {
    let absolute = std::path::absolute(root)
        .map_err(|error| RootError::Inaccessible(root.to_path_buf(), error))?;
    match fs::metadata(&absolute) {
        Ok(meta) if meta.is_dir() => Ok(absolute),
        Ok(_) => Err(RootError::NotADirectory(absolute)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(RootError::Missing(absolute)),
        Err(error) if error.raw_os_error() == Some(libc::ENOTDIR) => {
            // A path component before the last one is a file: the root cannot exist.
            Err(RootError::Missing(absolute))
        }
        Err(error) => Err(RootError::Inaccessible(absolute, error)),
    }
}

/// Walks already resolved roots in parallel. `progress` advances once per matching file; when it
/// is cancelled, no further directory is read and the partial result is returned.
pub fn walk(roots: &[PathBuf], options: &WalkOptions, progress: &Progress) -> Discovery {
    let walker = Walker {
        options,
        progress,
        files: Mutex::new(Vec::new()),
        errors: Mutex::new(Vec::new()),
    };
    rayon::scope(|scope| {
        for root in roots {
            let walker = &walker;
            scope.spawn(move |scope| walker.visit_directory(scope, root.clone(), None));
        }
    });
    let mut files = walker.files.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut errors = walker
        .errors
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    // Byte order of the path, which is the order Python's sorted() gives for UTF-8 paths.
    files.sort_unstable_by(|a, b| path_bytes(&a.path).cmp(path_bytes(&b.path)));
    // Byte equality: Path's own == compares component by component, which is much slower.
    files.dedup_by(|a, b| path_bytes(&a.path) == path_bytes(&b.path));
    errors.sort_by(|a, b| path_bytes(&a.path).cmp(path_bytes(&b.path)));
    Discovery { files, errors }
}

/// One directory on the way from a root down to the directory being read; a directory whose
/// identity matches one of its ancestors is a loop (through a symbolic link or a bind mount).
struct Ancestor {
    device: u64,
    inode: u64,
    path: PathBuf,
    parent: Option<Arc<Ancestor>>,
}

impl Ancestor {
    fn find(start: &Option<Arc<Ancestor>>, device: u64, inode: u64) -> Option<&Ancestor> {
        let mut current = start.as_deref();
        while let Some(ancestor) = current {
            if ancestor.device == device && ancestor.inode == inode {
                return Some(ancestor);
            }
            current = ancestor.parent.as_deref();
        }
        None
    }
}

struct Walker<'a> {
    options: &'a WalkOptions,
    progress: &'a Progress,
    files: Mutex<Vec<FoundFile>>,
    errors: Mutex<Vec<WalkError>>,
}

impl<'a> Walker<'a> {
    fn visit_directory<'scope>(
        &'scope self,
        scope: &rayon::Scope<'scope>,
        dir: PathBuf,
        ancestors: Option<Arc<Ancestor>>,
    ) {
        if self.progress.is_cancelled() {
            return;
        }
        let identity = match fs::metadata(&dir) {
            Ok(meta) => meta,
            Err(error) => {
                self.report(dir, format!("cannot read directory: {error}"));
                return;
            }
        };
        if let Some(ancestor) = Ancestor::find(&ancestors, identity.dev(), identity.ino()) {
            let message = format!(
                "directory loop: leads back to {}, not followed",
                ancestor.path.display()
            );
            self.report(dir, message);
            return;
        }
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                self.report(dir, format!("cannot read directory: {error}"));
                return;
            }
        };
        let here = Some(Arc::new(Ancestor {
            device: identity.dev(),
            inode: identity.ino(),
            path: dir.clone(),
            parent: ancestors,
        }));
        let mut found = Vec::new();
        for entry in entries {
            // Checked per entry too: a single directory can hold a whole library.
            if self.progress.is_cancelled() {
                break;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    // The listing broke off part way; what was listed so far is still kept.
                    self.report(dir.clone(), format!("cannot read directory: {error}"));
                    break;
                }
            };
            let name = entry.file_name();
            // Hidden entries are skipped whole: directories such as `.snapshots` or `.Trash-1000`,
            // and files such as macOS's `._Film.mkv` resource forks, which are not videos.
            if is_hidden(&name) {
                continue;
            }
            let path = entry.path();
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(error) => {
                    self.report(path, format!("cannot stat: {error}"));
                    continue;
                }
            };
            if file_type.is_dir() {
                let here = here.clone();
                scope.spawn(move |scope| self.visit_directory(scope, path, here));
            } else if file_type.is_file() {
                if self.options.matches(&name) {
                    match entry.metadata() {
                        Ok(meta) => found.push(self.found(path, &meta)),
                        // Usually a file deleted between the listing and the stat.
                        Err(error) => self.report(path, format!("cannot stat: {error}")),
                    }
                }
            } else if file_type.is_symlink() {
                self.visit_symlink(scope, &name, path, &here, &mut found);
            }
            // Sockets, FIFOs and device nodes are never videos.
        }
        if !found.is_empty() {
            self.files
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(&mut found);
        }
    }

    fn visit_symlink<'scope>(
        &'scope self,
        scope: &rayon::Scope<'scope>,
        name: &OsStr,
        path: PathBuf,
        here: &Option<Arc<Ancestor>>,
        found: &mut Vec<FoundFile>,
    ) {
        let matches = self.options.matches(name);
        if !matches && !self.options.follow_symlinks {
            return;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                if self.options.follow_symlinks {
                    let here = here.clone();
                    scope.spawn(move |scope| self.visit_directory(scope, path, here));
                }
            }
            Ok(meta) if meta.is_file() => {
                if matches {
                    found.push(self.found(path, &meta));
                }
            }
            Ok(_) => {}
            // Reported because the link was asked for (it looks like a video, or links are
            // followed): a library disk that is not mounted shows up here, not as silence.
            Err(error) => self.report(path, format!("broken symbolic link: {error}")),
        }
    }

    fn found(&self, path: PathBuf, meta: &Metadata) -> FoundFile {
        self.progress.advance();
        FoundFile {
            path,
            size: meta.len(),
            mtime: meta.mtime() as f64 + meta.mtime_nsec() as f64 * 1e-9,
        }
    }

    fn report(&self, path: PathBuf, message: String) {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(WalkError { path, message });
    }
}

fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_bytes().first() == Some(&b'.')
}

/// Resolves the roots and walks them; the whole of discovery for a caller that does not need
/// progress or cancellation (and the shape the Python binding wraps).
pub fn discover(
    roots: &[PathBuf],
    options: &WalkOptions,
    progress: &Progress,
) -> Result<Discovery, RootError> {
    let resolved = roots
        .iter()
        .map(|root| resolve_root(root))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(walk(&resolved, options, progress))
}
