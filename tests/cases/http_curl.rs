//! `udskit http` runs a copied curl line: the request-side options (-L, --data-*, -G, -u,
//! -F, -T, -N, -k, --http1.1), curl's ways of naming the socket (--unix-socket,
//! --abstract-unix-socket, http+unix://, DOCKER_HOST) and the positional rule. Checked
//! against uvicorn's Starlette app and, byte for byte, against what curl itself sends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::http::{LIMIT, http, json, ok, uvicorn_here};
use crate::support::peers::{have, have_python_modules, python};
use crate::support::servers::Uvicorn;
use crate::support::*;

/// The value of header `name` in the app's /headers answer.
fn header<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv[0] == name)
        .map(|kv| kv[1].as_str().unwrap())
}

fn usage_error(out: &Output, msg: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(out));
    assert!(
        stderr_of(out).contains(msg),
        "{msg:?} not in:\n{}",
        stderr_of(out)
    );
}

#[test]
fn location_follows_redirects_on_the_socket() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();

    // Without -L the redirect is the answer.
    let out = http(&[s, "/redirect/302?to=/data"], b"");
    assert_eq!(ok(&out), b"redirect 302\n");

    // Relative and absolute Locations; the absolute one's host becomes Host, on the socket.
    let out = http(&[s, "-L", "/redirect/301?to=/data"], b"");
    assert_eq!(ok(&out), br#"{"message":"Hello from Service B!"}"#);
    let out = http(&[s, "-L", "/redirect/302?to=../headers%3Fq%3D1"], b"");
    let v = json(ok(&out));
    assert_eq!(
        (v["path"].as_str(), v["query"].as_str()),
        (Some("/headers"), Some("q=1"))
    );
    let out = http(
        &[
            s,
            "-L",
            "/redirect/302?to=http%3A%2F%2Fother.example%3A81%2Fheaders",
        ],
        b"",
    );
    assert_eq!(header(&json(ok(&out)), "host"), Some("other.example:81"));

    // curl's method rules: 302 and 303 make a POST a GET without its body (303 a PUT too),
    // 301 keeps a PUT, 307 and 308 keep the method and send the body again.
    for (code, method, want) in [
        ("302", "POST", "GET"),
        ("303", "PUT", "GET"),
        ("301", "PUT", "PUT"),
        ("307", "PATCH", "PATCH"),
    ] {
        let target = format!("/redirect/{code}?to=/headers");
        let out = http(&[s, "-L", method, &target, "-d", "a=1"], b"");
        let v = json(ok(&out));
        assert_eq!(v["method"], want, "{code} {method}");
        let length = header(&v, "content-length");
        let kept = want != "GET";
        assert_eq!(length, kept.then_some("3"), "{code} {method}");
        assert_eq!(
            header(&v, "content-type").is_some(),
            kept,
            "{code} {method}"
        );
    }
    let file = dir.path().join("body.bin");
    let body = random_bytes(300_000);
    std::fs::write(&file, &body).unwrap();
    let at_file = format!("@{}", file.display());
    let out = http(
        &[
            s,
            "-L",
            "/redirect/308?to=/sha256",
            "--data-binary",
            &at_file,
        ],
        b"",
    );
    assert_eq!(json(ok(&out))["sha256"], sha256(&body).as_str());

    // A body from stdin cannot be sent twice: curl's exit 65, before a second request.
    let out = http(
        &[s, "-L", "/redirect/307?to=/sha256", "--data-binary", "@-"],
        &body,
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("307 Temporary Redirect to /sha256, which means sending the body again, and a body from stdin cannot be read twice"),
        "{}",
        stderr_of(&out)
    );

    // -i shows every head, as curl -iL; -v tells what it follows.
    let out = http(&["-v", s, "-iL", "/redirect/302?to=/data"], b"");
    let all = String::from_utf8(ok(&out).to_vec()).unwrap();
    assert!(all.starts_with("HTTP/1.1 302 Found\r\n"), "{all}");
    assert!(all.contains("\r\nlocation: /data\r\n"), "{all}");
    assert!(all.contains("\r\n\r\nHTTP/1.1 200 OK\r\n"), "{all}");
    assert!(
        all.ends_with(r#"{"message":"Hello from Service B!"}"#),
        "{all}"
    );
    assert!(
        stderr_of(&out).contains("udskit: following 302 to GET http://localhost/data\n"),
        "{}",
        stderr_of(&out)
    );

    // A loop ends at --max-redirs (curl's default 50) with curl's exit 47.
    let out = http(&[s, "-L", "--max-redirs", "3", "/redirect/302"], b"");
    assert_eq!(out.status.code(), Some(47), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: GET /redirect/302 on unix:{s}: the server redirected again after 3 redirects (--max-redirs 3)\n"
        )
    );
    // -w tells of the answer not followed, as curl's does; a fragment is not sent.
    let w = "%{num_redirects} %{http_code} %{url_effective}";
    let out = http(
        &[s, "-sL", "--max-redirs", "3", "-w", w, "/redirect/302#top"],
        b"",
    );
    assert_eq!(out.status.code(), Some(47));
    assert_eq!(out.stdout, b"3 302 http://localhost/redirect/302");
    let out = http(&[s, "-iL", "--max-redirs", "1", "/redirect/302"], b"");
    assert_eq!(out.status.code(), Some(47));
    assert!(stderr_of(&out).contains("after 1 redirect (--max-redirs 1)"));
    // Both heads reach stdout before the error, as curl's do.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("HTTP/1.1 302 Found\r\n")
            .count(),
        2
    );
    let out = http(&[s, "-L", "/redirect/302"], b"");
    assert_eq!(out.status.code(), Some(47));
    assert!(
        stderr_of(&out).contains("after 50 redirects"),
        "{}",
        stderr_of(&out)
    );

    // Credentials go to the host asked for only.
    let out = http(&[s, "-L", "-u", "me:pw", "/redirect/302?to=/headers"], b"");
    assert_eq!(
        header(&json(ok(&out)), "authorization"),
        Some("Basic bWU6cHc=")
    );
    let out = http(
        &[
            s,
            "-L",
            "-u",
            "me:pw",
            "/redirect/302?to=http%3A%2F%2Felsewhere%2Fheaders",
        ],
        b"",
    );
    assert_eq!(header(&json(ok(&out)), "authorization"), None);

    // https cannot be followed on a socket.
    let out = http(&[s, "-L", "/redirect/302?to=https%3A%2F%2Fx%2F"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("follows plain http:// on the socket only"));
}

