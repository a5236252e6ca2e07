//! The differential suite for Valkey: every interleaving script of `crates/dosim-valkey/tests/scripts/` (the ones the engine's own tests run) against a real server, one TCP connection per client, in RESP2.
//!
//! The reference is Debian's `redis-server` (7.0, what the registries offer; DigitalOcean runs Valkey 8), started privately on a free port unless `DOSIM_REDIS_REFERENCE_PORT` names a running one.
//! "Blocked" is judged from the server's own count (`INFO clients`, `blocked_clients`), not from a delay.
//! A script whose first line says `dosim-only` is skipped (with its reason there); a step that disagrees must be listed in [`KNOWN_DIFFERENCES`], and a listed difference that disappears fails the suite.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dosim_valkey::script::{self, Action};
use dosim_valkey::Reply;

/// Steps where Redis 7.0 answers otherwise than Valkey 8 (and so than dosim), by script file and line, with why.
pub const KNOWN_DIFFERENCES: &[(&str, usize, &str)] = &[
    ("connection.txt", 16, "CLIENT SETINFO came in Redis 7.2; Valkey 8 has it, Redis 7.0 replies unknown subcommand"),
    ("connection.txt", 18, "CLIENT SETINFO came in Redis 7.2"),
    ("multi.txt", 36, "Redis 7.0 answers a nested MULTI itself (`MULTI calls can not be nested`) without aborting; Valkey 8 rejects it as a no-multi command and poisons the transaction (server.c rejectCommand)"),
    ("multi.txt", 38, "the nested MULTI above does not poison the transaction in Redis 7.0"),
    ("multi.txt", 42, "Redis 7.0 answers WATCH inside MULTI itself (`WATCH inside MULTI is not allowed`); Valkey 8 rejects it as a no-multi command"),
    ("zranges.txt", 120, "Redis 7.0 writes doubles with `%.17g` (0.10000000000000001); Valkey 8 writes the shortest form that reads back the same (0.1)"),
    ("zranges.txt", 124, "Redis 7.0 writes doubles with `%.17g`; Valkey 8 the shortest form"),
    ("scripting.txt", 70, "Redis 7.0 adds ` Please use EVAL.` to NOSCRIPT; Valkey 8 does not"),
];

/// How long a reply may take before the step counts as unanswered.
const REPLY_WAIT: Duration = Duration::from_secs(5);
/// How many times, 5 ms apart, to look for a blocked client before reading the reply instead.
const BLOCK_POLLS: u32 = 400;

/// A private redis-server, stopped when dropped.
pub struct Reference {
    child: Option<Child>,
    pub port: u16,
}

impl Reference {
    /// Starts `redis-server` on a free port without persistence, or uses `DOSIM_REDIS_REFERENCE_PORT`.
    pub fn start() -> Result<Reference, String> {
        if let Ok(port) = std::env::var("DOSIM_REDIS_REFERENCE_PORT") {
            let port = port
                .parse()
                .map_err(|_| format!("DOSIM_REDIS_REFERENCE_PORT={port} is not a port"))?;
            return Ok(Reference { child: None, port });
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let reference = Reference {
            child: Some(child),
            port,
        };
        for _ in 0..100 {
            if let Ok(mut c) = Client::connect(port) {
                if c.call(&[b"PING".to_vec()]).is_ok() {
                    return Ok(reference);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("redis-server did not answer PING within 5 s".to_owned())
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One RESP2 connection.
pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(REPLY_WAIT))?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    pub fn send(&mut self, args: &[Vec<u8>]) -> std::io::Result<()> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&out)
    }

    pub fn call(&mut self, args: &[Vec<u8>]) -> std::io::Result<Reply> {
        self.send(args)?;
        self.read()
    }

    fn set_wait(&mut self, wait: Duration) -> std::io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(wait))
    }

    /// Reads one RESP2 reply.
    pub fn read(&mut self) -> std::io::Result<Reply> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if line.len() < 3 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad reply");
        Ok(match line[0] {
            b'+' => Reply::Status(body),
            b'-' => Reply::Error(body),
            b':' => Reply::Int(body.parse().map_err(|_| bad())?),
            b'$' => {
                let n: i64 = body.parse().map_err(|_| bad())?;
                if n < 0 {
                    Reply::Nil
                } else {
                    let mut data = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(n as usize);
                    Reply::Bulk(data)
                }
            }
            b'*' => {
                let n: i64 = body.parse().map_err(|_| bad())?;
                if n < 0 {
                    Reply::NilArray
                } else {
                    let mut items = Vec::new();
                    for _ in 0..n {
                        items.push(self.read()?);
                    }
                    Reply::Array(items)
                }
            }
            _ => return Err(bad()),
        })
    }
}

