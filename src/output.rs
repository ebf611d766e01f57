//! Files in and out without losing any: output paths checked before long work starts,
//! files written whole or not at all (several files together when they belong together),
//! and inputs read only when they are regular files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

fn refused(path: &Path, msg: impl Into<String>) -> Error {
    Error::Format { path: path.display().to_string(), msg: msg.into() }
}

/// The directory a file path lives in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `path` with symbolic links to files followed (up to 32 deep), so that writing through a
/// link writes its target instead of replacing the link.
fn resolve(path: &Path) -> Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..32 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
                path = parent_of(&path).join(target);
            }
            _ => return Ok(path),
        }
    }
    Err(refused(&path, "too many levels of symbolic links"))
}

/// Checks that a file can be written at `path` now, before hours of work depend on it: if
/// it exists it is a regular file (not a directory, device or pipe), its directory exists,
/// and a file can be created there (a probe file is created and removed at once).
///
/// # Errors
///
/// [`Error::Format`] naming the path and the reason ("is a directory", "is not a regular
/// file", "directory ... does not exist"), or [`Error::Io`] with the operating system's
/// reason (e.g. "Permission denied").
pub fn check_writable(path: &Path) -> Result<()> {
    let path = &resolve(path)?;
    if path.file_name().is_none() {
        return Err(refused(path, "not a file path"));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => return Err(refused(path, "is a directory")),
        Ok(meta) if !meta.is_file() => return Err(refused(path, "is not a regular file (a device or a pipe?)")),
        _ => {}
    }
    let dir = parent_of(path);
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(refused(path, format!("{} is not a directory", dir.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refused(path, format!("directory {} does not exist", dir.display())))
        }
        Err(e) => return Err(Error::io(dir, e)),
    }
    let probe = temporary_beside(path, "probe");
    std::fs::File::create(&probe).map_err(|e| Error::io(path, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// What identifies the file a path names: its device and inode when it exists (so hard
/// links and symlinks match), else its resolved directory and name.
fn identity(path: &Path) -> (PathBuf, u64, u64) {
    let path = resolve(path).unwrap_or_else(|_| path.to_path_buf());
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(&path) {
        use std::os::unix::fs::MetadataExt;
        return (PathBuf::new(), meta.dev(), meta.ino());
    }
    let dir = parent_of(&path);
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    (dir.join(path.file_name().unwrap_or_default()), 0, 0)
}

/// Checks that no two of `files` (`(what, path)`, e.g. `("--save", path)`) name the same
/// file, however spelled (`./a`, a symbolic or hard link), so that one never overwrites
/// another.
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming both and the file.
pub fn check_distinct(files: &[(&str, &Path)]) -> Result<()> {
    let keys: Vec<_> = files.iter().map(|(_, p)| identity(p)).collect();
    for i in 0..files.len() {
        for j in i + 1..files.len() {
            if keys[i] == keys[j] {
                let msg = format!("{} and {} both name {}", files[i].0, files[j].0, files[i].1.display());
                return Err(Error::InvalidArgument { op: "files", msg });
            }
        }
    }
    Ok(())
}

/// A hidden, short, unique name beside `path` for a file on its way to becoming `path`.
fn temporary_beside(path: &Path, tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent_of(path).join(format!(".backprop-{}-{n}.{tag}", std::process::id()))
}

/// Writes `bytes` to `path` so that the file appears whole or not at all (see
/// [`write_all_atomically`]).
///
/// # Errors
///
/// As [`write_all_atomically`].
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_all_atomically(&[(path, bytes)])
}

/// Writes each `(path, bytes)` under a temporary name beside its target, syncs them all,
/// and only then renames them over their targets, in order: if any write fails (e.g. the
/// disk is full) nothing is replaced and no temporary file is left. The renames
/// themselves are one after the other: should one fail (rare: the files were just
/// written beside their targets), the files before it are already new. A symbolic link
/// is written through, to its target.
///
/// # Errors
///
/// As [`check_writable`] for each path, and [`Error::Io`] naming the file whose write
/// failed.
pub fn write_all_atomically(files: &[(&Path, &[u8])]) -> Result<()> {
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = stage(files, &mut staged).and_then(|_| {
        for (temporary, target) in &staged {
            std::fs::rename(temporary, target).map_err(|e| Error::io(target, e))?;
        }
        Ok(())
    });
    if result.is_err() {
        staged.iter().for_each(|(temporary, _)| drop(std::fs::remove_file(temporary)));
    }
    result
}

/// Writes and syncs every file under its temporary name, recording `(temporary, target)`.
fn stage(files: &[(&Path, &[u8])], staged: &mut Vec<(PathBuf, PathBuf)>) -> Result<()> {
    for &(path, bytes) in files {
        check_writable(path)?;
        let target = resolve(path)?;
        let temporary = temporary_beside(&target, "partial");
        staged.push((temporary.clone(), target));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()
        };
        write().map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Reads a whole input file, refusing anything but a regular file (a pipe or a device
/// such as /dev/zero would never end).
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Format`] when it is not a regular
/// file.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(refused(path, "is a directory"));
    }
    if !meta.is_file() {
        return Err(refused(path, "is not a regular file (a device or a pipe?)"));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}
