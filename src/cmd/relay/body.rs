//! The guard's checks of what a create asks for: the JSON body of `POST
//! /containers/create`, `/containers/*/start` (a HostConfig, which dockerd still applies
//! for clients of API versions before 1.24), `/containers/*/exec`, `/services/create`,
//! `/services/*/update` and `/volumes/create`, read whole (up to [`BODY_LIMIT`]) and
//! refused when it asks for a privileged container (or the host's /proc and /sys unmasked,
//! or security options that lift confinement), a host bind mount outside `--allow-bind`
//! (also by way of a volume whose driver options bind a host path), added capabilities, a
//! host namespace or devices, unless a flag allows each; and the query of `POST /build`
//! ([`build_query`]), judged as a create's. What a create takes from other containers and
//! volumes ([`Lookup`]) is looked up on TARGET by the guard and judged by
//! [`Allowances::looked_up`]. dockerd decodes the body with Go's encoding/json, which
//! matches field names without regard to case (and folds `ſ` to s and the Kelvin sign to
//! k), and reads the deprecated top-level copy of HostConfig's fields too: the checks look
//! wherever dockerd would. A key given twice in one object (also in two cases) is refused
//! before any check ([`duplicate_key`]): Go fills its struct from both, while the parsed
//! value holds one.

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

/// What a create takes from elsewhere, which the guard must look up on TARGET to judge:
/// another container's namespace (`NetworkMode: container:X`, which is the host's when X
/// is in the host's), another container's mounts (`VolumesFrom`), and volumes that exist
/// (named in `Binds` or `Mounts`, or among those mounts), made with driver options that
/// may bind a host path; and a service's networks, which may be the host's by its ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Namespace(HostNamespace, String),
    VolumesFrom(String),
    Volume(String),
    Network(String),
    /// A container to be renamed: refused when it is in the host's network namespace,
    /// since dockerd joins `container:NAME` by name at each start.
    Renamed(String),
}

impl Lookup {
    /// The path of the GET that answers it (the name checked to be one, so that it cannot
    /// lead the GET elsewhere).
    pub fn path(&self) -> Result<String, String> {
        let (kind, name) = match self {
            Lookup::Namespace(_, n) | Lookup::VolumesFrom(n) | Lookup::Renamed(n) => {
                ("containers", n)
            }
            Lookup::Volume(n) => ("volumes", n),
            Lookup::Network(n) => ("networks", n),
        };
        // Docker's names and IDs start with a letter or digit (`.` and `..` would lead
        // the GET elsewhere).
        let plain = name.trim_start_matches('/');
        let ok = plain
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && plain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return Err(format!(
                "{name:?} is not a container, volume or network name"
            ));
        }
        Ok(match kind {
            "containers" => format!("/containers/{plain}/json"),
            _ => format!("/{kind}/{plain}"),
        })
    }
}

/// A container's namespace of kind `ns` taken from another one: `container:X` in the
/// field, as dockerd reads it (PidMode, IpcMode, NetworkMode; the others have no such form).
fn joined(ns: HostNamespace, mode: &str) -> Option<&str> {
    matches!(
        ns,
        HostNamespace::Pid | HostNamespace::Ipc | HostNamespace::Network
    )
    .then(|| mode.split_once(':'))
    .flatten()
    .filter(|(kind, _)| kind.eq_ignore_ascii_case("container"))
    .map(|(_, name)| name)
}

/// What a create body asks to be looked up (see [`Lookup`]).
pub fn lookups(what: Checked, body: &Value) -> Vec<Lookup> {
    let mut out = Vec::new();
    if what == Checked::Service {
        // A service's named volumes, as a container's, and its networks but `host`
        // (refused at once), which dockerd also finds by ID.
        for spec in at(body, &["TaskTemplate", "ContainerSpec"]) {
            out.extend(volumes_mounted(spec));
        }
        let named = service_networks(body).into_iter().filter(|t| !is_host(t));
        out.extend(named.map(|t| Lookup::Network(t.to_string())));
        return out;
    }
    if !matches!(what, Checked::ContainerCreate | Checked::Start) {
        return out;
    }
    for hc in std::iter::once(body).chain(fields(body, "HostConfig")) {
        for ns in HostNamespace::ALL {
            for mode in fields(hc, ns.field()).into_iter().filter_map(Value::as_str) {
                if let Some(name) = joined(ns, mode) {
                    out.push(Lookup::Namespace(ns, name.to_string()));
                }
            }
        }
        for v in items(hc, "VolumesFrom").filter_map(Value::as_str) {
            // NAME[:ro|:rw]
            let name = v.split(':').next().unwrap_or(v);
            out.push(Lookup::VolumesFrom(name.to_string()));
        }
        // Named volumes: one that exists may have been made binding a host path.
        for b in items(hc, "Binds").filter_map(Value::as_str) {
            if let Some((src, _)) = b.split_once(':')
                && !src.starts_with('/')
            {
                out.push(Lookup::Volume(src.to_string()));
            }
        }
        out.extend(volumes_mounted(hc));
    }
    out
}

/// What of the swarm's own a service body hands its tasks: `secrets` and `configs`
/// (`ContainerSpec.Secrets`, `.Configs`), each a file in the container.
pub fn swarm_objects(body: &Value) -> Vec<&'static str> {
    let specs = at(body, &["TaskTemplate", "ContainerSpec"]);
    [("Secrets", "secrets"), ("Configs", "configs")]
        .into_iter()
        .filter(|(field, _)| {
            specs
                .iter()
                .any(|s| fields(s, field).into_iter().any(non_empty))
        })
        .map(|(_, name)| name)
        .collect()
}

/// The networks a service body attaches its tasks to (`Target`: a name or an ID), and
/// their deprecated place at the top of the spec.
fn service_networks(body: &Value) -> Vec<&str> {
    at(body, &["TaskTemplate", "Networks"])
        .into_iter()
        .chain(fields(body, "Networks"))
        .flat_map(|n| n.as_array().into_iter().flatten())
        .flat_map(|n| fields(n, "Target"))
        .filter_map(Value::as_str)
        .collect()
}

fn is_host(network: &str) -> bool {
    network.eq_ignore_ascii_case("host")
}

