//! `udskit generate`: writes shell completions into `completions/` and man pages (udskit.1
//! and one per subcommand) into `man/`, from the clap definition. Hidden; the checked-in
//! copies are compared with fresh ones by a test, so they cannot drift.

use std::path::PathBuf;

use anyhow::Context;
use clap_complete::Shell;

/// Write completions and man pages
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory that receives completions/ and man/
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
}

/// Writes the files for `cmd`, the whole command line (the caller owns its definition).
pub fn run(args: Args, mut cmd: clap::Command) -> anyhow::Result<()> {
    let completions = args.out_dir.join("completions");
    let man = args.out_dir.join("man");
    for dir in [&completions, &man] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        clap_complete::generate_to(shell, &mut cmd, "udskit", &completions).with_context(|| {
            format!("writing {shell} completions into {}", completions.display())
        })?;
    }
    cmd.build();
    write_man(&cmd, &man.join("udskit.1"))?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("udskit-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("udskit {}", sub.get_name()));
        write_man(&page, &man.join(format!("{name}.1")))?;
    }
    Ok(())
}

fn write_man(cmd: &clap::Command, path: &std::path::Path) -> anyhow::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}
