//! Writing files without losing any: output paths checked before long work starts, and
//! files written whole or not at all.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

fn not_writable(path: &Path, msg: impl Into<String>) -> Error {
    Error::Format { path: path.display().to_string(), msg: msg.into() }
}

/// The directory a file path lives in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks that a file can be written at `path` now, before hours of training depend on
/// it: it is not a directory, its directory exists, and a file can be created there (a
/// probe file is created and removed at once).
///
/// # Errors
///
/// [`Error::Format`] naming the path and the reason ("is a directory", "directory ...
/// does not exist"), or [`Error::Io`] with the operating system's reason (e.g.
/// "Permission denied").
pub fn check_writable(path: &Path) -> Result<()> {
    if path.file_name().is_none() {
        return Err(not_writable(path, "not a file path"));
    }
    if path.is_dir() {
        return Err(not_writable(path, "is a directory"));
    }
    let dir = parent_of(path);
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(not_writable(path, format!("{} is not a directory", dir.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_writable(path, format!("directory {} does not exist", dir.display())))
        }
        Err(e) => return Err(Error::io(dir, e)),
    }
    let probe = temporary_beside(path, "probe");
    std::fs::File::create(&probe).map_err(|e| Error::io(path, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Checks that no two of `outputs` (`(what, path)`, e.g. `("--save", path)`) name the
/// same file, so that one output never overwrites another.
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming both outputs and the file.
pub fn check_distinct(outputs: &[(&str, &Path)]) -> Result<()> {
    let keys: Vec<PathBuf> = outputs.iter().map(|(_, p)| comparable(p)).collect();
    for i in 0..outputs.len() {
        for j in i + 1..outputs.len() {
            if keys[i] == keys[j] {
                let msg = format!("{} and {} both name {}", outputs[i].0, outputs[j].0, outputs[i].1.display());
                return Err(Error::InvalidArgument { op: "output files", msg });
            }
        }
    }
    Ok(())
}

/// A path in a form where two spellings of one file compare equal (`./a` and `a`, links
/// to the directory resolved).
fn comparable(path: &Path) -> PathBuf {
    let dir = parent_of(path);
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.join(path.file_name().unwrap_or_default())
}

/// A hidden name beside `path` for a file on its way to becoming `path`.
fn temporary_beside(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    parent_of(path).join(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Writes `bytes` to `path` so that the file appears whole or not at all: written under a
/// temporary name beside it, synced, then renamed over it. Nothing is left behind on
/// failure.
///
/// # Errors
///
/// As [`check_writable`], and [`Error::Io`] when writing fails (e.g. the disk is full).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    check_writable(path)?;
    let temporary = temporary_beside(path, "partial");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        Error::io(path, e)
    })
}