/// The named volumes of `Mounts` in `spec` (a HostConfig, or a service's ContainerSpec).
fn volumes_mounted(spec: &Value) -> Vec<Lookup> {
    let mut out = Vec::new();
    for m in items(spec, "Mounts") {
        let kind = fields(m, "Type").first().and_then(|v| v.as_str());
        if kind.is_some_and(|k| k.eq_ignore_ascii_case("volume")) {
            let names = fields(m, "Source").into_iter().filter_map(Value::as_str);
            out.extend(
                names
                    .filter(|n| !n.is_empty())
                    .map(|n| Lookup::Volume(n.into())),
            );
        }
    }
    out
}

/// Which body a request carries, if it is one the guard checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    ContainerCreate,
    /// A start's body: a HostConfig, checked as a create's.
    Start,
    Exec,
    Service,
    VolumeCreate,
}

impl Checked {
    /// The kind of body `POST route` carries (route without the /v1.NN prefix).
    pub fn of(method: &str, route: &str) -> Option<Checked> {
        // dockerd routes POST only, but an upstream that takes `post` must not skip the check.
        if !method.eq_ignore_ascii_case("POST") {
            return None;
        }
        let segs: Vec<&str> = route.trim_start_matches('/').split('/').collect();
        match segs.as_slice() {
            ["containers", "create"] => Some(Checked::ContainerCreate),
            ["containers", _, "start"] => Some(Checked::Start),
            ["containers", _, "exec"] => Some(Checked::Exec),
            ["services", "create"] | ["services", _, "update"] => Some(Checked::Service),
            ["volumes", "create"] => Some(Checked::VolumeCreate),
            _ => None,
        }
    }
}

/// What `POST /build` (route without the /v1.NN prefix) asks of the host in its query:
/// the network its steps run in (`networkmode`: `host` is the host's, `container:X`
/// another container's), each value as a create's body (`{"HostConfig": {"NetworkMode":
/// ...}}`) to be checked and looked up as one. Every value given is judged, where dockerd
/// takes the first it can decode; pairs are split at `;` too, as Go before 1.17 split them
/// (dockerd 20.10.0 to .14). Go's net/http reads parameters from a form body beside the
/// query, so a build that may send one (`form_body()`) is refused.
pub fn build_query(
    method: &str,
    route: &str,
    query: Option<&str>,
    form_body: impl FnOnce() -> bool,
) -> Result<Vec<Value>, Refusal> {
    if !method.eq_ignore_ascii_case("POST") || route != "/build" {
        return Ok(Vec::new());
    }
    if form_body() {
        return Err(Refusal {
            why: "a build's parameters in a form body (urlencoded or multipart/form-data), \
                  which dockerd reads beside the query, are not checked by the guard"
                .into(),
            flag: String::new(),
        });
    }
    let query = query.unwrap_or("").replace(';', "&");
    let pairs = url::form_urlencoded::parse(query.as_bytes());
    Ok(pairs
        .filter(|(k, _)| k == "networkmode")
        .map(|(_, mode)| serde_json::json!({"HostConfig": {"NetworkMode": mode}}))
        .collect())
}

/// The container X of `POST /containers/X/rename` (route without the /v1.NN prefix): a
/// name that comes to mean a container in the host's network would take along every
/// container that joins `container:NAME` (dockerd keeps the name, and joins by it at each
/// start).
pub fn renamed<'a>(method: &str, route: &'a str) -> Option<&'a str> {
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let name = route
        .strip_prefix("/containers/")?
        .strip_suffix("/rename")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// Whether `route` (without the /v1.NN prefix) names a container with a `/` in its name:
/// dockerd routes `/containers/{name:.*}/ACTION` and takes `parent/alias` for the container
/// that `parent`'s legacy link calls `alias`. `attach/ws` is the one action of two segments;
/// `DELETE /containers/{name:.*}` has none.
pub fn aliased_container(method: &str, route: &str) -> bool {
    let segs: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["containers", _, "attach", "ws"] => false,
        ["containers", _, _, _, ..] => true,
        ["containers", _, _] => method == "DELETE",
        _ => false,
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

/// The paths dockerd 20.10 masks in every container that is not privileged, and those it
/// mounts read-only (its `oci.DefaultSpec`): a writable /proc/sys lets the container's root
/// set the host's kernel.core_pattern, a command the host's kernel runs as root.
const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];
const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The local volume driver's `type`s whose `device` names a remote share, not a host path.
const NETWORK_FILESYSTEMS: &[&str] = &["nfs", "nfs4", "cifs", "smb3"];

/// Why security option `opt` (a `SecurityOpt` entry) lifts confinement that dockerd gives
/// every container, or None when it does not: `no-new-privileges` in any form,
/// `writable-cgroups` false, and AppArmor's and seccomp's defaults by name. dockerd splits
/// an entry at its first `=`, or else its first `:` (the deprecated form), and refuses a
/// key it does not know; a newer one may know more (`writable-cgroups`, Docker 28).
fn loosened(opt: &str) -> Option<&'static str> {
    let (key, value) = opt
        .split_once('=')
        .or_else(|| opt.split_once(':'))
        .unwrap_or((opt, ""));
    let go_false = ["0", "f", "F", "false", "FALSE", "False"].contains(&value);
    match key {
        "no-new-privileges" => None,
        "writable-cgroups" if go_false => None,
        "apparmor" if value == "docker-default" => None,
        "seccomp" if value == "builtin" => None,
        "seccomp" => Some(
            "it replaces dockerd's seccomp profile, which keeps the container from the \
             system calls that escape it (unconfined: no profile at all)",
        ),
        "apparmor" => Some("it replaces dockerd's AppArmor profile (unconfined: none at all)"),
        // `disable` alone is dockerd's old form of label=disable.
        "label" | "disable" => Some(
            "it changes or turns off the SELinux label that keeps the container from the \
             host's files",
        ),
        "writable-cgroups" => Some(
            "it makes the container's cgroup filesystem writable (on cgroup v1, the \
             release_agent the host's kernel runs as root)",
        ),
        _ => Some("it is not an option the guard knows to be harmless"),
    }
}

