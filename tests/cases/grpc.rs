//! `udskit grpc` against a real grpcio server (tests/fixtures/grpc_server.py serving
//! tests/fixtures/echo.proto, stubs generated at test time) on unix:PATH and
//! unix-abstract:NAME, with and without reflection; and against peers that are not gRPC.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::peers::{have, have_python_modules};
use crate::support::servers::Nginx;
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The grpcio server, stopped by pid when dropped.
struct GrpcServer {
    sock: PathBuf,
    /// The abstract name it also listens on, as udskit spells it (`@name`).
    abstract_name: String,
    _bg: Bg,
}

impl GrpcServer {
    fn start(dir: &Path, reflection: bool) -> GrpcServer {
        let sock = dir.join("grpc.sock");
        let name = format!("udskit-grpc-{}", dir.file_name().unwrap().to_str().unwrap());
        let mut c = Command::new("python3");
        c.arg(fixture("grpc_server.py")).arg(dir.join("stubs"));
        if !reflection {
            c.arg("--no-reflection");
        }
        c.arg(format!("unix:{}", sock.display()))
            .arg(format!("unix-abstract:{name}"))
            .stdout(Stdio::null());
        let mut bg = Bg::spawn(c, dir, "grpc-server");
        bg.wait_stderr("ready");
        wait_for_socket(&sock);
        GrpcServer {
            sock,
            abstract_name: format!("@{name}"),
            _bg: bg,
        }
    }
}

fn grpcio_here() -> bool {
    have("python3") && have_python_modules(&["grpc", "grpc_reflection", "grpc_tools"])
}

