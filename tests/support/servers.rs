//! Real HTTP servers on unix sockets, started from the fixtures in tests/fixtures and stopped
//! by pid when dropped: uvicorn serving a Starlette app, nginx, and a Docker Engine whose
//! whole state (containerd, shims, mounts) lives in one short temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{Bg, wait_for_socket, wait_until};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `uvicorn --uds DIR/app.sock` serving tests/fixtures/http_app.py.
pub struct Uvicorn {
    pub sock: PathBuf,
    _bg: Bg,
}

impl Uvicorn {
    pub fn start(dir: &Path) -> Uvicorn {
        Uvicorn::serve(dir, "app.sock", "http_app:app", &[])
    }

    /// `uvicorn --uds DIR/ws.sock` serving tests/fixtures/ws_app.py over `websockets`,
    /// pinging every half second and dropping a client that has not answered within one.
    pub fn start_ws(dir: &Path) -> Uvicorn {
        let ws = [
            "--ws",
            "websockets",
            "--ws-ping-interval",
            "0.5",
            "--ws-ping-timeout",
            "1",
        ];
        Uvicorn::serve(dir, "ws.sock", "ws_app:app", &ws)
    }

    fn serve(dir: &Path, name: &str, app: &str, extra: &[&str]) -> Uvicorn {
        let sock = dir.join(name);
        let mut c = Command::new("python3");
        c.args(["-m", "uvicorn", "--log-level", "warning", "--app-dir"])
            .arg(fixture(""))
            .arg(app)
            .args(extra)
            .arg("--uds")
            .arg(&sock)
            .stdout(Stdio::null());
        let bg = Bg::spawn(c, dir, "uvicorn");
        wait_for_socket(&sock);
        Uvicorn { sock, _bg: bg }
    }
}

/// nginx (one process, `master_process off`) on DIR/nginx.sock (HTTP/1.1) and DIR/h2.sock
/// (h2c), serving DIR/www.
pub struct Nginx {
    pub sock: PathBuf,
    pub h2_sock: PathBuf,
    pub www: PathBuf,
    _bg: Bg,
}

impl Nginx {
    pub fn start(dir: &Path) -> Nginx {
        let www = dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let conf = std::fs::read_to_string(fixture("nginx.conf"))
            .unwrap()
            .replace("@DIR@", dir.to_str().unwrap())
            .replace("@USER@", if root { "user root;" } else { "" });
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let mut c = Command::new("nginx");
        c.arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null());
        let bg = Bg::spawn(c, dir, "nginx");
        let (sock, h2_sock) = (dir.join("nginx.sock"), dir.join("h2.sock"));
        wait_for_socket(&sock);
        wait_for_socket(&h2_sock);
        Nginx {
            sock,
            h2_sock,
            www,
            _bg: bg,
        }
    }
}

/// A Docker Engine (Debian's dockerd, API 1.41) with no bridge, no iptables, vfs storage and
/// everything under `dir`, which must be short: containerd's socket lives under it. Dropping
/// it stops dockerd by pid, then whatever it left (containerd, shims, container processes,
/// mounts under `dir`), also when the test failed.
pub struct Dockerd {
    pub sock: PathBuf,
    dir: PathBuf,
    bg: Option<Bg>,
}

impl Dockerd {
    pub fn start(dir: &Path) -> Dockerd {
        let sock = dir.join("docker.sock");
        std::fs::write(
            dir.join("daemon.json"),
            format!(
                "{{\"deprecated-key-path\": \"{}/key.json\"}}\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut c = Command::new("dockerd");
        c.arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--host")
            .arg(format!("unix://{}", sock.display()))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .args([
                "--storage-driver",
                "vfs",
                "--bridge",
                "none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
            ])
            .stdout(Stdio::null());
        let d = Dockerd {
            sock: sock.clone(),
            dir: dir.to_path_buf(),
            bg: Some(Bg::spawn(c, dir, "dockerd")),
        };
        wait_until(Duration::from_secs(60), "dockerd's /_ping", || {
            Command::new("curl")
                .args(["-s", "--max-time", "2", "--unix-socket"])
                .arg(&sock)
                .arg("http://localhost/_ping")
                .output()
                .is_ok_and(|o| o.stdout == b"OK")
        });
        d
    }

    /// Pids of processes whose command line mentions `needle`.
    fn pids_mentioning(needle: &str) -> Vec<i32> {
        let me = std::process::id() as i32;
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| pid != me)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
            })
            .collect()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // dockerd stops its containers and its containerd on TERM (Bg's drop, by pid); it
        // gets 30 s, since it waits for running containers.
        if let Some(mut bg) = self.bg.take() {
            bg.signal(15);
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = bg.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Leftovers of an unclean stop: containerd, shims and container processes, each
        // found through a path inside our dir.
        let dir = self.dir.display().to_string();
        let mut pids = Vec::new();
        if let Ok(p) = std::fs::read_to_string(self.dir.join("exec/containerd/containerd.pid"))
            && let Ok(p) = p.trim().parse::<i32>()
        {
            pids.push(p);
        }
        pids.extend(Self::pids_mentioning(&format!(
            "{dir}/exec/containerd/containerd.sock"
        )));
        let tasks = self
            .dir
            .join("exec/containerd/daemon/io.containerd.runtime.v2.task/moby");
        for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            if let Ok(p) = std::fs::read_to_string(task.path().join("init.pid"))
                && let Ok(p) = p.trim().parse::<i32>()
            {
                pids.push(p);
            }
        }
        for pid in pids {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|m| m.starts_with(&format!("{dir}/")))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in ours {
            let ok = Command::new("umount").arg(m).stderr(Stdio::null()).status();
            if !ok.is_ok_and(|s| s.success()) {
                let _ = Command::new("umount").arg("-l").arg(m).status();
            }
        }
    }
}
