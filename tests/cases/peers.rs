//! The suite tells a newcomer what it could not check: a test that returns early for want
//! of a peer is named in plain `cargo test` output (no --nocapture), at once and in a
//! summary at the end.

use crate::support::tempdir;

#[test]
fn a_missing_peer_is_named_in_plain_cargo_test_output() {
    // This very test binary, running one socat test with a PATH that has a shell but no
    // socat, the way `cargo test` runs it: output captured by libtest.
    let bin = tempdir();
    std::os::unix::fs::symlink("/bin/sh", bin.path().join("sh")).unwrap();
    let test = "cases::connect::socat_listener_10mb_both_directions";
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=2"])
        .env("PATH", bin.path())
        .env_remove("UDSKIT_REQUIRE_PEERS")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "!!! peer socat is missing: {test} did NOT run all it checks (see .ci/run) !!!\n"
        )),
        "{stderr}"
    );
    let summary = format!(
        "\n!!! 1 test(s) passed without running all they check; install what they need \
         (.ci/run does), or set UDSKIT_REQUIRE_PEERS=1 to make a missing peer a failure:\n\
         !!!   peer socat is missing: {test}\n"
    );
    assert!(stderr.ends_with(&summary), "{stderr}");
    // Required peers turn the same into a failure.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact"])
        .env("PATH", bin.path())
        .env("UDSKIT_REQUIRE_PEERS", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("peer socat is missing and UDSKIT_REQUIRE_PEERS=1")
    );
}