/// `udskit grpc ARGS...` with `input` on stdin.
fn grpc<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Output {
    let mut c = udskit();
    c.arg("grpc").args(args);
    run_with_input(c, input, LIMIT)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stderr:\n{}",
        out.status.code(),
        stderr_of(out)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed(out: &Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(out)
    );
    let err = stderr_of(out);
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Each line of stdout as a JSON object (piped output is one object per line).
fn objects(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

#[test]
fn grpc_list_and_describe_through_reflection() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let sock = srv.sock.to_str().unwrap();
    // grpcio offers reflection v1alpha only: udskit asks v1 first and falls back.
    let out = grpc(&[sock, "list"], b"");
    assert_eq!(
        ok(&out),
        "grpc.reflection.v1alpha.ServerReflection\nudskit.test.Echo\n"
    );
    let out = grpc(
        &[&format!("unix://{sock}"), "list", "udskit.test.Echo"],
        b"",
    );
    assert_eq!(
        ok(&out),
        "udskit.test.Echo.Unary\nudskit.test.Echo.ServerStream\nudskit.test.Echo.ClientStream\nudskit.test.Echo.Bidi\nudskit.test.Echo.Fail\n"
    );
    let out = grpc(&[sock, "describe", "udskit.test.Echo"], b"");
    let text = ok(&out);
    assert!(
        text.starts_with("udskit.test.Echo is a service:\nservice Echo {\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  rpc Bidi(stream .udskit.test.EchoRequest) returns (stream .udskit.test.EchoReply);\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  rpc Fail(.udskit.test.FailRequest) returns (.google.protobuf.Empty);\n"),
        "{text}"
    );
    let out = grpc(&[sock, "describe", "udskit.test.EchoReply"], b"");
    let text = ok(&out);
    for line in [
        "message EchoReply {",
        "  bytes blob = 2;",
        "  .udskit.test.Kind kind = 5;",
        "  map<string, string> metadata = 6;",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    let out = grpc(&[sock, "describe", "udskit.test.Echo.Unary"], b"");
    assert!(ok(&out).contains("rpc Unary(.udskit.test.EchoRequest)"));
    let out = grpc(&[sock, "describe", "udskit.test.Kind"], b"");
    assert!(ok(&out).contains("  SERVER_STREAM = 2;\n"));
    let out = grpc(&[sock, "describe", "udskit.test.Nothing"], b"");
    let err = failed(&out, 1);
    assert!(
        err.contains("the schema has no symbol udskit.test.Nothing"),
        "{err}"
    );
}

#[test]
fn grpc_every_call_kind_on_an_abstract_socket() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let at = srv.abstract_name.as_str();

    // Unary, with metadata both ways: -H reaches the server, which echoes it back.
    let out = grpc(
        &[
            at,
            "call",
            "udskit.test.Echo/Unary",
            "-d",
            r#"{"text": "hi", "blob": "AAEC/w==", "number": "9007199254740993"}"#,
            "-H",
            "x-echo: round trip",
            "-H",
            "x-token-bin: AAEC",
        ],
        b"",
    );
    let got = objects(&ok(&out));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["text"], "hi");
    assert_eq!(got[0]["blob"], "AAEC/w==");
    assert_eq!(got[0]["number"], "9007199254740993");
    assert_eq!(got[0]["kind"], "UNARY");
    assert_eq!(got[0]["metadata"]["x-echo"], "round trip");
    assert_eq!(got[0]["metadata"]["x-token-bin"], "000102");

    // Without -d a unary call sends the empty message; Service.Method is accepted too.
    let out = grpc(&[at, "call", "udskit.test.Echo.Unary"], b"");
    let got = objects(&ok(&out));
    assert_eq!(got[0]["kind"], "UNARY");
    assert_eq!(got[0].get("text"), None, "default values are left out");
    let out = grpc(
        &[at, "call", "udskit.test.Echo.Unary", "--emit-defaults"],
        b"",
    );
    let got = objects(&ok(&out));
    assert_eq!(got[0]["text"], "");
    assert_eq!(got[0]["number"], "0");
    assert_eq!(got[0]["index"], 0);

    // Server streaming: every message, in order, one object per line.
    let out = grpc(
        &[
            at,
            "call",
            "udskit.test.Echo/ServerStream",
            "-d",
            r#"{"text":"s","count":5}"#,
        ],
        b"",
    );
    let got = objects(&ok(&out));
    assert_eq!(got.len(), 5);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m["text"], "s");
        assert_eq!(
            m.get("index").and_then(|v| v.as_i64()).unwrap_or(0),
            i as i64
        );
    }

    // Client streaming from stdin, one message per line (blank lines skipped).
    let out = grpc(
        &[at, "call", "udskit.test.Echo/ClientStream"],
        b"{\"text\":\"a\"}\n\n{\"text\":\"b\"}\n{\"text\":\"c\"}",
    );
    let got = objects(&ok(&out));
    assert_eq!(got[0]["text"], "a,b,c");
    assert_eq!(got[0]["index"], 3);

    // Bidirectional, from -d holding several JSON values, and from stdin.
    let out = grpc(
        &[
            at,
            "call",
            "udskit.test.Echo/Bidi",
            "-d",
            "{\"text\":\"x\"}\n{\"text\":\"y\"} {\"text\":\"z\"}",
        ],
        b"",
    );
    let texts: Vec<_> = objects(&ok(&out))
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, ["x", "y", "z"]);
    let out = grpc(
        &[at, "call", "udskit.test.Echo/Bidi", "-d", "@-"],
        b"{\"text\":\"1\"}\n{\"text\":\"2\"}\n",
    );
    let got = objects(&ok(&out));
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["text"], "2");
    assert_eq!(got[1]["index"], 1);
    assert_eq!(got[1]["kind"], "BIDI");
}

