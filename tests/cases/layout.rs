//! The house keeps its shape: no module of src/ imports, through any chain, a module that
//! imports it back, and the layers import only downwards (docs/architecture.md):
//! `cmd/` -> `io/` -> `net/` -> `linux/` -> `term/`, with the vocabulary every layer may
//! use (`error`, `duration`, `shutdown`, `thread`, `net/addr.rs`, `net/kind.rs`) below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every module file of src/, by module path (`net::kind`, `cmd::ls`, `main`).
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into()).collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The longest prefix of `segments` that names a module file.
fn resolve(segments: &[&str], known: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|m| known.contains_key(m))
}

/// The modules `module` refers to through `crate::` and `super::` paths, outside comments
/// and its unit tests (whose `super::` is the file itself).
fn imports(module: &str, path: &Path, known: &BTreeMap<String, PathBuf>) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let code: String = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let is_mod_rs = path.file_name().is_some_and(|n| n == "mod.rs");
    let here: Vec<&str> = module.split("::").collect();
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", here[..here.len() - 1].to_vec()),
    ] {
        // In a folder's mod.rs, `super` is the folder's parent; in a file, the folder.
        let base = if prefix == "super::" && is_mod_rs {
            here[..here.len().saturating_sub(1)].to_vec()
        } else {
            base
        };
        for (i, _) in code.match_indices(prefix) {
            if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let mut segments = base.clone();
            segments.extend(rest[..end].split("::").filter(|s| !s.is_empty()));
            if let Some(m) = resolve(&segments, known)
                && m != module
            {
                out.push(m);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Which layer a module belongs to; a module may import only from its own layer or lower.
fn rank(module: &str) -> u8 {
    let top = module.split("::").next().unwrap();
    match module {
        "net::addr" | "net::kind" => return 0,
        _ => {}
    }
    match top {
        "thread" | "duration" | "shutdown" => 0,
        "term" => 1,
        "error" => 2,
        "linux" => 3,
        "net" => 4,
        "io" => 5,
        "cmd" => 6,
        "cli" => 7,
        "main" | "allocator" => 8,
        other => panic!("src/{other}: a module outside the layers of docs/architecture.md"),
    }
}

#[test]
fn imports_flow_down_the_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    let graph: BTreeMap<&str, Vec<String>> = known
        .iter()
        .map(|(m, p)| (m.as_str(), imports(m, p, &known)))
        .collect();
    assert!(graph["cmd::ls::listing"].contains(&"cmd::ls::select".to_string()));
    assert!(graph["net::bind"].contains(&"linux::diag".to_string()));

    let mut upward = Vec::new();
    for (m, deps) in &graph {
        for d in deps {
            // A folder's mod.rs and its children are one unit of the layer.
            if rank(d) > rank(m) {
                upward.push(format!("{m} -> {d}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that go up the layers: {upward:#?}"
    );

    // Depth-first search for a cycle: a module reached again while it is on the path.
    fn visit<'a>(
        m: &'a str,
        graph: &'a BTreeMap<&str, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(start) = path.iter().position(|p| *p == m) {
            let mut cycle = path[start..].to_vec();
            cycle.push(m);
            return Some(cycle);
        }
        if done.contains(&m) {
            return None;
        }
        path.push(m);
        for d in &graph[m] {
            if let Some(c) = visit(d, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(m);
        None
    }
    let mut done = Vec::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!("an import cycle: {}", cycle.join(" -> "));
        }
    }
}