/// A unix socket server that records each request, whole (Content-Length or chunked; a
/// chunked body is recorded decoded, since clients cut it differently), in DIR/req.N and answers 200 (100 Continue first when asked, as curl asks for -T).
fn recorder(dir: &Path) -> (Bg, PathBuf) {
    let sock = dir.join("rec.sock");
    let code = format!(
        r#"
import socket, os
s = socket.socket(socket.AF_UNIX); s.bind({sock:?}); s.listen(8)
n = 0
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = f.readline()
        if not line: break
        head += line
    low = head.lower()
    if b"expect: 100-continue" in low:
        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = b""
    if b"transfer-encoding: chunked" in low:
        while True:
            size = int(f.readline().split(b";")[0], 16)
            body += f.read(size + 2)[:size]
            if size == 0: break
    else:
        for l in low.split(b"\r\n"):
            if l.startswith(b"content-length:"):
                body = f.read(int(l.split(b":")[1]))
    n += 1
    with open(os.path.join({dir:?}, "req.tmp"), "wb") as out: out.write(head + body)
    os.rename(os.path.join({dir:?}, "req.tmp"), os.path.join({dir:?}, "req.%d" % n))
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    c.close()
"#,
        sock = sock.to_str().unwrap(),
        dir = dir.to_str().unwrap(),
    );
    let mut c = python(&code);
    c.stdout(Stdio::null());
    let bg = Bg::spawn(c, dir, "recorder");
    wait_for_socket(&sock);
    (bg, sock)
}

