//! `udskit http` against real servers: uvicorn (a Starlette app from tests/fixtures), nginx
//! (HTTP/1.1 and h2c), a real Docker Engine, and small python servers that misbehave.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::http::{LIMIT, http, json, ok, uvicorn_here};
use crate::support::peers::{have, python, unaccepting_tcp_listener};
use crate::support::servers::{Dockerd, Nginx, Uvicorn};
use crate::support::*;

/// `size` bytes of the fixture's pattern: 0..255 repeated.
fn pattern(size: usize) -> Vec<u8> {
    (0..size).map(|i| i as u8).collect()
}

/// Lines of a child's stdout as they arrive, through a reading thread.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        let mut line = String::new();
        while out.read_line(&mut line).is_ok_and(|n| n > 0) {
            if tx.send(std::mem::take(&mut line)).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn requests_and_bodies_against_uvicorn() {
    if !uvicorn_here() || !have("curl") {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();

    // Piped: the bytes as sent; --pretty formats anyway.
    let out = http(&[s, "/data"], b"");
    assert_eq!(ok(&out), br#"{"message":"Hello from Service B!"}"#);
    let out = http(&[s, "--pretty", "/data"], b"");
    assert_eq!(
        ok(&out),
        b"{\n  \"message\": \"Hello from Service B!\"\n}\n"
    );
    let out = http(&["--color=always", s, "--pretty", "/data"], b"");
    assert!(
        ok(&out).starts_with(b"\x1b[1m{\x1b[0m\n  \x1b[1;34m"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );

    // JSON body, a file body (binary, with Content-Length), stdin (chunked).
    let out = http(&[s, "POST", "/echo", "--json", r#"{"a": [1, 2]}"#], b"");
    assert_eq!(ok(&out), br#"{"a":[1,2]}"#);
    let body = random_bytes(1 << 20);
    let file = dir.path().join("body.bin");
    std::fs::write(&file, &body).unwrap();
    let out = http(
        &[
            s,
            "/sha256",
            "--data-binary",
            &format!("@{}", file.display()),
        ],
        b"",
    );
    let v = json(ok(&out));
    assert_eq!(v["sha256"], sha256(&body).as_str());
    assert_eq!(v["length"], 1 << 20);
    assert_eq!(v["transfer"], "length");
    assert_eq!(v["content_type"], "application/octet-stream");
    let v = json(ok(&http(&[s, "/sha256", "-d", "a=1&b=2"], b"")));
    assert_eq!(v["sha256"], sha256(b"a=1&b=2").as_str());
    assert_eq!(v["content_type"], "application/x-www-form-urlencoded");
    let out = http(&[s, "PUT", "/sha256", "--data-binary", "@-"], &body);
    let v = json(ok(&out));
    assert_eq!(v["sha256"], sha256(&body).as_str());
    assert_eq!(v["transfer"], "chunked");

    // Headers: -H, -A, a removed default, the Host of a full URL, a target that needs
    // percent-encoding.
    let out = http(
        &[
            s,
            "-H",
            "X-Test: yes",
            "-H",
            "Accept:",
            "-A",
            "agent/1",
            r#"http://api.example:8080/headers?f={"a":["b c"]}"#,
        ],
        b"",
    );
    let v = json(ok(&out));
    let headers: Vec<(String, String)> = serde_json::from_value(v["headers"].clone()).unwrap();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("host"), Some("api.example:8080"));
    assert_eq!(get("user-agent"), Some("agent/1"));
    assert_eq!(get("x-test"), Some("yes"));
    assert_eq!(get("accept"), None);
    assert_eq!(v["query"], "f=%7B%22a%22:%5B%22b%20c%22%5D%7D");

    // Status codes: shown and exit 0 without --fail; exit 22 with it, the body still shown.
    let out = http(&[s, "/status/404"], b"");
    assert_eq!(ok(&out), br#"{"status":404}"#);
    let out = http(&[s, "-f", "DELETE", "/status/503"], b"");
    assert_eq!(out.status.code(), Some(22));
    assert_eq!(out.stdout, br#"{"status":503}"#);
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: DELETE /status/503 on unix:{s}: the server answered 503 Service Unavailable\n"
        )
    );
    assert!(ok(&http(&[s, "-f", "/status/204"], b"")).is_empty());

    // -v: both heads on stderr, the body alone on stdout.
    let out = http(&["-v", s, "/data"], b"");
    assert_eq!(ok(&out), br#"{"message":"Hello from Service B!"}"#);
    let err = stderr_of(&out);
    for line in [
        "> GET /data HTTP/1.1\n> Host: localhost\n",
        "> User-Agent: udskit/",
        "\n>\n< HTTP/1.1 200 OK\n",
        "< content-type: application/json\n",
    ] {
        assert!(err.contains(line), "{line:?} not in:\n{err}");
    }

    // HEAD prints the head (as curl -I); -i puts it before the body; -o writes a file.
    let out = http(&[s, "HEAD", "/data"], b"");
    let head = String::from_utf8(ok(&out).to_vec()).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\ncontent-type: application/json\r\n"),
        "{head}"
    );
    assert!(head.ends_with("\r\n\r\n"), "{head}");
    let out = http(&[s, "-i", "/data"], b"");
    let all = String::from_utf8(ok(&out).to_vec()).unwrap();
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(
        all.ends_with("\r\n\r\n{\"message\":\"Hello from Service B!\"}"),
        "{all}"
    );
    let saved = dir.path().join("saved.json");
    let out = http(&[s, "-o", saved.to_str().unwrap(), "/data"], b"");
    assert!(ok(&out).is_empty());
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        br#"{"message":"Hello from Service B!"}"#
    );

    // Chunked, and 50 MiB checked against curl's copy.
    let out = http(&[s, "/big?size=3000001&chunked=1"], b"");
    assert_eq!(sha256(ok(&out)), sha256(&pattern(3_000_001)));
    let out = http(&[s, "/big"], b"");
    let ours = sha256(ok(&out));
    let curl = Command::new("curl")
        .args(["-sS", "--unix-socket", s, "http://localhost/big"])
        .output()
        .unwrap();
    assert!(curl.status.success());
    assert_eq!(out.stdout.len(), 50 << 20);
    assert_eq!(ours, sha256(&curl.stdout));
    assert_eq!(ours, sha256(&pattern(50 << 20)));
}

#[test]
fn streamed_lines_arrive_before_the_last_is_sent() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let gate = dir.path().join("gate");
    let mut c = udskit();
    c.arg("http")
        .arg(&app.sock)
        .arg(format!("/gated?path={}", gate.display()))
        .stdout(Stdio::piped());
    let mut bg = Bg::spawn(c, dir.path(), "http");
    let lines = lines_of(&mut bg.child);
    // The server holds its last line until the gate file exists: the first one must be
    // on our stdout already.
    let first = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(first, "{\"seq\": 1, \"note\": \"first\"}\n");
    assert!(!gate.exists());
    std::fs::write(&gate, b"").unwrap();
    let last = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        last,
        "{\"seq\": 2, \"note\": \"last\", \"gate_opened\": true}\n"
    );
    assert!(bg.wait_exit(Duration::from_secs(10)).success());

    // --max-time in the middle of the body: what arrived is kept, exit 28.
    let never = dir.path().join("never");
    let target = format!("/gated?path={}", never.display());
    let out = http(&[app.sock.to_str().unwrap(), "-m", "1s", &target], b"");
    assert_eq!(out.status.code(), Some(28), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"{\"seq\": 1, \"note\": \"first\"}\n");
    assert!(
        stderr_of(&out)
            .ends_with("the body did not end (28 bytes received) within 1s (--max-time)\n"),
        "{}",
        stderr_of(&out)
    );
}

/// --max-time bounds the command while its stdout is not read: the writes waiting for
/// room, the last flush and the wait for the writer are all cut at the deadline.
#[test]
fn max_time_holds_while_stdout_is_not_read() {
    let dir = tempdir();
    let endless = "c.sendall(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n')\n\
         while True: c.sendall(b'10000\\r\\n'+b'x'*65536+b'\\r\\n')";
    for view in ["--raw", "--pretty"] {
        let sock = dir.path().join(format!("endless{view}.sock"));
        let _server = misbehaving(dir.path(), &sock, endless);
        let mut c = udskit();
        c.args(["http", "-m", "1s", view, sock.to_str().unwrap(), "/"]);
        let out = output_with_stdout_unread(c, LIMIT);
        assert_eq!(out.status.code(), Some(28), "{view}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("within 1s (--max-time)"),
            "{view}: {}",
            stderr_of(&out)
        );
    }
    if !uvicorn_here() {
        return;
    }
    let app = Uvicorn::start_ws(dir.path());
    let mut c = udskit();
    c.args([
        "http",
        "--ws",
        "--no-close",
        "-m",
        "1s",
        app.sock.to_str().unwrap(),
    ]);
    c.arg("/push?n=10000000");
    let out = output_with_stdout_unread(c, LIMIT);
    assert_eq!(out.status.code(), Some(28), "--ws: {}", stderr_of(&out));
}

#[test]
fn terminal_output_is_formatted_and_binary_held_back() {
    if !uvicorn_here() || !have("script") {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let on_terminal = |target: &str| {
        let cmd = format!(
            "{} --color=never http {} '{target}'",
            env!("CARGO_BIN_EXE_udskit"),
            app.sock.display()
        );
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("TERM", "xterm")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    };
    // NDJSON, value by value, pretty.
    assert_eq!(
        on_terminal("/stream?n=2&interval=0"),
        "{\n  \"seq\": 1,\n  \"of\": 2\n}\n{\n  \"seq\": 2,\n  \"of\": 2\n}\n"
    );
    let bin = on_terminal("/binary");
    assert_eq!(
        bin,
        "udskit: warning: binary body not shown on a terminal (256 bytes, application/octet-stream); save it with -o FILE or pipe it, or show it anyway with --raw\n"
    );
}

#[test]
fn nginx_files_status_and_http2() {
    if !have("nginx") || !have("curl") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    let data = random_bytes(3 << 20);
    std::fs::write(ng.www.join("data.bin"), &data).unwrap();
    std::fs::write(ng.www.join("a.json"), b"{\"from\":\"file\"}\n").unwrap();
    for sock in [&ng.sock, &ng.h2_sock] {
        let mut args = vec![sock.to_str().unwrap()];
        if sock == &ng.h2_sock {
            args.push("--http2");
        }
        let with = |more: &[&'static str]| -> Vec<String> {
            args.iter().chain(more).map(|a| a.to_string()).collect()
        };
        let out = http(&with(&["/hello"]), b"");
        assert_eq!(ok(&out), b"Hello from nginx over a unix socket\n");
        let out = http(&with(&["/data.bin"]), b"");
        assert_eq!(ok(&out), data.as_slice());
        let out = http(&with(&["-i", "/a.json"]), b"");
        let all = String::from_utf8(ok(&out).to_vec()).unwrap();
        let version = if sock == &ng.h2_sock {
            "HTTP/2"
        } else {
            "HTTP/1.1"
        };
        assert!(all.starts_with(&format!("{version} 200 OK\r\n")), "{all}");
        assert!(all.ends_with("\r\n\r\n{\"from\":\"file\"}\n"), "{all}");
        let out = http(&with(&["-I", "/data.bin"]), b"");
        let head = String::from_utf8(ok(&out).to_vec()).unwrap();
        // Piped, the head is as nginx wrote it (HTTP/2 names are lower case on the wire).
        let length = match version {
            "HTTP/2" => "content-length: 3145728\r\n",
            _ => "Content-Length: 3145728\r\n",
        };
        assert!(head.contains(length), "{head}");
        let out = http(&with(&["--fail", "/teapot"]), b"");
        assert_eq!(out.status.code(), Some(22), "{}", stderr_of(&out));
        assert!(stderr_of(&out).contains("the server answered 418 I'm a teapot"));
        let out = http(&with(&["/missing"]), b"");
        assert!(String::from_utf8_lossy(ok(&out)).contains("404 Not Found"));
    }
    // --pretty formats JSON piped too, in the order the keys came; a value too big to hold
    // for formatting passes unchanged, with a note.
    std::fs::write(ng.www.join("b.json"), b"{\"z\":1,\"a\":[true,null]}").unwrap();
    let out = http(&[ng.sock.to_str().unwrap(), "--pretty", "/b.json"], b"");
    assert_eq!(
        ok(&out),
        b"{\n  \"z\": 1,\n  \"a\": [\n    true,\n    null\n  ]\n}\n"
    );
    let items: Vec<String> = (0..200_000)
        .map(|i| format!("{{\"id\":{i},\"name\":\"c{i}\"}}"))
        .collect();
    let huge = format!("[{}]", items.join(","));
    assert!(huge.len() > 4 << 20);
    std::fs::write(ng.www.join("huge.json"), &huge).unwrap();
    let out = http(&[ng.sock.to_str().unwrap(), "--pretty", "/huge.json"], b"");
    assert!(
        ok(&out) == huge.as_bytes(),
        "changed: {} bytes",
        out.stdout.len()
    );
    assert_eq!(
        stderr_of(&out),
        "udskit: a JSON value larger than 4 MiB is shown as it came, unformatted\n"
    );
}

/// Everything Docker, on one dockerd (its start is the slow part), stopped with all it
/// started when the test ends, also on failure.
#[test]
fn docker_engine() {
    if !have("dockerd") || !have("curl") || !have("tar") {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        crate::support::peers::skipped("not root (dockerd needs it)");
        assert!(std::env::var_os("UDSKIT_REQUIRE_PEERS").is_none_or(|v| v != "1"));
        return;
    }
    let dir = tempdir();
    let docker = Dockerd::start(dir.path());
    // The DOCKER_HOST form of the address.
    let host = format!("unix://{}", docker.sock.display());
    let s = host.as_str();

    let v = json(ok(&http(&[s, "/version"], b"")));
    assert_eq!(v["ApiVersion"], "1.41");
    assert_eq!(
        json(ok(&http(&[s, "/containers/json"], b""))),
        serde_json::json!([])
    );

    // /events streams live: a volume created while it runs shows up at once.
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let mut c = udskit();
    c.args(["http", "-i", s])
        .arg(format!(
            r#"/events?since={since}&filters={{"type":["volume"]}}"#
        ))
        .stdout(Stdio::piped());
    let mut events = Bg::spawn(c, dir.path(), "events");
    let lines = lines_of(&mut events.child);
    loop {
        let l = lines.recv_timeout(Duration::from_secs(20)).unwrap();
        if l == "\r\n" {
            break;
        }
    }
    ok(&http(
        &[
            s,
            "POST",
            "/volumes/create",
            "--json",
            r#"{"Name":"udskit-vol"}"#,
        ],
        b"",
    ));
    let event = json(
        lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap()
            .as_bytes(),
    );
    assert_eq!(event["Type"], "volume");
    assert_eq!(event["Action"], "create");
    assert_eq!(event["Actor"]["ID"], "udskit-vol");
    events.signal(15);
    assert_eq!(events.wait_exit(Duration::from_secs(10)).code(), Some(143));

    // A pull with no registry in reach: 500, exit 22 with --fail, the message shown.
    let out = http(
        &[
            s,
            "-f",
            "POST",
            "/images/create?fromImage=127.0.0.1:5999/nope&tag=x",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(22));
    assert!(
        json(&out.stdout)["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:5999")
    );
    assert!(stderr_of(&out).contains("the server answered 500 Internal Server Error"));

    // An image imported offline: a static busybox, sent as a tar on stdin.
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    for applet in ["sh", "cat", "echo"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out = http(
        &[
            s,
            "-H",
            "Content-Type: application/x-tar",
            "/images/create?fromSrc=-&repo=udskit/bb&tag=t",
            "--data-binary",
            "@-",
        ],
        &tar.stdout,
    );
    assert!(String::from_utf8_lossy(ok(&out)).contains("sha256:"));

    // A container whose logs come back split onto our stdout and stderr.
    let create = |name: &str, spec: &str| {
        let out = http(
            &[
                s,
                "POST",
                &format!("/containers/create?name={name}"),
                "--json",
                spec,
            ],
            b"",
        );
        json(ok(&out))["Id"].as_str().unwrap().to_string()
    };
    let id = create(
        "logs",
        r#"{"Image":"udskit/bb:t","Cmd":["sh","-c","echo out; echo err >&2; echo out2"],"HostConfig":{"NetworkMode":"none"}}"#,
    );
    ok(&http(
        &[s, "-f", "POST", &format!("/containers/{id}/start")],
        b"",
    ));
    let waited = json(ok(&http(
        &[s, "POST", &format!("/containers/{id}/wait")],
        b"",
    )));
    assert_eq!(waited["StatusCode"], 0);
    let logs = format!("/containers/{id}/logs?stdout=1&stderr=1");
    let out = http(&[s, &logs], b"");
    assert_eq!(ok(&out), b"out\nout2\n");
    assert_eq!(stderr_of(&out), "err\n");
    // --raw: the frames as sent (docker orders stdout and stderr as its pipes deliver them).
    let out = http(&[s, "--raw", &logs], b"");
    let raw = ok(&out);
    assert_eq!(raw.len(), 3 * 8 + 4 + 4 + 5);
    assert!(raw.windows(12).any(|w| w == b"\x02\0\0\0\0\0\0\x04err\n"));

    // Attach with Upgrade: tcp, stdin echoed back by cat, half-close ends it.
    let id = create(
        "cat",
        r#"{"Image":"udskit/bb:t","Cmd":["cat"],"OpenStdin":true,"StdinOnce":true,"AttachStdin":true,"AttachStdout":true,"HostConfig":{"NetworkMode":"none"}}"#,
    );
    ok(&http(
        &[s, "-f", "POST", &format!("/containers/{id}/start")],
        b"",
    ));
    let out = http(
        &[
            s,
            "--upgrade",
            "tcp",
            "POST",
            &format!("/containers/{id}/attach?stream=1&stdin=1&stdout=1"),
        ],
        b"hello through attach\n",
    );
    assert_eq!(ok(&out), b"hello through attach\n");
    let waited = json(ok(&http(
        &[s, "POST", &format!("/containers/{id}/wait")],
        b"",
    )));
    assert_eq!(waited["StatusCode"], 0);

    // Exec start upgraded the same way, with a JSON body; its stderr comes out as ours.
    let id = create(
        "sleeper",
        r#"{"Image":"udskit/bb:t","Cmd":["sh","-c","read x"],"OpenStdin":true,"HostConfig":{"NetworkMode":"none"}}"#,
    );
    ok(&http(
        &[s, "-f", "POST", &format!("/containers/{id}/start")],
        b"",
    ));
    let exec = http(
        &[
            s,
            "POST",
            &format!("/containers/{id}/exec"),
            "--json",
            r#"{"Cmd":["sh","-c","cat; echo done >&2"],"AttachStdin":true,"AttachStdout":true,"AttachStderr":true}"#,
        ],
        b"",
    );
    let exec_id = json(ok(&exec))["Id"].as_str().unwrap().to_string();
    let out = http(
        &[
            s,
            "--upgrade",
            "tcp",
            &format!("/exec/{exec_id}/start"),
            "--json",
            r#"{"Detach":false,"Tty":false}"#,
        ],
        b"into exec\n",
    );
    assert_eq!(ok(&out), b"into exec\n");
    assert_eq!(stderr_of(&out), "done\n");
    ok(&http(
        &[s, "-f", "POST", &format!("/containers/{id}/kill")],
        b"",
    ));

    // A TTY container's logs are one raw stream: nothing to split, bytes as they are.
    let id = create(
        "tty",
        r#"{"Image":"udskit/bb:t","Cmd":["echo","tty out"],"Tty":true,"HostConfig":{"NetworkMode":"none"}}"#,
    );
    ok(&http(
        &[s, "-f", "POST", &format!("/containers/{id}/start")],
        b"",
    ));
    ok(&http(&[s, "POST", &format!("/containers/{id}/wait")], b""));
    let out = http(&[s, &format!("/containers/{id}/logs?stdout=1")], b"");
    assert_eq!(ok(&out), b"tty out\r\n");
}

/// A one-connection python server at `sock` that reads the request and then does `then`.
fn misbehaving(dir: &Path, sock: &Path, then: &str) -> Bg {
    let mut c = python(&format!(
        "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\nprint('listening', file=sys.stderr, flush=True)\nc,_=s.accept()\nc.recv(65536)\n{then}\nc.close()",
        sock.to_str().unwrap()
    ));
    c.stdout(Stdio::null());
    // Waited for until it listens: between bind and listen the file exists but refuses.
    let name = format!("server-{}", sock.file_name().unwrap().to_string_lossy());
    let mut bg = Bg::spawn(c, dir, &name);
    bg.wait_stderr("listening");
    bg
}

#[test]
fn errors_have_curls_codes_and_clear_messages() {
    let dir = tempdir();
    let missing = dir.path().join("missing.sock");
    let out = http(&[missing.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: connecting to unix:{}: no such file\nhint: is the server running? `udskit ls` lists the sockets that are listening\n",
            missing.display()
        )
    );
    if !have("python3") {
        return;
    }
    let sock = dir.path().join("silent.sock");
    let _silent = misbehaving(dir.path(), &sock, "time.sleep(30)");
    let out = http(&["--max-time", "500ms", sock.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(28));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: GET / on unix:{}: no answer within 500ms (--max-time)\n",
            sock.display()
        )
    );

    // 0 is no limit, as with curl (-m 0 gave up at once).
    let sock = dir.path().join("late.sock");
    let _late = misbehaving(
        dir.path(),
        &sock,
        "time.sleep(0.3)\nc.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 4\\r\\n\\r\\nlate')",
    );
    let out = http(
        &[
            "-m",
            "0",
            "--connect-timeout",
            "0",
            sock.to_str().unwrap(),
            "/",
        ],
        b"",
    );
    ok(&out);
    assert_eq!(out.stdout, b"late");

    let sock = dir.path().join("garbage.sock");
    let _g = misbehaving(
        dir.path(),
        &sock,
        "c.sendall(b'SSH-2.0-OpenSSH_9.2\\r\\n\\r\\n')",
    );
    let out = http(&[sock.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).starts_with(&format!(
            "udskit: error: GET / on unix:{}: the answer is not valid HTTP: invalid HTTP version parsed\nhint: is this an HTTP server?",
            sock.display()
        )),
        "{}",
        stderr_of(&out)
    );

    let sock = dir.path().join("cut.sock");
    let _c = misbehaving(
        dir.path(),
        &sock,
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\nthe first part')",
    );
    let out = http(&[sock.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"the first part");
    assert!(
        stderr_of(&out).contains(
            "the server closed the connection in the middle of the body (14 of 100 bytes received)"
        ),
        "{}",
        stderr_of(&out)
    );

    let sock = dir.path().join("chunks.sock");
    let _c = misbehaving(
        dir.path(),
        &sock,
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n')",
    );
    let out = http(&[sock.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"hello");
    assert!(
        stderr_of(&out).contains("in the middle of the body (5 bytes received)"),
        "{}",
        stderr_of(&out)
    );
}

/// A TCP connect that hangs (the target's accept queue is full, so its SYNs are dropped) is
/// bounded by --connect-timeout and by --wait alike: exit 28, never a hang.
#[test]
fn connect_timeout_and_wait_bound_a_hanging_connect() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_full, port) = unaccepting_tcp_listener(dir.path());
    let addr = format!("tcp:{port}");
    let out = http(&["--connect-timeout", "300ms", &addr, "/"], b"");
    assert_eq!(out.status.code(), Some(28), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: connecting to tcp:127.0.0.1:{port}: no connection within 300ms (--connect-timeout)\n"
        )
    );
    for args in [
        &["--wait", "1s"][..],
        &["--wait", "1s", "--connect-timeout", "300ms"],
        &["--wait", "1s", "--connect-timeout", "5s"],
    ] {
        let mut all = args.to_vec();
        all.extend([addr.as_str(), "/"]);
        let out = http(&all, b"");
        assert_eq!(out.status.code(), Some(28), "{args:?}: {}", stderr_of(&out));
        assert_eq!(
            stderr_of(&out),
            format!(
                "udskit: error: connecting to tcp:127.0.0.1:{port}: no connection within 1s (--wait)\n"
            ),
            "{args:?}"
        );
    }
}

#[test]
fn refused_and_permission_denied_name_the_cause() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    // A stale socket: bound, then its process exited without removing it.
    let stale = dir.path().join("stale.sock");
    let st = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})",
        stale.to_str().unwrap()
    ))
    .status()
    .unwrap();
    assert!(st.success());
    let out = http(&[stale.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(7));
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!(
            "udskit: error: connecting to unix:{}: connection refused: nothing is listening on this socket file\nhint: {} is a stale socket",
            stale.display(),
            stale.display()
        )),
        "{err}"
    );

    // Permission denied, seen by an unprivileged user: the hint shows mode and owner.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root || !have("su") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_udskit");
    let reachable = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c", &format!("test -x {bin}")])
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        crate::support::peers::skipped(&format!("user nobody cannot run {bin}"));
        return;
    }
    let sock = dir.path().join("private.sock");
    let mut c = python(&format!(
        "import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\ntime.sleep(30)",
        sock.to_str().unwrap()
    ));
    c.stdout(Stdio::null());
    let _server = Bg::spawn(c, dir.path(), "private");
    wait_for_socket(&sock);
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let cmd = format!("{bin} --color=never http {} /", sock.display());
    let out = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c", &cmd])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!(
            "udskit: error: connecting to unix:{}: permission denied\nhint: {} is srw------- (mode 600) owned by root:root",
            sock.display(),
            sock.display()
        )),
        "{err}"
    );
}

