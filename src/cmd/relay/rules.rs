//! The guard's rules (`relay --http`): `--allow`/`--deny 'METHOD PATH-GLOB'` in the order
//! given, then `--read-only` and the presets; the first rule that matches a request decides,
//! and once any rule exists a request no rule matches is denied. Paths are matched as the
//! Docker Engine routes them: percent-decoded, with or without the `/v1.NN` prefix, and a
//! path that is not in canonical form (`//`, `.` or `..` segments) is refused outright.

use std::sync::atomic::{AtomicU64, Ordering};

use glob::{MatchOptions, Pattern};

use crate::net::cred::Cred;

/// `*` and `?` stay within one path segment; `**` spans segments.
const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// The order in which clap met the `--allow` and `--deny` values: it parses the command
/// line left to right, so this counter gives "first match wins" across both flags.
static ORDER: AtomicU64 = AtomicU64::new(0);

/// One rule: allow or deny requests whose method is one of `methods` (any when None) and
/// whose path matches `glob`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub allow: bool,
    methods: Option<Vec<String>>,
    glob: Pattern,
    /// The glob itself when it has no wildcard: compared as a string, without the glob's
    /// matcher (most rules name one endpoint).
    literal: Option<String>,
    /// Where it came from, for the log and the 403 message (`--allow 'GET /x'`).
    pub origin: String,
    order: u64,
}

impl Rule {
    /// `METHOD PATH-GLOB`: METHOD is `*` or a comma-separated list (`GET,HEAD`).
    pub fn parse(allow: bool, text: &str, origin: String) -> Result<Rule, String> {
        let text = text.trim();
        let (method, path) = text.split_once(char::is_whitespace).ok_or_else(|| {
            format!("{text:?} is not METHOD PATH-GLOB (such as 'GET /containers/json')")
        })?;
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(format!("the path glob {path:?} must start with /"));
        }
        let methods = if method == "*" {
            None
        } else {
            let list: Vec<String> = method.split(',').map(|m| m.to_ascii_uppercase()).collect();
            if let Some(bad) = list
                .iter()
                .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(format!("{bad:?} is not an HTTP method (or * for any)"));
            }
            Some(list)
        };
        let glob = Pattern::new(path).map_err(|e| format!("the path glob {path:?}: {e}"))?;
        let literal = (!path.contains(['*', '?', '['])).then(|| path.to_string());
        Ok(Rule {
            allow,
            methods,
            glob,
            literal,
            origin,
            order: ORDER.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// A rule of a preset or of --read-only, from the tables below.
    fn builtin(allow: bool, text: &str, origin: &str) -> Rule {
        let verb = if allow { "allow" } else { "deny" };
        Rule::parse(allow, text, format!("{origin}: {verb} {text}"))
            .expect("the built-in rules parse")
    }

    /// Whether the rule covers `method` on `path` (a GET rule covers HEAD too: the same
    /// answer without its body).
    fn matches(&self, method: &str, path: &RoutePath) -> bool {
        let method_ok = self.methods.as_ref().is_none_or(|ms| {
            ms.iter()
                .any(|m| m == method || (m == "GET" && method == "HEAD"))
        });
        let matches = |p: &str| match &self.literal {
            Some(l) => l == p,
            None => self.glob.matches_with(p, MATCH),
        };
        method_ok && (matches(&path.decoded) || path.unversioned.as_deref().is_some_and(matches))
    }
}

/// clap's value parser for `--allow`.
pub fn parse_allow(s: &str) -> Result<Rule, String> {
    Rule::parse(true, s, format!("--allow '{s}'"))
}

/// clap's value parser for `--deny`.
pub fn parse_deny(s: &str) -> Result<Rule, String> {
    Rule::parse(false, s, format!("--deny '{s}'"))
}

/// The API client a preset is made for; README, "relay --http", lists what each allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// Everything --read-only allows: GET and HEAD, except what reads files or secrets
    DockerReadonly,
    /// Traefik's docker provider: ping, version, info, events, containers, networks and,
    /// for swarm mode, services and tasks; GET only
    Traefik,
    /// Watchtower: list and inspect containers and images, pull, stop, remove, create,
    /// start and rename containers, remove images, connect networks
    Watchtower,
    /// Portainer (docker-socket-proxy's CONTAINERS, IMAGES, NETWORKS, VOLUMES, INFO,
    /// EXEC, SERVICES, TASKS with POST): any method there, but never a container's files
    /// (archive, copy, export), secrets, configs, swarm tokens, plugins, builds or auth
    Portainer,
}