/// The request the recorder took as its `n`th, with what differs between any two clients
/// (the User-Agent, the random multipart boundary, curl's Expect) made the same.
fn recorded(dir: &Path, n: usize) -> Vec<u8> {
    let p = dir.join(format!("req.{n}"));
    wait_for_path(&p);
    let raw = std::fs::read(&p).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(&raw[..split]).split_inclusive("\r\n") {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("expect:") {
            continue;
        }
        if lower.starts_with("user-agent:") {
            out.extend_from_slice(b"User-Agent: X\r\n");
            continue;
        }
        out.extend_from_slice(line.as_bytes());
    }
    out.extend_from_slice(&raw[split..]);
    // The boundary, 24 dashes and 16 hex digits as both write it, wherever it occurs.
    let dashes = [b'-'; 24];
    let mut i = 0;
    while i + 40 <= out.len() {
        if out[i..i + 24] == dashes && out[i + 24..i + 40].iter().all(u8::is_ascii_hexdigit) {
            out.splice(i..i + 40, b"BOUNDARY".iter().copied());
            i += 8;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn data_form_get_user_and_upload_send_what_curl_sends() {
    if !have("python3") || !have("curl") {
        return;
    }
    let dir = tempdir();
    let (_rec, sock) = recorder(dir.path());
    let s = sock.to_str().unwrap();
    let d = dir.path();
    std::fs::write(d.join("crlf.txt"), b"line1\r\nline2\nend").unwrap();
    std::fs::write(d.join("form.txt"), b"a b&c=d\xc3\xa9\n").unwrap();
    std::fs::write(d.join("pic.PNG"), b"\x89PNG\r\n\x1a\n\0\xff").unwrap();
    std::fs::write(d.join("a b#.txt"), b"upload\n").unwrap();
    std::fs::create_dir(d.join("up")).unwrap();
    let at = |name: &str| format!("@{}", d.join(name).display());
    let lt = |name: &str| format!("<{}", d.join(name).display());
    let cases: Vec<Vec<String>> = vec![
        // -d @FILE strips CR and LF; --data-binary keeps them; --data-raw keeps '@';
        // --data-urlencode's five forms; all joined with '&' in order.
        vec![
            "http://localhost/data".into(),
            "-d".into(),
            at("crlf.txt"),
            "-d".into(),
            "b=1".into(),
            "--data-urlencode".into(),
            "a b".into(),
            "--data-urlencode".into(),
            "=c d&".into(),
            "--data-urlencode".into(),
            "n=e f".into(),
            "--data-urlencode".into(),
            at("form.txt"),
            "--data-urlencode".into(),
            format!("m{}", at("form.txt")),
            "--data-binary".into(),
            at("crlf.txt"),
            "--data-raw".into(),
            "@raw".into(),
        ],
        // -G puts the data in the query; -u is Basic; -G -I is a HEAD.
        vec![
            "http://localhost/q?z=1".into(),
            "-G".into(),
            "-d".into(),
            "a=1".into(),
            "--data-urlencode".into(),
            "b=c d".into(),
            "-u".into(),
            "us:pw".into(),
        ],
        vec![
            "http://localhost/q".into(),
            "-G".into(),
            "-I".into(),
            "-d".into(),
            "a=1".into(),
        ],
        // -F: a field, a file (type guessed from the extension), ;type= and ;filename=,
        // a text field from a file, quotes in names.
        vec![
            "http://localhost/form".into(),
            "-F".into(),
            "name=\"va\\\"l;ue\"".into(),
            "-F".into(),
            format!("f={}", at("pic.PNG")),
            "-F".into(),
            format!("g={};type=text/x;filename=o\"t.bin", at("form.txt")),
            "-F".into(),
            format!("t={}", lt("form.txt")),
            "-F".into(),
            "q\"n=v;type=text/y".into(),
        ],
        // -T to a URL ending in '/' appends the file's name, encoded, before the query.
        vec![
            "http://localhost/up/?x=1".into(),
            "-T".into(),
            d.join("a b#.txt").display().to_string(),
        ],
        vec!["http://localhost/up/".into(), "-T".into(), "-".into()],
    ];
    let mut n = 0;
    for args in &cases {
        // The same stdin (a pipe) for both.
        let curl = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--unix-socket", s])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut curl = Bg::adopt(curl);
        {
            use std::io::Write;
            let mut stdin = curl.child.stdin.take().unwrap();
            stdin.write_all(b"from\r\nstdin\n").unwrap();
        }
        assert!(curl.wait_exit(LIMIT).success(), "curl {args:?}");
        n += 1;
        let theirs = recorded(d, n);
        let mut mine: Vec<String> = vec!["--unix-socket".into(), s.into()];
        mine.extend(args.iter().cloned());
        let out = http(&mine, b"from\r\nstdin\n");
        ok(&out);
        n += 1;
        let ours = recorded(d, n);
        assert!(
            ours == theirs,
            "udskit http {args:?}\nours:\n{}\ncurl's:\n{}",
            String::from_utf8_lossy(&ours).escape_debug(),
            String::from_utf8_lossy(&theirs).escape_debug()
        );
    }
}

#[test]
fn form_uploads_reach_starlettes_parser() {
    if !uvicorn_here() || !have_python_modules(&["python_multipart"]) {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let big = random_bytes(3 << 20);
    let file = dir.path().join("image.bin");
    std::fs::write(&file, &big).unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "first\nsecond\n").unwrap();
    let out = http(
        &[
            s,
            "-v",
            "/form",
            "-F",
            "title=\"a b;c\"",
            "-F",
            &format!("upload=@{}", file.display()),
            "-F",
            &format!(
                "doc=@{};type=text/markdown;filename=README.md",
                notes.display()
            ),
            "-F",
            &format!("text=<{}", notes.display()),
            "-F",
            "piped=@-",
        ],
        b"from stdin",
    );
    let v = json(ok(&out));
    assert_eq!(v[0], serde_json::json!({"name": "title", "value": "a b;c"}));
    assert_eq!(v[1]["filename"], "image.bin");
    assert_eq!(v[1]["content_type"], "application/octet-stream");
    assert_eq!(v[1]["size"], 3 << 20);
    assert_eq!(v[1]["sha256"], sha256(&big).as_str());
    assert_eq!(v[2]["filename"], "README.md");
    assert_eq!(v[2]["content_type"], "text/markdown");
    assert_eq!(v[2]["sha256"], sha256(b"first\nsecond\n").as_str());
    assert_eq!(
        v[3],
        serde_json::json!({"name": "text", "value": "first\nsecond\n"})
    );
    assert_eq!(v[4]["filename"], "-");
    assert_eq!(v[4]["sha256"], sha256(b"from stdin").as_str());
    // With stdin in it the size is not known: chunked; without, a Content-Length.
    assert!(stderr_of(&out).contains("> Transfer-Encoding: chunked\n"));
    let out = http(&["-v", s, "/form", "-F", "x=1"], b"");
    let v = json(ok(&out));
    assert_eq!(v[0], serde_json::json!({"name": "x", "value": "1"}));
    let err = stderr_of(&out);
    assert!(err.contains("> Content-Length: 137\n"), "{err}");
    assert!(err.contains("> Content-Type: multipart/form-data; boundary=------------------------"));

    let out = http(&[s, "/form", "-F", "novalue"], b"");
    usage_error(&out, "-F 'novalue': no '=' after the name");
    let out = http(&[s, "/form", "-F", "f=@/nonexistent/x"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("reading the body from /nonexistent/x: No such file"));
}

#[test]
fn upload_file_puts_it_streamed() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let body = random_bytes(2 << 20);
    let file = dir.path().join("disk.img");
    std::fs::write(&file, &body).unwrap();
    let out = http(&[s, "/sha256", "-T", file.to_str().unwrap()], b"");
    let v = json(ok(&out));
    assert_eq!(v["sha256"], sha256(&body).as_str());
    assert_eq!(
        (v["transfer"].as_str(), v["content_type"].as_str()),
        (Some("length"), None)
    );
    let out = http(&[s, "/sha256", "-T", "-"], &body);
    let v = json(ok(&out));
    assert_eq!(v["sha256"], sha256(&body).as_str());
    assert_eq!(v["transfer"], "chunked");
    // PUT unless told otherwise; the name goes after a '/'.
    let out = http(
        &[s, "POST", "/status/", "-T", file.to_str().unwrap(), "-i"],
        b"",
    );
    assert!(String::from_utf8_lossy(ok(&out)).starts_with("HTTP/1.1 404"));
    let out = http(&[s, "-v", "/status/", "-T", file.to_str().unwrap()], b"");
    assert!(stderr_of(&out).contains("> PUT /status/disk.img HTTP/1.1\n"));
    let out = http(
        &[s, "/sha256", "-T", file.to_str().unwrap(), "-d", "x"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn get_and_user_against_the_app() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let v = json(ok(&http(
        &[
            s,
            "-G",
            "/headers?x=0",
            "-d",
            "a=1",
            "--data-urlencode",
            "b=c d&",
        ],
        b"",
    )));
    assert_eq!(v["method"], "GET");
    assert_eq!(v["query"], "x=0&a=1&b=c+d%26");
    assert_eq!(header(&v, "content-length"), None);
    let v = json(ok(&http(
        &[s, "-u", "aladdin:open sesame", "/headers"],
        b"",
    )));
    assert_eq!(
        header(&v, "authorization"),
        Some("Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    let v = json(ok(&http(&[s, "http://u:p%40ss@localhost/headers"], b"")));
    assert_eq!(header(&v, "authorization"), Some("Basic dTpwQHNz"));
    // -H Authorization wins over -u.
    let v = json(ok(&http(
        &[s, "-u", "a:b", "-H", "Authorization: Bearer t", "/headers"],
        b"",
    )));
    assert_eq!(header(&v, "authorization"), Some("Bearer t"));
    usage_error(
        &http(&[s, "-u", "aladdin", "/headers"], b""),
        "-u 'aladdin': no password: udskit never prompts for one\nhint: write -u aladdin:PASSWORD",
    );
    usage_error(
        &http(&[s, "http://u@localhost/headers"], b""),
        "a user in the URL needs its password",
    );
}

#[test]
fn curl_options_that_change_nothing_are_accepted() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let out = http(&[s, "-N", "--http1.1", "-k", "/data"], b"");
    assert_eq!(ok(&out), br#"{"message":"Hello from Service B!"}"#);
    assert_eq!(stderr_of(&out), "");
    let out = http(&["-v", s, "-k", "-L", "/redirect/302?to=/data"], b"");
    ok(&out);
    assert_eq!(
        stderr_of(&out)
            .matches("-k/--insecure has no effect")
            .count(),
        1,
        "{}",
        stderr_of(&out)
    );
    usage_error(
        &http(&[s, "--http1.1", "--http2", "/data"], b""),
        "cannot be used with",
    );
}

#[test]
fn sockets_named_the_curl_way() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let hello: &[u8] = br#"{"message":"Hello from Service B!"}"#;

    // curl's --unix-socket with a full URL (a METHOD argument still works).
    assert_eq!(
        ok(&http(&["--unix-socket", s, "http://localhost/data"], b"")),
        hello
    );
    let out = http(&["--unix-socket", s, "POST", "/echo", "--json", "[1]"], b"");
    assert_eq!(ok(&out), b"[1]");
    // http+unix://, the socket percent-encoded.
    let enc = s.replace('/', "%2F");
    assert_eq!(ok(&http(&[format!("http+unix://{enc}/data")], b"")), hello);
    // DOCKER_HOST, and a SOCKET argument that wins over it.
    let with_docker_host = |value: &str, args: &[&str]| {
        let mut c = udskit();
        c.env("DOCKER_HOST", value).arg("http").args(args);
        run_with_input(c, b"", LIMIT)
    };
    let unix = format!("unix://{s}");
    assert_eq!(ok(&with_docker_host(&unix, &["/data"])), hello);
    assert_eq!(
        ok(&with_docker_host(&unix, &["POST", "/echo", "--json", "{}"])),
        b"{}"
    );
    assert_eq!(
        ok(&with_docker_host("unix:///nonexistent.sock", &[s, "/data"])),
        hello
    );
    // docker's tcp://HOST:PORT: the app through a relay on a TCP port.
    let mut relay = udskit();
    relay.args(["relay", "tcp:127.0.0.1:0", s]);
    let mut relay = Bg::spawn(relay, dir.path(), "relay");
    let log = relay.wait_stderr("listening");
    let port = log
        .split("tcp:127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or_else(|| panic!("no port in: {log}"))
        .to_string();
    let tcp = format!("tcp://127.0.0.1:{port}");
    assert_eq!(ok(&with_docker_host(&tcp, &["/data"])), hello);
    assert_eq!(ok(&http(&[tcp.as_str(), "/data"], b"")), hello);

    // --abstract-unix-socket, as curl's.
    let name = format!("udskit-curl-test-{}", std::process::id());
    let mut c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind('\\0{name}')\ns.listen()\nprint('ready', file=sys.stderr, flush=True)\nc,_=s.accept()\nc.recv(65536)\nc.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n')\nc.close()"
    ));
    c.stdout(Stdio::null());
    let mut server = Bg::spawn(c, dir.path(), "abstract");
    server.wait_stderr("ready");
    let out = http(&["--abstract-unix-socket", &name, "http://localhost/"], b"");
    assert_eq!(ok(&out), b"ok\n");
}

#[test]
fn the_positional_rule_refuses_to_guess() {
    let empty_docker = |args: &[&str]| http(args, b"");
    usage_error(
        &empty_docker(&["/version"]),
        "no socket to send the request to\nhint: give the socket as the first argument",
    );
    let out = empty_docker(&["/version"]);
    for way in [
        "--unix-socket PATH",
        "--abstract-unix-socket NAME",
        "http+unix://",
        "DOCKER_HOST",
    ] {
        assert!(stderr_of(&out).contains(way), "{way}: {}", stderr_of(&out));
    }
    // "$DOCKER_HOST" with DOCKER_HOST unset.
    usage_error(
        &empty_docker(&["", "/version"]),
        "the SOCKET argument is empty\nhint: was it \"$DOCKER_HOST\" with DOCKER_HOST unset?",
    );
    usage_error(
        &empty_docker(&["GET", "/version"]),
        "no socket: GET is read as the METHOD",
    );
    assert!(
        stderr_of(&empty_docker(&["GET", "/version"]))
            .contains("for a socket file named GET, write ./GET")
    );
    usage_error(
        &empty_docker(&["get", "/version"]),
        "'get': a METHOD is written in upper case, and a socket file of that name as ./get",
    );
    usage_error(
        &empty_docker(&["--unix-socket", "/a.sock", "/b.sock", "/version"]),
        "the socket is given twice: --unix-socket /a.sock and /b.sock",
    );
    usage_error(
        &empty_docker(&["/a.sock", "http+unix://%2Fb.sock/version"]),
        "the socket is given twice",
    );
    usage_error(
        &empty_docker(&["/a.sock", "unix:///var/run/docker.sock:/info"]),
        "a socket and a path joined by ':' cannot be told apart",
    );
    // Alone, too (it is no missing socket), and in curl's http://unix: spelling.
    for joined in [
        "unix:///var/run/docker.sock:/info",
        "http://unix:/var/run/docker.sock:/info",
    ] {
        for args in [&[joined][..], &["GET", joined]] {
            usage_error(
                &empty_docker(args),
                "a socket and a path joined by ':' cannot be told apart",
            );
        }
    }
    let mut c = udskit();
    c.env("DOCKER_HOST", "ssh://me@host")
        .args(["http", "/version"]);
    usage_error(
        &run_with_input(c, b"", LIMIT),
        "DOCKER_HOST 'ssh://me@host': a ssh:// socket is not spoken here",
    );
    // A lone socket path is a TARGET; the error says so.
    let dir = tempdir();
    let lone = dir.path().join("lone.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&lone).unwrap();
    let l = lone.to_str().unwrap();
    usage_error(
        &empty_docker(&[l]),
        &format!("hint: {l} is a socket, read here as the TARGET: write udskit http {l} /path"),
    );
    // ./GET is a path: exit 7 names it, nothing is sent elsewhere.
    let mut c = udskit();
    c.current_dir(dir.path())
        .args(["http", "./GET", "/version"]);
    let out = run_with_input(c, b"", LIMIT);
    assert_eq!(out.status.code(), Some(7));
    assert!(
        stderr_of(&out).contains("connecting to unix:./GET: no such file"),
        "{}",
        stderr_of(&out)
    );
}

/// -F, -T, --data-binary and -d with a file send a body far bigger than udskit's memory:
/// the files stream from disk (measured as the peak RSS GNU time reports) and the
/// Content-Length is known up front.
#[test]
fn file_bodies_stream_from_disk() {
    if !have("python3") || !have("/usr/bin/time") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("sink.sock");
    let mut c = python(&format!(
        r#"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind({:?}); s.listen(8)
print("ready", file=sys.stderr, flush=True)
while True:
    c, _ = s.accept(); f = c.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = f.readline()
        if not line: break
        head += line
    n = [int(l.split(b":")[1]) for l in head.lower().split(b"\r\n") if l.startswith(b"content-length:")][0]
    left = n
    while left:
        b = f.read(min(left, 1 << 20))
        if not b: break
        left -= len(b)
    body = b"%d %d" % (n, n - left)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    c.close()
"#,
        sock.to_str().unwrap()
    ));
    c.stdout(Stdio::null());
    let mut sink = Bg::spawn(c, dir.path(), "sink");
    sink.wait_stderr("ready");
    let big = dir.path().join("big.img");
    let size: u64 = 128 << 20;
    std::fs::File::create(&big).unwrap().set_len(size).unwrap();
    let b = big.to_str().unwrap();
    for flags in [
        vec!["-T".to_string(), b.to_string()],
        vec!["-F".to_string(), format!("disk=@{b}")],
        vec!["--data-binary".to_string(), format!("@{b}")],
        vec!["-d".to_string(), format!("@{b}")],
    ] {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "maxrss %M"])
            .arg(env!("CARGO_BIN_EXE_udskit"))
            .args(["--color=never", "http"])
            .arg(&sock)
            .args(&flags)
            .arg("/sink");
        let out = run_with_input(c, b"", LIMIT);
        assert!(out.status.success(), "{flags:?}: {}", stderr_of(&out));
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        let (declared, got) = text.split_once(' ').unwrap();
        assert_eq!(declared, got, "{flags:?}");
        assert!(
            declared.parse::<u64>().unwrap() >= size,
            "{flags:?}: {text}"
        );
        let rss_kib: u64 = stderr_of(&out)
            .rsplit("maxrss ")
            .next()
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or_else(|| panic!("no maxrss in {}", stderr_of(&out)));
        assert!(
            rss_kib < 48 * 1024,
            "{flags:?}: {rss_kib} KiB for a {size}-byte body"
        );
    }
}

/// -L with the response side: -w tells the last request of the chain and how many
/// redirects led to it, -D writes every head of the chain, as curl's do.
#[test]
fn write_out_and_dump_header_follow_the_chain() {
    if !uvicorn_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start(dir.path());
    let s = app.sock.to_str().unwrap();
    let heads = dir.path().join("heads.txt");
    let out = http(
        &[
            s,
            "-sL",
            "-o",
            "/dev/null",
            "-D",
            heads.to_str().unwrap(),
            "-w",
            "%{num_redirects} %{http_code} %{method} %{url_effective}",
            "POST",
            "/redirect/303?to=/redirect/302%3Fto%3D/data",
            "-d",
            "a=1",
        ],
        b"",
    );
    assert_eq!(
        String::from_utf8_lossy(ok(&out)),
        "2 200 GET http://localhost/data"
    );
    let dumped = std::fs::read_to_string(&heads).unwrap();
    let statuses: Vec<&str> = dumped.lines().filter(|l| l.starts_with("HTTP/")).collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 303 See Other",
            "HTTP/1.1 302 Found",
            "HTTP/1.1 200 OK"
        ],
        "{dumped}"
    );
}
