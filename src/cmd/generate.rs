//! `udskit generate`: writes shell completions into `completions/` and man pages (udskit.1
//! and one per subcommand) into `man/`, from the clap definition. Hidden; the checked-in
//! copies are compared with fresh ones by a test, so they cannot drift.
//!
//! What a shell offers for a value is decided here, in one place: the methods for
//! `http -X`, user names for `ls -u`, and, asked of the running system when the user
//! presses TAB, the command names of running processes for `ls -c` and the pids holding
//! unix sockets (`udskit ls --pids`) for `ls -p`. clap_complete writes static scripts that
//! can only offer fixed lists or file names, so those last two are hooks put into its
//! bash, zsh and fish output; a hook that no longer finds the text it replaces fails the
//! generation rather than being dropped.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ValueHint;
use clap::builder::PossibleValuesParser;
use clap_complete::{Generator, Shell};

/// Write completions and man pages
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory that receives completions/ and man/
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
}

/// The methods offered for `http -X` (curl sends any token; these are the ones HTTP APIs
/// behind a socket answer to).
pub const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

/// Writes the files for `cmd`, the whole command line (the caller owns its definition).
pub fn run(args: Args, cmd: clap::Command) -> anyhow::Result<()> {
    let completions = args.out_dir.join("completions");
    let man = args.out_dir.join("man");
    for dir in [&completions, &man] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut cmd = value_hints(cmd);
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "udskit", &mut script);
        let script = String::from_utf8(script).context("clap_complete wrote non-UTF-8")?;
        let script = hooks(shell, script).with_context(|| format!("{shell} completions"))?;
        let path = completions.join(shell.file_name("udskit"));
        std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    }
    cmd.build();
    // `udskit help` is a subcommand with no page of its own: the man page must not send
    // the reader to a udskit-help(1) that does not exist.
    let cmd = cmd.mut_subcommand("help", |h| h.hide(true));
    write_man(&cmd, &man.join("udskit.1"))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("udskit-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("udskit {}", sub.get_name()));
        write_man(&page, &man.join(format!("{name}.1")))?;
    }
    Ok(())
}

/// The command line as the completions see it: fixed values where the parser accepts any
/// (METHOD; hidden from the help, which would read them as a limit), and the kind of value
/// where a shell has its own lists (user names).
fn value_hints(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommand("http", |c| {
        c.mut_arg("method", |a| {
            a.value_parser(PossibleValuesParser::new(METHODS))
                .hide_possible_values(true)
        })
    })
    .mut_subcommand("ls", |c| {
        c.mut_arg("user", |a| a.value_hint(ValueHint::Username))
    })
}

/// Where `ls -p` pids and `ls -c` command names come from, in each shell.
const BASH_PIDS: &str =
    r#"COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" ls -q --pids 2>/dev/null)" -- "${cur}"))"#;
const BASH_NAMES: &str = r#"local IFS=$'\n'
                    COMPREPLY=($(compgen -W "$(cat /proc/[0-9]*/comm 2>/dev/null | sort -u)" -- "${cur}"))"#;
const BASH_USERS: &str = r#"COMPREPLY=($(compgen -u -- "${cur}"))"#;
const ZSH_FUNCTIONS: &str = r#"(( $+functions[_udskit_socket_pids] )) ||
_udskit_socket_pids() {
    local -a pids
    pids=(${(f)"$(_call_program pids udskit ls -q --pids 2>/dev/null)"})
    _wanted pids expl 'pid holding a unix socket' compadd -a pids
}
(( $+functions[_udskit_process_names] )) ||
_udskit_process_names() {
    local -a names
    names=(${(uf)"$(cat /proc/[0-9]*/comm 2>/dev/null)"})
    _wanted processes expl 'command name of a running process' compadd -a names
}

