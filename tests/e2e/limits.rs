//! `dosim serve`'s connections are bounded: slow heads and bodies and idle connections are
//! closed, connections beyond `--max-connections` are refused, and running out of file
//! descriptors neither spins nor floods standard error.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use dosim_tests::{dosim_binary, Serve};

/// A guard against a hung test, never an expectation: the server closes well before it.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn connect(serve: &Serve) -> TcpStream {
    let stream = TcpStream::connect(serve.url.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    stream
}

/// Everything the server sends until it closes the connection.
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut text = Vec::new();
    match stream.read_to_end(&mut text) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn request(serve: &Serve, path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
        serve.token
    )
}

/// Reads one response with a `content-length` body.
fn read_response(stream: &mut TcpStream) -> String {
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while !text.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed mid-head");
        text.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&text).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    text.extend(body);
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn slow_heads_slow_bodies_and_idle_connections_are_closed() {
    let serve = Serve::start(&["--header-timeout", "1", "--body-timeout", "1"]);
    // (what is sent, what the answer starts with: "" for a close without an answer)
    let cases: &[(&str, &str)] = &[
        ("GET /v2/account HTTP/1.1\r\nhost: x\r\n", ""),
        ("", ""),
        (
            "POST /v2/droplets HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{}",
            "HTTP/1.1 408",
        ),
        (
            "POST /v2/droplets HTTP/1.1\r\nhost: x\r\ncontent-length: 10000000000\r\n\r\n{}",
            "HTTP/1.1 413",
        ),
    ];
    for (sent, answer) in cases {
        let mut stream = connect(&serve);
        let sent = sent.replace(
            "host: x\r\n",
            &format!("host: x\r\nauthorization: Bearer {}\r\n", serve.token),
        );
        stream.write_all(sent.as_bytes()).unwrap();
        let got = read_to_close(&mut stream);
        assert!(got.starts_with(answer), "{sent:?}: {got:?}");
        if !answer.is_empty() {
            assert!(got.contains("\"request_id\""), "{got}");
        }
    }
    // A kept-alive connection that stays idle after its response is closed too.
    let mut stream = connect(&serve);
    stream
        .write_all(request(&serve, "/v2/account").as_bytes())
        .unwrap();
    assert!(read_response(&mut stream).starts_with("HTTP/1.1 200"));
    assert_eq!(read_to_close(&mut stream), "");
}

#[test]
fn connections_beyond_the_cap_are_refused_and_slots_come_back() {
    let serve = Serve::start(&["--max-connections", "4"]);
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = connect(&serve);
            stream
                .write_all(request(&serve, "/v2/account").as_bytes())
                .unwrap();
            assert!(read_response(&mut stream).starts_with("HTTP/1.1 200"));
            stream
        })
        .collect();
    for _ in 0..3 {
        let mut extra = connect(&serve);
        let got = read_to_close(&mut extra);
        assert!(got.starts_with("HTTP/1.1 503"), "{got}");
        assert!(got.contains("at most 4 connections"), "{got}");
        let body: serde_json::Value =
            serde_json::from_str(got.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["id"], "service_unavailable");
        assert_eq!(body["request_id"], serde_json::Value::Null);
    }
    // The held connections still work.
    for stream in &mut held {
        stream
            .write_all(request(&serve, "/v2/account").as_bytes())
            .unwrap();
        assert!(read_response(stream).starts_with("HTTP/1.1 200"));
    }
    // A closed connection's slot comes back once the server has seen it close.
    held.pop();
    loop {
        let mut stream = connect(&serve);
        stream
            .write_all(request(&serve, "/v2/account").as_bytes())
            .unwrap();
        let got = read_response(&mut stream);
        if got.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(got.starts_with("HTTP/1.1 503"), "{got}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn out_of_file_descriptors_the_server_pauses_logs_rarely_and_recovers() {
    let stderr_path = std::env::temp_dir().join(format!("dosim-emfile-{}.log", std::process::id()));
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" serve --addr 127.0.0.1:0 --pg-clusters-max 0 --max-connections 1000")
        .arg(dosim_binary())
        .stderr(Stdio::from(stderr));
    let serve = Serve::spawn(command);
    // Far more connections than descriptors: the kernel queues them, the server cannot take them.
    let mut flood: Vec<TcpStream> = Vec::new();
    for _ in 0..150 {
        match TcpStream::connect(serve.url.trim_start_matches("http://")) {
            Ok(stream) => flood.push(stream),
            Err(_) => break,
        }
    }
    // Let the server meet the limit for a while.
    std::thread::sleep(Duration::from_millis(1500));
    drop(flood);
    // It serves again once descriptors are free.
    loop {
        let mut stream = connect(&serve);
        stream
            .write_all(request(&serve, "/v2/account").as_bytes())
            .unwrap();
        let mut first = [0u8; 12];
        if stream.read_exact(&mut first).is_ok() && first.starts_with(b"HTTP/1.1 200") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(serve);
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    let _ = std::fs::remove_file(&stderr_path);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("accept failed"))
        .collect();
    assert!(
        !lines.is_empty(),
        "the descriptor limit was never reached:\n{log}"
    );
    assert!(lines.len() <= 2, "{} lines:\n{log}", lines.len());
}

#[test]
fn off_loopback_the_control_plane_needs_a_token_or_an_explicit_open() {
    let refused = Command::new(dosim_binary())
        .args(["serve", "--addr", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--control-token") && stderr.contains("--control-open"),
        "{stderr}"
    );

    let log = std::env::temp_dir().join(format!("dosim-open-{}.log", std::process::id()));
    let mut command = Command::new(dosim_binary());
    command
        .args([
            "serve",
            "--addr",
            "0.0.0.0:0",
            "--control-open",
            "--pg-clusters-max",
            "0",
        ])
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    let open = Serve::spawn(command);
    let mut stream = connect(&open);
    stream
        .write_all(b"GET /_dosim/faults HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut stream).starts_with("HTTP/1.1 200"));
    drop(open);
    let warning = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(warning.contains("WARNING: --control-open"), "{warning}");

    let guarded = Serve::start_at(
        "0.0.0.0:0",
        &["--control-token", "k3y-for-tests", "--pg-clusters-max", "0"],
    );
    control_needs(&guarded, "k3y-for-tests");

    // The token from the environment, where the process list does not show it.
    let mut command = Command::new(dosim_binary());
    command
        .args(["serve", "--addr", "0.0.0.0:0", "--pg-clusters-max", "0"])
        .env("DOSIM_CONTROL_TOKEN", "env-k3y-for-tests")
        .stderr(Stdio::inherit());
    control_needs(&Serve::spawn(command), "env-k3y-for-tests");

    let short = Command::new(dosim_binary())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("DOSIM_CONTROL_TOKEN", "short")
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("DOSIM_CONTROL_TOKEN"), "{stderr}");
}

/// `serve`'s control endpoints answer only with `token`.
fn control_needs(serve: &Serve, token: &str) {
    // (authorization, status)
    for (auth, status) in [
        (String::new(), "HTTP/1.1 401"),
        (
            "authorization: Bearer nope-nope\r\n".to_owned(),
            "HTTP/1.1 401",
        ),
        (format!("authorization: Bearer {token}\r\n"), "HTTP/1.1 200"),
    ] {
        let mut stream = connect(serve);
        stream
            .write_all(format!("GET /_dosim/state HTTP/1.1\r\nhost: x\r\n{auth}\r\n").as_bytes())
            .unwrap();
        let got = read_response(&mut stream);
        assert!(got.starts_with(status), "{auth:?}: {got}");
    }
}
