//! A small PostgreSQL protocol v3 client over blocking sockets: startup, password authentication, simple queries, and every backend message the scripts compare.
//!
//! tokio-postgres keeps only the row count of a `CommandComplete` and hides `ReadyForQuery`, and the
//! scripts compare whole command tags (`INSERT 0 1`, `ROLLBACK` for the `COMMIT` of a failed transaction),
//! so the sessions speak the protocol themselves; postgres-protocol supplies the SCRAM and MD5 exchanges.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};

/// The largest backend message accepted; a bigger length means the stream is not PostgreSQL's.
const MESSAGE_BYTES_MAX: usize = 64 << 20;

/// Reads the wall clock, which this harness needs because the server it drives runs in real time.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}

/// Where a server listens.
#[derive(Clone, Debug)]
pub enum Host {
    Tcp(String),
    /// A directory holding the server's socket `.s.PGSQL.<port>`.
    Unix(PathBuf),
}

/// A server and the credentials to use on it; `database` is the maintenance database.
#[derive(Clone, Debug)]
pub struct Target {
    pub host: Host,
    pub port: u16,
    pub user: String,
    pub password: Option<Vec<u8>>,
    pub database: String,
}

impl Target {
    /// Parses a libpq connection URI or key-value string; TLS is not spoken, so `sslmode=require` is refused.
    pub fn from_url(url: &str) -> Result<Target, String> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("cannot parse the connection string: {e}"))?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err("sslmode=require: this client speaks no TLS; use sslmode=disable or prefer for a local reference server".into());
        }
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => Host::Tcp(h.clone()),
            Some(tokio_postgres::config::Host::Unix(p)) => Host::Unix(p.clone()),
            None => Host::Tcp("localhost".into()),
        };
        let user = config
            .get_user()
            .ok_or("the connection string names no user")?
            .to_string();
        Ok(Target {
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
            database: config.get_dbname().unwrap_or(&user).to_string(),
            password: config.get_password().map(<[u8]>::to_vec),
            user,
        })
    }
}

/// The fields of an `ErrorResponse` or `NoticeResponse` that the scripts compare.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The non-localized severity (`ERROR`, `WARNING`, `NOTICE`).
    pub severity: String,
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
}

/// A backend message, as far as the scripts care.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    CommandComplete(String),
    DataRow(Vec<Option<String>>),
    Error(Report),
    Notice(Report),
    EmptyQuery,
    /// `ReadyForQuery` with the transaction status (`I`, `T` or `E`).
    Ready(u8),
    Other,
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        let timeout = Some(timeout.max(Duration::from_millis(1)));
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            Stream::Unix(s) => s.set_read_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// One connection to the server.
pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// The backend's process id from `BackendKeyData`, which `pg_blocking_pids` takes.
    pub backend_pid: i32,
}

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(kind);
    out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Splits a NUL-terminated string off the front of `body`.
fn take_cstr(body: &mut &[u8]) -> Result<String, String> {
    let end = body
        .iter()
        .position(|b| *b == 0)
        .ok_or("unterminated string in a backend message")?;
    let s = String::from_utf8_lossy(&body[..end]).into_owned();
    *body = &body[end + 1..];
    Ok(s)
}

fn take_i32(body: &mut &[u8]) -> Result<i32, String> {
    if body.len() < 4 {
        return Err("short backend message".into());
    }
    let v = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    *body = &body[4..];
    Ok(v)
}

fn parse_report(mut body: &[u8]) -> Result<Report, String> {
    let mut report = Report::default();
    let mut localized = String::new();
    while let Some((&code, rest)) = body.split_first() {
        if code == 0 {
            break;
        }
        body = rest;
        let value = take_cstr(&mut body)?;
        match code {
            b'V' => report.severity = value,
            b'S' => localized = value,
            b'C' => report.code = value,
            b'M' => report.message = value,
            b'D' => report.detail = Some(value),
            _ => {}
        }
    }
    if report.severity.is_empty() {
        report.severity = localized;
    }
    Ok(report)
}