/// A bidirectional call answers each line as it arrives, while stdin is still open.
#[test]
fn grpc_bidi_answers_each_line_as_it_arrives() {
    if !grpcio_here() {
        return;
    }
    use std::io::{BufRead, BufReader, Write};
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let mut c = udskit();
    c.args([
        "grpc",
        srv.sock.to_str().unwrap(),
        "call",
        "udskit.test.Echo/Bidi",
    ]);
    let mut bg = Bg::spawn_piped(c, dir.path(), "udskit");
    let mut stdin = bg.child.stdin.take().unwrap();
    let mut out = BufReader::new(bg.child.stdout.take().unwrap());
    for i in 0..3 {
        writeln!(stdin, "{{\"text\":\"line {i}\"}}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let m: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(m["text"], format!("line {i}"));
    }
    drop(stdin);
    let st = bg.wait_exit(LIMIT);
    assert!(st.success(), "{st}: {}", bg.stderr());
}

/// A server stream of small messages to a reader that stops reading for a while: flow
/// control holds the server back, nothing is lost, the connection is not dropped (h2's
/// default budget for small frames closed it after about a hundred unread ones).
#[test]
fn grpc_server_stream_waits_for_a_slow_reader() {
    if !grpcio_here() {
        return;
    }
    use std::io::Read;
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let progress = dir.path().join("progress");
    let count = 120_000;
    let mut c = udskit();
    c.args([
        "grpc",
        srv.sock.to_str().unwrap(),
        "call",
        "udskit.test.Echo/ServerStream",
        "-d",
        &format!(
            r#"{{"text":"x","count":{count},"progress":"{}"}}"#,
            progress.display()
        ),
    ]);
    let mut bg = Bg::spawn_piped(c, dir.path(), "udskit");
    // Nothing read until the server has handed over 55,000 replies: more than fit in
    // the stdout pipe and udskit's queue, so tens of thousands wait as HTTP/2 frames.
    wait_until(LIMIT, "55,000 replies sent", || {
        std::fs::read_to_string(&progress)
            .is_ok_and(|n| n.trim().parse::<u32>().is_ok_and(|n| n >= 55_000))
    });
    let mut out = String::new();
    bg.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let st = bg.wait_exit(LIMIT);
    assert!(st.success(), "{st}: {}", bg.stderr());
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), count);
    assert_eq!(
        lines[count - 1],
        format!(
            r#"{{"text":"x","index":{},"kind":"SERVER_STREAM"}}"#,
            count - 1
        )
    );
}

#[test]
fn grpc_verbose_shows_headers_and_trailers() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let out = grpc(
        &[
            "-v",
            srv.sock.to_str().unwrap(),
            "call",
            "udskit.test.Echo/Unary",
            "-d",
            "{}",
            "-H",
            "x-mine: 1",
            "--authority",
            "example.test",
        ],
        b"",
    );
    ok(&out);
    let err = stderr_of(&out);
    for line in [
        "> :path /udskit.test.Echo/Unary\n",
        "> :authority example.test\n",
        "> x-mine: 1\n",
        "< content-type: application/grpc\n",
        "< x-initial: hello\n",
        "< x-trailer: done\n",
        "< grpc-status: 0\n",
    ] {
        assert!(err.contains(line), "{line:?} missing in:\n{err}");
    }
}

#[test]
fn grpc_status_reaches_the_exit_code() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let sock = srv.sock.to_str().unwrap();
    let out = grpc(
        &[
            sock,
            "call",
            "udskit.test.Echo/Fail",
            "-d",
            r#"{"code": 5, "message": "no such thing"}"#,
        ],
        b"",
    );
    let err = failed(&out, 64 + 5);
    assert_eq!(
        err,
        format!(
            "udskit: error: udskit.test.Echo/Fail on unix:{sock}: the server answered NOT_FOUND (code 5): no such thing\n"
        )
    );
    assert!(out.stdout.is_empty());
    let out = grpc(
        &[
            sock,
            "call",
            "udskit.test.Echo/Fail",
            "-d",
            r#"{"code": 16, "message": "who?"}"#,
        ],
        b"",
    );
    assert!(failed(&out, 64 + 16).contains("UNAUTHENTICATED (code 16): who?"));
    // Details (grpc-status-details-bin): a google.rpc.ErrorInfo, decoded.
    let out = grpc(
        &[
            sock,
            "call",
            "udskit.test.Echo/Fail",
            "-d",
            r#"{"code": 9, "message": "not yet", "reason": "WARMING_UP"}"#,
        ],
        b"",
    );
    assert_eq!(
        failed(&out, 64 + 9),
        format!(
            "udskit: error: udskit.test.Echo/Fail on unix:{sock}: the server answered FAILED_PRECONDITION (code 9): not yet \
             (details: [{{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"value\":{{\"domain\":\"udskit.test\",\"reason\":\"WARMING_UP\"}}}}])\n"
        )
    );
}

