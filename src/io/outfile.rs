//! The file of `http -o FILE`: written beside FILE under a temporary name and renamed over it
//! once the whole answer has arrived, so that a failed or interrupted request leaves FILE as
//! it was (curl leaves it alone when it cannot connect; udskit also when the answer breaks
//! off or a signal stops it). Devices and pipes (/dev/null, a FIFO) are written in place.
//! A FILE that we may write but not rename over (another user's, in /tmp; one in a
//! directory we may not write) is opened at the start, the answer held in an unnamed
//! temporary file in $TMPDIR and copied into FILE once whole; one we may not write is
//! refused, as curl refuses it.

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::shutdown::FileGuard;
use crate::term::escape;

/// Where the bytes go until [`Pending::commit`], and how they take FILE's place.
pub enum Pending {
    /// A temporary file beside FILE, renamed over it.
    Rename {
        temp: PathBuf,
        dest: PathBuf,
        /// Removes the temporary file on every way out but a commit (also on the second
        /// signal's hard exit).
        _guard: FileGuard,
    },
    /// An unnamed temporary file, copied into FILE (opened for writing, not yet cut).
    Copy {
        held: File,
        dest: File,
        shown: String,
        /// Where `held` is ($TMPDIR), for an error writing it.
        dir: String,
    },
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
    if let Some(m) = &old {
        // Opened in place, it fails as curl fails.
        if rustix::fs::access(&dest, rustix::fs::Access::WRITE_OK).is_err() {
            return Ok((direct()?, None));
        }
        if !may_rename_over(&dest, m) {
            return held_for(&dest, shown());
        }
    }
    match temp_beside(&dest, old.as_ref()) {
        Ok((file, temp)) => {
            let m = file.metadata()?;
            let guard = FileGuard::new(temp.clone(), m.dev(), m.ino());
            Ok((
                file,
                Some(Pending::Rename {
                    temp,
                    dest,
                    _guard: guard,
                }),
            ))
        }
        // A writable file in a directory we cannot write to.
        Err(e) if old.is_some() && is_denied(&e) => held_for(&dest, shown()),
        Err(e) => Err(anyhow::Error::from(e).context(format!(
            "creating a temporary file beside {} (--output)",
            shown()
        ))),
    }
}

/// Whether the kernel lets an existing FILE at `dest` (metadata `m`), which we may write, be
/// replaced by a rename (a rename needs only the directory's permission, so FILE's own was
/// checked first): in a sticky directory (/tmp) only the owner of the file or of the
/// directory, or root, may.
fn may_rename_over(dest: &Path, m: &std::fs::Metadata) -> bool {
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

/// FILE opened for writing (not cut: that waits for the commit) and an unnamed temporary
/// file in $TMPDIR to hold the answer until then.
fn held_for(dest: &Path, shown: String) -> anyhow::Result<(File, Option<Pending>)> {
    let file = File::options()
        .write(true)
        .open(dest)
        .with_context(|| format!("opening {shown} (--output)"))?;
    let dir = escape(&std::env::temp_dir().display().to_string()).into_owned();
    let held = unnamed_in(&std::env::temp_dir()).with_context(|| {
        format!("creating a temporary file in {dir} to hold the answer for {shown} (--output)")
    })?;
    let writer = held
        .try_clone()
        .with_context(|| format!("creating a temporary file in {dir} (--output)"))?;
    Ok((
        writer,
        Some(Pending::Copy {
            held,
            dest: file,
            shown,
            dir,
        }),
    ))
}

/// A file with no name in `dir` (O_TMPFILE, or where the filesystem lacks it, one created
/// and removed at once), gone when the last descriptor of it closes.
fn unnamed_in(dir: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    match rustix::fs::open(dir, flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => Ok(File::from(fd)),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR) => {
            let (f, path) = create_new(dir, ".udskit-held", 0o600)?;
            std::fs::remove_file(&path)?;
            Ok(f)
        }
        Err(e) => Err(e.into()),
    }
}

/// `PREFIX-PID-N` in `dir`, created new (never an existing file) with `mode`, N counting
/// up past names taken.
fn create_new(dir: &Path, prefix: &str, mode: u32) -> io::Result<(File, PathBuf)> {
    let mut n = 0u32;
    loop {
        let path = dir.join(format!("{prefix}-{}-{n}", std::process::id()));
        match File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
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
    let (f, temp) = create_new(dir, &format!(".{name}.udskit"), 0o666)?;
    if let Some(m) = old {
        // Best effort: owner (root only) and bits as before, in that order (a chown clears
        // set-id bits).
        let _ = std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid()));
        let _ = f.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777));
    }
    Ok((f, temp))
}

impl Pending {
    /// What a failed write of the answer was writing, when that is not FILE itself: the
    /// temporary file in $TMPDIR that holds it (a full $TMPDIR is not a full FILE's disk).
    pub fn holding(&self) -> Option<String> {
        match self {
            Pending::Copy { shown, dir, .. } => Some(format!(
                "writing the answer for {shown} into a temporary file in {dir} (--output)"
            )),
            Pending::Rename { .. } => None,
        }
    }

    /// The whole answer is in: the temporary file takes FILE's place.
    pub fn commit(self) -> anyhow::Result<()> {
        match self {
            Pending::Rename { temp, dest, .. } => {
                std::fs::rename(&temp, &dest).with_context(|| {
                    format!(
                        "replacing {} (--output)",
                        escape(&dest.display().to_string())
                    )
                })
            }
            Pending::Copy {
                mut held,
                mut dest,
                shown,
                ..
            } => {
                use std::io::Seek as _;
                let len = held.seek(std::io::SeekFrom::End(0))?;
                // The space first, so that a full disk leaves FILE as it was; filesystems
                // without fallocate(2) just go on.
                match rustix::fs::fallocate(&dest, rustix::fs::FallocateFlags::KEEP_SIZE, 0, len) {
                    Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) | Ok(()) => {}
                    Err(e) => {
                        return Err(anyhow::Error::from(io::Error::from(e)).context(format!(
                            "making room for the answer in {shown} (--output; it is as it was)"
                        )));
                    }
                }
                held.rewind()?;
                std::io::copy(&mut held, &mut dest)
                    .and_then(|_| dest.set_len(len))
                    .with_context(|| {
                        format!("writing {shown} (--output; it may be left partly written)")
                    })?;
                Ok(())
            }
        }
    }
}