/// The endpoints --read-only keeps out although they are GETs: each reads files or
/// secrets, or writes into a container (README, "relay --http", says why for each).
const SECRETS: &[&str] = &[
    "* /containers/**/archive",
    // API < 1.24's archive (dockerd 20.10 still serves it).
    "* /containers/**/copy",
    "* /containers/**/export",
    "* /containers/**/attach/ws",
    "* /images/get",
    "* /images/**/get",
    "* /secrets",
    "* /secrets/**",
    "* /configs",
    "* /configs/**",
    "* /swarm",
    "* /swarm/**",
];

const TRAEFIK: &[&str] = &[
    "GET /_ping",
    "GET /version",
    "GET /info",
    "GET /events",
    "GET /containers/json",
    "GET /containers/*/json",
    "GET /networks",
    "GET /networks/*",
    "GET /services",
    "GET /services/*",
    "GET /tasks",
];

const WATCHTOWER: &[&str] = &[
    "GET /_ping",
    "GET /version",
    "GET /info",
    "GET /containers/json",
    "GET /containers/*/json",
    "GET /images/json",
    "GET /images/**/json",
    "POST /images/create",
    "DELETE /images/**",
    "POST /containers/create",
    "POST /containers/*/start",
    "POST /containers/*/stop",
    "POST /containers/*/kill",
    "POST /containers/*/rename",
    "DELETE /containers/*",
    "GET /networks",
    "POST /networks/*/connect",
    "POST /networks/*/disconnect",
];

/// Portainer as its users run it behind docker-socket-proxy (README, "relay --http", cites
/// the env-var sets): every method on the API sections they turn on, except what reads or
/// writes a container's files; the rest of the API (secrets, configs, swarm, nodes,
/// plugins, build, commit, auth, session, system, distribution) stays denied by default.
const PORTAINER: &[(bool, &str)] = &[
    (false, "* /containers/**/archive"),
    (false, "* /containers/**/copy"),
    (false, "* /containers/**/export"),
    (true, "GET /_ping"),
    (true, "GET /version"),
    (true, "GET /info"),
    (true, "GET /events"),
    (true, "* /containers/**"),
    (true, "* /images/**"),
    (true, "* /networks"),
    (true, "* /networks/**"),
    (true, "* /volumes"),
    (true, "* /volumes/**"),
    (true, "* /exec/**"),
    (true, "* /services"),
    (true, "* /services/**"),
    (true, "* /tasks"),
    (true, "* /tasks/**"),
];

/// The rules of `--read-only` (the same as `--preset docker-readonly`).
pub fn read_only(origin: &str) -> Vec<Rule> {
    let mut rules: Vec<Rule> = SECRETS
        .iter()
        .map(|r| Rule::builtin(false, r, origin))
        .collect();
    rules.push(Rule::builtin(true, "GET /**", origin));
    rules
}

impl Preset {
    fn name(self) -> &'static str {
        match self {
            Preset::DockerReadonly => "docker-readonly",
            Preset::Traefik => "traefik",
            Preset::Watchtower => "watchtower",
            Preset::Portainer => "portainer",
        }
    }

    fn rules(self) -> Vec<Rule> {
        self.rules_from(&format!("--preset {}", self.name()))
    }

    /// Its rules, their origin named `origin` (a rules file's section, say).
    pub fn rules_from(self, origin: &str) -> Vec<Rule> {
        let origin = origin.to_string();
        let table = match self {
            Preset::DockerReadonly => return read_only(&origin),
            Preset::Traefik => TRAEFIK,
            Preset::Watchtower => WATCHTOWER,
            Preset::Portainer => {
                return PORTAINER
                    .iter()
                    .map(|(allow, r)| Rule::builtin(*allow, r, &origin))
                    .collect();
            }
        };
        table
            .iter()
            .map(|r| Rule::builtin(true, r, &origin))
            .collect()
    }
}

