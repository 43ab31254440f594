//! Which container a process runs in, from what the machine already shows: the cgroup
//! names that Docker, podman and CRI runtimes give (`docker-<id>.scope`, `/docker/<id>`,
//! `libpod-<id>`, ...), else the containerd shim above it (`-namespace moby -id <id>`);
//! and Docker's name for it, from the container's `config.v2.json` under the data root of
//! a running dockerd, or podman's from the `containers.json` of its storage (root's and
//! rootless). No container API is called: a listing must not wait on a daemon.

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
    let name = match runtime {
        "docker" => docker_name(&id),
        "podman" => podman_name(&id, pid),
        _ => None,
    };
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
        at = stat_of(at)?.parent;
        if at <= 1 {
            return None;
        }
        if !stat_of(at)?.shim {
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

/// What the shim search needs of a process, from one read of /proc/PID/stat.
#[derive(Clone, Copy)]
struct Stat {
    parent: u32,
    /// Its command is a containerd shim's (`containerd-shim-runc-v2`, cut to 15 bytes).
    shim: bool,
}

/// `Stat` of `pid`, read once per run: the namespaces of one listing mostly share their
/// ancestors (every container's shim hangs off one containerd, `unshare`-d servers off
/// one shell), so each is read for the first namespace only.
fn stat_of(pid: u32) -> Option<Stat> {
    static SEEN: std::sync::Mutex<Option<rustc_hash::FxHashMap<u32, Option<Stat>>>> =
        std::sync::Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    *seen
        .get_or_insert_with(Default::default)
        .entry(pid)
        .or_insert_with(|| {
            let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&stat)
        })
}

/// The command (between the first '(' and the last ')', it may hold either) and the
/// parent (the field after the state) of a /proc/PID/stat.
fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let parent = rest.split_whitespace().nth(1)?.parse().ok()?;
    Some(Stat {
        parent,
        shim: comm.starts_with(b"containerd-shim"),
    })
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

/// The environment variable that, when set, names the one podman storage directory read
/// (in place of root's and the users' ones): the tests point it at a fixture tree laid out
/// as podman's (`overlay-containers/containers.json`).
const PODMAN_STORAGE_VAR: &str = "UDSKIT_PODMAN_STORAGE";

/// podman's name of container `id` (the first of its `names`), from the containers.json of
/// the storage it may be in: root's (/var/lib/containers/storage), ours when rootless
/// ($XDG_DATA_HOME/containers/storage), and that of the user the process runs as (a
/// rootless container's processes run as its user here). A `graphroot` moved in
/// storage.conf is not followed.
fn podman_name(id: &str, pid: u32) -> Option<String> {
    let roots: Vec<std::path::PathBuf> = match std::env::var_os(PODMAN_STORAGE_VAR) {
        Some(root) => vec![root.into()],
        None => {
            let mut roots = vec![std::path::PathBuf::from("/var/lib/containers/storage")];
            let data_home = std::env::var_os("XDG_DATA_HOME")
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/share"))
                });
            roots.extend(data_home.map(|d| d.join("containers/storage")));
            let owner = std::fs::metadata(format!("/proc/{pid}"))
                .ok()
                .map(|m| std::os::unix::fs::MetadataExt::uid(&m));
            if let Some(user) = owner
                .filter(|&u| u != 0)
                .and_then(|u| nix::unistd::User::from_uid(u.into()).ok().flatten())
            {
                roots.push(user.dir.join(".local/share/containers/storage"));
            }
            roots
        }
    };
    roots.iter().find_map(|root| {
        ["overlay", "vfs"].iter().find_map(|driver| {
            ["containers.json", "volatile-containers.json"]
                .iter()
                .find_map(|file| {
                    podman_listed(&root.join(format!("{driver}-containers/{file}")), id)
                })
        })
    })
}

/// The first name of container `id` in one of podman's containers.json files (an array
/// of `{"id": ..., "names": [...], ...}`).
fn podman_listed(file: &std::path::Path, id: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        id: String,
        #[serde(default)]
        names: Vec<String>,
    }
    let text = std::fs::read(file).ok()?;
    let entries: Vec<Entry> = serde_json::from_slice(&text).ok()?;
    entries
        .into_iter()
        .find(|e| e.id == id)?
        .names
        .into_iter()
        .next()
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
    fn podman_names_from_containers_json() {
        let dir = std::env::temp_dir().join(format!("udskit-podman-unit-{}", std::process::id()));
        let file = dir.join("containers.json");
        std::fs::create_dir_all(&dir).unwrap();
        let other = "b".repeat(64);
        std::fs::write(
            &file,
            format!(
                r#"[{{"id":"{other}","names":["other"],"image":"x"}},{{"id":"{ID}","names":["web-1","alias"],"layer":"y","metadata":"{{}}"}}]"#
            ),
        )
        .unwrap();
        assert_eq!(podman_listed(&file, ID).as_deref(), Some("web-1"));
        assert_eq!(podman_listed(&file, &other).as_deref(), Some("other"));
        assert_eq!(podman_listed(&file, &"c".repeat(64)), None);
        std::fs::write(&file, "not json").unwrap();
        assert_eq!(podman_listed(&file, ID), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn data_root_flag_in_both_spellings() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(data_root(&args(&["dockerd", "--data-root", "/d"])), "/d");
        assert_eq!(data_root(&args(&["dockerd", "--data-root=/e"])), "/e");
        assert_eq!(data_root(&args(&["dockerd"])), "/var/lib/docker");
    }

    #[test]
    fn stat_tells_parent_and_shim() {
        let s = parse_stat(b"42 (containerd-shim) S 7 42 7 0 -1").unwrap();
        assert_eq!((s.parent, s.shim), (7, true));
        let s = parse_stat(b"43 (a) b (c)) R 9 43 9 0 -1").unwrap();
        assert_eq!((s.parent, s.shim), (9, false));
        assert!(parse_stat(b"garbage").is_none());
    }

    #[test]
    fn our_parent_is_read_from_stat() {
        assert_eq!(
            stat_of(std::process::id()).map(|s| s.parent),
            Some(rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32))
        );
    }
}