#[test]
fn grpc_max_time_ends_a_call_that_does_not_end() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let mut c = udskit();
    c.args([
        "grpc",
        srv.sock.to_str().unwrap(),
        "call",
        "udskit.test.Echo/Bidi",
        "--max-time",
        "1s",
    ]);
    // stdin stays open: the call would go on for ever.
    let mut bg = Bg::spawn_piped(c, dir.path(), "udskit");
    let st = bg.wait_exit(LIMIT);
    assert_eq!(st.code(), Some(64 + 4), "{}", bg.stderr());
    assert!(
        bg.stderr().contains("not done within 1s (--max-time)"),
        "{}",
        bg.stderr()
    );
}

/// --max-time holds while stdout is not read (the answers waiting for room, and the wait
/// for the writer at the end).
#[test]
fn grpc_max_time_holds_while_stdout_is_not_read() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let text = "x".repeat(1000);
    let data = format!("{{\"text\":\"{text}\",\"count\":10000000}}");
    let mut c = udskit();
    c.args([
        "grpc",
        srv.sock.to_str().unwrap(),
        "call",
        "udskit.test.Echo/ServerStream",
    ]);
    c.args(["-d", &data, "--max-time", "1s"]);
    let out = output_with_stdout_unread(c, LIMIT);
    assert_eq!(out.status.code(), Some(64 + 4), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("not done within 1s (--max-time)"),
        "{}",
        stderr_of(&out)
    );
}

/// A unary call has one answer: an OK with none, or with two, is an error (exit 77, as
/// grpc-go's cardinality check), the answers that came still shown.
#[test]
fn grpc_unary_call_with_no_or_two_answers_is_an_error() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), false);
    let sock = srv.sock.to_str().unwrap();
    let fixtures = fixture("");
    let proto = ["-I", fixtures.to_str().unwrap(), "--proto", "odd.proto"];
    for (method, shown, sent) in [("None", 0, "no answer"), ("Two", 2, "2 answers")] {
        let call = [sock, "call", &format!("udskit.test.Odd/{method}")];
        let out = grpc(&[&call[..], &proto[..]].concat(), b"");
        assert_eq!(out.status.code(), Some(64 + 13), "{}", stderr_of(&out));
        assert_eq!(objects(&String::from_utf8_lossy(&out.stdout)).len(), shown);
        assert!(
            stderr_of(&out).contains(&format!(
                "the server ended the call with OK but sent {sent} (the method answers one message)"
            )),
            "{}",
            stderr_of(&out)
        );
    }
}

