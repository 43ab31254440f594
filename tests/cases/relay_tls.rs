//! `relay` with tls: on either side, against real TLS peers: curl and openssl s_client in
//! front of a TLS listener, socat's OPENSSL-LISTEN behind a TLS target, a wrong CA, an
//! expired certificate, mutual TLS with and without a client certificate. Certificates are
//! made here with rcgen.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::peers::{have, have_python_modules};
use crate::support::servers;
use crate::support::*;

/// Starts `udskit relay ARGS...`, waits for its "listening" line; returns it and the port
/// of its tcp: or tls: listener.
fn relay(dir: &Path, name: &str, args: &[&str]) -> (Bg, u16) {
    let mut c = udskit();
    c.arg("relay").args(args);
    let mut bg = Bg::spawn(c, dir, name);
    let err = bg.wait_stderr("listening on");
    let line = err.lines().find(|l| l.contains("listening on")).unwrap();
    let port = port_after(line, "127.0.0.1:").unwrap_or(0);
    (bg, port)
}

/// Writes `NAME.pem` (the certificate) and `NAME.key` into `dir`.
fn write_pair(dir: &Path, name: &str, cert: &str, key: &rcgen::KeyPair) {
    std::fs::write(dir.join(format!("{name}.pem")), cert).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

/// A CA (`ca.pem`), another one (`other-ca.pem`), a server certificate for localhost
/// (`server.pem`/`.key`), an expired one (`expired.pem`/`.key`) and a client certificate
/// for CN=alice (`client.pem`/`.key`), all but other-ca signed by ca.
fn make_certs(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "udskit test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    write_pair(dir, "ca", &ca_cert.pem(), &ca_key);
    let issuer = Issuer::new(ca, ca_key);

    let other_key = KeyPair::generate().unwrap();
    let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
    other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    write_pair(
        dir,
        "other-ca",
        &other.self_signed(&other_key).unwrap().pem(),
        &other_key,
    );

    let leaf = |name: &str, cn: &str, expired: bool| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = p.signed_by(&key, &issuer).unwrap();
        write_pair(dir, name, &cert.pem(), &key);
    };
    leaf("server", "localhost", false);
    leaf("expired", "localhost", true);
    leaf("client", "alice", false);
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A python echo server on a unix socket.
fn unix_echo(dir: &Path) -> (Bg, std::path::PathBuf) {
    let sock = dir.join("echo.sock");
    let code = format!(
        "import socketserver\n\
         class H(socketserver.StreamRequestHandler):\n\
         \x20   def handle(self):\n\
         \x20       while (b := self.request.recv(65536)):\n\
         \x20           self.request.sendall(b)\n\
         socketserver.ThreadingUnixStreamServer({:?}, H).serve_forever()\n",
        s(&sock)
    );
    let mut c = Command::new("python3");
    c.args(["-c", &code]);
    let bg = Bg::spawn(c, dir, "echo");
    wait_for_socket(&sock);
    (bg, sock)
}

/// A port nobody listens on right now, for a peer (socat) that cannot bind port 0 and tell.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn tls_listener_self_signed_serves_curl_to_uvicorn() {
    if !have("curl") || !have("openssl") || !have_python_modules(&["uvicorn", "starlette"]) {
        return;
    }
    let dir = tempdir();
    let app = servers::Uvicorn::start(dir.path());
    let cert = dir.path().join("cert.pem");
    let (mut r, port) = relay(
        dir.path(),
        "relay",
        &[
            "tls:localhost:0",
            s(&app.sock),
            "--self-signed",
            "--self-signed-out",
            s(&cert),
        ],
    );
    let out = Command::new("curl")
        .args(["-sS", "--cacert", s(&cert)])
        .arg(format!("https://localhost:{port}/data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        r#"{"message":"Hello from Service B!"}"#
    );
    // The fingerprint logged is the certificate's, as openssl computes it.
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", s(&cert)])
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout);
    let fp = fp.trim().rsplit('=').next().unwrap();
    assert!(
        r.stderr().contains(&format!("SHA-256 fingerprint {fp}")),
        "{fp}\n{}",
        r.stderr()
    );

    // A client that does not trust it fails its handshake; only that connection ends.
    let out = run_with_input(
        {
            let mut c = Command::new("openssl");
            c.args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
                .arg("-connect")
                .arg(format!("localhost:{port}"));
            c
        },
        b"",
        Duration::from_secs(20),
    );
    assert!(!out.status.success());
    r.wait_stderr("alert: unknown CA");
    let out = Command::new("curl")
        .args(["-sS", "--cacert", s(&cert)])
        .arg(format!("https://localhost:{port}/data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn tls_target_checks_the_server_certificate() {
    if !have("socat") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    make_certs(d);
    let serve = |cert: &str| {
        let port = free_port();
        let mut c = Command::new("socat");
        c.arg(format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={},key={}",
            s(&d.join(format!("{cert}.pem"))),
            s(&d.join(format!("{cert}.key")))
        ))
        .arg("EXEC:cat");
        let bg = Bg::spawn(c, d, &format!("socat-{cert}"));
        wait_until(Duration::from_secs(10), "socat listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        (bg, port)
    };
    let (_good, good) = serve("server");
    let through = |name: &str, target: String, cacert: &str| {
        let (r, port) = relay(
            d,
            name,
            &[
                "tcp:0",
                &target,
                "--cacert",
                s(&d.join(format!("{cacert}.pem"))),
            ],
        );
        let out = run_with_input(
            ud(&["connect", &format!("tcp:{port}")]),
            b"ping over tls\n",
            Duration::from_secs(20),
        );
        (r, out)
    };
    let (_r, out) = through("ok", format!("tls:localhost:{good}"), "ca");
    assert_eq!(out.stdout, b"ping over tls\n", "{}", stderr_of(&out));

    let (mut r, out) = through("wrong", format!("tls:localhost:{good}"), "other-ca");
    assert!(out.stdout.is_empty());
    r.wait_stderr("unknown CA");

    let (_old, expired) = serve("expired");
    let (mut r, out) = through("expired", format!("tls:localhost:{expired}"), "ca");
    assert!(out.stdout.is_empty());
    r.wait_stderr("bad certificate: it has expired");

    let (mut r, out) = through("name", format!("tls:127.0.0.1:{good}"), "ca");
    assert!(out.stdout.is_empty());
    r.wait_stderr("bad certificate: it is for localhost, not 127.0.0.1");

    // A CA's certificate served as the server's own (what `openssl req -x509` makes).
    let (_ca, ca) = serve("ca");
    let (mut r, out) = through("ca-as-server", format!("tls:localhost:{ca}"), "ca");
    assert!(out.stdout.is_empty());
    r.wait_stderr("bad certificate: it is a CA certificate (CA:TRUE), which is no server's own");
}

#[test]
fn tls_listener_with_client_ca_is_mutual_tls() {
    if !have("socat") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    make_certs(d);
    let (_echo, sock) = unix_echo(d);
    let (mut r, port) = relay(
        d,
        "relay",
        &[
            "tls:localhost:0",
            s(&sock),
            "--cert",
            s(&d.join("server.pem")),
            "--key",
            s(&d.join("server.key")),
            "--client-ca",
            s(&d.join("ca.pem")),
        ],
    );
    let socat = |with_cert: bool| {
        let mut a = format!(
            "OPENSSL:localhost:{port},cafile={},verify=1",
            s(&d.join("ca.pem"))
        );
        if with_cert {
            a += &format!(
                ",cert={},key={}",
                s(&d.join("client.pem")),
                s(&d.join("client.key"))
            );
        }
        let mut c = Command::new("socat");
        c.args(["-t", "5", "-"]).arg(a);
        run_with_input(c, b"mutual\n", Duration::from_secs(20))
    };
    let out = socat(true);
    assert_eq!(out.stdout, b"mutual\n", "{}", stderr_of(&out));
    r.wait_stderr("[CN=alice]");
    let out = socat(false);
    assert!(out.stdout.is_empty());
    r.wait_stderr("client TLS handshake: the client sent no certificate");
}

#[test]
fn tls_options_need_a_tls_side() {
    let out = ud(&["relay", "tcp:0", "/tmp/x.sock", "--insecure"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("for a tls: TARGET"));
    let out = ud(&["relay", "tls:0", "/tmp/x.sock"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--cert FILE --key FILE, or --self-signed"));
    let out = ud(&["listen", "tls:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("relay and connect take tls:HOST:PORT"));
}

#[test]
fn connect_speaks_tls_like_s_client() {
    if !have("socat") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    make_certs(d);
    let port = free_port();
    let mut c = Command::new("socat");
    c.arg(format!(
        "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={},key={}",
        s(&d.join("server.pem")),
        s(&d.join("server.key"))
    ))
    .arg("EXEC:cat");
    let _socat = Bg::spawn(c, d, "socat");
    let target = format!("tls:localhost:{port}");
    let data = random_bytes(300_000);
    let run = |extra: &[&str]| {
        let mut args = vec!["connect", "--wait", "10s", target.as_str()];
        args.extend_from_slice(extra);
        run_with_input(ud(&args), &data, Duration::from_secs(30))
    };
    let ca = d.join("ca.pem");
    let out = run(&["--cacert", s(&ca)]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sha256(&out.stdout), sha256(&data));
    let out = run(&["--insecure"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout.len(), data.len());
    let out = run(&["--cacert", s(&d.join("other-ca.pem"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("unknown CA"),
        "{}",
        stderr_of(&out)
    );
    assert!(out.stdout.is_empty());
}

/// nginx on DIR/pp.sock expecting a PROXY header, answering with the client it names.
fn nginx_proxy_protocol(dir: &Path) -> (Bg, std::path::PathBuf) {
    let d = s(dir);
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let conf = format!(
        "{}daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/tmp/body;\n\
         proxy_temp_path {d}/tmp/proxy;\n fastcgi_temp_path {d}/tmp/fastcgi;\n\
         uwsgi_temp_path {d}/tmp/uwsgi;\n scgi_temp_path {d}/tmp/scgi;\n\
         server {{\n  listen unix:{d}/pp.sock proxy_protocol;\n\
         location / {{ default_type text/plain;\n\
         return 200 \"client=$proxy_protocol_addr:$proxy_protocol_port\\n\"; }}\n }}\n}}\n",
        if root { "user root;\n" } else { "" }
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut c = Command::new("nginx");
    c.arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path);
    let bg = Bg::spawn(c, dir, "nginx");
    let sock = dir.join("pp.sock");
    wait_for_socket(&sock);
    (bg, sock)
}

/// An HTTP/1.0 GET over a TCP connection to `port`; returns the answer and the client's port.
fn get(port: u16) -> (String, u16) {
    use std::io::{Read, Write};
    let mut t = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let me = t.local_addr().unwrap().port();
    t.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    t.read_to_string(&mut answer).unwrap();
    (answer, me)
}

#[test]
fn proxy_protocol_tells_nginx_the_client() {
    if !have("nginx") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let (_nginx, sock) = nginx_proxy_protocol(d);
    for v in ["v1", "v2"] {
        let (_r, port) = relay(d, v, &["tcp:0", s(&sock), "--proxy-protocol", v]);
        let (answer, me) = get(port);
        assert!(
            answer.contains(&format!("client=127.0.0.1:{me}\n")),
            "{v}: {answer}"
        );
    }
    // Without the header nginx refuses the connection: the test sees the difference.
    let (_r, port) = relay(d, "none", &["tcp:0", s(&sock)]);
    assert!(!get(port).0.contains("client="));
}

#[test]
fn accept_proxy_protocol_from_haproxy() {
    if !have("haproxy") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let (_echo, sock) = unix_echo(d);
    let (mut r, relay_port) = relay(d, "relay", &["tcp:0", s(&sock), "--accept-proxy-protocol"]);
    let front = free_port();
    let conf = format!(
        "defaults\n mode tcp\n timeout connect 5s\n timeout client 30s\n timeout server 30s\n\
         frontend f\n bind 127.0.0.1:{front}\n default_backend b\n\
         backend b\n server relay 127.0.0.1:{relay_port} send-proxy-v2\n"
    );
    std::fs::write(d.join("haproxy.cfg"), conf).unwrap();
    let mut c = Command::new("haproxy");
    c.args(["-db", "-f"]).arg(d.join("haproxy.cfg"));
    let _haproxy = Bg::spawn(c, d, "haproxy");
    wait_until(Duration::from_secs(10), "haproxy listening", || {
        std::net::TcpStream::connect(("127.0.0.1", front)).is_ok()
    });
    use std::io::{Read, Write};
    let mut t = std::net::TcpStream::connect(("127.0.0.1", front)).unwrap();
    let me = t.local_addr().unwrap().port();
    t.write_all(b"through haproxy\n").unwrap();
    t.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    t.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"through haproxy\n");
    r.wait_stderr(&format!("127.0.0.1:{me} (via 127.0.0.1:"));

    // A client without a header is closed with a log line; the relay goes on.
    let mut t = std::net::TcpStream::connect(("127.0.0.1", relay_port)).unwrap();
    t.write_all(b"hello there\n").unwrap();
    let mut back = Vec::new();
    let _ = t.read_to_end(&mut back);
    assert!(back.is_empty());
    r.wait_stderr("no PROXY protocol header: the client began with \"hello\"");
    let mut t = std::net::TcpStream::connect(("127.0.0.1", relay_port)).unwrap();
    t.write_all(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nafter\n")
        .unwrap();
    t.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    t.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"after\n");
    r.wait_stderr("1.2.3.4:1 (via");

    // A client that sends nothing is closed once --connect-timeout has passed, and its
    // line tells how long it was held.
    let (mut r, relay_port) = relay(
        d,
        "relay-timeout",
        &[
            "tcp:0",
            s(&sock),
            "--accept-proxy-protocol",
            "--connect-timeout",
            "200ms",
        ],
    );
    let mut t = std::net::TcpStream::connect(("127.0.0.1", relay_port)).unwrap();
    let _ = t.read_to_end(&mut Vec::new());
    let err = r.wait_stderr("s: no PROXY protocol header within 200ms");
    let line = err.lines().find(|l| l.contains("no PROXY")).unwrap();
    let secs: f64 = line
        .split(", ")
        .nth(3)
        .unwrap()
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(secs >= 0.2, "the wait is the connection's: {line}");
}

/// Starts `udskit relay ARGS...` expecting it to refuse them: its exit code and stderr.
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let out = ud(&["relay"]).args(args).output().unwrap();
    (out.status.code(), stderr_of(&out))
}

#[test]
fn guard_on_a_tls_listener_serves_https_clients() {
    if !have("curl") || !have_python_modules(&["uvicorn", "starlette"]) {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let app = servers::Uvicorn::start(d);
    let cert = d.join("cert.pem");
    let (mut r, port) = relay(
        d,
        "guard",
        &[
            "tls:localhost:0",
            s(&app.sock),
            "--self-signed",
            "--self-signed-out",
            s(&cert),
            "--http",
            "--read-only",
        ],
    );
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--cacert", s(&cert), "-w", "\n%{http_code}"])
            .args(extra)
            .arg(format!("https://localhost:{port}/data"))
            .output()
            .unwrap()
    };
    // An allowed GET is forwarded over the client's TLS to the unix upstream.
    let out = curl(&[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"message\":\"Hello from Service B!\"}\n200"
    );
    // A denied POST gets the guard's 403 and its JSON message, over TLS too.
    let out = curl(&["-X", "POST", "-d", "x=1"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"message\":\"udskit: POST /data denied (rule: none matched, denied by default)\"}\n\n403"
    );
    r.wait_stderr("POST /data 403");
    assert!(r.stderr().contains("GET /data 200"), "{}", r.stderr());
    // A plain-HTTP client on the TLS port fails its handshake; the guard goes on.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://localhost:{port}/data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(curl(&[]).status.success());
}

/// A python HTTPS server on 127.0.0.1 with `cert` (for localhost): answers each GET with
/// the path it saw, and notes every request line in DIR/https.log. Its port.
fn https_upstream(dir: &Path, cert: &str) -> (Bg, u16) {
    let port_file = dir.join("https.port");
    let code = format!(
        "import http.server, ssl\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   protocol_version = 'HTTP/1.1'\n\
         \x20   def note(self):\n\
         \x20       open({log:?}, 'a').write(self.requestline + '\\n')\n\
         \x20   def do_GET(self):\n\
         \x20       self.note()\n\
         \x20       body = ('tls upstream saw ' + self.path).encode()\n\
         \x20       self.send_response(200)\n\
         \x20       self.send_header('Content-Length', str(len(body)))\n\
         \x20       self.end_headers()\n\
         \x20       self.wfile.write(body)\n\
         \x20   def do_POST(self):\n\
         \x20       self.note()\n\
         \x20       self.send_response(500)\n\
         \x20       self.send_header('Content-Length', '0')\n\
         \x20       self.end_headers()\n\
         \x20   def log_message(self, *a):\n\
         \x20       pass\n\
         srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n\
         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
         ctx.load_cert_chain({pem:?}, {key:?})\n\
         srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n\
         open({port:?} + '.tmp', 'w').write(str(srv.server_address[1]))\n\
         import os; os.rename({port:?} + '.tmp', {port:?})\n\
         srv.serve_forever()\n",
        log = s(&dir.join("https.log")),
        pem = s(&dir.join(format!("{cert}.pem"))),
        key = s(&dir.join(format!("{cert}.key"))),
        port = s(&port_file),
    );
    let mut c = Command::new("python3");
    c.args(["-c", &code]);
    let bg = Bg::spawn(c, dir, "https");
    wait_until(Duration::from_secs(20), "the https upstream's port", || {
        port_file.exists()
    });
    let port = std::fs::read_to_string(&port_file)
        .unwrap()
        .parse()
        .unwrap();
    (bg, port)
}

#[test]
fn guard_talks_https_to_a_tls_target() {
    if !have("curl") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    make_certs(d);
    let (_up, up) = https_upstream(d, "server");
    let sock = d.join("guard.sock");
    let (_g, _) = relay(
        d,
        "guard",
        &[
            s(&sock),
            &format!("tls:localhost:{up}"),
            "--cacert",
            s(&d.join("ca.pem")),
            "--http",
            "--read-only",
        ],
    );
    let curl = |sock: &Path, extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", "--unix-socket", s(sock)])
            .args(extra)
            .arg("http://x/v1.41/containers/json?all=1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        curl(&sock, &[]),
        "tls upstream saw /v1.41/containers/json?all=1\n200"
    );
    // A denied POST never reaches the TLS target.
    assert_eq!(
        curl(&sock, &["-X", "POST"]),
        "{\"message\":\"udskit: POST /v1.41/containers/json denied (rule: none matched, denied by default)\"}\n\n403"
    );
    let log = std::fs::read_to_string(d.join("https.log")).unwrap();
    assert_eq!(log, "GET /v1.41/containers/json?all=1 HTTP/1.1\n", "{log}");

    // A target whose certificate the CA given does not sign: a 502 saying why.
    let sock = d.join("wrong.sock");
    let (mut g, _) = relay(
        d,
        "wrong",
        &[
            s(&sock),
            &format!("tls:localhost:{up}"),
            "--cacert",
            s(&d.join("other-ca.pem")),
            "--http",
        ],
    );
    let answer = curl(&sock, &[]);
    assert!(answer.ends_with("\n502"), "{answer}");
    assert!(answer.contains("unknown CA"), "{answer}");
    g.wait_stderr("unknown CA");
}

#[test]
fn guard_on_tcp_or_tls_refuses_rules_by_uid() {
    for listen in [
        &["tls:127.0.0.1:0", "--self-signed"][..],
        &["tcp:127.0.0.1:0"][..],
    ] {
        for rule in [&["--allow-uid", "0"][..], &["--allow-gid", "0"][..]] {
            let mut args = listen.to_vec();
            args.extend(["/tmp/udskit-up-never.sock", "--http"]);
            args.extend(rule);
            let (code, err) = refused(&args);
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(
                err.contains("rules for clients by uid or gid need a unix LISTEN"),
                "{args:?}: {err}"
            );
        }
    }
}

#[test]
fn guard_reads_proxy_headers_and_will_not_send_them() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let up = d.join("up.sock");
    let code = format!(
        "import socket\n\
         s = socket.socket(socket.AF_UNIX); s.bind({up:?}); s.listen(8)\n\
         while True:\n\
         \x20   c, _ = s.accept(); buf = b''\n\
         \x20   while b'\\r\\n\\r\\n' not in buf:\n\
         \x20       d = c.recv(4096)\n\
         \x20       if not d: break\n\
         \x20       buf += d\n\
         \x20   line = buf.split(b'\\r\\n')[0]\n\
         \x20   c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s' % (len(line), line))\n\
         \x20   c.close()\n",
        up = s(&up)
    );
    let mut c = Command::new("python3");
    c.args(["-c", &code]);
    let _up = Bg::spawn(c, d, "upstream");
    wait_for_socket(&up);
    let (mut g, port) = relay(
        d,
        "guard",
        &[
            "tcp:0",
            s(&up),
            "--http",
            "--accept-proxy-protocol",
            "--read-only",
        ],
    );
    use std::io::{Read, Write};
    let ask = |head: &[u8]| {
        let mut t = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        t.write_all(head).unwrap();
        let mut back = Vec::new();
        let _ = t.read_to_end(&mut back);
        String::from_utf8_lossy(&back).into_owned()
    };
    // The header is read, and what follows is HTTP: the upstream sees the request alone.
    let answer = ask(
        b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 80\r\nGET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nGET /_ping HTTP/1.1"), "{answer}");
    // The client the header names is in the request's log line.
    let err = g.wait_stderr("GET /_ping 200");
    let line = err.lines().find(|l| l.contains("GET /_ping 200")).unwrap();
    assert!(line.contains("192.0.2.7:4711 (via 127.0.0.1:"), "{line}");
    // A v2 header too, and a denial names that client.
    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    v2.extend([198, 51, 100, 9, 127, 0, 0, 1, 0x1f, 0x90, 0, 80]);
    v2.extend(b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let answer = ask(&v2);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let err = g.wait_stderr("POST /containers/create 403");
    let line = err
        .lines()
        .find(|l| l.contains("POST /containers/create 403"))
        .unwrap();
    assert!(line.contains("198.51.100.9:8080 (via"), "{line}");
    // Without a header, the client is closed before any HTTP.
    let answer = ask(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(answer, "");
    g.wait_stderr("no PROXY protocol header");

    // Sending one is refused, and the error says why.
    let (code, err) = refused(&["tcp:0", s(&up), "--http", "--proxy-protocol", "v1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "--proxy-protocol cannot go with --http: the guard shares its connections to TARGET"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: --accept-proxy-protocol does go with --http"),
        "{err}"
    );
}

/// A TLS server (python's ssl) that sends 100,000 bytes and then, as the client's first
/// line asks: a close_notify (`clean`), a TCP close without one (`truncate`), or a reset.
const ODD_TLS_SERVER: &str = r#"
import socket, ssl, struct, sys, threading, time
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(16)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
def handle(c):
    t = ctx.wrap_socket(c, server_side=True)
    how = t.recv(100).strip()
    t.sendall(b"A" * 100000); time.sleep(0.2)
    if how == b"clean":
        t.unwrap()
    elif how == b"truncate":
        socket.socket(fileno=t.fileno()).shutdown(socket.SHUT_RDWR)
    else:
        t.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.5)
    socket.socket(fileno=t.detach()).close()
while True:
    c, _ = ls.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// Reads to the end from 127.0.0.1:PORT (over TLS when CA is given) after sending a line,
/// and says how it ended.
const END_CLIENT: &str = r#"
import socket, ssl, sys
port, how, ca = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3] if len(sys.argv) > 3 else None
s = socket.create_connection(("127.0.0.1", port))
if ca:
    s = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="localhost", suppress_ragged_eofs=False)
n = 0
try:
    # A relay whose TARGET is gone may have reset us before this is sent.
    s.sendall(how + b"\n")
    while (d := s.recv(65536)):
        n += len(d)
    print("clean end" if ca else "end", n)
except ssl.SSLEOFError:
    print("no close_notify", n)
except (ConnectionResetError, BrokenPipeError):
    print("reset", n)
"#;

/// What a TLS TARGET's end is passed on as: a close_notify as one (a FIN to a plain
/// client), a close without it as that again (no close_notify is made up for a TLS
/// client: a truncation never looks complete), a reset as a reset; and a TARGET that is
/// not there is a reset, as on the plain relay.
#[test]
fn a_tls_target_s_end_is_passed_on_as_it_came() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    make_certs(d);
    let mut c = Command::new("python3");
    c.args([
        "-c",
        ODD_TLS_SERVER,
        s(&d.join("server.pem")),
        s(&d.join("server.key")),
    ]);
    let mut server = Bg::spawn(c, d, "odd-tls");
    let port = port_after(&server.wait_stderr("port "), "port ").unwrap();
    let target = format!("tls:localhost:{port}");
    let ca = d.join("ca.pem");
    let (_plain, plain) = relay(d, "plain", &["tcp:0", &target, "--cacert", s(&ca)]);
    let (_tls, tls) = relay(
        d,
        "tls",
        &[
            "tls:0",
            &target,
            "--cacert",
            s(&ca),
            "--cert",
            s(&d.join("server.pem")),
            "--key",
            s(&d.join("server.key")),
        ],
    );
    let ends = |port: u16, how: &str, tls: bool| {
        let mut c = Command::new("python3");
        c.args(["-c", END_CLIENT, &port.to_string(), how]);
        if tls {
            c.arg(s(&ca));
        }
        let out = run_with_input(c, b"", Duration::from_secs(20));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(ends(plain, "clean", false), "end 100000");
    assert_eq!(ends(plain, "truncate", false), "end 100000");
    assert_eq!(ends(plain, "reset", false), "reset 100000");
    assert_eq!(ends(tls, "clean", true), "clean end 100000");
    assert_eq!(ends(tls, "truncate", true), "no close_notify 100000");
    assert_ne!(ends(tls, "reset", true), "clean end 100000");
    drop(server);
    let (_gone, gone) = relay(d, "gone", &["tcp:0", &target, "--cacert", s(&ca)]);
    assert_eq!(ends(gone, "x", false), "reset 0");
}