fn parse_message(kind: u8, mut body: &[u8]) -> Result<Message, String> {
    Ok(match kind {
        b'C' => Message::CommandComplete(take_cstr(&mut body)?),
        b'D' => {
            if body.len() < 2 {
                return Err("short DataRow".into());
            }
            let n = u16::from_be_bytes([body[0], body[1]]) as usize;
            body = &body[2..];
            let mut values = Vec::with_capacity(n);
            for _ in 0..n {
                let len = take_i32(&mut body)?;
                if len < 0 {
                    values.push(None);
                    continue;
                }
                let len = len as usize;
                if body.len() < len {
                    return Err("short DataRow value".into());
                }
                values.push(Some(String::from_utf8_lossy(&body[..len]).into_owned()));
                body = &body[len..];
            }
            Message::DataRow(values)
        }
        b'E' => Message::Error(parse_report(body)?),
        b'N' => Message::Notice(parse_report(body)?),
        b'I' => Message::EmptyQuery,
        b'Z' => Message::Ready(*body.first().ok_or("short ReadyForQuery")?),
        _ => Message::Other,
    })
}

impl Conn {
    /// Connects and authenticates (trust, cleartext, MD5 or SCRAM-SHA-256) to `database`.
    pub fn connect(target: &Target, database: &str) -> Result<Conn, String> {
        let stream = match &target.host {
            Host::Tcp(host) => {
                let s = TcpStream::connect((host.as_str(), target.port))
                    .map_err(|e| format!("connect to {host}:{}: {e}", target.port))?;
                s.set_nodelay(true).map_err(|e| e.to_string())?;
                Stream::Tcp(s)
            }
            Host::Unix(dir) => {
                let path = dir.join(format!(".s.PGSQL.{}", target.port));
                Stream::Unix(
                    UnixStream::connect(&path)
                        .map_err(|e| format!("connect to {}: {e}", path.display()))?,
                )
            }
        };
        let mut conn = Conn {
            stream,
            buf: vec![],
            backend_pid: 0,
        };
        let mut body = 196_608_i32.to_be_bytes().to_vec();
        for (k, v) in [
            ("user", target.user.as_str()),
            ("database", database),
            ("application_name", "dosim-pg-diff"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("TimeZone", "UTC"),
        ] {
            cstr(&mut body, k);
            cstr(&mut body, v);
        }
        body.push(0);
        let mut startup = (body.len() as i32 + 4).to_be_bytes().to_vec();
        startup.extend_from_slice(&body);
        conn.write(&startup)?;
        conn.authenticate(target)?;
        Ok(conn)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("write to the server: {e}"))
    }

