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
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .unwrap_or(0);
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
}