#[test]
fn grpc_proto_and_protoset_without_reflection() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), false);
    let sock = srv.sock.to_str().unwrap();
    let out = grpc(&[sock, "list"], b"");
    let err = failed(&out, 1);
    assert!(
        err.contains(
            "the server does not offer reflection (neither grpc.reflection.v1 nor v1alpha)"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: give the schema with --proto FILE"),
        "{err}"
    );

    let proto = fixture("echo.proto");
    let proto = proto.to_str().unwrap();
    let out = grpc(&[sock, "--proto", proto, "list"], b"");
    assert_eq!(ok(&out), "udskit.test.Echo\n");
    let out = grpc(
        &[
            sock,
            "--proto",
            proto,
            "call",
            "udskit.test.Echo/Unary",
            "-d",
            r#"{"text":"by proto"}"#,
        ],
        b"",
    );
    assert_eq!(objects(&ok(&out))[0]["text"], "by proto");
    // -I names where imports are found.
    let fixtures = fixture("");
    let out = grpc(
        &[
            sock,
            "-I",
            fixtures.to_str().unwrap(),
            "--proto",
            "echo.proto",
            "call",
            "udskit.test.Echo/ServerStream",
            "-d",
            r#"{"count":2}"#,
        ],
        b"",
    );
    assert_eq!(objects(&ok(&out)).len(), 2);

    // A FileDescriptorSet made by protoc.
    let set = dir.path().join("echo.protoset");
    let st = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "--include_imports"])
        .arg(format!("-I{}", fixtures.display()))
        .arg(format!("--descriptor_set_out={}", set.display()))
        .arg("echo.proto")
        .status()
        .unwrap();
    assert!(st.success());
    let out = grpc(
        &[
            sock,
            "--protoset",
            set.to_str().unwrap(),
            "call",
            "udskit.test.Echo/ClientStream",
            "-d",
            r#"{"text":"p"} {"text":"q"}"#,
        ],
        b"",
    );
    assert_eq!(objects(&ok(&out))[0]["text"], "p,q");

    // A .proto that does not compile, and a file that is no descriptor set.
    let bad = dir.path().join("bad.proto");
    std::fs::write(&bad, "syntax = \"proto3\";\nmessage {\n").unwrap();
    let out = grpc(&[sock, "--proto", bad.to_str().unwrap(), "list"], b"");
    assert!(failed(&out, 1).contains("compiling"), "{}", stderr_of(&out));
    let out = grpc(&[sock, "--protoset", bad.to_str().unwrap(), "list"], b"");
    assert!(
        failed(&out, 1).contains("not a FileDescriptorSet"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn grpc_ten_mib_message_both_ways() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let text: String = (0..10 << 20)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let request = serde_json::json!({ "text": text }).to_string();
    let body = dir.path().join("big.json");
    std::fs::write(&body, &request).unwrap();
    let call = [
        srv.sock.to_str().unwrap(),
        "call",
        "udskit.test.Echo/Unary",
        "-d",
        &format!("@{}", body.display()),
    ];
    // Past the default --max-msg-sz (4 MiB, as grpcurl's), the answer is refused unread.
    let out = grpc(&call, b"");
    assert_eq!(
        failed(&out, 64 + 8),
        format!(
            "udskit: error: udskit.test.Echo/Unary on unix:{}: an answer message of {} bytes is \
             larger than --max-msg-sz (4194304 bytes); it was not read\nhint: --max-msg-sz \
             BYTES takes larger answers\n",
            srv.sock.display(),
            // The text, its tag and length, and the reply's other fields.
            (10 << 20) + 7
        )
    );
    let out = grpc(&[&call[..], &["--max-msg-sz", "16777216"]].concat(), b"");
    let got = objects(&ok(&out));
    assert_eq!(got[0]["text"].as_str().unwrap().len(), 10 << 20);
    assert!(got[0]["text"] == text.as_str());
}

#[test]
fn grpc_bad_input_is_told_clearly() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let sock = srv.sock.to_str().unwrap();
    let at = format!("udskit.test.Echo/Unary on unix:{sock}");

    let out = grpc(
        &[sock, "call", "udskit.test.Echo/Unary", "-d", r#"{"text": "#],
        b"",
    );
    assert_eq!(
        failed(&out, 1),
        format!(
            "udskit: error: {at}: -d: not a udskit.test.EchoRequest in JSON: EOF while parsing a value at line 1 column 9\n"
        )
    );
    let out = grpc(
        &[
            sock,
            "call",
            "udskit.test.Echo/Unary",
            "-d",
            r#"{"txt": "a"}"#,
        ],
        b"",
    );
    assert!(failed(&out, 1).contains("unrecognized field name 'txt'"));
    let out = grpc(
        &[sock, "call", "udskit.test.Echo/Bidi"],
        b"{\"text\":\"a\"}\n[oops\n",
    );
    assert!(failed(&out, 1).contains("stdin line 2: not a udskit.test.EchoRequest in JSON"));

    let out = grpc(&[sock, "call", "udskit.test.Echo/Nope"], b"");
    let err = failed(&out, 1);
    assert!(err.contains("udskit.test.Echo has no method Nope"), "{err}");
    assert!(
        err.contains("hint: `udskit grpc SOCKET list udskit.test.Echo` shows its methods"),
        "{err}"
    );
    let out = grpc(&[sock, "call", "udskit.test.Nope/X"], b"");
    assert!(failed(&out, 1).contains("the schema has no service udskit.test.Nope"));

    // Usage errors: exit 2.
    assert!(failed(&grpc(&[sock, "call"], b""), 2).contains("call needs the method"));
    assert!(failed(&grpc(&[sock, "list", "-H", "nocolon"], b""), 2).contains("-H 'nocolon'"));
    assert!(failed(&grpc(&[sock, "list", "-d", "{}"], b""), 2).contains("-d is for call"));
    failed(&grpc(&[sock, "frobnicate"], b""), 2);

    let gone = dir.path().join("gone.sock");
    let out = grpc(&[gone.to_str().unwrap(), "list"], b"");
    assert!(failed(&out, 1).contains("no such file"));
}

#[test]
fn grpc_peers_that_are_not_grpc() {
    if !have("nginx") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    // nginx speaking HTTP/1.1 only: the HTTP/2 preface gets a 400 and a close.
    let out = grpc(&[ng.sock.to_str().unwrap(), "list"], b"");
    let err = failed(&out, 1);
    assert!(
        err.contains("the peer does not speak gRPC's HTTP/2 (h2c)"),
        "{err}"
    );
    assert!(err.contains("hint: is this a gRPC server?"), "{err}");
    // nginx speaking h2c, but not gRPC: an HTML 405 or 404.
    let out = grpc(&[ng.h2_sock.to_str().unwrap(), "list"], b"");
    let err = failed(&out, 1);
    assert!(
        err.contains("the server is not gRPC: it answered HTTP 40"),
        "{err}"
    );
    assert!(err.contains("content-type text/html"), "{err}");
    // A peer that echoes what it is sent: no HTTP/2 at all.
    let echo = dir.path().join("echo.sock");
    let mut c = udskit();
    c.args(["listen", "-k", "--echo"]).arg(&echo);
    let _echo = Bg::spawn(c, dir.path(), "echo");
    wait_for_socket(&echo);
    let out = grpc(
        &[echo.to_str().unwrap(), "call", "a.B/C", "--max-time", "20s"],
        b"",
    );
    let err = failed(&out, 1);
    assert!(
        err.contains("the peer does not speak gRPC's HTTP/2 (h2c)"),
        "{err}"
    );
}

/// containerd offers no reflection: udskit says so, and its API works from a .proto file.
#[test]
fn grpc_containerd_without_reflection() {
    if !have("containerd") {
        return;
    }
    if !is_root() {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let sock = d.join("c.sock");
    std::fs::write(
        d.join("config.toml"),
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{0}/c.sock\"\n[ttrpc]\n  address = \"{0}/c.sock.ttrpc\"\n",
            d.display()
        ),
    )
    .unwrap();
    let mut c = Command::new("containerd");
    c.arg("--config")
        .arg(d.join("config.toml"))
        .stdout(Stdio::null());
    let _containerd = Bg::spawn(c, d, "containerd");
    wait_for_socket(&sock);
    let sock = sock.to_str().unwrap();
    let out = grpc(&["--wait", "10s", sock, "list"], b"");
    let err = failed(&out, 1);
    assert!(
        err.contains(
            "the server does not offer reflection (neither grpc.reflection.v1 nor v1alpha)"
        ),
        "{err}"
    );
    let proto = fixture("containerd_version.proto");
    let out = grpc(
        &[
            sock,
            "--proto",
            proto.to_str().unwrap(),
            "call",
            "containerd.services.version.v1.Version/Version",
        ],
        b"",
    );
    let got = objects(&ok(&out));
    let version = Command::new("containerd")
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    let reported = got[0]["version"].as_str().unwrap();
    assert!(
        !reported.is_empty() && version.contains(reported),
        "{reported} vs {version}"
    );
}

/// On a terminal (a pty from script(1)) answers are pretty-printed, coloured unless
/// --color=never; piped they are one object per line (every other test).
#[test]
fn grpc_answers_are_pretty_on_a_terminal() {
    if !grpcio_here() || !have("script") {
        return;
    }
    let dir = tempdir();
    let srv = GrpcServer::start(dir.path(), true);
    let on_tty = |color: &str| {
        let mut c = Command::new("script");
        c.arg("-qec")
            .arg(format!(
                "{} --color={color} grpc {} call udskit.test.Echo/Unary -d '{{\"text\":\"t\"}}'",
                env!("CARGO_BIN_EXE_udskit"),
                srv.sock.display()
            ))
            .arg("/dev/null")
            .stdin(Stdio::null());
        let out = run_with_input(c, b"", LIMIT);
        String::from_utf8(ok(&out).into_bytes())
            .unwrap()
            .replace("\r\n", "\n")
    };
    assert_eq!(
        on_tty("never"),
        "{\n  \"text\": \"t\",\n  \"kind\": \"UNARY\"\n}\n"
    );
    let coloured = on_tty("always");
    assert!(coloured.contains("\x1b[1;34mtext\x1b[0m"), "{coloured:?}");
    assert!(coloured.contains("\x1b[32mUNARY\x1b[0m"), "{coloured:?}");
}

/// --wait retries until the server's socket appears; --connect-timeout bounds an attempt
/// that hangs (a TCP listener whose accept queue is full).
#[test]
fn grpc_wait_and_connect_timeout() {
    if !grpcio_here() {
        return;
    }
    let dir = tempdir();
    let mut c = udskit();
    c.args(["grpc", "--wait", "30s"])
        .arg(dir.path().join("grpc.sock"))
        .args([
            "call",
            "udskit.test.Echo/Unary",
            "-d",
            r#"{"text":"waited"}"#,
        ]);
    let client = Bg::spawn_piped(c, dir.path(), "udskit");
    let _srv = GrpcServer::start(dir.path(), true);
    let (st, out) = client.finish(LIMIT);
    assert!(st.success(), "{st}");
    let got = objects(&String::from_utf8(out).unwrap());
    assert_eq!(got[0]["text"], "waited");

    let (_full, port) = crate::support::peers::unaccepting_tcp_listener(dir.path());
    let out = grpc(
        &[
            &format!("tcp:127.0.0.1:{port}"),
            "list",
            "--connect-timeout",
            "300ms",
        ],
        b"",
    );
    let err = failed(&out, 1);
    assert!(
        err.contains(&format!(
            "connecting to tcp:127.0.0.1:{port}: no connection within 300ms (--connect-timeout)"
        )),
        "{err}"
    );
}

/// A udp: SOCKET is a usage error with a hint, not a failed connect (exit 1).
#[test]
fn a_udp_socket_is_a_usage_error() {
    let out = run_with_input(
        ud(&["grpc", "udp:127.0.0.1:9", "list"]),
        b"",
        Duration::from_secs(30),
    );
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("udp:127.0.0.1:9: a UDP address carries datagrams; gRPC runs over HTTP/2"),
        "{err}"
    );
    assert!(
        err.contains("hint: for a server on that port over TCP write tcp:HOST:PORT"),
        "{err}"
    );
}
