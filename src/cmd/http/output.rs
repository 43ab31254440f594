//! Where the answer goes besides the body's stdout: the file `-O` names after TARGET, as
//! curl names it, and `-D`'s copy of the heads as received.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::error::Fail;
use crate::io::stdio::Writer;
use crate::term::escape;

/// The file of `-O`: the last segment of TARGET's path (query and fragment left out,
/// percent-escapes kept, as curl names it), never empty, `.` or `..`.
pub fn remote_name(target: &str) -> Result<PathBuf, Fail> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        let shown = if name.is_empty() {
            "an empty name"
        } else {
            name
        };
        return Err(Fail::usage(format!(
            "-O: the last segment of {} is {shown}, not a file name",
            escape(target)
        ))
        .hint("name the file with -o FILE"));
    }
    Ok(PathBuf::from(name))
}

/// `-D FILE`: the heads as received, to FILE or (`-`) stdout before the body; with `-L`
/// each head of the chain is appended after the first.
pub async fn dump_heads(
    to: &Path,
    heads: &[u8],
    body_out: Option<&Writer>,
    append: bool,
) -> anyhow::Result<()> {
    if to == Path::new("-") {
        return match body_out {
            Some(out) => {
                let _ = out.write(bytes::Bytes::copy_from_slice(heads)).await;
                Ok(())
            }
            None => crate::io::stdio::write_all(rustix::stdio::stdout(), heads)
                .or_else(|e| {
                    if crate::error::is_broken_pipe(&e) {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .context("writing the headers to stdout (-D -)"),
        };
    }
    let mut file = std::fs::OpenOptions::new();
    match append {
        true => file.append(true),
        false => file.write(true).create(true).truncate(true),
    };
    file.open(to)
        .and_then(|mut f| std::io::Write::write_all(&mut f, heads))
        .with_context(|| {
            format!(
                "writing the headers to {} (-D)",
                escape(&to.display().to_string())
            )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn remote_names_as_curl_takes_them() {
        let name = |t: &str| super::remote_name(t).map(|p| p.display().to_string());
        assert_eq!(name("/a/b.tar.gz?x=1#f").unwrap(), "b.tar.gz");
        assert_eq!(name("/my%20file").unwrap(), "my%20file");
        for bad in ["/", "/a/", "/a/..", "/.", "", "/?x=/y"] {
            assert!(name(bad).is_err(), "{bad}");
        }
    }
}
