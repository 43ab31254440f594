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