#[test]
fn wait_for_a_socket_that_appears_later() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("app.sock");
    let mut c = udskit();
    c.args(["http", "--wait", "20s"])
        .arg(&sock)
        .arg("/data")
        .stdout(Stdio::piped());
    let waiting = Bg::spawn(c, dir.path(), "http");
    let _app = Uvicorn::start(dir.path());
    let (st, out) = waiting.finish(Duration::from_secs(30));
    assert!(st.success());
    assert_eq!(out, br#"{"message":"Hello from Service B!"}"#);
}

#[test]
fn abstract_socket() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let name = format!("udskit-http-test-{}", std::process::id());
    let mut c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind('\\0{name}')\ns.listen()\nprint('ready', file=sys.stderr, flush=True)\nc,_=s.accept()\nc.recv(65536)\nc.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n')\nc.close()"
    ));
    c.stdout(Stdio::null());
    let mut server = Bg::spawn(c, dir.path(), "abstract");
    server.wait_stderr("ready");
    let out = http(&[&format!("@{name}"), "/"], b"");
    assert_eq!(ok(&out), b"ok\n");
}

#[test]
fn usage_errors_exit_2() {
    for (args, msg) in [
        (
            &["s.sock", "GET", "/", "-X", "POST"][..],
            "two methods: GET and -X POST",
        ),
        (&["s.sock", "version"], "'version' is not a target"),
        (&["s.sock", "POST"], "the TARGET is missing after POST"),
        (&["s.sock", "https://x/"], "https is not spoken here"),
        (&["s.sock", "/", "-H", "nocolon"], "-H 'nocolon': no ':'"),
        (
            &["s.sock", "/", "--upgrade", "tcp", "-d", "@-"],
            "--upgrade bridges stdin",
        ),
        (
            &["s.sock", "/", "--upgrade", "tcp", "--http2"],
            "'--upgrade <PROTOCOL>' cannot be used with '--http2'",
        ),
    ] {
        let out = http(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(msg),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
    let out = udskit()
        .args(["http", "--raw", "--pretty", "s", "/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `-o FILE` replaces FILE only with a whole answer (curl leaves an old file alone when it
/// cannot connect; udskit also when the answer breaks off or a signal stops it): the body
/// goes to a temporary file beside it, renamed over FILE at the end, removed otherwise.
/// Devices and pipes are written in place.
#[test]
fn output_file_is_replaced_only_by_a_whole_answer() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let file = out_dir.join("saved.json");
    std::fs::write(&file, b"old contents").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let f = file.to_str().unwrap();
    let unchanged = |why: &str| {
        assert_eq!(std::fs::read(&file).unwrap(), b"old contents", "{why}");
        assert_eq!(names_in(&out_dir), ["saved.json"], "{why}");
    };
    let server = |name: &str, then: &str| {
        let sock = dir.path().join(name);
        let bg = misbehaving(dir.path(), &sock, then);
        (bg, sock.to_str().unwrap().to_string())
    };

    // Nothing to connect to.
    let missing = dir.path().join("missing.sock");
    let out = http(&[missing.to_str().unwrap(), "-o", f, "/"], b"");
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    unchanged("after a failed connect");

    // The body breaks off.
    let (_s, sock) = server(
        "cut.sock",
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\nthe first part')",
    );
    let out = http(&[sock.as_str(), "-o", f, "/"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    unchanged("after a cut-off body");

    // --fail with a 404: nothing saved, as curl.
    let (_s, sock) = server(
        "404.sock",
        "c.sendall(b'HTTP/1.1 404 Not Found\\r\\nContent-Length: 9\\r\\n\\r\\nnot found')",
    );
    let out = http(&[sock.as_str(), "-f", "-o", f, "/"], b"");
    assert_eq!(out.status.code(), Some(22), "{}", stderr_of(&out));
    unchanged("after --fail");

    // SIGTERM in the middle of the body: the temporary file goes too.
    let (_s, sock) = server(
        "slow.sock",
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 1000000\\r\\n\\r\\nfirst part')\ntime.sleep(60)",
    );
    let mut c = udskit();
    c.args(["http", sock.as_str(), "-o", f, "/"]);
    let mut bg = Bg::spawn(c, dir.path(), "http");
    wait_until(
        Duration::from_secs(10),
        "the first bytes in a temporary file",
        || {
            std::fs::read_dir(&out_dir).unwrap().any(|e| {
                let e = e.unwrap();
                e.file_name() != "saved.json" && e.metadata().is_ok_and(|m| m.len() == 10)
            })
        },
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"old contents");
    bg.signal(15);
    assert_eq!(bg.wait_exit(Duration::from_secs(10)).code(), Some(143));
    unchanged("after SIGTERM");

    // A whole answer replaces the file, which keeps its mode; through a symlink, the file
    // it points to is replaced and the link stays.
    let (_s, sock) = server(
        "ok.sock",
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 4\\r\\n\\r\\nnew\\n')",
    );
    let link = out_dir.join("link");
    std::os::unix::fs::symlink("saved.json", &link).unwrap();
    let out = http(&[sock.as_str(), "-o", link.to_str().unwrap(), "/"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read(&file).unwrap(), b"new\n");
    assert_eq!(mode_of(&file), 0o640);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(names_in(&out_dir), ["link", "saved.json"]);

    // A file that does not exist yet, /dev/null and a named pipe.
    let (_s, sock) = server(
        "new.sock",
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nfresh')",
    );
    let fresh = out_dir.join("fresh");
    ok(&http(
        &[sock.as_str(), "-o", fresh.to_str().unwrap(), "/"],
        b"",
    ));
    assert_eq!(std::fs::read(&fresh).unwrap(), b"fresh");
    let (_s, sock) = server(
        "null.sock",
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 4\\r\\n\\r\\nnull')",
    );
    ok(&http(&[sock.as_str(), "-o", "/dev/null", "/"], b""));
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let (_s, sock) = server(
        "fifo.sock",
        "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 4\\r\\n\\r\\npipe')",
    );
    ok(&http(
        &[sock.as_str(), "-o", fifo.to_str().unwrap(), "/"],
        b"",
    ));
    assert_eq!(reader.join().unwrap(), b"pipe");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

/// A 101 nobody asked for (no --upgrade) is an error naming it, not a success with an
/// empty body.
#[test]
fn an_unasked_101_is_an_error() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("101.sock");
    let _s = misbehaving(
        dir.path(),
        &sock,
        "c.sendall(b'HTTP/1.1 101 Switching Protocols\\r\\nConnection: Upgrade\\r\\nUpgrade: tcp\\r\\n\\r\\nraw bytes')\ntime.sleep(30)",
    );
    let out = http(&["--max-time", "20s", sock.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: GET / on unix:{}: the server answered 101 Switching Protocols (to tcp), but no protocol switch was asked for\n\
             hint: --upgrade PROTOCOL asks for one and bridges the switched connection to stdin/stdout\n",
            sock.display()
        )
    );
}

/// A Content-Length given with -H must be the body's: a disagreeing one is a usage error
/// before anything is sent (exit 2, so not 7 on a missing socket); with a body from a pipe,
/// whose size cannot be known first, it is sent and held to while the body streams.
#[test]
fn a_content_length_must_match_the_body() {
    let dir = tempdir();
    let nowhere = dir.path().join("missing.sock");
    let n = nowhere.to_str().unwrap();
    let body = dir.path().join("body");
    std::fs::write(&body, b"0123456789").unwrap();
    let at_body = format!("@{}", body.display());
    for (args, msg) in [
        (
            &[n, "-d", "hello world", "-H", "Content-Length: 3", "/"][..],
            "-H 'Content-Length: 3': the body is 11 bytes; leave Content-Length out, udskit sends the right one",
        ),
        (
            &[n, "-d", &at_body, "-H", "content-length: 11", "/"],
            "-H 'content-length: 11': the body is 10 bytes",
        ),
        (
            &[n, "-H", "Content-Length: 5", "/"],
            "-H 'Content-Length: 5': no body is sent (-d, --json)",
        ),
        (
            &[n, "-d", "x", "-H", "Content-Length: many", "/"],
            "-H 'Content-Length: many': not a number of bytes",
        ),
        (
            &[
                n,
                "-d",
                "x",
                "-H",
                "Content-Length: 1",
                "-H",
                "Content-Length: 1",
                "/",
            ],
            "Content-Length is given twice",
        ),
    ] {
        let out = http(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(msg),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
    // The right one is fine (and sent once); exit 7 here means it got as far as connecting.
    let out = http(&[n, "-d", "hello", "-H", "Content-Length: 5", "/"], b"");
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));

    if !uvicorn_here() {
        return;
    }
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let data = random_bytes(300_000);
    let mut c = udskit();
    c.args([
        "http",
        s,
        "/sha256",
        "--data-binary",
        "@-",
        "-H",
        "Content-Length: 300000",
    ]);
    let out = run_with_input(c, &data, LIMIT);
    let v = json(ok(&out));
    assert_eq!(v["transfer"], "length");
    assert_eq!(v["sha256"], sha256(&data).as_str());
    for (declared, want) in [
        (
            "299999",
            "the body from stdin is longer than the 299999 bytes of -H Content-Length",
        ),
        (
            "300001",
            "the body from stdin ended after 300000 of the 300001 bytes of -H Content-Length",
        ),
    ] {
        let mut c = udskit();
        c.args(["http", s, "/sha256", "--data-binary", "@-", "-H"])
            .arg(format!("Content-Length: {declared}"));
        let out = run_with_input(c, &data, LIMIT);
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(stderr_of(&out).contains(want), "{}", stderr_of(&out));
    }
}

/// An answer with 500 header lines is taken, as curl takes it (hyper's default stops at 100).
#[test]
fn many_header_lines_are_taken() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("many.sock");
    let _server = misbehaving(
        dir.path(),
        &sock,
        "c.sendall(b'HTTP/1.1 200 OK\\r\\n' + b''.join(b'X-N%d: v\\r\\n' % i for i in range(500)) + b'Content-Length: 2\\r\\n\\r\\nok')",
    );
    let out = http(&["-D", "-", sock.to_str().unwrap(), "/"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("X-N499: v\r\n") && text.ends_with("\r\n\r\nok"),
        "{text}"
    );
}

/// Servers that break HTTP on purpose: each ends with a clear error, exit 1 (or 28 once
/// --max-time is up), never a panic (101) or a hang.
#[test]
fn hostile_servers_end_in_clear_errors() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    for (name, then, extra, code, want) in [
        (
            "big-header",
            "c.sendall(b'HTTP/1.1 200 OK\\r\\nX-Big: ' + b'a' * (1 << 20) + b'\\r\\n\\r\\n')",
            &[][..],
            1,
            "the answer is not valid HTTP: message head is too large",
        ),
        (
            "endless-headers",
            "c.sendall(b'HTTP/1.1 200 OK\\r\\n')\nwhile True: c.sendall(b'X-Again: and again\\r\\n')",
            &[],
            1,
            "the answer is not valid HTTP: ",
        ),
        (
            "bad-chunk",
            "c.sendall(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\nzz\\r\\n')\ntime.sleep(30)",
            &[],
            1,
            "reading the body (5 bytes received): ",
        ),
        (
            "huge-chunk",
            "c.sendall(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nffffffffffffffffffffffff\\r\\nx')\ntime.sleep(30)",
            &[],
            1,
            "reading the body (0 bytes received): ",
        ),
        (
            "upgraded-to-nothing",
            "c.sendall(b'HTTP/1.1 101 Switching Protocols\\r\\nConnection: Upgrade\\r\\nUpgrade: tcp\\r\\n\\r\\n')\ntime.sleep(30)",
            &["--upgrade", "tcp"],
            28,
            "the upgraded stream did not end within 1s (--max-time)",
        ),
    ] {
        let sock = dir.path().join(format!("{name}.sock"));
        let _server = misbehaving(dir.path(), &sock, then);
        let mut args = vec!["--max-time", if code == 28 { "1s" } else { "20s" }];
        args.extend(extra);
        args.extend([sock.to_str().unwrap(), "/"]);
        let out = http(&args, b"");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(code), "{name}: {err}");
        assert!(
            err.starts_with(&format!(
                "udskit: error: GET / on unix:{}: ",
                sock.display()
            )) && err.contains(want),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

/// `-o FILE` with a name as long as a directory entry may be (255 bytes): the temporary
/// name beside it, which adds a prefix and a suffix, must still fit.
#[test]
fn output_file_with_the_longest_name() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    for len in [255, 200] {
        let sock = dir.path().join(format!("long{len}.sock"));
        let _s = misbehaving(
            dir.path(),
            &sock,
            "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nlong\\n')",
        );
        let file = dir.path().join("é".repeat(len / 2));
        let out = http(
            &[
                sock.as_os_str(),
                "-o".as_ref(),
                file.as_os_str(),
                "/".as_ref(),
            ],
            b"",
        );
        ok(&out);
        assert_eq!(std::fs::read(&file).unwrap(), b"long\n");
    }
}

/// The answer of [`answer_as_nobody`] that is whole: "new\n".
const NEW: &str = "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 4\\r\\n\\r\\nnew\\n')";
/// One that breaks off: 4 of 10 bytes, then the connection closes.
const CUT: &str = "c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 10\\r\\n\\r\\ncut\\n')";

/// `http -o FILE /` run as nobody against a server on a socket open to all that answers
/// with `answer` (python, `c` the connection); the server (stopped on drop) and the run's
/// output.
fn answer_as_nobody(dir: &Path, file: &Path, answer: &str) -> (Bg, Output) {
    use std::os::unix::fs::PermissionsExt;
    let sock = dir.join("s.sock");
    let _ = std::fs::remove_file(&sock);
    let server = misbehaving(dir, &sock, answer);
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut c = Command::new("/usr/sbin/runuser");
    c.args([
        "-u",
        "nobody",
        "--",
        env!("CARGO_BIN_EXE_udskit"),
        "--color=never",
        "http",
    ])
    .arg(&sock)
    .arg("-o")
    .arg(file)
    .arg("/")
    .env_clear()
    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    .env("TMPDIR", dir.join("tmp"));
    (server, run_with_input(c, b"", LIMIT))
}

/// A FILE we may write but not rename over: another user's in a sticky directory (/tmp,
/// where only a file's owner may rename over it), or one in a directory we may not write.
/// `-o` holds the answer in an unnamed file in $TMPDIR and copies it into FILE once whole:
/// FILE gets a whole answer, keeps its contents when the answer breaks off, and no file is
/// left beside it or in $TMPDIR.
#[test]
fn output_file_we_may_write_but_not_rename_over() {
    use std::os::unix::fs::PermissionsExt;
    if !have("python3") || !have("runuser") || !is_root() {
        return;
    }
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let held = dir.path().join("tmp");
    std::fs::create_dir(&held).unwrap();
    std::fs::set_permissions(&held, std::fs::Permissions::from_mode(0o1777)).unwrap();
    for (name, mode) in [("sticky", 0o1777), ("closed", 0o755)] {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        let theirs = d.join("theirs");
        for (answer, code, after) in [
            (CUT, 1, &b"old contents"[..]),
            (NEW, 0, b"new\n"),
            (CUT, 1, b"new\n"),
        ] {
            if !theirs.exists() {
                std::fs::write(&theirs, b"old contents").unwrap();
                std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o666)).unwrap();
            }
            let (_s, out) = answer_as_nobody(dir.path(), &theirs, answer);
            assert_eq!(out.status.code(), Some(code), "{name}: {}", stderr_of(&out));
            assert_eq!(std::fs::read(&theirs).unwrap(), after, "{name}");
            assert_eq!(names_in(&d), ["theirs"], "{name}");
            assert_eq!(names_in(&held), Vec::<String>::new(), "{name}");
        }
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&theirs).unwrap();
        assert_eq!(
            (m.uid(), m.mode() & 0o777),
            (0, 0o666),
            "{name}: still root's"
        );
    }
}

/// A FILE its owner made read-only is not replaced by `-o` behind the permission's back
/// (a rename needs only the directory's): the error is curl's, and FILE is kept.
#[test]
fn output_file_that_is_read_only_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    if !have("python3") || !have("runuser") || !is_root() {
        return;
    }
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    let kept = mine.join("kept");
    std::fs::write(&kept, b"old contents").unwrap();
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o444)).unwrap();
    assert!(
        Command::new("chown")
            .args(["-R", "nobody"])
            .arg(&mine)
            .status()
            .unwrap()
            .success()
    );
    let (_s, out) = answer_as_nobody(dir.path(), &kept, NEW);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: creating {} (--output): Permission denied (os error 13)\n",
            kept.display()
        )
    );
    assert_eq!(std::fs::read(&kept).unwrap(), b"old contents");
    assert_eq!(names_in(&mine), ["kept"]);
}

