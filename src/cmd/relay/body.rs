//! The guard's checks of what a create asks for: the JSON body of `POST /containers/create`,
//! `/containers/*/exec`, `/services/create` and `/services/*/update`, read whole (up to
//! [`BODY_LIMIT`]) and refused when it asks for a privileged container, a host bind mount
//! outside `--allow-bind`, added capabilities, a host namespace or devices, unless a flag
//! allows each. dockerd decodes the body with Go's encoding/json, which matches field names
//! without regard to case (and folds `ſ` to s and the Kelvin sign to k), and reads the
//! deprecated top-level copy of HostConfig's fields too: the checks look wherever dockerd
//! would.

use serde_json::Value;

/// The largest body the guard reads to check: a create body is a few KiB, even with many
/// labels and environment variables; past this the request gets a 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A namespace a container can share with the host (`--pid host`, `--network host`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HostNamespace {
    Pid,
    Ipc,
    Network,
    Userns,
    Uts,
    Cgroup,
}

impl HostNamespace {
    const ALL: [HostNamespace; 6] = [
        HostNamespace::Pid,
        HostNamespace::Ipc,
        HostNamespace::Network,
        HostNamespace::Userns,
        HostNamespace::Uts,
        HostNamespace::Cgroup,
    ];

    /// The HostConfig field that asks for it.
    fn field(self) -> &'static str {
        match self {
            HostNamespace::Pid => "PidMode",
            HostNamespace::Ipc => "IpcMode",
            HostNamespace::Network => "NetworkMode",
            HostNamespace::Userns => "UsernsMode",
            HostNamespace::Uts => "UTSMode",
            HostNamespace::Cgroup => "CgroupnsMode",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            HostNamespace::Pid => "pid",
            HostNamespace::Ipc => "ipc",
            HostNamespace::Network => "network",
            HostNamespace::Userns => "userns",
            HostNamespace::Uts => "uts",
            HostNamespace::Cgroup => "cgroup",
        }
    }
}

/// What the body checks let through.
#[derive(Debug, Clone, Default)]
pub struct Allowances {
    pub privileged: bool,
    pub cap_add: bool,
    pub devices: bool,
    /// Host paths (cleaned) under which bind mounts are allowed.
    pub binds: Vec<String>,
    pub namespaces: Vec<HostNamespace>,
}

/// Which body a request carries, if it is one the guard checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    ContainerCreate,
    Exec,
    Service,
}

impl Checked {
    /// The kind of body `POST route` carries (route without the /v1.NN prefix).
    pub fn of(method: &str, route: &str) -> Option<Checked> {
        if method != "POST" {
            return None;
        }
        let segs: Vec<&str> = route.trim_start_matches('/').split('/').collect();
        match segs.as_slice() {
            ["containers", "create"] => Some(Checked::ContainerCreate),
            ["containers", _, "exec"] => Some(Checked::Exec),
            ["services", "create"] | ["services", _, "update"] => Some(Checked::Service),
            _ => None,
        }
    }
}

/// Why a body is refused: the words, and the flag that would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub flag: String,
}

fn refuse(why: impl Into<String>, flag: impl Into<String>) -> Result<(), Refusal> {
    Err(Refusal {
        why: why.into(),
        flag: flag.into(),
    })
}

/// A field name as Go's encoding/json compares it: ASCII case folded, and the two
/// non-ASCII letters that fold to ASCII ones (`ſ`, the Kelvin sign) taken as those.
fn folded(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'ſ' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Every value under a key of `obj` that Go would take for `name`.
fn fields<'a>(obj: &'a Value, name: &str) -> Vec<&'a Value> {
    let want = folded(name);
    match obj {
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| folded(k) == want)
            .map(|(_, v)| v)
            .collect(),
        _ => Vec::new(),
    }
}

/// The values at a path of field names (each step any case-folded match).
fn at<'a>(obj: &'a Value, path: &[&str]) -> Vec<&'a Value> {
    let mut here = vec![obj];
    for name in path {
        here = here.into_iter().flat_map(|v| fields(v, name)).collect();
    }
    here
}

fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// A host path cleaned lexically (`//` and `.` dropped); None when it is not absolute or
/// has a `..` segment.
fn clean(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut out = String::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => return None,
            s => {
                out.push('/');
                out.push_str(s);
            }
        }
    }
    Some(if out.is_empty() { "/".into() } else { out })
}

/// Whether host path `path` (cleaned) is `prefix` or under it, segment by segment.
fn under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The clean form of an `--allow-bind` prefix, for clap.
pub fn parse_bind_prefix(s: &str) -> Result<String, String> {
    clean(s).ok_or_else(|| format!("{s:?} is not an absolute path without .. segments"))
}

impl Allowances {
    fn bind(&self, source: &str) -> Result<(), Refusal> {
        let Some(path) = clean(source) else {
            return refuse(
                format!("the host path {source:?} of a bind mount is not absolute and clean"),
                "--allow-bind",
            );
        };
        if self.binds.iter().any(|p| under(&path, p)) {
            return Ok(());
        }
        refuse(
            format!("bind mounts of {path} from the host are not allowed"),
            format!("--allow-bind {path}"),
        )
    }

    /// HostConfig's fields, in `hc` (the HostConfig object, or the top-level body).
    fn host_config(&self, hc: &Value) -> Result<(), Refusal> {
        if !self.privileged
            && fields(hc, "Privileged")
                .iter()
                .any(|v| **v == Value::Bool(true))
        {
            return refuse(
                "privileged containers are not allowed",
                "--allow-privileged",
            );
        }
        if !self.cap_add && fields(hc, "CapAdd").into_iter().any(non_empty) {
            return refuse("added capabilities are not allowed", "--allow-cap-add");
        }
        for ns in HostNamespace::ALL {
            if self.namespaces.contains(&ns) {
                continue;
            }
            let host = fields(hc, ns.field())
                .into_iter()
                .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("host")));
            if host {
                return refuse(
                    format!("the host's {} namespace is not allowed", ns.flag()),
                    format!("--allow-host-namespace {}", ns.flag()),
                );
            }
        }
        if !self.devices
            && ["Devices", "DeviceCgroupRules", "DeviceRequests"]
                .iter()
                .any(|f| fields(hc, f).into_iter().any(non_empty))
        {
            return refuse("devices are not allowed", "--allow-devices");
        }
        for binds in fields(hc, "Binds") {
            for b in binds.as_array().into_iter().flatten() {
                let Some(spec) = b.as_str() else { continue };
                // SRC:DST[:OPTIONS]; a SRC not starting with / names a volume, and a lone
                // DST is an anonymous volume.
                let mut parts = spec.split(':');
                if let (Some(src), Some(_)) = (parts.next(), parts.next())
                    && src.starts_with('/')
                {
                    self.bind(src)?;
                }
            }
        }
        for mounts in fields(hc, "Mounts") {
            self.mounts(mounts)?;
        }
        Ok(())
    }

    /// `Mounts` of a HostConfig or a service's ContainerSpec: bind mounts, and volume
    /// mounts whose driver options bind a host path (the local driver's `device`).
    fn mounts(&self, mounts: &Value) -> Result<(), Refusal> {
        for m in mounts.as_array().into_iter().flatten() {
            let kind = fields(m, "Type")
                .first()
                .and_then(|v| v.as_str())
                .map(str::to_ascii_lowercase);
            if kind.as_deref() == Some("bind") {
                for src in fields(m, "Source") {
                    self.bind(src.as_str().unwrap_or(""))?;
                }
            }
            for device in at(m, &["VolumeOptions", "DriverConfig", "Options", "device"]) {
                self.bind(device.as_str().unwrap_or(""))?;
            }
        }
        Ok(())
    }

    /// Checks a body of the kind `what`.
    pub fn check(&self, what: Checked, body: &Value) -> Result<(), Refusal> {
        match what {
            Checked::ContainerCreate => {
                self.host_config(body)?;
                for hc in fields(body, "HostConfig") {
                    self.host_config(hc)?;
                }
                Ok(())
            }
            Checked::Exec => {
                if !self.privileged
                    && fields(body, "Privileged")
                        .iter()
                        .any(|v| **v == Value::Bool(true))
                {
                    return refuse("privileged exec is not allowed", "--allow-privileged");
                }
                Ok(())
            }
            Checked::Service => {
                for spec in at(body, &["TaskTemplate", "ContainerSpec"]) {
                    if !self.cap_add && fields(spec, "CapabilityAdd").into_iter().any(non_empty) {
                        return refuse("added capabilities are not allowed", "--allow-cap-add");
                    }
                    for mounts in fields(spec, "Mounts") {
                        self.mounts(mounts)?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(a: &Allowances, body: Value) -> Result<(), Refusal> {
        a.check(Checked::ContainerCreate, &body)
    }

    #[test]
    fn what_create_may_not_ask_for() {
        let none = Allowances::default();
        assert_eq!(
            create(
                &none,
                json!({"Image": "x", "HostConfig": {"Privileged": true}})
            ),
            Err(Refusal {
                why: "privileged containers are not allowed".into(),
                flag: "--allow-privileged".into()
            })
        );
        for body in [
            json!({"hostconfig": {"privileged": true}}),
            json!({"HostConfig": {"Privileged": false}, "Privileged": true}),
            json!({"HostConfig": {"CapAdd": ["SYS_ADMIN"]}}),
            json!({"HostConfig": {"PidMode": "host"}}),
            json!({"HostConfig": {"NetworkMode": "host"}}),
            json!({"HostConfig": {"UsernsMode": "host"}}),
            json!({"HostConfig": {"IpcMode": "host"}}),
            json!({"HostConfig": {"Devices": [{"PathOnHost": "/dev/sda"}]}}),
            json!({"HostConfig": {"Binds": ["/:/host"]}}),
            json!({"HostConfig": {"Binds": ["/srv/data/../../etc:/x:ro"]}}),
            json!({"HostConfig": {"Mountſ": [{"Type": "bind", "Source": "/etc"}]}}),
            json!({"HostConfig": {"Mounts": [{"Type": "volume", "Source": "v",
                "VolumeOptions": {"DriverConfig": {"Options": {"type": "none", "o": "bind", "device": "/"}}}}]}}),
        ] {
            assert!(create(&none, body.clone()).is_err(), "{body}");
        }
        for body in [
            json!({"Image": "x", "HostConfig": {"NetworkMode": "none", "Binds": ["vol:/data", "/anon"]}}),
            json!({"HostConfig": {"CapAdd": null, "Devices": [], "PidMode": "container:abc"}}),
        ] {
            assert_eq!(create(&none, body.clone()), Ok(()), "{body}");
        }
    }

    #[test]
    fn flags_allow_each() {
        let a = Allowances {
            privileged: true,
            cap_add: true,
            devices: true,
            binds: vec!["/srv/data".into()],
            namespaces: vec![HostNamespace::Network],
        };
        assert_eq!(
            create(
                &a,
                json!({"HostConfig": {"Privileged": true, "CapAdd": ["NET_ADMIN"], "NetworkMode": "host",
                "Devices": [{"PathOnHost": "/dev/fuse"}], "Binds": ["/srv/data/x:/x", "/srv/data:/d"]}})
            ),
            Ok(())
        );
        let err = create(&a, json!({"HostConfig": {"Binds": ["/srv/database:/x"]}})).unwrap_err();
        assert_eq!(err.flag, "--allow-bind /srv/database");
        let err = create(&a, json!({"HostConfig": {"PidMode": "host"}})).unwrap_err();
        assert_eq!(err.flag, "--allow-host-namespace pid");
    }

    #[test]
    fn exec_and_services() {
        let none = Allowances::default();
        assert!(
            none.check(Checked::Exec, &json!({"Privileged": true}))
                .is_err()
        );
        assert!(none.check(Checked::Exec, &json!({"Cmd": ["sh"]})).is_ok());
        let svc = json!({"TaskTemplate": {"ContainerSpec": {"Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock"}]}}});
        assert!(none.check(Checked::Service, &svc).is_err());
        assert_eq!(
            Checked::of("POST", "/services/abc/update"),
            Some(Checked::Service)
        );
        assert_eq!(
            Checked::of("POST", "/containers/abc/exec"),
            Some(Checked::Exec)
        );
        assert_eq!(Checked::of("GET", "/containers/create"), None);
        assert_eq!(Checked::of("POST", "/containers/abc/start"), None);
    }
}