/// A request path as the Docker Engine routes it.
#[derive(Debug)]
pub struct RoutePath {
    /// Percent-decoded.
    decoded: String,
    /// Without the `/v1.NN` prefix, when it had one.
    unversioned: Option<String>,
}

impl RoutePath {
    /// The path of a request target (without its query), or why it is refused: a path that
    /// does not decode to UTF-8, holds a control character, or is not canonical could be
    /// routed by the upstream to another endpoint than the one the rules saw.
    pub fn new(raw: &str) -> Result<RoutePath, String> {
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| "its path does not decode to UTF-8".to_string())?
            .into_owned();
        if decoded.chars().any(char::is_control) {
            return Err("its path holds a control character".into());
        }
        if !decoded.starts_with('/') {
            return Err("its path does not start with /".into());
        }
        if decoded[1..]
            .split('/')
            .any(|seg| seg == "." || seg == ".." || seg.is_empty())
            && decoded != "/"
        {
            return Err("its path is not in canonical form (//, . or .. segments)".into());
        }
        let unversioned = decoded.strip_prefix("/v").and_then(|rest| {
            let end = rest.find('/')?;
            let version = &rest[..end];
            (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
                .then(|| rest[end..].to_string())
        });
        Ok(RoutePath {
            decoded,
            unversioned,
        })
    }
}

impl RoutePath {
    /// The path as dockerd routes it: decoded, without its version prefix.
    pub fn route(&self) -> &str {
        self.unversioned.as_deref().unwrap_or(&self.decoded)
    }
}

/// What the rules say of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub allow: bool,
    /// The rule that decided, as the user wrote it (or "no rule matched"): borrowed, as
    /// only a log line that is written copies it.
    pub rule: &'a str,
}

/// Which clients a section of rules is for: a unix client whose uid is one of `uids` or
/// whose gid (its primary group, as SO_PEERCRED tells) is one of `gids`.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
}

impl Scope {
    pub fn covers(&self, cred: Option<&Cred>) -> bool {
        cred.is_some_and(|c| self.uids.contains(&c.uid) || self.gids.contains(&c.gid))
    }
}

/// Sections of rules, each for the clients its scope covers.
pub type Scoped = Vec<(Scope, Vec<Rule>)>;

/// Every rule, in the order they are tried: the command line's for everyone, then the
/// sections of a rules file scoped to the client, then the file's rules for everyone.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    scoped: Scoped,
    after: Vec<Rule>,
}

impl RuleSet {
    /// `--allow` and `--deny` in command-line order, then `--read-only`, then the presets.
    pub fn new(allow: &[Rule], deny: &[Rule], read_only_flag: bool, presets: &[Preset]) -> Self {
        let mut rules: Vec<Rule> = allow.iter().chain(deny).cloned().collect();
        rules.sort_by_key(|r| r.order);
        if read_only_flag {
            rules.extend(read_only("--read-only"));
        }
        for p in presets {
            rules.extend(p.rules());
        }
        RuleSet {
            rules,
            ..RuleSet::default()
        }
    }

    /// Adds a rules file's sections (tried after the command line's rules).
    pub fn with_file(mut self, scoped: Scoped, everyone: Vec<Rule>) -> Self {
        self.scoped = scoped;
        self.after = everyone;
        self
    }

    pub fn len(&self) -> usize {
        self.rules.len()
            + self.scoped.iter().map(|(_, r)| r.len()).sum::<usize>()
            + self.after.len()
    }

    pub fn decide(&self, method: &str, path: &RoutePath, cred: Option<&Cred>) -> Verdict<'_> {
        if self.len() == 0 {
            return Verdict {
                allow: true,
                rule: "no rules given",
            };
        }
        let scoped = self
            .scoped
            .iter()
            .filter(|(scope, _)| scope.covers(cred))
            .flat_map(|(_, rules)| rules);
        match self
            .rules
            .iter()
            .chain(scoped)
            .chain(&self.after)
            .find(|r| r.matches(method, path))
        {
            Some(r) => Verdict {
                allow: r.allow,
                rule: &r.origin,
            },
            None => Verdict {
                allow: false,
                rule: "none matched, denied by default",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide<'a>(set: &'a RuleSet, method: &str, path: &str) -> Verdict<'a> {
        set.decide(method, &RoutePath::new(path).unwrap(), None)
    }