/// A step where the reference answered otherwise than the script expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub script: String,
    pub line: usize,
    pub expected: String,
    pub actual: String,
}

/// A reply as the script writes it; RESP2 flattens maps, so a `HGETALL` reply is paired up again.
fn render(command: &[Vec<u8>], reply: Reply) -> String {
    let is_map = command[0].eq_ignore_ascii_case(b"hgetall");
    match reply {
        Reply::Array(items) if is_map => Reply::Map(
            items
                .chunks(2)
                .map(|p| (p[0].clone(), p.get(1).cloned().unwrap_or(Reply::Nil)))
                .collect(),
        )
        .to_string(),
        reply => reply.to_string(),
    }
}

fn blocked_clients(control: &mut Client) -> Result<u64, String> {
    let info = control
        .call(&[b"INFO".to_vec(), b"clients".to_vec()])
        .map_err(|e| e.to_string())?;
    let Reply::Bulk(text) = info else {
        return Err("INFO clients gave no text".to_owned());
    };
    let text = String::from_utf8_lossy(&text);
    text.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| "INFO clients has no blocked_clients".to_owned())
}

/// Runs one script against the reference on a fresh keyspace and lists where it disagrees.
pub fn run_script(port: u16, name: &str, text: &str) -> Result<Vec<Difference>, String> {
    let lines = script::parse(text)?;
    let mut control = Client::connect(port).map_err(|e| e.to_string())?;
    for reset in [&b"FLUSHALL"[..], b"SCRIPT"] {
        let mut args = vec![reset.to_vec()];
        if reset == b"SCRIPT" {
            args.push(b"FLUSH".to_vec());
        }
        control.call(&args).map_err(|e| e.to_string())?;
    }
    let mut clients: BTreeMap<String, (Client, Vec<Vec<u8>>)> = BTreeMap::new();
    let mut differences = Vec::new();
    for line in lines {
        let expected = line.expected.join("\n");
        let actual = match line.action {
            Action::Sleep { ms } => {
                std::thread::sleep(Duration::from_millis(ms));
                continue;
            }
            Action::Resumes { client } => {
                let (c, command) = clients
                    .get_mut(&client)
                    .ok_or_else(|| format!("line {}: {client} never ran", line.lineno))?;
                let wait = if expected == "still blocked" {
                    Duration::from_millis(200)
                } else {
                    REPLY_WAIT
                };
                c.set_wait(wait).map_err(|e| e.to_string())?;
                match c.read() {
                    Ok(reply) => render(command, reply),
                    Err(_) if expected == "still blocked" => "still blocked".to_owned(),
                    Err(e) => format!("no answer: {e}"),
                }
            }
            Action::Step { client, args } => {
                if !clients.contains_key(&client) {
                    let c = Client::connect(port).map_err(|e| e.to_string())?;
                    clients.insert(client.clone(), (c, Vec::new()));
                }
                let before = blocked_clients(&mut control)?;
                let (c, command) = clients.get_mut(&client).expect("just added");
                *command = args.clone();
                c.set_wait(REPLY_WAIT).map_err(|e| e.to_string())?;
                c.send(&args).map_err(|e| e.to_string())?;
                let mut blocked = false;
                if expected == "blocked" {
                    // Polls without reading the wall clock (clippy.toml bans it): a bounded number of short sleeps.
                    for _ in 0..BLOCK_POLLS {
                        if blocked_clients(&mut control)? > before {
                            blocked = true;
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                if blocked {
                    "blocked".to_owned()
                } else {
                    let (c, command) = clients.get_mut(&client).expect("connected");
                    match c.read() {
                        Ok(reply) => render(command, reply),
                        Err(e) => format!("no answer: {e}"),
                    }
                }
            }
        };
        if actual.trim_end() != expected {
            differences.push(Difference {
                script: name.to_owned(),
                line: line.lineno,
                expected,
                actual,
            });
        }
    }
    Ok(differences)
}

/// The engine's scripts, by file name, in name order.
pub fn scripts() -> Result<Vec<(String, String)>, String> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dosim-valkey/tests/scripts");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "txt") {
            let name = path
                .file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            out.push((name, text));
        }
    }
    out.sort();
    Ok(out)
}