/// A service's `ContainerSpec.Privileges` (API 1.44): dockerd turns its seccomp and
/// AppArmor modes and its SELinux context into the container's security options.
fn privileges(p: &Value) -> Result<(), Refusal> {
    let loosened = |path: &[&str]| {
        at(p, path)
            .into_iter()
            .any(|m| !matches!(m.as_str(), Some("" | "default")) && !m.is_null())
    };
    let field = if loosened(&["Seccomp", "Mode"]) {
        "Privileges.Seccomp"
    } else if loosened(&["AppArmor", "Mode"]) {
        "Privileges.AppArmor"
    } else if fields(p, "SELinuxContext").into_iter().any(|c| {
        // Disable, or a user, role, type or level of its own.
        c.as_object().is_some_and(|o| {
            o.values()
                .any(|v| *v == Value::Bool(true) || non_empty_text(v))
        })
    }) {
        "Privileges.SELinuxContext"
    } else {
        return Ok(());
    };
    refuse(
        format!(
            "{field} other than dockerd's default is not allowed: it lifts confinement dockerd \
             gives every container"
        ),
        "--allow-privileged",
    )
}

fn non_empty_text(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

/// `text` quoted for a message: a long one (a seccomp profile given whole) cut, with its
/// length.
fn cut(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}... ({} bytes)", &text[..i], text.len()),
        None => format!("{text:?}"),
    }
}

/// A refusal found in container `name` (a lookup), saying so.
fn by_way(name: &str) -> impl Fn(Refusal) -> Refusal + '_ {
    move |r| Refusal {
        why: format!("{} (by way of container {name})", r.why),
        ..r
    }
}

/// Whether the volume driver named by `names` (a `Driver` field, none when left out) is
/// dockerd's own `local`, whose options [`Allowances::driver_options`] knows; a plugin's
/// options are its own (README: not checked).
fn local(names: &[&Value]) -> bool {
    names
        .iter()
        .all(|n| n.as_str().is_some_and(|n| n.is_empty() || n == "local") || n.is_null())
}

/// The disk filesystems the local volume driver may mount: their `device` is a host path
/// or block device.
const DISK_FILESYSTEMS: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "msdos", "exfat", "ntfs", "ntfs3", "f2fs",
    "jfs", "reiserfs", "iso9660", "udf", "squashfs", "erofs", "hfsplus", "nilfs2",
];

/// Mount options whose values are host paths, relative ones too: overlay's directories
/// (`lowerdir+=` and `datadir+=` as kernels from 6.8 take them too), xfs's log and
/// realtime devices, ext4's journal.
const PATH_OPTIONS: &[&str] = &[
    "lowerdir",
    "upperdir",
    "workdir",
    "datadir",
    "logdev",
    "rtdev",
    "journal_path",
];

/// The fields of the bodies the guard checks that are Go maps (`map[string]...`), as
/// [`folded`]: `Labels` may hold `Foo` and `foo`.
const GO_MAPS: &[&str] = &[
    "labels",
    "volumes",
    "driveropts",
    "options",
    "exposedports",
    "sysctls",
    "endpointsconfig",
    "config",
    "storageopt",
    "annotations",
    "tmpfs",
    "portbindings",
];