/// A udp: SOCKET is a usage error with a hint, not a failed connect (exit 7).
#[test]
fn a_udp_socket_is_a_usage_error() {
    for socket in ["udp:127.0.0.1:9", "udp:9"] {
        let out = run_with_input(ud(&["http", socket, "/"]), b"", LIMIT);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("udp:127.0.0.1:9: a UDP address carries datagrams; http speaks"),
            "{err}"
        );
        assert!(
            err.contains("hint: for a server on that port over TCP write tcp:HOST:PORT"),
            "{err}"
        );
    }
    let mut c = ud(&["http", "/version"]);
    c.env("DOCKER_HOST", "udp:127.0.0.1:9");
    let out = run_with_input(c, b"", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

/// `.` and `..` segments of TARGET are resolved before the request is sent, as curl
/// resolves them; `--path-as-is` sends them as given. The query is never touched.
#[test]
fn dot_segments_are_resolved_unless_path_as_is() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("line.sock");
    // Answers each request with its request line.
    let mut c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\n\
         print('listening', file=sys.stderr, flush=True)\nwhile True:\n    c,_=s.accept()\n    \
         line=c.recv(65536).split(b'\\r\\n')[0]\n    c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: \
         %d\\r\\nConnection: close\\r\\n\\r\\n%s' % (len(line), line))\n    c.close()",
        sock.to_str().unwrap()
    ));
    c.stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir.path(), "line-server");
    bg.wait_stderr("listening");
    let s = sock.to_str().unwrap();
    for (args, line) in [
        (
            &[s, "/a/./b/../c?p=/x/../y"][..],
            "GET /a/c?p=/x/../y HTTP/1.1",
        ),
        (&[s, "http://h/../../etc/x"], "GET /etc/x HTTP/1.1"),
        (
            &[s, "--path-as-is", "/a/./b/../c"],
            "GET /a/./b/../c HTTP/1.1",
        ),
    ] {
        let out = http(args, b"");
        assert_eq!(String::from_utf8_lossy(ok(&out)), line, "{args:?}");
    }
}

/// `-i` piped shows the head as it came off the wire, as curl -i does: header names in the
/// server's case, and a 1xx head before the final one.
#[test]
fn include_shows_the_head_as_sent() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("case.sock");
    let head = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-Mixed-Case: v\r\nContent-Length: 2\r\n\r\n";
    let _s = misbehaving(
        dir.path(),
        &sock,
        &format!("c.sendall({:?}.encode() + b'ok')", head),
    );
    let out = http(&[sock.to_str().unwrap(), "-i", "/"], b"");
    assert_eq!(String::from_utf8_lossy(ok(&out)), format!("{head}ok"));
}
