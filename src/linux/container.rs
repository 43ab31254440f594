//! Which container a process runs in, from what the machine already shows: the cgroup
//! names that Docker, podman and CRI runtimes give (`docker-<id>.scope`, `/docker/<id>`,
//! `libpod-<id>`, ...), else the containerd shim above it (`-namespace moby -id <id>`);
//! and Docker's name for it, from the container's `config.v2.json` under the data root of
//! a running dockerd. No container API is called: a listing must not wait on a daemon.

use serde::Serialize;

/// A container, as far as it could be told.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Container {
    /// `docker`, `podman`, `containerd` or `cri-o`.
    pub runtime: &'static str,
    /// The full id (64 hex digits).
    pub id: String,
    /// The container's name (Docker's, without the leading `/`), when it could be read.
    pub name: Option<String>,
}

impl Container {
    /// The 12-digit id `docker ps` shows.
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    /// How a table shows it: the name, else the short id.
    pub fn shown(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.short_id())
    }
}

/// The container process `pid` runs in, if any could be told.
pub fn of_process(pid: u32) -> Option<Container> {
    let (runtime, id) = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|c| from_cgroup(&c))
        .or_else(|| from_shim(pid))?;
    let name = (runtime == "docker").then(|| docker_name(&id)).flatten();
    Some(Container { runtime, id, name })
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The runtime and id in a /proc/PID/cgroup, the deepest match first.
fn from_cgroup(text: &str) -> Option<(&'static str, String)> {
    const SCOPES: [(&str, &str); 4] = [
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
    ];
    for line in text.lines() {
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let parts: Vec<&str> = path.split('/').collect();
        for (i, part) in parts.iter().enumerate().rev() {
            let bare = part.strip_suffix(".scope").unwrap_or(part);
            for (prefix, runtime) in SCOPES {
                if let Some(id) = bare.strip_prefix(prefix)
                    && is_id(id)
                {
                    return Some((runtime, id.to_string()));
                }
            }
            // cgroupfs drivers: /docker/<id>, /libpod_parent/.../<id>
            if is_id(bare) && i > 0 {
                let parent = parts[i - 1];
                let runtime = match parent {
                    "docker" => "docker",
                    p if p.starts_with("libpod") => "podman",
                    _ => continue,
                };
                return Some((runtime, bare.to_string()));
            }
        }
    }
    None
}

/// How far up the process tree a containerd shim is looked for: the container's init is
/// the shim's child; its own children are one or two further down.
const SHIM_DEPTH: usize = 4;

/// The id a containerd shim above `pid` was started for (`-namespace moby -id <id>`):
/// Docker's containers are in containerd's `moby` namespace.
fn from_shim(pid: u32) -> Option<(&'static str, String)> {
    let mut at = pid;
    for _ in 0..SHIM_DEPTH {
        at = parent(at)?;
        if at <= 1 {
            return None;
        }
        let comm = super::process::comm(at)?;
        if !comm.starts_with("containerd-shim") {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{at}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        let value = |flag: &[u8]| {
            args.windows(2)
                .find(|w| w[0] == flag)
                .and_then(|w| std::str::from_utf8(w[1]).ok())
        };
        let id = value(b"-id").filter(|id| is_id(id))?;
        let runtime = match value(b"-namespace") {
            Some("moby") => "docker",
            _ => "containerd",
        };
        return Some((runtime, id.to_string()));
    }
    None
}

/// The parent of `pid` (the field after the command in /proc/PID/stat).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: the state follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Docker's name of container `id`: `Name` in `containers/<id>/config.v2.json` under the
/// data root of a running dockerd (its `--data-root`, else /var/lib/docker).
fn docker_name(id: &str) -> Option<String> {
    // Looked for once per run: it reads every process's command name.
    static ROOTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(data_roots).iter().find_map(|root| {
        let text = std::fs::read(format!("{root}/containers/{id}/config.v2.json")).ok()?;
        #[derive(serde::Deserialize)]
        struct Config {
            #[serde(rename = "Name")]
            name: String,
        }
        let c: Config = serde_json::from_slice(&text).ok()?;
        Some(c.name.trim_start_matches('/').to_string())
    })
}

/// The data roots of the dockerd processes running here.
fn data_roots() -> Vec<String> {
    let mut roots = Vec::new();
    let pids = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    for pid in pids {
        if super::process::comm(pid).as_deref() != Some("dockerd") {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        roots.push(data_root(&args));
    }
    roots.dedup();
    roots
}

fn data_root(args: &[String]) -> String {
    for (i, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix("--data-root=") {
            return v.to_string();
        }
        if a == "--data-root"
            && let Some(v) = args.get(i + 1)
        {
            return v.clone();
        }
    }
    "/var/lib/docker".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e1c0ab2d94c1e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e";

    #[test]
    fn cgroup_names_of_each_runtime() {
        let docker_systemd = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(from_cgroup(&docker_systemd), Some(("docker", ID.into())));
        let docker_v1 = format!("12:memory:/docker/{ID}\n11:pids:/docker/{ID}\n");
        assert_eq!(from_cgroup(&docker_v1), Some(("docker", ID.into())));
        let nested = format!("4:memory:/process_api/abc/docker/{ID}\n0::/\n");
        assert_eq!(from_cgroup(&nested), Some(("docker", ID.into())));
        let podman = format!("0::/machine.slice/libpod-{ID}.scope/container\n");
        assert_eq!(from_cgroup(&podman), Some(("podman", ID.into())));
        let conmon = format!("0::/machine.slice/libpod-conmon-{ID}.scope\n");
        assert_eq!(from_cgroup(&conmon), None);
        assert_eq!(from_cgroup("0::/user.slice/session-2.scope\n"), None);
        assert_eq!(from_cgroup("0::/\n"), None);
    }

    #[test]
    fn data_root_flag_in_both_spellings() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(data_root(&args(&["dockerd", "--data-root", "/d"])), "/d");
        assert_eq!(data_root(&args(&["dockerd", "--data-root=/e"])), "/e");
        assert_eq!(data_root(&args(&["dockerd"])), "/var/lib/docker");
    }

    #[test]
    fn our_parent_is_read_from_stat() {
        assert_eq!(
            parent(std::process::id()),
            Some(rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32))
        );
    }
}