/// The first key given twice in one object of the JSON text `bytes` (which parses), as Go
/// compares field names ([`folded`]): `{"HostConfig":{...},"HostConfig":{}}` or
/// `{"Type":"tmpfs","type":"bind"}`. dockerd fills its struct from both; serde_json keeps
/// the last, and a check of it would miss the first.
pub fn duplicate_key(bytes: &[u8]) -> Option<String> {
    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::borrow::Cow;
    /// One JSON value; `map`: it is a Go map (a `Labels`), whose keys Go compares as they
    /// are and keeps the last of, as serde_json does: nothing to refuse there.
    #[derive(Clone, Copy)]
    struct Scan {
        map: bool,
    }
    impl<'de> DeserializeSeed<'de> for Scan {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Scan {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            while a.next_element_seed(Scan { map: false })?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = a.next_key::<Cow<'de, str>>()? {
                let name = folded(&key);
                if !self.map && !seen.insert(name.clone()) {
                    return Err(de::Error::custom(format!("{key:?}")));
                }
                let map = !self.map && GO_MAPS.contains(&name.as_str());
                a.next_value_seed(Scan { map })?;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let e = Scan { map: false }.deserialize(&mut de).err()?;
    // The key, without serde_json's " at line L column C".
    let text = e.to_string();
    Some(match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
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

/// The elements of every array under a key of `obj` that Go would take for `name`.
fn items<'a>(obj: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    fields(obj, name)
        .into_iter()
        .flat_map(|v| v.as_array().into_iter().flatten())
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
        if !self.privileged {
            for (field, defaults) in [("MaskedPaths", MASKED), ("ReadonlyPaths", READ_ONLY)] {
                // Given, the list replaces dockerd's own (`[]` from `--security-opt
                // systempaths=unconfined`); a copy of an inspected container's keeps them.
                for list in fields(hc, field).into_iter().filter(|v| !v.is_null()) {
                    let has = |d: &&str| {
                        list.as_array()
                            .is_some_and(|l| l.iter().any(|p| p.as_str() == Some(*d)))
                    };
                    let Some(lacking) = defaults.iter().find(|d| !has(d)) else {
                        continue;
                    };
                    return refuse(
                        format!(
                            "{field} without {lacking} is not allowed: dockerd keeps the host's \
                             /proc and /sys paths masked or read-only (--security-opt \
                             systempaths=unconfined lifts that)"
                        ),
                        "--allow-privileged",
                    );
                }
            }
        }
        if !self.privileged {
            for opt in items(hc, "SecurityOpt").filter_map(Value::as_str) {
                if let Some(why) = loosened(opt) {
                    return refuse(
                        format!("the security option {} is not allowed: {why}", cut(opt)),
                        "--allow-privileged",
                    );
                }
            }
        }
        if !self.cap_add && fields(hc, "CapAdd").into_iter().any(non_empty) {
            return refuse("added capabilities are not allowed", "--allow-cap-add");
        }
        // API 1.40's set that replaces dockerd's default one (dockerd 20.10 ignores it).
        if !self.cap_add && fields(hc, "Capabilities").into_iter().any(non_empty) {
            return refuse(
                "a set of capabilities of its own (Capabilities) is not allowed",
                "--allow-cap-add",
            );
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
        for spec in items(hc, "Binds").filter_map(Value::as_str) {
            // SRC:DST[:OPTIONS]; a SRC not starting with / names a volume (looked up: see
            // `lookups`), and a lone DST is an anonymous volume.
            if let Some((src, _)) = spec.split_once(':')
                && src.starts_with('/')
            {
                self.bind(src)?;
            }
        }
        for mounts in fields(hc, "Mounts") {
            self.mounts(mounts)?;
        }
        Ok(())
    }

    /// A volume driver's options (`DriverOpts` of a volume create, `VolumeOptions.
    /// DriverConfig.Options` of a mount): the local driver mounts `device` with `type` and
    /// `o` by mount(2), in the host's namespaces. With `o` saying bind, `device` is a host
    /// path bound; a disk filesystem's `device` is a host path or block device (a relative
    /// one is taken from dockerd's working directory); a network filesystem's names a
    /// remote share, and tmpfs and overlay take none (overlay's directories are in `o`).
    /// Any other type is a kernel filesystem, the host's as dockerd mounts it (`proc`: the
    /// host's processes and its /proc/sys): refused unless --allow-privileged.
    fn driver_options(&self, opts: &Value) -> Result<(), Refusal> {
        let text = |name| {
            fields(opts, name)
                .into_iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
        };
        let bind = text("o")
            .iter()
            .flat_map(|o| o.split(','))
            .any(|o| o == "bind" || o == "rbind");
        let types = text("type");
        let shared = |t: &str| NETWORK_FILESYSTEMS.contains(&t) || t == "tmpfs";
        // A network share's options hold no host path (and may hold a password).
        let remote = !types.is_empty() && types.iter().all(|t| shared(t));
        let mut device_is_a_path = bind || types.is_empty();
        for &t in &types {
            if shared(t) || t == "overlay" {
                continue;
            }
            if t == "none" || t.is_empty() || DISK_FILESYSTEMS.contains(&t) {
                device_is_a_path = true;
                continue;
            }
            if !self.privileged {
                return refuse(
                    format!(
                        "volumes of type {t:?} are not allowed (a kernel filesystem dockerd \
                         mounts is the host's)"
                    ),
                    "--allow-privileged",
                );
            }
        }
        for device in fields(opts, "device") {
            let device = device.as_str().unwrap_or("");
            if device_is_a_path && !device.is_empty() {
                self.bind(device)?;
            }
        }
        // Mount options that name host directories: overlay's, always (`lowerdir=a:b`),
        // and any other whose value is a path.
        for opt in text("o").iter().flat_map(|o| o.split(',')) {
            let Some((key, value)) = opt.split_once('=') else {
                continue;
            };
            let key = key.trim_end_matches('+').to_ascii_lowercase();
            let paths = PATH_OPTIONS.contains(&key.as_str());
            for part in value.split(':') {
                if paths || (!remote && (part.starts_with('/') || part.starts_with('.'))) {
                    self.bind(part)?;
                }
            }
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
            let drivers = at(m, &["VolumeOptions", "DriverConfig", "Name"]);
            for opts in at(m, &["VolumeOptions", "DriverConfig", "Options"]) {
                if !local(&drivers) {
                    continue;
                }
                self.driver_options(opts)?;
            }
        }
        Ok(())
    }

    /// Judges what `lookup` found (`found`: TARGET's JSON answer to its GET), and says what
    /// must be looked up next: the container whose namespace the found one shares in turn,
    /// the volumes among its mounts.
    pub fn looked_up(&self, lookup: &Lookup, found: &Value) -> Result<Vec<Lookup>, Refusal> {
        match lookup {
            Lookup::Namespace(ns, name) => {
                let mut next = Vec::new();
                for hc in fields(found, "HostConfig") {
                    for mode in fields(hc, ns.field()).into_iter().filter_map(Value::as_str) {
                        if mode.eq_ignore_ascii_case("host") && !self.namespaces.contains(ns) {
                            return Err(by_way(name)(Refusal {
                                why: format!("the host's {} namespace is not allowed", ns.flag()),
                                flag: format!("--allow-host-namespace {}", ns.flag()),
                            }));
                        }
                        if let Some(other) = joined(*ns, mode) {
                            next.push(Lookup::Namespace(*ns, other.to_string()));
                        }
                    }
                }
                // Its processes' files are ours by way of /proc/PID/root: its mounts are
                // judged as --volumes-from's are.
                if *ns == HostNamespace::Pid {
                    next.extend(self.mounts_of(name, found)?);
                }
                Ok(next)
            }
            Lookup::VolumesFrom(name) => self.mounts_of(name, found),
            Lookup::Renamed(name) => {
                let network = Lookup::Namespace(HostNamespace::Network, name.clone());
                self.looked_up(&network, found)
            }
            Lookup::Network(name) => {
                // The host's network, named by its ID (or an ID's prefix).
                let host = fields(found, "Name")
                    .into_iter()
                    .chain(fields(found, "Driver"))
                    .any(|v| v.as_str().is_some_and(is_host));
                if host && !self.namespaces.contains(&HostNamespace::Network) {
                    return Err(Refusal {
                        why: format!(
                            "the host's network namespace is not allowed (by way of network {name})"
                        ),
                        flag: "--allow-host-namespace network".into(),
                    });
                }
                Ok(Vec::new())
            }
            Lookup::Volume(name) => {
                if !local(&fields(found, "Driver")) {
                    return Ok(Vec::new());
                }
                for opts in fields(found, "Options") {
                    self.driver_options(opts).map_err(|r| Refusal {
                        why: format!("{} (volume {name})", r.why),
                        ..r
                    })?;
                }
                Ok(Vec::new())
            }
        }
    }

    /// The mounts container `name` has (`found`: its inspect), whatever made them (its
    /// binds, its own VolumesFrom): its binds judged, its volumes to be looked up.
    fn mounts_of(&self, name: &str, found: &Value) -> Result<Vec<Lookup>, Refusal> {
        let mut next = Vec::new();
        for m in items(found, "Mounts") {
            let kind = fields(m, "Type").first().and_then(|v| v.as_str());
            match kind.map(str::to_ascii_lowercase).as_deref() {
                Some("bind") => {
                    for src in fields(m, "Source") {
                        self.bind(src.as_str().unwrap_or(""))
                            .map_err(by_way(name))?;
                    }
                }
                Some("volume") => {
                    let names = fields(m, "Name").into_iter().filter_map(Value::as_str);
                    next.extend(names.map(|n| Lookup::Volume(n.to_string())));
                }
                _ => {}
            }
        }
        Ok(next)
    }

    /// What a rename of container `name` must look up: the container, unless the host's
    /// network namespace is allowed ([`Lookup::Renamed`]).
    pub fn rename_lookups(&self, name: &str) -> Vec<Lookup> {
        match self.namespaces.contains(&HostNamespace::Network) {
            true => Vec::new(),
            false => vec![Lookup::Renamed(name.to_string())],
        }
    }

    /// What a lookup that TARGET answered 404 means: nothing for most (TARGET refuses the
    /// create; it keeps `PidMode` and `IpcMode` as the ID it found), but dockerd keeps
    /// `NetworkMode: container:NAME` as it is and joins whichever container has that name
    /// at each start.
    pub fn not_found(&self, lookup: &Lookup) -> Result<(), Refusal> {
        match lookup {
            Lookup::Namespace(HostNamespace::Network, name)
                if !self.namespaces.contains(&HostNamespace::Network) =>
            {
                refuse(
                    format!(
                        "container:{name} names no container (dockerd would join the network \
                         of whichever container has that name when it starts)"
                    ),
                    "--allow-host-namespace network",
                )
            }
            _ => Ok(()),
        }
    }

    /// Checks a body of the kind `what`.
    pub fn check(&self, what: Checked, body: &Value) -> Result<(), Refusal> {
        match what {
            Checked::ContainerCreate | Checked::Start => {
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
                    if !self.privileged {
                        for p in fields(spec, "Privileges") {
                            privileges(p)?;
                        }
                    }
                    for mounts in fields(spec, "Mounts") {
                        self.mounts(mounts)?;
                    }
                }
                let host = service_networks(body).into_iter().any(is_host);
                if host && !self.namespaces.contains(&HostNamespace::Network) {
                    return refuse(
                        "the host's network namespace is not allowed",
                        "--allow-host-namespace network",
                    );
                }
                Ok(())
            }
            Checked::VolumeCreate => {
                if !local(&fields(body, "Driver")) {
                    return Ok(());
                }
                for opts in fields(body, "DriverOpts") {
                    self.driver_options(opts)?;
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
            json!({"HostConfig": {"Mounts": [{"Type": "volume", "Source": "v",
                "VolumeOptions": {"DriverConfig": {"Options": {"type": "ext4", "device": "/dev/sda1"}}}}]}}),
            json!({"HostConfig": {"MaskedPaths": [], "ReadonlyPaths": []}}),
            json!({"HostConfig": {"readonlypaths": ["/proc/bus", "/proc/fs", "/proc/irq"]}}),
        ] {
            assert!(create(&none, body.clone()).is_err(), "{body}");
        }
        for body in [
            json!({"Image": "x", "HostConfig": {"NetworkMode": "none", "Binds": ["vol:/data", "/anon"]}}),
            json!({"HostConfig": {"CapAdd": null, "Devices": [], "PidMode": "container:abc", "VolumesFrom": []}}),
            // What `docker inspect` shows, sent back by a client that recreates a container.
            json!({"HostConfig": {"MaskedPaths": MASKED, "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq",
                "/proc/sys", "/proc/sysrq-trigger", "/srv"],
                "SecurityOpt": null}}),
            json!({"HostConfig": {"MaskedPaths": null, "ReadonlyPaths": null}}),
            json!({"HostConfig": {"Mounts": [{"Type": "volume", "Source": "v",
                "VolumeOptions": {"DriverConfig": {"Options": {"type": "nfs", "o": "addr=10.0.0.1", "device": ":/export"}}}}]}}),
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
        assert_eq!(
            create(&a, json!({"HostConfig": {"ReadonlyPaths": []}})),
            Ok(())
        );
        let err = create(
            &Allowances::default(),
            json!({"HostConfig": {"ReadonlyPaths": []}}),
        );
        assert!(
            err.unwrap_err()
                .why
                .starts_with("ReadonlyPaths without /proc/bus")
        );
        let err = create(&a, json!({"HostConfig": {"Binds": ["/srv/database:/x"]}})).unwrap_err();
        assert_eq!(err.flag, "--allow-bind /srv/database");
        let err = create(&a, json!({"HostConfig": {"PidMode": "host"}})).unwrap_err();
        assert_eq!(err.flag, "--allow-host-namespace pid");
    }

    #[test]
    fn security_options_that_lift_confinement() {
        let none = Allowances::default();
        for opt in [
            "seccomp=unconfined",
            "seccomp:unconfined",
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#,
            "apparmor=unconfined",
            "apparmor:some-host-profile",
            "label=disable",
            "label:type:spc_t",
            "disable",
            "writable-cgroups=true",
            "writable-cgroups",
            "systempaths=unconfined",
        ] {
            let err = create(
                &none,
                json!({"HostConfig": {"SecurityOpt": ["no-new-privileges", opt]}}),
            )
            .expect_err(opt);
            assert_eq!(err.flag, "--allow-privileged", "{opt}");
            assert!(
                err.why.starts_with("the security option "),
                "{opt}: {}",
                err.why
            );
        }
        // Go's case folding of the field, and the top-level copy.
        assert!(create(&none, json!({"securityopt": ["seccomp=unconfined"]})).is_err());
        let long = format!(
            "seccomp={{\"defaultAction\":\"SCMP_ACT_ALLOW\"{}}}",
            " ".repeat(100)
        );
        let why = create(&none, json!({"HostConfig": {"SecurityOpt": [long]}}))
            .unwrap_err()
            .why;
        assert!(why.contains("... (142 bytes)"), "{why}");
        for opt in [
            "no-new-privileges",
            "no-new-privileges:true",
            "no-new-privileges=false",
            "writable-cgroups=false",
            "apparmor=docker-default",
            "seccomp=builtin",
        ] {
            let body = json!({"HostConfig": {"SecurityOpt": [opt]}});
            assert_eq!(create(&none, body), Ok(()), "{opt}");
        }
        let all = Allowances {
            privileged: true,
            ..Allowances::default()
        };
        let body = json!({"HostConfig": {"SecurityOpt": ["seccomp=unconfined", "label=disable"]}});
        assert_eq!(create(&all, body), Ok(()));
        // API 1.40's replacement set of capabilities is added capabilities too.
        let err = create(
            &none,
            json!({"HostConfig": {"Capabilities": ["CAP_SYS_ADMIN"]}}),
        );
        assert_eq!(err.unwrap_err().flag, "--allow-cap-add");
        // A service's Privileges (API 1.44) as dockerd turns them into security options.
        for privileges in [
            json!({"Seccomp": {"Mode": "unconfined"}}),
            json!({"seccomp": {"mode": "custom", "Profile": "e30="}}),
            json!({"AppArmor": {"Mode": "disabled"}}),
            json!({"SELinuxContext": {"Disable": true}}),
            json!({"SELinuxContext": {"Type": "spc_t"}}),
        ] {
            let svc = json!({"TaskTemplate": {"ContainerSpec": {"Privileges": privileges}}});
            let err = none.check(Checked::Service, &svc).expect_err("refused");
            assert_eq!(err.flag, "--allow-privileged", "{svc}");
            assert!(all.check(Checked::Service, &svc).is_ok(), "{svc}");
        }
        for privileges in [
            json!({"Seccomp": {"Mode": "default"}, "AppArmor": {"Mode": "default"}}),
            json!({"SELinuxContext": {"Disable": false, "Type": ""}, "NoNewPrivileges": true}),
            json!({"Seccomp": null, "CredentialSpec": null}),
        ] {
            let svc = json!({"TaskTemplate": {"ContainerSpec": {"Privileges": privileges}}});
            assert_eq!(none.check(Checked::Service, &svc), Ok(()), "{svc}");
        }
    }

    #[test]
    fn a_build_s_network_is_asked_in_its_query() {
        let asked = build_query("POST", "/build", Some("q=1&networkmode=host&t=x"), || false);
        assert_eq!(
            asked.unwrap(),
            vec![json!({"HostConfig": {"NetworkMode": "host"}})]
        );
        // Decoded as Go decodes it, every value given.
        let asked = build_query(
            "POST",
            "/build",
            Some("network%6dode=ho%73t&networkmode=none"),
            || false,
        );
        let modes: Vec<_> = asked
            .unwrap()
            .iter()
            .map(|v| v["HostConfig"]["NetworkMode"].clone())
            .collect();
        assert_eq!(modes, [json!("host"), json!("none")]);
        assert_eq!(
            build_query("POST", "/build", None, || false),
            Ok(Vec::new())
        );
        // Go before 1.17 split pairs at `;` too.
        let asked = build_query("POST", "/build", Some("q=1;networkmode=host"), || false);
        assert_eq!(asked.unwrap().len(), 1);
        assert_eq!(
            build_query("POST", "/images/create", Some("networkmode=host"), || false),
            Ok(Vec::new())
        );
        assert_eq!(
            build_query("GET", "/build", Some("networkmode=host"), || true),
            Ok(Vec::new())
        );
        assert!(build_query("POST", "/build", Some("t=x"), || true).is_err());
        // Judged as a create's: the host's network is refused, another container's looked up.
        let none = Allowances::default();
        let host = &build_query("POST", "/build", Some("networkmode=host"), || false).unwrap()[0];
        assert_eq!(
            none.check(Checked::ContainerCreate, host).unwrap_err().flag,
            "--allow-host-namespace network"
        );
        let other = &build_query("POST", "/build", Some("networkmode=container:web"), || {
            false
        })
        .unwrap()[0];
        assert_eq!(
            lookups(Checked::ContainerCreate, other),
            [Lookup::Namespace(HostNamespace::Network, "web".into())]
        );
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
        let on_host = json!({"TaskTemplate": {"ContainerSpec": {"Image": "x"}, "Networks": [{"Target": "HOST"}]}});
        assert_eq!(
            none.check(Checked::Service, &on_host).unwrap_err().flag,
            "--allow-host-namespace network"
        );
        assert!(
            none.check(Checked::Service, &json!({"Networks": [{"Target": "host"}]}))
                .is_err()
        );
        let bridge = json!({"TaskTemplate": {"Networks": [{"Target": "backend"}]}});
        assert!(none.check(Checked::Service, &bridge).is_ok());
        assert_eq!(Checked::of("GET", "/containers/create"), None);
        assert_eq!(
            Checked::of("post", "/containers/create"),
            Some(Checked::ContainerCreate)
        );
        assert_eq!(
            Checked::of("POST", "/containers/abc/start"),
            Some(Checked::Start)
        );
        assert_eq!(Checked::of("POST", "/containers/abc/stop"), None);
        for (method, route, aliased) in [
            ("POST", "/containers/parent/alias/kill", true),
            ("POST", "/containers/parent/alias/exec", true),
            ("GET", "/containers/parent/alias/attach/ws", true),
            ("DELETE", "/containers/parent/alias", true),
            ("GET", "/containers/abc/attach/ws", false),
            ("POST", "/containers/abc/kill", false),
            ("DELETE", "/containers/abc", false),
            ("GET", "/images/peer/busybox/json", false),
        ] {
            assert_eq!(
                aliased_container(method, route),
                aliased,
                "{method} {route}"
            );
        }
    }

    #[test]
    fn names_that_dockerd_resolves_later() {
        let none = Allowances::default();
        // Kept as a name and joined by it at each start: a name of no container is refused.
        let net = Lookup::Namespace(HostNamespace::Network, "foo".into());
        let err = none.not_found(&net).unwrap_err();
        assert!(
            err.why.starts_with("container:foo names no container"),
            "{}",
            err.why
        );
        let pid = Lookup::Namespace(HostNamespace::Pid, "foo".into());
        assert_eq!(none.not_found(&pid), Ok(()));
        assert_eq!(none.not_found(&Lookup::Renamed("foo".into())), Ok(()));
        let net_ok = Allowances {
            namespaces: vec![HostNamespace::Network],
            ..Allowances::default()
        };
        assert_eq!(net_ok.not_found(&net), Ok(()));
        // A rename is looked up unless the host's network is allowed, and judged as joining
        // that container's network would be.
        assert_eq!(renamed("POST", "/containers/agent/rename"), Some("agent"));
        assert_eq!(renamed("POST", "/containers/agent/restart"), None);
        assert_eq!(renamed("GET", "/containers/agent/rename"), None);
        assert_eq!(renamed("POST", "/containers/a/b/rename"), None);
        assert_eq!(
            none.rename_lookups("agent"),
            [Lookup::Renamed("agent".into())]
        );
        assert!(net_ok.rename_lookups("agent").is_empty());
        let agent = Lookup::Renamed("agent".into());
        assert_eq!(agent.path(), Ok("/containers/agent/json".into()));
        let on_host = json!({"HostConfig": {"NetworkMode": "host"}});
        assert_eq!(
            none.looked_up(&agent, &on_host).unwrap_err().flag,
            "--allow-host-namespace network"
        );
        let joined = json!({"HostConfig": {"NetworkMode": "container:vpn"}});
        assert_eq!(
            none.looked_up(&agent, &joined),
            Ok(vec![Lookup::Namespace(
                HostNamespace::Network,
                "vpn".into()
            )])
        );
        // Not a name: what would lead the GET elsewhere.
        for name in [".", "..", ".x", "-x", "a/b", ""] {
            assert!(Lookup::VolumesFrom(name.into()).path().is_err(), "{name:?}");
        }
    }

    #[test]
    fn what_comes_from_other_containers_is_looked_up() {
        let body = json!({"HostConfig": {"NetworkMode": "container:vpn", "PidMode": "host",
            "IpcMode": "Container:ipc1", "UTSMode": "container:x", "VolumesFrom": ["data:ro", "logs"]},
            "volumesfrom": ["top"], "Binds": ["/srv:/srv", "named:/n:ro", "/anon"],
            "Mounts": [{"Type": "volume", "Source": "m1"}, {"Type": "volume", "Source": ""},
                {"Type": "bind", "Source": "/x"}]});
        let mut found = lookups(Checked::ContainerCreate, &body);
        found.sort_by_key(|l| format!("{l:?}"));
        assert_eq!(
            found,
            [
                Lookup::Namespace(HostNamespace::Ipc, "ipc1".into()),
                Lookup::Namespace(HostNamespace::Network, "vpn".into()),
                Lookup::Volume("m1".into()),
                Lookup::Volume("named".into()),
                Lookup::VolumesFrom("data".into()),
                Lookup::VolumesFrom("logs".into()),
                Lookup::VolumesFrom("top".into()),
            ]
        );
        assert_eq!(lookups(Checked::Exec, &body), []);
        assert_eq!(
            Lookup::VolumesFrom("/data".into()).path().unwrap(),
            "/containers/data/json"
        );
        assert_eq!(
            Lookup::Volume("v-1.x".into()).path().unwrap(),
            "/volumes/v-1.x"
        );
        for bad in ["../secrets", "x?y", "a/b", "", "x%2F"] {
            assert!(Lookup::VolumesFrom(bad.into()).path().is_err(), "{bad}");
        }

        let none = Allowances::default();
        let net = Lookup::Namespace(HostNamespace::Network, "agent".into());
        let host = json!({"HostConfig": {"NetworkMode": "host"}});
        let err = none.looked_up(&net, &host).unwrap_err();
        assert_eq!(
            err.why,
            "the host's network namespace is not allowed (by way of container agent)"
        );
        assert_eq!(err.flag, "--allow-host-namespace network");
        let allowed = Allowances {
            namespaces: vec![HostNamespace::Network],
            ..Default::default()
        };
        assert_eq!(allowed.looked_up(&net, &host), Ok(vec![]));
        // A chain is followed: agent shares vpn's namespace.
        let chained = json!({"HostConfig": {"NetworkMode": "container:vpn"}});
        assert_eq!(
            none.looked_up(&net, &chained),
            Ok(vec![Lookup::Namespace(
                HostNamespace::Network,
                "vpn".into()
            )])
        );
        assert_eq!(
            none.looked_up(&net, &json!({"HostConfig": {"NetworkMode": "bridge"}})),
            Ok(vec![])
        );

        let from = Lookup::VolumesFrom("admin".into());
        let mounts = json!({"Mounts": [
            {"Type": "volume", "Name": "v1", "Source": "/var/lib/docker/volumes/v1/_data"},
            {"Type": "tmpfs", "Destination": "/t"}]});
        assert_eq!(
            none.looked_up(&from, &mounts),
            Ok(vec![Lookup::Volume("v1".into())])
        );
        let binds = json!({"Mounts": [{"Type": "bind", "Source": "/etc", "Destination": "/h"}]});
        let err = none.looked_up(&from, &binds).unwrap_err();
        assert_eq!(
            err.why,
            "bind mounts of /etc from the host are not allowed (by way of container admin)"
        );
        let etc = Allowances {
            binds: vec!["/etc".into()],
            ..Default::default()
        };
        assert_eq!(etc.looked_up(&from, &binds), Ok(vec![]));
        let vol = Lookup::Volume("v1".into());
        let bound =
            json!({"Name": "v1", "Options": {"type": "none", "o": "bind", "device": "/root"}});
        let err = none.looked_up(&vol, &bound).unwrap_err();
        assert_eq!(
            err.why,
            "bind mounts of /root from the host are not allowed (volume v1)"
        );
        assert_eq!(
            none.looked_up(&vol, &json!({"Name": "v1", "Options": null})),
            Ok(vec![])
        );
    }

    #[test]
    fn volumes_that_bind_host_paths() {
        let none = Allowances::default();
        let volume = |opts: Value| {
            none.check(
                Checked::VolumeCreate,
                &json!({"Name": "v", "Driver": "local", "DriverOpts": opts}),
            )
        };
        assert_eq!(
            Checked::of("POST", "/volumes/create"),
            Some(Checked::VolumeCreate)
        );
        for opts in [
            json!({"type": "none", "o": "bind", "device": "/etc"}),
            json!({"type": "none", "o": "ro,rbind", "device": "/"}),
            json!({"type": "ext4", "device": "/dev/sda1"}),
            json!({"device": "/var/run/docker.sock"}),
            // Binding is binding, whatever the type says.
            json!({"type": "nfs", "o": "bind", "device": "/etc"}),
            // A relative device is taken from dockerd's working directory.
            json!({"type": "ext4", "device": "../../dev/vda"}),
            // overlay's directories are host paths, relative ones too.
            json!({"type": "overlay", "device": "overlay", "o": "lowerdir=/etc,upperdir=/u,workdir=/w"}),
            json!({"type": "overlay", "device": "overlay", "o": "lowerdir=etc:x"}),
            json!({"type": "tmpfs", "o": "journal_path=/dev/sdb"}),
            json!({"type": "overlay", "device": "overlay", "o": "lowerdir+=etc,datadir+=root"}),
            json!({"type": "xfs", "device": "/dev/sdb", "o": "logdev=dev/sda"}),
            // A zfs device is a dataset (rpool/ROOT/... is the host's root), not a path.
            json!({"type": "zfs", "device": "tank/data"}),
            // The host's /proc, /sys or devices, as dockerd mounts them.
            json!({"type": "proc", "device": "proc"}),
            json!({"type": "sysfs", "device": "/srv/x"}),
            json!({"type": "devtmpfs", "device": "x"}),
        ] {
            assert!(volume(opts.clone()).is_err(), "{opts}");
        }
        let err = volume(json!({"type": "none", "o": "bind", "device": "/etc"})).unwrap_err();
        assert_eq!(err.flag, "--allow-bind /etc");
        for opts in [
            json!({"type": "nfs", "o": "addr=10.0.0.1,rw", "device": ":/export"}),
            json!({"type": "cifs", "o": "addr=fs,username=u", "device": "//fs/share"}),
            json!({"type": "tmpfs", "o": "size=100m", "device": "tmpfs"}),
            json!({"type": "cifs", "o": "addr=fs,password=/Pa55,prefixpath=/sub", "device": "//fs/s"}),
            json!({}),
        ] {
            assert_eq!(volume(opts.clone()), Ok(()), "{opts}");
        }
        assert_eq!(
            none.check(Checked::VolumeCreate, &json!({"Name": "plain"})),
            Ok(())
        );
        // A plugin's options are its own.
        let plugin = json!({"Name": "p", "Driver": "rexray", "DriverOpts": {"type": "ssd"}});
        assert_eq!(none.check(Checked::VolumeCreate, &plugin), Ok(()));
        let local =
            json!({"Name": "p", "Driver": "local", "DriverOpts": {"type": "proc", "device": "x"}});
        assert!(none.check(Checked::VolumeCreate, &local).is_err());
        let srv = Allowances {
            binds: vec!["/srv".into()],
            ..Default::default()
        };
        let body = json!({"DriverOpts": {"type": "none", "o": "bind", "device": "/srv/x"}});
        assert_eq!(srv.check(Checked::VolumeCreate, &body), Ok(()));
    }

    #[test]
    fn a_shared_pid_namespace_reaches_the_other_container_s_mounts() {
        let none = Allowances::default();
        let found = json!({"HostConfig": {"PidMode": ""}, "Mounts": [
            {"Type": "bind", "Source": "/etc", "Destination": "/hostetc"},
            {"Type": "volume", "Name": "data", "Destination": "/data"}
        ]});
        let pid = Lookup::Namespace(HostNamespace::Pid, "agent".into());
        let err = none.looked_up(&pid, &found).unwrap_err();
        assert_eq!(
            err.why,
            "bind mounts of /etc from the host are not allowed (by way of container agent)"
        );
        let etc = Allowances {
            binds: vec!["/etc".into()],
            ..Default::default()
        };
        assert_eq!(
            etc.looked_up(&pid, &found),
            Ok(vec![Lookup::Volume("data".into())])
        );
        // A shared network namespace reaches no files.
        let net = Lookup::Namespace(HostNamespace::Network, "agent".into());
        assert_eq!(none.looked_up(&net, &found), Ok(vec![]));
    }

    #[test]
    fn a_service_s_volumes_secrets_and_configs_are_seen() {
        let body = json!({"TaskTemplate": {"ContainerSpec": {
            "Mounts": [{"Type": "volume", "Source": "hostetc", "Target": "/h"}],
            "Secrets": [{"SecretID": "j6", "SecretName": "db"}]
        }}});
        assert_eq!(
            lookups(Checked::Service, &body),
            vec![Lookup::Volume("hostetc".into())]
        );
        assert_eq!(swarm_objects(&body), ["secrets"]);
        assert!(
            swarm_objects(&json!({"TaskTemplate": {"ContainerSpec": {"Configs": []}}})).is_empty()
        );
        // Networks by name or ID are looked up (`host` itself is refused without one).
        let body = json!({"TaskTemplate": {"Networks": [{"Target": "ac4a24acf92f"}, {"Target": "HOST"}]},
            "Networks": [{"Target": "backend"}]});
        assert_eq!(
            lookups(Checked::Service, &body),
            [
                Lookup::Network("ac4a24acf92f".into()),
                Lookup::Network("backend".into())
            ]
        );
        assert_eq!(
            Lookup::Network("ac4a24acf92f".into()).path(),
            Ok("/networks/ac4a24acf92f".into())
        );
        let none = Allowances::default();
        let by_id = Lookup::Network("ac4a24acf92f".into());
        let host = json!({"Name": "host", "Id": "ac4a24acf92f0000", "Driver": "host"});
        let err = none.looked_up(&by_id, &host).unwrap_err();
        assert_eq!(
            err.why,
            "the host's network namespace is not allowed (by way of network ac4a24acf92f)"
        );
        let net = Allowances {
            namespaces: vec![HostNamespace::Network],
            ..Allowances::default()
        };
        assert_eq!(net.looked_up(&by_id, &host), Ok(Vec::new()));
        let overlay = json!({"Name": "backend", "Driver": "overlay"});
        assert_eq!(none.looked_up(&by_id, &overlay), Ok(Vec::new()));
    }

    #[test]
    fn a_key_given_twice_is_found_in_any_object_and_case() {
        for (text, key) in [
            (
                r#"{"HostConfig":{"Privileged":true},"HostConfig":{}}"#,
                "\"HostConfig\"",
            ),
            (r#"{"a":[{"Type":"tmpfs","type":"bind"}]}"#, "\"type\""),
            (r#"{"x":{"Binds":1,"Bindſ":2}}"#, "\"Bindſ\""),
            (r#"{"a\u0062":1,"ab":2}"#, "\"ab\""),
        ] {
            assert_eq!(
                duplicate_key(text.as_bytes()).as_deref(),
                Some(key),
                "{text}"
            );
        }
        for text in [
            r#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#,
            "[]",
            "null",
            "{}",
            // Go maps: their keys are compared as they are.
            r#"{"Labels":{"Foo":"1","foo":"2"},"Volumes":{"/data":{},"/Data":{}}}"#,
            r#"{"HostConfig":{"LogConfig":{"Config":{"tag":"a","Tag":"b"}}}}"#,
        ] {
            assert_eq!(duplicate_key(text.as_bytes()), None, "{text}");
        }
    }
}
