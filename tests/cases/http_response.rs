//! `udskit http`'s response side as pasted from curl lines: -s/-S, -w, -D, --compressed,
//! -O, the download bar, docker's progress board and the newline after an open line,
//! against uvicorn, nginx and curl itself, and on a pseudo-terminal for what a user sees.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::http::{LIMIT, ok, uvicorn_here};
use crate::support::peers::{have, have_python_modules};
use crate::support::pty::{On, udskit_on_pty};
use crate::support::servers::{Nginx, Uvicorn};
use crate::support::*;

fn http<S: AsRef<OsStr>>(args: &[S]) -> Output {
    crate::support::http::http(args, b"")
}

/// The same in `dir` (for -O, which writes into the current directory).
fn http_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    let mut c = udskit();
    c.current_dir(dir).arg("http").args(args);
    run_with_input(c, b"", LIMIT)
}

/// The lines "line 0\n" ... the fixture's /encoded sends.
fn encoded_lines(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect()
}

#[test]
fn silent_and_show_error_as_curl() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let missing = dir.path().join("missing.sock");
    let m = missing.to_str().unwrap();

    // -s: no error message, the exit code unchanged; -S brings the message back.
    let out = http(&["-s", m, "/"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stderr_of(&out), "");
    let out = http(&["-sS", m, "/"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(
        stderr_of(&out).starts_with("udskit: error: connecting to unix:"),
        "{}",
        stderr_of(&out)
    );
    // -q is -sS: the error is shown.
    let out = http(&["-q", m, "/"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(stderr_of(&out).contains("error: connecting"));
    // -sv: quiet, but the exchange is shown, as curl -sv shows it.
    let out = http(&["-sv", s, "/data"]);
    ok(&out);
    assert!(
        stderr_of(&out).contains("> GET /data HTTP/1.1\n"),
        "{}",
        stderr_of(&out)
    );
    // Bundles as pasted from curl lines.
    let out = http(&["-fsS", s, "/status/404"]);
    assert_eq!(out.status.code(), Some(22));
    assert_eq!(
        stderr_of(&out),
        "udskit: error: GET /status/404 on unix:".to_string()
            + s
            + ": the server answered 404 Not Found\n"
    );
    let out = http(&["-fs", s, "/status/404"]);
    assert_eq!(
        (out.status.code(), stderr_of(&out).as_str()),
        (Some(22), "")
    );
    assert_eq!(
        ok(&http(&["-fsS", s, "/data"])),
        br#"{"message":"Hello from Service B!"}"#
    );
    let v: serde_json::Value =
        serde_json::from_slice(ok(&http(&["-sX", "POST", s, "/headers"]))).unwrap();
    assert_eq!(v["method"], "POST");
    let v: serde_json::Value =
        serde_json::from_slice(ok(&http(&["-sXPUT", s, "/headers"]))).unwrap();
    assert_eq!(v["method"], "PUT");
    // -s silences warnings as well: the note about a binary body held back on a terminal.
    if have("python3") {
        let t = udskit_on_pty(On::Both, &["http", s, "/binary"], dir.path());
        assert!(t.pty.contains("binary body not shown"), "{}", t.pty);
        let t = udskit_on_pty(On::Both, &["http", "-s", s, "/binary"], dir.path());
        assert_eq!((t.code, t.pty.as_str()), (Some(0), ""));
    }
}

/// `-w FORMAT` of udskit and of curl against the same nginx: the same text, but for the
/// values that vary (time_total, by its shape only).
#[test]
fn write_out_matches_curls() {
    if !have("nginx") || !have("curl") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    let s = ng.sock.to_str().unwrap();
    std::fs::write(ng.www.join("a.json"), b"{\"from\":\"file\"}\n").unwrap();
    let format = "%{http_code}|%{response_code}|%{size_download}|%{size_header}|%{content_type}|%{num_headers}|%{method}|%{url}|%{url_effective}|%{exitcode}|%{errormsg}|%header{content-length}|%header{nope}|%%|\\t|\\q|%x|\\n";
    for (target, method) in [
        ("http://localhost/a.json", None),
        ("http://localhost/hello", None),
        ("http://localhost/missing", None),
        ("http://localhost/a.json", Some("HEAD")),
    ] {
        let mut ours = vec!["-s", "-w", format, "-o", "/dev/null"];
        let mut theirs = vec!["-s", "-w", format, "-o", "/dev/null", "--unix-socket", s];
        if let Some(m) = method {
            ours.extend(["-X", m]);
            theirs.push("-I");
        }
        ours.extend([s, target]);
        theirs.push(target);
        let mine = http(&ours);
        let curl = Command::new("curl").args(&theirs).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(ok(&mine)),
            String::from_utf8_lossy(&curl.stdout),
            "{target} {method:?}"
        );
    }
    // time_total: seconds with 6 decimals; header_json: the same names, one a line.
    let shape = "%{time_total}\\n%{header_json}";
    let mine = http(&["-w", shape, "-o", "/dev/null", s, "/a.json"]);
    let curl = Command::new("curl")
        .args(["-s", "-w", shape, "-o", "/dev/null", "--unix-socket", s])
        .arg("http://localhost/a.json")
        .output()
        .unwrap();
    let (mine, curl) = (
        String::from_utf8(ok(&mine).to_vec()).unwrap(),
        String::from_utf8(curl.stdout).unwrap(),
    );
    let (t, json) = mine.split_once('\n').unwrap();
    let (secs, micros) = t.split_once('.').unwrap();
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{t}");
    let names = |j: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(j).unwrap();
        let mut n: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        n.sort();
        n
    };
    let curl_json = curl.split_once('\n').unwrap().1;
    assert_eq!(names(json), names(curl_json));
    assert_eq!(json.lines().count(), curl_json.lines().count(), "{json}");
    assert!(
        json.contains("\"content-type\":[\"application/json\"],\n"),
        "{json}"
    );

    // After a failure too, with the error first, then the report; %{stderr} switches.
    let missing = dir.path().join("missing.sock");
    let out = http(&[
        "-sS",
        "-w",
        "%{http_code} %{exitcode}%{stderr} [%{errormsg}]\\n%{stdout}end\\n",
        missing.to_str().unwrap(),
        "/",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.stdout, b"000 7end\n");
    let err = stderr_of(&out);
    let msg = format!("connecting to unix:{}: no such file", missing.display());
    assert!(
        err.starts_with(&format!("udskit: error: {msg}\nhint: ")),
        "{err}"
    );
    assert!(err.ends_with(&format!(" [{msg}]\n")), "{err}");
    // @FILE, @-; an unknown variable is warned about (even with -s), the rest printed.
    let f = dir.path().join("fmt.txt");
    std::fs::write(&f, "code=%{http_code} %{nope}.\\n").unwrap();
    let out = http(&[
        "-s",
        "-o",
        "/dev/null",
        "-w",
        &format!("@{}", f.display()),
        s,
        "/hello",
    ]);
    assert_eq!(ok(&out), b"code=200 .\n");
    assert_eq!(
        stderr_of(&out),
        "udskit: warning: unknown --write-out variable: 'nope'\n"
    );
    let mut c = udskit();
    c.args(["http", "-o", "/dev/null", "-w", "@-", s, "/teapot"]);
    let out = run_with_input(c, b"%{http_code}", LIMIT);
    assert_eq!(ok(&out), b"418");
    let out = http(&["-w", "@/nonexistent/fmt", s, "/hello"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn dump_header_as_received() {
    if !have("nginx") || !have("curl") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    let s = ng.sock.to_str().unwrap();
    let heads = dir.path().join("heads.txt");
    let out = http(&["-D", heads.to_str().unwrap(), s, "/hello"]);
    assert_eq!(ok(&out), b"Hello from nginx over a unix socket\n");
    let got = std::fs::read_to_string(&heads).unwrap();
    assert!(
        got.starts_with("HTTP/1.1 200 OK\r\nServer: nginx"),
        "{got:?}"
    );
    assert!(got.contains("\r\nContent-Type: text/plain\r\n"), "{got:?}");
    assert!(got.ends_with("\r\n\r\n"), "{got:?}");
    // -D - puts them on stdout before the body, as curl does: the same lines in the same
    // order (the Date aside).
    let ours = ok(&http(&["-D", "-", s, "/hello"])).to_vec();
    let curl = Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "--unix-socket",
            s,
            "http://localhost/hello",
        ])
        .output()
        .unwrap()
        .stdout;
    let undated = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .split("\r\n")
            .filter(|l| !l.starts_with("Date: "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(undated(&ours), undated(&curl));
    // With -o FILE, the heads still go to stdout and the body to the file.
    let file = dir.path().join("body.txt");
    let out = http(&["-D", "-", "-o", file.to_str().unwrap(), s, "/hello"]);
    assert!(ok(&out).starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(out.stdout.ends_with(b"\r\n\r\n"));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"Hello from nginx over a unix socket\n"
    );
}

#[test]
fn compressed_answers_are_decoded_as_they_stream() {
    if !have("nginx") || !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    let s = ng.sock.to_str().unwrap();
    let text: Vec<u8> = encoded_lines(200_000);
    std::fs::write(ng.www.join("big.txt"), &text).unwrap();
    std::fs::write(ng.www.join("b.json"), b"{\"z\":1,\"a\":[true,null]}").unwrap();

    // nginx's gzip: decoded with --compressed, to stdout and to -o FILE; the pretty-printer
    // sees the decoded JSON. -w's size_download counts the bytes as sent.
    let out = http(&["--compressed", "-w", "%{size_download}", s, "/gz/big.txt"]);
    let got = ok(&out);
    let (body, size) = got.split_at(text.len());
    assert!(body == text.as_slice(), "decoded body differs");
    let size: usize = String::from_utf8_lossy(size).parse().unwrap();
    assert!(size > 0 && size < text.len() / 3, "{size} bytes came");
    let file = dir.path().join("big.out");
    let out = http(&[
        "--compressed",
        "-o",
        file.to_str().unwrap(),
        s,
        "/gz/big.txt",
    ]);
    ok(&out);
    assert_eq!(sha256_file(&file), sha256(&text));
    let out = http(&["--compressed", "--pretty", s, "/gz/b.json"]);
    assert_eq!(
        ok(&out),
        b"{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null\n  ]\n}\n"
    );
    // Without --compressed the bytes stay as sent, even when the server encodes them.
    let out = http(&["-H", "Accept-Encoding: gzip", s, "/gz/big.txt"]);
    assert!(ok(&out).starts_with(b"\x1f\x8b"), "not gzip as sent");
    let out = http(&[
        "-H",
        "Accept-Encoding: gzip",
        "--compressed",
        s,
        "/gz/big.txt",
    ]);
    assert!(ok(&out) == text.as_slice());
    // nginx does not encode for a client that did not ask.
    let out = http(&[s, "/gz/big.txt"]);
    assert!(ok(&out) == text.as_slice());

    // What --compressed asks for, and every coding (stacked too) from the python server.
    let app = Uvicorn::start(dir.path());
    let a = app.sock.to_str().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(ok(&http(&["--compressed", a, "/headers"]))).unwrap();
    assert!(
        v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "accept-encoding" && h[1] == "gzip, deflate, br, zstd"),
        "{v}"
    );
    let mut codings = vec![
        "gzip",
        "deflate",
        "rawdeflate",
        "gzip,deflate",
        "rawdeflate,gzip",
    ];
    if have_python_modules(&["brotli", "zstandard"]) {
        codings.extend(["br", "zstd", "zstd,br,gzip"]);
    }
    let lines = encoded_lines(100_000);
    for c in codings {
        let out = http(&[
            "--compressed",
            a,
            &format!("/encoded?coding={c}&lines=100000"),
        ]);
        assert!(ok(&out) == lines.as_slice(), "{c}: decoded body differs");
    }
    // Every gzip member and zstd frame is decoded; bytes after the last are an error.
    let mut joined = vec!["gzip"];
    if have_python_modules(&["zstandard"]) {
        joined.push("zstd");
    }
    for c in joined {
        let target = format!("/encoded?coding={c}&lines=100000&members=3");
        let out = http(&["--compressed", a, &target]);
        assert!(ok(&out) == lines.as_slice(), "{c}: members lost");
        let out = http(&["--compressed", a, &format!("{target}&trailing=1")]);
        assert_eq!(out.status.code(), Some(61), "{c}: {}", stderr_of(&out));
    }
    // A coding udskit cannot decode, and bytes that do not decode: curl's exit 61.
    let out = http(&["--compressed", a, "/encoded?coding=compress&lines=3"]);
    assert_eq!(out.status.code(), Some(61), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("the answer is encoded as 'compress', which udskit cannot decode"),
        "{}",
        stderr_of(&out)
    );
    let out = http(&["--compressed", a, "/encoded?coding=gzip&corrupt=1"]);
    assert_eq!(out.status.code(), Some(61), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("decoding the body (--compressed"));
    // A HEAD answer announces an encoding but has no body to decode.
    let out = http(&["--compressed", "-I", s, "/gz/big.txt"]);
    assert!(ok(&out).starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn remote_name_writes_the_last_segment() {
    if !have("nginx") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    let s = ng.sock.to_str().unwrap();
    std::fs::create_dir_all(ng.www.join("sub")).unwrap();
    let data = random_bytes(1 << 20);
    std::fs::write(ng.www.join("sub/file.bin"), &data).unwrap();
    let here = dir.path().join("here");
    std::fs::create_dir(&here).unwrap();

    let out = http_in(&here, &["-O", s, "/sub/file.bin?x=1#frag"]);
    assert!(ok(&out).is_empty());
    assert_eq!(sha256_file(&here.join("file.bin")), sha256(&data));
    let out = http_in(
        &here,
        &["--remote-name", s, "http://localhost/sub/file.bin"],
    );
    ok(&out);
    // Through the same safe output as -o: a failed answer leaves the old file as it was.
    std::fs::write(here.join("teapot"), b"old").unwrap();
    let out = http_in(&here, &["-f", "-O", s, "/teapot"]);
    assert_eq!(out.status.code(), Some(22));
    assert_eq!(std::fs::read(here.join("teapot")).unwrap(), b"old");
    // No name to take: refused before anything is sent.
    for target in ["/", "/sub/", "/sub/..", "/.", "http://localhost"] {
        let out = http_in(&here, &["-O", s, target]);
        assert_eq!(out.status.code(), Some(2), "{target}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("-O: the last segment of"),
            "{}",
            stderr_of(&out)
        );
    }
    let mut names: Vec<_> = std::fs::read_dir(&here)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["file.bin", "teapot"]);
    let out = http_in(&here, &["-O", "-o", "x", s, "/hello"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn download_bar_only_on_a_terminal() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let big = "/big?size=8000000";
    let out_file = dir.path().join("big.bin");
    let o = out_file.to_str().unwrap();

    // stderr a terminal: bytes, rate, percent; the last state stays, on a line of its own.
    let t = udskit_on_pty(On::Stderr, &["http", "-o", o, s, big], dir.path());
    assert_eq!(t.code, Some(0), "{}", t.pty);
    assert!(t.pty.contains("7.63 MiB of 7.63 MiB"), "{:?}", t.pty);
    assert!(t.pty.contains("100% ["), "{:?}", t.pty);
    assert!(t.pty.ends_with('\n'), "{:?}", t.pty);
    assert_eq!(std::fs::metadata(&out_file).unwrap().len(), 8_000_000);
    // Unknown length: the count without a percentage.
    let t = udskit_on_pty(
        On::Stderr,
        &["http", "-o", o, s, "/big?size=8000000&chunked=1"],
        dir.path(),
    );
    assert!(t.pty.contains("7.63 MiB"), "{:?}", t.pty);
    assert!(!t.pty.contains('%'), "{:?}", t.pty);
    // -O draws it too.
    let t = udskit_on_pty(On::Stderr, &["http", "-O", s, big], dir.path());
    assert!(t.pty.contains("100% ["), "{:?}", t.pty);
    // Gone with -s and -q, when stdout is the terminal but stderr is not, and without -o.
    for args in [
        vec!["http", "-s", "-o", o, s, big],
        vec!["http", "-q", "-o", o, s, big],
    ] {
        let t = udskit_on_pty(On::Stderr, &args, dir.path());
        assert_eq!((t.code, t.pty.as_str()), (Some(0), ""), "{args:?}");
    }
    let t = udskit_on_pty(On::Stdout, &["http", "-o", o, s, big], dir.path());
    assert_eq!((t.pty.as_str(), t.piped.as_slice()), ("", &b""[..]));
    let out = http(&["-o", o, s, big]);
    assert_eq!(stderr_of(&out), "");
    // A body cut off: the bar is cleared before the error line.
    let cut = dir.path().join("cut.sock");
    let mut server = crate::support::peers::python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\nc,_=s.accept()\nc.recv(65536)\nc.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 9000000\\r\\n\\r\\n'+b'x'*3000000)\nc.close()",
        cut.to_str().unwrap()
    ));
    server.stdout(std::process::Stdio::null());
    let _server = Bg::spawn(server, dir.path(), "cut");
    wait_for_socket(&cut);
    let t = udskit_on_pty(
        On::Stderr,
        &["http", "-o", o, cut.to_str().unwrap(), "/"],
        dir.path(),
    );
    assert_eq!(t.code, Some(1), "{:?}", t.pty);
    let (bar, error) = t.pty.split_once("udskit: error: ").unwrap();
    assert!(bar.ends_with("\r\x1b[2K"), "not cleared: {bar:?}");
    assert!(
        error.contains("in the middle of the body (3000000 of 9000000 bytes received)"),
        "{error}"
    );
}

#[test]
fn docker_progress_is_drawn_on_a_terminal() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let recorded = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker_pull.ndjson"),
    )
    .unwrap();

    // A terminal: a live line per layer, the other messages above them, no JSON.
    // (Messages 0.15 s apart: the board redraws at most 10 times a second, and each state
    // looked for below must have had its turn.)
    let t = udskit_on_pty(
        On::Stdout,
        &["http", s, "POST", "/docker/pull?interval=0.15"],
        dir.path(),
    );
    assert_eq!(t.code, Some(0), "{}", String::from_utf8_lossy(&t.piped));
    for line in [
        "latest: Pulling from library/busybox",
        "9ad63333ebc9: Downloading",
        "] 1.00 MiB/2.12 MiB",
        "9ad63333ebc9: Pull complete",
        "5cc84ad355aa: Pull complete",
        "Digest: sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79",
        "Status: Downloaded newer image for busybox:latest",
    ] {
        assert!(t.pty.contains(line), "{line:?} missing from {:?}", t.pty);
    }
    assert!(!t.pty.contains("progressDetail"), "{:?}", t.pty);
    assert!(t.pty.ends_with('\n'), "the board's last line is ended");
    // Piped, or with --raw on a terminal: the JSON as sent.
    let out = http(&[s, "POST", "/docker/pull"]);
    assert_eq!(ok(&out), recorded.as_slice());
    let t = udskit_on_pty(
        On::Stdout,
        &["http", "--raw", s, "/docker/pull"],
        dir.path(),
    );
    assert!(t.pty.contains("\"progressDetail\""), "{:?}", t.pty);
    // Other JSON is pretty-printed as before.
    let t = udskit_on_pty(On::Stdout, &["http", s, "/data"], dir.path());
    assert_eq!(t.pty, "{\n  \"message\": \"Hello from Service B!\"\n}\n");

    // An error object: an error line and exit 1, drawn or piped; --raw leaves it alone.
    let t = udskit_on_pty(On::Both, &["http", s, "/docker/pull?error=1"], dir.path());
    assert_eq!(t.code, Some(1), "{:?}", t.pty);
    assert!(
        t.pty.contains(
            "\nudskit: error: GET /docker/pull?error=1 on unix:"
                .to_string()
                .as_str()
        ) && t
            .pty
            .ends_with(": the progress stream reported an error: unexpected EOF\n"),
        "{:?}",
        t.pty
    );
    let out = http(&[s, "/docker/pull?error=1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.ends_with(b"\"error\": \"unexpected EOF\"}\n"));
    assert!(
        stderr_of(&out).ends_with("the progress stream reported an error: unexpected EOF\n"),
        "{}",
        stderr_of(&out)
    );
    let out = http(&["--raw", s, "/docker/pull?error=1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn an_open_line_is_ended_on_a_terminal_only() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let body = r#"{"message":"Hello from Service B!"}"#;

    // The body lacks a final newline: one follows on a terminal, none when piped.
    let t = udskit_on_pty(On::Stdout, &["http", "--raw", s, "/data"], dir.path());
    assert_eq!(t.pty, format!("{body}\n"));
    let out = http(&["--raw", s, "/data"]);
    assert_eq!(ok(&out), body.as_bytes());
    // -w's report continues the line (as curl's does), and the end of it is ended.
    let t = udskit_on_pty(
        On::Stdout,
        &["http", "--raw", "-w", " %{http_code}", s, "/data"],
        dir.path(),
    );
    assert_eq!(t.pty, format!("{body} 200\n"));
    let out = http(&["--raw", "-w", " %{http_code}", s, "/data"]);
    assert_eq!(ok(&out), format!("{body} 200").as_bytes());
    // Before an error line: a body cut off in the middle of a line.
    let cut = dir.path().join("cut.sock");
    let mut server = crate::support::peers::python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\nc,_=s.accept()\nc.recv(65536)\nc.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 100\\r\\n\\r\\npartial')\nc.close()",
        cut.to_str().unwrap()
    ));
    server.stdout(std::process::Stdio::null());
    let _server = Bg::spawn(server, dir.path(), "cut");
    wait_for_socket(&cut);
    let t = udskit_on_pty(On::Both, &["http", cut.to_str().unwrap(), "/"], dir.path());
    assert_eq!(t.code, Some(1));
    assert!(
        t.pty.starts_with("partial\nudskit: error: GET / on unix:"),
        "{:?}",
        t.pty
    );
}

/// A real Docker Engine's build output (a `stream` of text in pieces that are not lines,
/// then `aux`) drawn on a terminal, and a build that fails (its `error` object) an error,
/// piped and drawn alike.
#[test]
fn docker_engine_build_progress() {
    if !have("dockerd") || !have("tar") || !have("python3") {
        return;
    }
    if !is_root() {
        eprintln!("\n!!! dockerd needs root: docker_engine_build_progress did NOT run !!!\n");
        assert!(std::env::var_os("UDSKIT_REQUIRE_PEERS").is_none_or(|v| v != "1"));
        return;
    }
    let dir = tempdir();
    let docker = crate::support::servers::Dockerd::start(dir.path());
    let s = docker.sock.to_str().unwrap();
    let context = |dockerfile: &str| {
        let ctx = dir.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        std::fs::write(ctx.join("hello.txt"), "hi\n").unwrap();
        let tar = dir.path().join("ctx.tar");
        let made = Command::new("tar")
            .arg("-C")
            .arg(&ctx)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(made.success());
        format!("@{}", tar.display())
    };
    let tar = context("FROM scratch\nCOPY hello.txt /\n");
    let build = [
        "http",
        s,
        "POST",
        "/build?t=udskit/built:1",
        "-H",
        "Content-Type: application/x-tar",
        "--data-binary",
        &tar,
    ];
    let t = udskit_on_pty(On::Stdout, &build, dir.path());
    assert_eq!(t.code, Some(0), "{}", String::from_utf8_lossy(&t.piped));
    for line in [
        "Step 1/2 : FROM scratch ",
        "Step 2/2 : COPY hello.txt / ",
        "Successfully tagged udskit/built:1 ",
    ] {
        assert!(t.pty.contains(line), "{line:?} missing from {:?}", t.pty);
    }
    assert!(
        !t.pty.contains("\"stream\"") && !t.pty.contains("\\n"),
        "{:?}",
        t.pty
    );

    let tar = context("FROM 127.0.0.1:5999/nope:1\n");
    let bad = [
        "http",
        s,
        "POST",
        "/build",
        "-H",
        "Content-Type: application/x-tar",
        "--data-binary",
        &tar,
    ];
    let out = run_with_input(
        {
            let mut c = udskit();
            c.args(bad);
            c
        },
        b"",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"errorDetail\""));
    assert!(
        stderr_of(&out).starts_with(&format!(
            "udskit: error: POST /build on unix:{s}: the progress stream reported an error: Get \"http://127.0.0.1:5999/v2/\""
        )),
        "{}",
        stderr_of(&out)
    );
    let t = udskit_on_pty(On::Both, &bad, dir.path());
    assert_eq!(t.code, Some(1));
    assert!(
        t.pty.contains("Step 1/1 : FROM 127.0.0.1:5999/nope:1"),
        "{:?}",
        t.pty
    );
    assert!(
        t.pty.contains("\nudskit: error: POST /build on unix:"),
        "{:?}",
        t.pty
    );
}