"#;
const FISH_PIDS: &str = r#" -f -a "(udskit ls -q --pids 2>/dev/null)""#;
const FISH_NAMES: &str = " -f -a \"(__fish_complete_proc)\"";

/// Puts the dynamic values into clap_complete's script for `shell`.
fn hooks(shell: Shell, script: String) -> anyhow::Result<String> {
    match shell {
        Shell::Bash => {
            let file_names = r#"COMPREPLY=($(compgen -f "${cur}"))"#;
            let mut s = script;
            for (opts, with) in [
                (["--pid)", "-p)"], BASH_PIDS),
                (["--command)", "-c)"], BASH_NAMES),
                (["--user)", "-u)"], BASH_USERS),
            ] {
                for opt in opts {
                    let old = format!("{opt}\n                    {file_names}");
                    let new = format!("{opt}\n                    {with}");
                    s = in_section(&s, "        udskit__subcmd__ls)\n", &old, &new)?;
                }
            }
            Ok(s)
        }
        Shell::Zsh => {
            let mut s = script;
            for (spec, action) in [
                ("'*-p+[", "PID:_udskit_socket_pids"),
                ("'*--pid=[", "PID:_udskit_socket_pids"),
                ("'*-c+[", "NAME:_udskit_process_names"),
                ("'*--command=[", "NAME:_udskit_process_names"),
            ] {
                // One spec per line: from its start to its value's action.
                let (value, _) = action.split_once(':').unwrap_or_default();
                let line_start = format!("\n{spec}");
                let Some(from) = section(&s, "\n(ls)\n", ";;\n")
                    .and_then(|(a, b)| s[a..b].find(&line_start).map(|i| a + i + 1))
                else {
                    bail!("no spec {spec:?} for ls")
                };
                let to = from + s[from..].find('\n').unwrap_or(s.len() - from);
                let old = format!(":{value}:_default' \\");
                if !s[from..to].ends_with(&old) {
                    bail!("{spec:?} does not end with {old:?}");
                }
                s.replace_range(to - old.len()..to, &format!(":{action}' \\"));
            }
            let end = "if [ \"$funcstack[1]\" = \"_udskit\" ]; then";
            let Some(at) = s.find(end) else {
                bail!("no {end:?} to put the value functions before")
            };
            s.insert_str(at, ZSH_FUNCTIONS);
            Ok(s)
        }
        Shell::Fish => {
            let ls = "complete -c udskit -n \"__fish_udskit_using_subcommand ls\"";
            let mut s = script;
            for (line, with) in [
                (format!("{ls} -s p -l pid "), FISH_PIDS),
                (format!("{ls} -s c -l command "), FISH_NAMES),
            ] {
                let Some(start) = s.find(&line) else {
                    bail!("no line {line:?}")
                };
                let end = start + s[start..].find('\n').unwrap_or(s.len() - start);
                if !s[start..end].ends_with(" -r") {
                    bail!("{line:?} does not end with -r");
                }
                s.insert_str(end, with);
            }
            Ok(s)
        }
        _ => Ok(script),
    }
}

/// Where the text between `start` and the next `end` lies (a subcommand's part of a script).
fn section(s: &str, start: &str, end: &str) -> Option<(usize, usize)> {
    let body = s.find(start)? + start.len();
    Some((body, s[body..].find(end).map_or(s.len(), |i| body + i)))
}

/// Replaces `old` by `new` once, in bash's `case` arm of one subcommand (`section`).
fn in_section(s: &str, section_start: &str, old: &str, new: &str) -> anyhow::Result<String> {
    let Some((body, end)) = section(s, section_start, "\n        udskit__") else {
        bail!("no section {section_start:?}")
    };
    let Some(i) = s[body..end].find(old) else {
        bail!("no {old:?} in {section_start:?}")
    };
    let at = body + i;
    Ok(format!("{}{new}{}", &s[..at], &s[at + old.len()..]))
}

fn write_man(cmd: &clap::Command, path: &std::path::Path) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}
