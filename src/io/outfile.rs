//! The file of `http -o FILE`: written beside FILE under a temporary name and renamed over it
//! once the whole answer has arrived, so that a failed or interrupted request leaves FILE as
//! it was (curl leaves it alone when it cannot connect; udskit also when the answer breaks
//! off or a signal stops it). Devices and pipes (/dev/null, a FIFO) are written in place,
//! and so is a FILE that we may write but not rename over (another user's, in /tmp); one
//! we may not write is refused, as curl refuses it.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::shutdown::FileGuard;
use crate::term::escape;

/// Where the bytes go until [`Pending::commit`]: the temporary file and what it replaces.
pub struct Pending {
    temp: PathBuf,
    dest: PathBuf,
    /// Removes the temporary file on every way out but a commit (also on the second
    /// signal's hard exit).
    _guard: FileGuard,
}

/// Opens the output for `path`: a temporary file beside it when `path` is (or will be) a
/// regular file, then [`Pending`] says where it goes; the file itself otherwise.
pub fn create(path: &Path) -> anyhow::Result<(File, Option<Pending>)> {
    let shown = || escape(&path.display().to_string()).into_owned();
    let direct = || File::create(path).with_context(|| format!("creating {} (--output)", shown()));
    let dest = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Ok((direct()?, None)),
        // Through a symlink, the file it leads to is replaced and the link stays.
        Ok(_) => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        // A dangling symlink: creating through it, as curl does, makes its target.
        Err(e)
            if e.kind() == io::ErrorKind::NotFound && std::fs::symlink_metadata(path).is_ok() =>
        {
            return Ok((direct()?, None));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_path_buf(),
        Err(e) => {
            return Err(anyhow::Error::from(e).context(format!("creating {} (--output)", shown())));
        }
    };
    let old = std::fs::metadata(&dest).ok();
    if old.as_ref().is_some_and(|m| !may_replace(&dest, m)) {
        return Ok((direct()?, None));
    }
    match temp_beside(&dest, old.as_ref()) {
        Ok((file, temp)) => {
            let m = file.metadata()?;
            let guard = FileGuard::new(temp.clone(), m.dev(), m.ino());
            Ok((
                file,
                Some(Pending {
                    temp,
                    dest,
                    _guard: guard,
                }),
            ))
        }
        // A writable file in a directory we cannot write to: only in place, as curl writes.
        Err(e) if old.is_some() && is_denied(&e) => Ok((direct()?, None)),
        Err(e) => Err(anyhow::Error::from(e).context(format!(
            "creating a temporary file beside {} (--output)",
            shown()
        ))),
    }
}

/// Whether an existing FILE at `dest` (metadata `m`) may be replaced by a rename. Not when
/// we may not write it: a rename needs only the directory's permission, and would override
/// FILE's own (opened in place instead, it fails as curl fails). Nor where the kernel refuses
/// the rename: in a sticky directory (/tmp) only the owner of the file or of the directory,
/// or root, may; FILE is then written in place, not downloaded whole into a temporary file
/// that cannot take its place at the end.
fn may_replace(dest: &Path, m: &std::fs::Metadata) -> bool {
    if rustix::fs::access(dest, rustix::fs::Access::WRITE_OK).is_err() {
        return false;
    }
    let me = rustix::process::geteuid();
    match std::fs::metadata(dir_of(dest)) {
        Ok(d) if d.mode() & 0o1000 != 0 => {
            me.is_root() || m.uid() == me.as_raw() || d.uid() == me.as_raw()
        }
        _ => true,
    }
}

/// The directory holding `dest`.
fn dir_of(dest: &Path) -> &Path {
    match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn is_denied(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(rustix::io::Errno::from_raw_os_error),
        Some(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM | rustix::io::Errno::ROFS)
    )
}

/// Bytes of FILE's name in the temporary one: `.` and `.udskit-PID-N` add at most 23.
const NAME_KEPT: usize = 128;

/// `.NAME.udskit-PID-N` in the directory of `dest`, created new (never an existing file),
/// with the permission bits (and, where allowed, the owner) of the file it will replace.
fn temp_beside(dest: &Path, old: Option<&std::fs::Metadata>) -> io::Result<(File, PathBuf)> {
    let dir = dir_of(dest);
    // A directory entry holds 255 bytes, and the prefix and suffix need room: the temporary
    // name keeps the start of FILE's name only, cut at a character boundary.
    let whole = dest.file_name().unwrap_or_default().to_string_lossy();
    let cut = whole
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|&end| end <= NAME_KEPT)
        .last()
        .unwrap_or(0);
    let name = &whole[..cut];
    let mut n = 0u32;
    loop {
        let temp = dir.join(format!(".{name}.udskit-{}-{n}", std::process::id()));
        match File::options()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&temp)
        {
            Ok(f) => {
                if let Some(m) = old {
                    // Best effort: owner (root only) and bits as before, in that order
                    // (a chown clears set-id bits).
                    let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
                    let _ = f.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777));
                }
                return Ok((f, temp));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

impl Pending {
    /// The whole answer is in: the temporary file takes FILE's place.
    pub fn commit(self) -> anyhow::Result<()> {
        std::fs::rename(&self.temp, &self.dest).with_context(|| {
            format!(
                "replacing {} (--output)",
                escape(&self.dest.display().to_string())
            )
        })
    }
}