    #[test]
    fn first_match_wins_across_allow_and_deny() {
        let deny = parse_deny("POST /containers/*/kill").unwrap();
        let allow = parse_allow("POST /containers/**").unwrap();
        let set = RuleSet::new(&[allow], &[deny], false, &[]);
        let v = decide(&set, "POST", "/v1.41/containers/abc/kill");
        assert!(!v.allow);
        assert_eq!(v.rule, "--deny 'POST /containers/*/kill'");
        assert!(decide(&set, "POST", "/containers/abc/start").allow);
        let v = decide(&set, "GET", "/containers/json");
        assert_eq!(
            v,
            Verdict {
                allow: false,
                rule: "none matched, denied by default"
            }
        );
    }

    #[test]
    fn a_rule_without_wildcards_matches_as_its_glob_would() {
        let literal = parse_allow("GET /containers/json").unwrap();
        assert!(literal.literal.is_some());
        let set = RuleSet::new(&[literal], &[], false, &[]);
        for (path, allow) in [
            ("/containers/json", true),
            ("/v1.41/containers/json", true),
            ("/containers/json/x", false),
            ("/containers/jso", false),
            ("/containers/JSON", false),
            ("/v1.41/v1.41/containers/json", false),
            ("/containers%2Fjson", true),
        ] {
            assert_eq!(decide(&set, "GET", path).allow, allow, "{path}");
            let glob = Pattern::new("/containers/json").unwrap();
            let p = RoutePath::new(path).unwrap();
            let by_glob = glob.matches_with(&p.decoded, MATCH)
                || p.unversioned.is_some_and(|u| glob.matches_with(&u, MATCH));
            assert_eq!(by_glob, allow, "{path}");
        }
        assert!(
            parse_allow("GET /containers/*/json")
                .unwrap()
                .literal
                .is_none()
        );
        assert!(parse_allow("GET /ima?es").unwrap().literal.is_none());
        assert!(parse_allow("GET /[a]").unwrap().literal.is_none());
    }

    #[test]
    fn no_rules_allow_all() {
        assert!(decide(&RuleSet::default(), "DELETE", "/containers/x").allow);
    }

    #[test]
    fn read_only_keeps_files_and_secrets_out() {
        let set = RuleSet::new(&[], &[], true, &[]);
        for (m, p, allow) in [
            ("GET", "/v1.41/containers/json", true),
            ("HEAD", "/_ping", true),
            ("GET", "/v1.41/containers/abc/archive", false),
            ("HEAD", "/containers/abc/archive", false),
            ("GET", "/containers/abc/export", false),
            ("GET", "/containers/abc/attach/ws", false),
            ("GET", "/images/get", false),
            ("GET", "/images/registry:5000/a/b/get", false),
            ("GET", "/v1.41/swarm", false),
            ("GET", "/swarm/unlockkey", false),
            ("GET", "/configs/x", false),
            ("GET", "/secrets", false),
            ("POST", "/containers/create", false),
            ("DELETE", "/images/x", false),
        ] {
            assert_eq!(decide(&set, m, p).allow, allow, "{m} {p}");
        }
    }

    #[test]
    fn percent_encoding_and_dot_segments() {
        let set = RuleSet::new(&[], &[], true, &[]);
        assert!(!decide(&set, "GET", "/containers/abc/%61rchive").allow);
        for bad in [
            "/containers/json/../abc/archive",
            "/containers//json",
            "//build",
            "/v1.41//build",
            "/containers/json/",
            "/./containers/json",
            "/containers/%2e%2e/x",
            "/a%00b",
            "/a%ff",
        ] {
            assert!(RoutePath::new(bad).is_err(), "{bad}");
        }
        assert!(RoutePath::new("/").is_ok());
    }

