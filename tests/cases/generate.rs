//! The checked-in completions and man pages are what the binary generates now.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{tempdir, udskit};

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn completions_and_man_pages_do_not_drift() {
    let tmp = tempdir();
    let st = udskit()
        .args(["generate", "--out-dir"])
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(st.success());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["completions", "man"] {
        let fresh = files(&tmp.path().join(sub));
        let checked_in = files(&root.join(sub));
        assert_eq!(
            fresh.keys().collect::<Vec<_>>(),
            checked_in.keys().collect::<Vec<_>>(),
            "{sub}/ holds other files than `udskit generate` writes: run `cargo run -- generate`"
        );
        for (name, bytes) in &fresh {
            assert!(
                &checked_in[name] == bytes,
                "{sub}/{name} is stale: run `cargo run -- generate` and commit it"
            );
        }
    }
    let man = files(&root.join("man"));
    for page in [
        "udskit.1",
        "udskit-listen.1",
        "udskit-connect.1",
        "udskit-sendto.1",
        "udskit-recvfrom.1",
        "udskit-http.1",
        "udskit-relay.1",
        "udskit-ls.1",
    ] {
        assert!(man.contains_key(page), "man/{page} missing");
    }
    assert!(
        !man.contains_key("udskit-generate.1"),
        "the hidden generate command gets no man page"
    );
}

fn checked_in(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

const METHODS: &str = "GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE";

/// Every `udskit-NAME(1)` a man page refers to is a page in man/ (no udskit-help(1)).
#[test]
fn man_pages_refer_only_to_pages_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let man = files(&root);
    let mut seen = 0;
    for (name, bytes) in &man {
        let text = String::from_utf8_lossy(bytes).replace("\\-", "-");
        for (i, _) in text.match_indices("(1)") {
            let word = text[..i]
                .rsplit(|c: char| c.is_whitespace() || c == '>' || c == ',')
                .next()
                .unwrap();
            if word.starts_with("udskit") {
                seen += 1;
                assert!(
                    man.contains_key(&format!("{word}.1")),
                    "man/{name} refers to {word}(1), which does not exist"
                );
            }
        }
    }
    assert!(seen >= 7, "udskit.1 lists every subcommand's page");
    assert!(!checked_in("man/udskit.1").contains("udskit\\-help"));
}

/// The shells are offered the methods for `http -X`, and for `ls -p` and `ls -c` values
/// asked of the running system (pids holding sockets, running command names), not files.
#[test]
fn completion_scripts_hold_the_methods_and_the_dynamic_hooks() {
    let bash = checked_in("completions/udskit.bash");
    for opt in ["--request)", "-X)"] {
        assert!(
            bash.contains(&format!(
                "{opt}\n                    COMPREPLY=($(compgen -W \"{METHODS}\" -- \"${{cur}}\"))"
            )),
            "bash {opt}"
        );
    }
    let ls = &bash[bash.find("        udskit__subcmd__ls)").unwrap()..];
    let ls = &ls[..ls[10..].find("\n        udskit__").unwrap()];
    for opt in ["--pid)", "-p)"] {
        assert!(ls.contains(&format!(
            "{opt}\n                    COMPREPLY=($(compgen -W \"$(\"${{COMP_WORDS[0]}}\" ls -q --pids 2>/dev/null)\" -- \"${{cur}}\"))"
        )), "bash {opt}");
    }
    for opt in ["--command)", "-c)"] {
        assert!(
            ls.contains(&format!(
                "{opt}\n                    local IFS=$'\\n'\n                    COMPREPLY=($(compgen -W \"$(cat /proc/[0-9]*/comm"
            )),
            "bash {opt}"
        );
    }
    assert!(ls.contains("-u)\n                    COMPREPLY=($(compgen -u -- \"${cur}\"))"));

    let zsh = checked_in("completions/_udskit");
    assert!(zsh.contains(&format!(
        "'-X+[The method (as curl -X; a METHOD argument does the same)]:METHOD:({METHODS})'"
    )));
    for (spec, action) in [
        ("'*-p+[", ":PID:_udskit_socket_pids' \\"),
        ("'*--pid=[", ":PID:_udskit_socket_pids' \\"),
        ("'*-c+[", ":NAME:_udskit_process_names' \\"),
        ("'*--command=[", ":NAME:_udskit_process_names' \\"),
        ("'*-u+[", ":USER:_users' \\"),
    ] {
        assert!(
            zsh.lines()
                .any(|l| l.starts_with(spec) && l.ends_with(action)),
            "zsh {spec}"
        );
    }
    assert!(zsh.contains("\n_udskit_socket_pids() {\n"));
    assert!(zsh.contains("\n_udskit_process_names() {\n"));
    assert!(zsh.contains("udskit ls -q --pids"));

    let fish = checked_in("completions/udskit.fish");
    let line = |start: &str| -> String {
        fish.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("fish: no {start}"))
            .to_string()
    };
    let sub = |s: &str| format!("complete -c udskit -n \"__fish_udskit_using_subcommand {s}\"");
    // The list of values spans lines: from -a " to its closing quote.
    let x = &fish[fish
        .find(&format!("{} -s X -l request ", sub("http")))
        .unwrap()..];
    let open = " -r -f -a \"";
    let x = &x[x.find(open).unwrap() + open.len()..];
    let x = &x[..x.find('"').unwrap()];
    assert!(
        METHODS.split(' ').all(|m| x.contains(&format!("{m}\\t"))),
        "{x}"
    );
    assert!(
        line(&format!("{} -s p -l pid ", sub("ls")))
            .ends_with(" -r -f -a \"(udskit ls -q --pids 2>/dev/null)\"")
    );
    assert!(
        line(&format!("{} -s c -l command ", sub("ls")))
            .ends_with(" -r -f -a \"(__fish_complete_proc)\"")
    );
}