    fn authenticate(&mut self, target: &Target) -> Result<(), String> {
        let password = || {
            target
                .password
                .clone()
                .ok_or_else(|| "the server asks for a password and none was given".to_string())
        };
        let mut scram: Option<ScramSha256> = None;
        let deadline = now() + Duration::from_secs(30);
        loop {
            let (kind, body) = self
                .recv_raw(deadline)?
                .ok_or("the server did not finish the startup within 30 s")?;
            let mut rest = body.as_slice();
            match kind {
                b'R' => match take_i32(&mut rest)? {
                    0 => {}
                    3 => {
                        let mut p = password()?;
                        p.push(0);
                        self.write(&frame(b'p', &p))?;
                    }
                    5 => {
                        let salt: [u8; 4] = rest.try_into().map_err(|_| "short MD5 salt")?;
                        let hash = postgres_protocol::authentication::md5_hash(
                            target.user.as_bytes(),
                            &password()?,
                            salt,
                        );
                        let mut p = vec![];
                        cstr(&mut p, &hash);
                        self.write(&frame(b'p', &p))?;
                    }
                    10 => {
                        let mechanisms = String::from_utf8_lossy(rest).into_owned();
                        if !mechanisms.split('\0').any(|m| m == "SCRAM-SHA-256") {
                            return Err(format!("no supported SASL mechanism in {mechanisms:?}"));
                        }
                        let s = ScramSha256::new(&password()?, ChannelBinding::unsupported());
                        let mut p = vec![];
                        cstr(&mut p, "SCRAM-SHA-256");
                        p.extend_from_slice(&(s.message().len() as i32).to_be_bytes());
                        p.extend_from_slice(s.message());
                        self.write(&frame(b'p', &p))?;
                        scram = Some(s);
                    }
                    11 => {
                        let s = scram.as_mut().ok_or("SASL continue before SASL start")?;
                        s.update(rest).map_err(|e| format!("SCRAM: {e}"))?;
                        let m = s.message().to_vec();
                        self.write(&frame(b'p', &m))?;
                    }
                    12 => {
                        let s = scram.as_mut().ok_or("SASL final before SASL start")?;
                        s.finish(rest).map_err(|e| format!("SCRAM: {e}"))?;
                    }
                    other => return Err(format!("unsupported authentication request {other}")),
                },
                b'K' => self.backend_pid = take_i32(&mut rest)?,
                b'E' => {
                    let r = parse_report(rest)?;
                    return Err(format!("{} {}: {}", r.severity, r.code, r.message));
                }
                b'Z' => return Ok(()),
                _ => {}
            }
        }
    }

    /// Sends a simple query; its answer is read with `recv`.
    pub fn send_query(&mut self, sql: &str) -> Result<(), String> {
        let mut body = vec![];
        cstr(&mut body, sql);
        self.write(&frame(b'Q', &body))
    }

    /// The next backend message if one arrives before `deadline` (checks at least once).
    pub fn recv(&mut self, deadline: Instant) -> Result<Option<Message>, String> {
        match self.recv_raw(deadline)? {
            Some((kind, body)) => parse_message(kind, &body).map(Some),
            None => Ok(None),
        }
    }

    fn recv_raw(&mut self, deadline: Instant) -> Result<Option<(u8, Vec<u8>)>, String> {
        loop {
            if self.buf.len() >= 5 {
                let len = i32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
                let len = usize::try_from(len).unwrap_or(0);
                if !(4..=MESSAGE_BYTES_MAX).contains(&len) {
                    return Err(format!("bad backend message length {len}"));
                }
                if self.buf.len() > len {
                    let kind = self.buf[0];
                    let body = self.buf[5..len + 1].to_vec();
                    self.buf.drain(..len + 1);
                    return Ok(Some((kind, body)));
                }
            }
            let remaining = deadline.saturating_duration_since(now());
            self.stream
                .set_read_timeout(remaining)
                .map_err(|e| e.to_string())?;
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if now() >= deadline {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read from the server: {e}")),
            }
        }
    }

    /// Runs one statement and returns its messages up to `ReadyForQuery`, for the harness's own queries.
    pub fn query(&mut self, sql: &str, timeout: Duration) -> Result<Vec<Message>, String> {
        self.send_query(sql)?;
        let deadline = now() + timeout;
        let mut out = vec![];
        loop {
            match self.recv(deadline)? {
                Some(Message::Ready(_)) => return Ok(out),
                Some(m) => out.push(m),
                None => return Err(format!("no answer to {sql:?} within {timeout:?}")),
            }
        }
    }

    /// Runs one statement that must succeed, returning its rows.
    pub fn query_ok(
        &mut self,
        sql: &str,
        timeout: Duration,
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        let mut rows = vec![];
        for m in self.query(sql, timeout)? {
            match m {
                Message::DataRow(r) => rows.push(r),
                Message::Error(e) => {
                    return Err(format!("{sql}: {} {}: {}", e.severity, e.code, e.message))
                }
                _ => {}
            }
        }
        Ok(rows)
    }

    /// Says goodbye; errors do not matter, as the server notices a closed socket too.
    pub fn terminate(mut self) {
        let _ = self.write(&frame(b'X', &[]));
    }
}
