//! `relay --http --rules FILE`: the guard's rules in a TOML file, with comments, and
//! sections scoped to clients by uid or gid (a unix client's SO_PEERCRED, never anything
//! it sends). Tried after the command line's rules: the sections that cover the client in
//! the file's order, then the file's rules for everyone.

use std::path::Path;

use serde::Deserialize;

use super::rules::{Preset, Rule, Scope, Scoped, read_only};
use crate::error::Fail;
use crate::linux::users::{gid_of, uid_of};

/// One value or a list of them (`uid = 0` or `uid = [0, 1000]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(v: Option<Self>) -> Vec<T> {
        match v {
            None => Vec::new(),
            Some(OneOrMany::One(x)) => vec![x],
            Some(OneOrMany::Many(xs)) => xs,
        }
    }
}

/// Rules: `rules` in order (each `allow METHOD PATH-GLOB` or `deny ...`), then
/// `read-only`, then the presets. (Spelled out in both sections rather than flattened:
/// serde cannot refuse unknown fields through a flattened struct.)
#[derive(Debug, Default)]
struct Section {
    rules: Vec<String>,
    read_only: bool,
    preset: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PeerSection {
    uid: Option<OneOrMany<u32>>,
    user: Option<OneOrMany<String>>,
    gid: Option<OneOrMany<u32>>,
    group: Option<OneOrMany<String>>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    preset: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileSpec {
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    preset: Vec<String>,
    #[serde(default)]
    peer: Vec<PeerSection>,
}

impl Section {
    fn into_rules(self, origin: &str) -> Result<Vec<Rule>, String> {
        let mut out = Vec::new();
        for r in &self.rules {
            let (verb, rest) = r.trim().split_once(char::is_whitespace).unwrap_or((r, ""));
            let allow = match verb {
                "allow" => true,
                "deny" => false,
                _ => {
                    return Err(format!(
                        "{r:?} is not 'allow METHOD PATH-GLOB' or 'deny METHOD PATH-GLOB'"
                    ));
                }
            };
            out.push(Rule::parse(allow, rest, format!("{origin}: {}", r.trim()))?);
        }
        if self.read_only {
            out.extend(read_only(&format!("{origin}: read-only")));
        }
        for name in &self.preset {
            let p = <Preset as clap::ValueEnum>::from_str(name, false).map_err(|_| {
                format!(
                    "no preset is called {name:?} (there are docker-readonly, traefik, watchtower)"
                )
            })?;
            out.extend(p.rules_from(&format!("{origin}: preset {name}")));
        }
        Ok(out)
    }
}

/// The sections scoped to clients, and the rules for everyone, of the file at `path`.
pub fn load(path: &Path) -> anyhow::Result<(Scoped, Vec<Rule>)> {
    let shown = crate::term::escape(&path.display().to_string()).into_owned();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Fail::new(
            crate::error::FAILURE,
            format!("reading the rules file {shown}: {e}"),
        )
    })?;
    let bad = |e: String| Fail::usage(format!("the rules file {shown}: {e}"));
    let spec: FileSpec = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let mut scoped = Vec::new();
    for (i, p) in spec.peer.into_iter().enumerate() {
        let mut scope = Scope {
            uids: OneOrMany::into_vec(p.uid),
            gids: OneOrMany::into_vec(p.gid),
        };
        for name in OneOrMany::into_vec(p.user) {
            scope
                .uids
                .push(uid_of(&name).ok_or_else(|| bad(format!("no user is called {name:?}")))?);
        }
        for name in OneOrMany::into_vec(p.group) {
            scope
                .gids
                .push(gid_of(&name).ok_or_else(|| bad(format!("no group is called {name:?}")))?);
        }
        if scope.uids.is_empty() && scope.gids.is_empty() {
            return Err(bad(format!(
                "[[peer]] section {} names no uid, user, gid or group",
                i + 1
            ))
            .into());
        }
        let mut who: Vec<String> = scope.uids.iter().map(|u| format!("uid {u}")).collect();
        who.extend(scope.gids.iter().map(|g| format!("gid {g}")));
        let origin = format!("{shown} [peer {}]", who.join(", "));
        let section = Section {
            rules: p.rules,
            read_only: p.read_only,
            preset: p.preset,
        };
        scoped.push((scope, section.into_rules(&origin).map_err(bad)?));
    }
    let everyone = Section {
        rules: spec.rules,
        read_only: spec.read_only,
        preset: spec.preset,
    }
    .into_rules(&shown)
    .map_err(bad)?;
    Ok((scoped, everyone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> anyhow::Result<(Scoped, Vec<Rule>)> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rules.toml");
        std::fs::write(&p, text).unwrap();
        load(&p)
    }

    #[test]
    fn sections_and_errors() {
        let (scoped, everyone) = load_text(
            "# for all\nrules = ['allow GET /_ping', 'deny * /secrets/**']\n\n[[peer]]\nuser = 'root'\ngid = [10, 11]\npreset = ['watchtower']\nread-only = true\n",
        )
        .unwrap();
        assert_eq!(everyone.len(), 2);
        assert_eq!(
            everyone[0].origin.rsplit(": ").next(),
            Some("allow GET /_ping")
        );
        assert_eq!(scoped.len(), 1);
        assert_eq!(scoped[0].0.uids, vec![0]);
        assert_eq!(scoped[0].0.gids, vec![10, 11]);
        assert!(
            scoped[0].1[0]
                .origin
                .contains("[peer uid 0, gid 10, gid 11]: read-only")
        );
        for (bad, needle) in [
            (
                "rules = ['permit GET /x']",
                "is not 'allow METHOD PATH-GLOB'",
            ),
            (
                "[[peer]]\nrules = ['allow GET /x']",
                "names no uid, user, gid or group",
            ),
            ("[[peer]]\nuser = 'no-such-user-here'", "no user is called"),
            (
                "preset = ['portainer']",
                "no preset is called \"portainer\"",
            ),
            ("allow = ['GET /x']", "unknown field"),
            ("rules = ['allow GET x']", "must start with /"),
        ] {
            let e = load_text(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