    #[test]
    fn rule_syntax_errors() {
        assert!(parse_allow("GET").is_err());
        assert!(parse_allow("GET containers").is_err());
        assert!(parse_allow("G3T /x").is_err());
        assert!(parse_allow("GET /x[").is_err());
        assert!(parse_allow("get,head /x").is_ok());
    }

    #[test]
    fn presets() {
        let set = RuleSet::new(&[], &[], false, &[Preset::Traefik]);
        assert!(decide(&set, "GET", "/v1.24/containers/abc/json").allow);
        assert!(!decide(&set, "GET", "/containers/abc/logs").allow);
        assert!(!decide(&set, "POST", "/containers/create").allow);
        let set = RuleSet::new(&[], &[], false, &[Preset::Watchtower]);
        assert!(decide(&set, "POST", "/v1.41/containers/create").allow);
        assert!(decide(&set, "DELETE", "/images/sha256:abc").allow);
        assert!(!decide(&set, "POST", "/containers/abc/exec").allow);
    }

    #[test]
    fn the_portainer_preset() {
        let set = RuleSet::new(&[], &[], false, &[Preset::Portainer]);
        for (m, p, allow) in [
            ("HEAD", "/_ping", true),
            ("GET", "/v1.41/version", true),
            ("GET", "/info", true),
            ("GET", "/events", true),
            ("GET", "/v1.41/containers/json", true),
            ("POST", "/containers/create", true),
            ("POST", "/containers/abc/start", true),
            ("POST", "/containers/abc/exec", true),
            ("DELETE", "/v1.41/containers/abc", true),
            ("GET", "/containers/abc/logs", true),
            ("POST", "/exec/123/start", true),
            ("GET", "/exec/123/json", true),
            ("GET", "/images/json", true),
            ("POST", "/images/create", true),
            ("DELETE", "/images/sha256:abc", true),
            ("GET", "/networks", true),
            ("POST", "/networks/create", true),
            ("GET", "/volumes", true),
            ("POST", "/volumes/create", true),
            ("DELETE", "/volumes/data", true),
            ("GET", "/services", true),
            ("POST", "/services/create", true),
            ("GET", "/tasks", true),
            ("GET", "/tasks/t1", true),
            // A container's files, and what the sections it mirrors leave out.
            ("GET", "/containers/abc/archive", false),
            ("PUT", "/v1.41/containers/abc/archive", false),
            ("HEAD", "/containers/abc/archive", false),
            ("GET", "/containers/abc/export", false),
            ("GET", "/secrets", false),
            ("POST", "/secrets/create", false),
            ("GET", "/configs", false),
            ("GET", "/swarm", false),
            ("POST", "/swarm/init", false),
            ("GET", "/nodes", false),
            ("POST", "/plugins/pull", false),
            ("POST", "/build", false),
            ("POST", "/commit", false),
            ("POST", "/auth", false),
            ("POST", "/session", false),
            ("GET", "/system/df", false),
            ("GET", "/distribution/alpine/json", false),
            ("POST", "/events", false),
            ("POST", "/info", false),
        ] {
            assert_eq!(decide(&set, m, p).allow, allow, "{m} {p}");
        }
        assert_eq!(
            decide(&set, "GET", "/containers/abc/archive").rule,
            "--preset portainer: deny * /containers/**/archive"
        );
    }

    #[test]
    fn scoped_sections_apply_to_their_peers_only() {
        let root = Cred {
            pid: 1,
            uid: 0,
            gid: 0,
        };
        let nobody = Cred {
            pid: 2,
            uid: 65534,
            gid: 65534,
        };
        let set = RuleSet::default().with_file(
            vec![(
                Scope {
                    uids: vec![0],
                    gids: vec![],
                },
                Preset::Watchtower.rules_from("f [uid 0]"),
            )],
            vec![parse_allow("GET /_ping").unwrap()],
        );
        let path = RoutePath::new("/containers/create").unwrap();
        assert!(set.decide("POST", &path, Some(&root)).allow);
        assert!(!set.decide("POST", &path, Some(&nobody)).allow);
        assert!(!set.decide("POST", &path, None).allow);
        let ping = RoutePath::new("/_ping").unwrap();
        assert!(set.decide("GET", &ping, Some(&nobody)).allow);
    }
}
