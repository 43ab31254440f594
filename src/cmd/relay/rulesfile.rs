//! `relay --http --rules FILE`: the guard's rules in a TOML or YAML file (YAML when its
//! name ends in `.yaml` or `.yml`), with comments, and sections scoped to clients by uid or
//! gid (a unix client's SO_PEERCRED, never anything it sends). Tried after the command
//! line's rules: the sections that cover the client in the file's order, then the file's
//! rules for everyone. Both formats have the one schema below.
//!
//! YAML is read by `yaml_serde`, the YAML organization's fork of `serde_yaml`: `serde_yaml`
//! itself is archived (March 2024), `serde_yml` has a RUSTSEC advisory (RUSTSEC-2025-0068),
//! `serde_yaml_ng` and `serde_norway` have had no release since 2024, and `serde-saphyr`
//! has an API of its own; `yaml_serde` keeps serde_yaml's API and its errors, which name
//! the line and column, is released in 2026, and reads through `libyaml-rs` (a safe port
//! of libyaml) rather than `unsafe-libyaml`.

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

#[derive(Debug, Default, Deserialize)]
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
                    "no preset is called {name:?} (there are docker-readonly, traefik, watchtower, portainer)"
                )
            })?;
            out.extend(p.rules_from(&format!("{origin}: preset {name}")));
        }
        Ok(out)
    }
}

/// The formats a rules file is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Toml,
    Yaml,
}

impl Format {
    /// YAML for a name ending in .yaml or .yml (any case), TOML for any other.
    fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml") => {
                Format::Yaml
            }
            _ => Format::Toml,
        }
    }

    fn parse(self, text: &str) -> Result<FileSpec, String> {
        match self {
            Format::Toml => toml::from_str(text).map_err(|e| e.to_string()),
            // An empty document (or one of comments only) is a file without rules, as
            // an empty TOML file is.
            Format::Yaml => match yaml_serde::from_str::<Option<FileSpec>>(text) {
                Ok(spec) => Ok(spec.unwrap_or_default()),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    /// How the format was chosen, for an error.
    fn why(self) -> &'static str {
        match self {
            Format::Toml => "read as TOML: its name does not end in .yaml or .yml",
            Format::Yaml => "read as YAML, for its name",
        }
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
    let format = Format::of(path);
    let spec = format.parse(&text).map_err(|e| {
        Fail::usage(format!(
            "the rules file {shown} ({}): {}",
            format.why(),
            e.trim_end()
        ))
    })?;
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

    fn load_named(name: &str, text: &str) -> anyhow::Result<(Scoped, Vec<Rule>)> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        load(&p)
    }

    fn load_text(text: &str) -> anyhow::Result<(Scoped, Vec<Rule>)> {
        load_named("rules.toml", text)
    }

    /// What a file's rules are, without the file's name: each section's scope, then its
    /// rules (allow or deny, and the rule as written).
    fn shape((scoped, everyone): &(Scoped, Vec<Rule>)) -> Vec<String> {
        let rule = |r: &Rule| {
            let (_, text) = r
                .origin
                .split_once("]: ")
                .or(r.origin.split_once(": "))
                .unwrap();
            format!("{} {text}", r.allow)
        };
        let mut out = Vec::new();
        for (scope, rules) in scoped {
            out.push(format!("scope {:?} {:?}", scope.uids, scope.gids));
            out.extend(rules.iter().map(rule));
        }
        out.push("everyone".into());
        out.extend(everyone.iter().map(rule));
        out
    }

    const TOML_TWIN: &str = "\
# for all
rules = ['allow GET /_ping', 'deny * /secrets/**']
preset = ['traefik']

[[peer]]
user = 'root'
gid = [10, 11]
preset = ['watchtower']
read-only = true

[[peer]]
uid = 65534
rules = ['allow GET,HEAD /containers/json']
";

    const YAML_TWIN: &str = "\
# for all
rules:
  - allow GET /_ping
  - deny * /secrets/**   # a comment after a value
preset: [traefik]
peer:
  - user: root
    gid: [10, 11]
    preset: [watchtower]
    read-only: true
  - uid: 65534
    rules: ['allow GET,HEAD /containers/json']
";

    #[test]
    fn a_yaml_file_reads_as_its_toml_twin() {
        let toml = load_named("rules.toml", TOML_TWIN).unwrap();
        for name in ["rules.yaml", "rules.YML"] {
            let yaml = load_named(name, YAML_TWIN).unwrap();
            assert_eq!(shape(&yaml), shape(&toml), "{name}");
        }
        let shape = shape(&toml);
        assert!(
            shape.contains(&"scope [0] [10, 11]".to_string()),
            "{shape:?}"
        );
        assert!(shape.contains(&"scope [65534] []".to_string()), "{shape:?}");
        assert!(shape.contains(&"true allow GET,HEAD /containers/json".to_string()));
        // A YAML file of comments only has no rules, as an empty TOML file.
        let (scoped, everyone) = load_named("r.yml", "# nothing yet\n").unwrap();
        assert!(scoped.is_empty() && everyone.is_empty());
    }

    /// The fenced block of README.md whose first line is `first`, unindented.
    fn readme_block(first: &str) -> String {
        let readme = include_str!("../../../README.md");
        let lines: Vec<&str> = readme.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.trim() == first)
            .unwrap_or_else(|| panic!("README.md has no block starting {first:?}"));
        let indent = lines[start].len() - lines[start].trim_start().len();
        lines[start..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .map(|l| l.get(indent..).unwrap_or("").to_string() + "\n")
            .collect()
    }

    #[test]
    fn the_readme_examples_load_alike() {
        let toml = load_named(
            "docker-guard.toml",
            &readme_block("# /etc/udskit/docker-guard.toml"),
        )
        .unwrap();
        let yaml = load_named(
            "docker-guard.yaml",
            &readme_block("# /etc/udskit/docker-guard.yaml: the same rules"),
        )
        .unwrap();
        assert_eq!(shape(&yaml), shape(&toml));
        assert_eq!(toml.0.len(), 2);
    }

    #[test]
    fn a_bad_yaml_file_says_where_and_how_it_was_read() {
        for (text, needle) in [
            ("rules:\n  - allow GET /x\n bad: [\n", "line 3"),
            (
                "rules: ['allow GET /x']\nallow: ['GET /x']\n",
                "unknown field `allow`",
            ),
            ("peer:\n  - uid: root\n", "peer[0]"),
            ("read-only: maybe\n", "read-only"),
            (
                "rules: ['permit GET /x']\n",
                "is not 'allow METHOD PATH-GLOB'",
            ),
        ] {
            let e = load_named("g.yaml", text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
            if !needle.contains("allow METHOD") {
                assert!(e.contains("(read as YAML, for its name)"), "{text}: {e}");
            }
        }
        // YAML in a file not named so is read as TOML, and the error says so.
        let e = load_named("rules.conf", "rules:\n  - allow GET /x\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("(read as TOML: its name does not end in .yaml or .yml)"),
            "{e}"
        );
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
                "preset = ['portainer-agent']",
                "no preset is called \"portainer-agent\"",
            ),
            ("allow = ['GET /x']", "unknown field"),
            ("rules = ['allow GET x']", "must start with /"),
        ] {
            let e = load_text(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