/// A `udskit listen` server for the completion of `ls -p`: its pid must be offered.
fn server(dir: &Path) -> crate::support::Bg {
    let mut c = crate::support::ud(&["listen", "-k"]);
    c.arg(dir.join("s.sock"))
        .stdout(std::process::Stdio::null());
    let mut bg = crate::support::Bg::spawn(c, dir, "server");
    bg.wait_stderr("listening on");
    bg
}

/// What bash's completion function offers for the command line `words` (the last word
/// being completed), the script sourced as bash-completion would.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/udskit.bash");
    let cword = words.len() - 1;
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && COMP_WORDS=({}) && COMP_CWORD={cword} && \
             _udskit \"${{COMP_WORDS[0]}}\" \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\" && \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" ")
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_methods_pids_and_command_names() {
    if !crate::support::peers::have("bash") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_udskit");
    assert_eq!(
        bash_completes(&[bin, "http", "-X", ""]).join(" "),
        METHODS,
        "udskit http -X <TAB>"
    );
    assert_eq!(
        bash_completes(&[bin, "http", "--request", "P"]),
        ["POST", "PUT", "PATCH"]
    );
    let dir = tempdir();
    let bg = server(dir.path());
    let pid = bg.pid().to_string();
    let pids = bash_completes(&[bin, "ls", "-p", ""]);
    assert!(pids.contains(&pid), "{pid} not in {pids:?}");
    assert!(pids.iter().all(|p| p.parse::<u32>().is_ok()), "{pids:?}");
    let prefix = &pid[..pid.len() - 1];
    let some = bash_completes(&[bin, "ls", "--pid", prefix]);
    assert!(
        some.contains(&pid) && some.iter().all(|p| p.starts_with(prefix)),
        "{some:?}"
    );
    // Command names of running processes: this udskit server is one.
    assert!(bash_completes(&[bin, "ls", "-c", "udsk"]).contains(&"udskit".to_string()));
    assert!(bash_completes(&[bin, "ls", "-u", "roo"]).contains(&"root".to_string()));
}

#[test]
fn fish_and_zsh_offer_the_same_values() {
    if !crate::support::peers::have("fish") || !crate::support::peers::have("zsh") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_udskit")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempdir();
    let bg = server(dir.path());
    let pid = bg.pid().to_string();
    let fish = |line: &str| -> Vec<String> {
        let out = std::process::Command::new("fish")
            .env("PATH", &path)
            .arg("-c")
            .arg(format!(
                "source '{}'; complete -C '{line}'",
                root.join("completions/udskit.fish").display()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    let mut methods = fish("udskit http -X ");
    methods.sort();
    let mut want: Vec<String> = METHODS.split(' ').map(String::from).collect();
    want.sort();
    assert_eq!(methods, want);
    assert!(fish("udskit ls -p ").contains(&pid));
    assert!(fish("udskit ls -c udsk").contains(&"udskit".to_string()));
    // zsh: the script parses, and its value functions, run with the completion system's
    // builtins standing in, offer the pids holding sockets and running command names.
    let zsh = std::process::Command::new("zsh")
        .env("PATH", &path)
        .arg("-c")
        .arg(format!(
            "compdef() {{ :; }}; source '{}'; \
             _call_program() {{ shift; \"$@\"; }}; _wanted() {{ shift 3; \"$@\"; }}; \
             compadd() {{ print -l -- ${{(P)2}}; }}; \
             _udskit_socket_pids; echo --; _udskit_process_names",
            root.join("completions/_udskit").display()
        ))
        .output()
        .unwrap();
    assert!(
        zsh.status.success(),
        "{}",
        String::from_utf8_lossy(&zsh.stderr)
    );
    let out = String::from_utf8(zsh.stdout).unwrap();
    let (pids, names) = out.split_once("--\n").unwrap();
    assert!(pids.lines().any(|p| p == pid), "{out}");
    assert!(names.lines().any(|n| n == "udskit"), "{out}");
}
