//! One client connection: authentication and the protocol version (`AUTH`, `HELLO`), then each command admitted through the gate, run by the engine and told to the observer, with blocking pops that await a wake-up or their deadline.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use dosim_base::gate::{Operation, Plane};
use dosim_valkey::{ClientId, Outcome, Reply, SimTime};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::observe::{one_line, SUMMARY_CHARS_MAX};
use crate::resp::{self, ProtocolError, Request};
use crate::{
    CommandOutcome, CommandRecord, CommandStart, Observer, SessionInfo, ValkeyCluster, DEFAULT_USER,
};

/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 16 << 10;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Forgets the client however the connection's task ends, even when it is dropped mid-wait, and tells the observer how its last command and the session ended.
struct Guard {
    cluster: ValkeyCluster,
    client: ClientId,
    observer: Option<Arc<dyn Observer>>,
    info: SessionInfo,
    /// The command told as started and not yet as finished, with the database it runs in.
    running: Option<(CommandStart, usize)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.cluster.disconnect(self.client);
        let now = self.cluster.now();
        if let Some(observer) = &self.observer {
            if let Some((start, db)) = self.running.take() {
                observer.command_finished(
                    &self.info,
                    &CommandRecord {
                        args: start.args,
                        db,
                        started: start.started,
                        finished: now,
                        blocked: true,
                        outcome: CommandOutcome::Interrupted,
                    },
                );
            }
            observer.session_ended(&self.info, now);
        }
    }
}

struct Conn<S> {
    stream: S,
    guard: Guard,
    notify: Arc<Notify>,
    authenticated: bool,
    resp3: bool,
    /// Bytes read and not yet taken as requests.
    input: Vec<u8>,
    /// Replies not yet written: written when no whole request is left to run, so pipelines go out together.
    output: Vec<u8>,
}

/// What the connection does after a command.
enum Flow {
    Continue,
    Close,
}

pub(crate) async fn serve<S>(
    cluster: ValkeyCluster,
    mut stream: S,
    connection: u64,
    peer: String,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Some(client) = cluster.with_engine_mut(|e, _| e.connect()) else {
        stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await?;
        return stream.flush().await;
    };
    let info = SessionInfo {
        connection,
        peer,
        client_id: client.0,
    };
    let observer = cluster.observer();
    if let Some(o) = &observer {
        o.session_started(&info, cluster.now());
    }
    let notify = cluster.register(client);
    let authenticated = cluster.password().is_none();
    let mut conn = Conn {
        stream,
        guard: Guard {
            cluster,
            client,
            observer,
            info,
            running: None,
        },
        notify,
        authenticated,
        resp3: false,
        input: Vec::new(),
        output: Vec::new(),
    };
    conn.run().await
}

impl<S> Conn<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    fn cluster(&self) -> &ValkeyCluster {
        &self.guard.cluster
    }

    async fn run(&mut self) -> io::Result<()> {
        loop {
            let request_bytes_max = self.cluster().config().request_bytes_max;
            match resp::decode(&self.input, request_bytes_max) {
                Err(ProtocolError(message)) => {
                    self.reply(&Reply::err(format!("ERR Protocol error: {message}")));
                    return self.flush().await;
                }
                Ok(Request::Incomplete) => {
                    self.flush().await?;
                    if !self.read_idle().await? {
                        return Ok(());
                    }
                }
                Ok(Request::Command(args, used)) => {
                    self.input.drain(..used);
                    if args.is_empty() {
                        continue;
                    }
                    if let Flow::Close = self.command(args).await? {
                        return self.flush().await;
                    }
                }
            }
        }
    }

    /// Reads more input, closing an idle connection after the configured timeout; false when the connection ended.
    async fn read_idle(&mut self) -> io::Result<bool> {
        let idle_ms = self.cluster().config().idle_timeout_ms;
        let mut chunk = vec![0; READ_CHUNK_BYTES];
        let read = if idle_ms == 0 {
            self.stream.read(&mut chunk).await
        } else {
            match tokio::time::timeout(Duration::from_millis(idle_ms), self.stream.read(&mut chunk))
                .await
            {
                Ok(read) => read,
                Err(_) => return Ok(false),
            }
        };
        match read {
            Ok(0) | Err(_) => Ok(false),
            Ok(n) => {
                self.input.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        self.stream.write_all(&self.output).await?;
        self.output.clear();
        self.stream.flush().await
    }

    fn reply(&mut self, reply: &Reply) {
        resp::encode(reply, self.resp3, &mut self.output);
    }

    async fn command(&mut self, args: Vec<Vec<u8>>) -> io::Result<Flow> {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        match name.as_str() {
            "hello" => {
                let reply = self.hello(&args);
                self.reply(&reply);
                return Ok(Flow::Continue);
            }
            "auth" => {
                let reply = self.auth(&args);
                self.reply(&reply);
                return Ok(Flow::Continue);
            }
            "quit" => {
                self.reply(&Reply::ok());
                return Ok(Flow::Close);
            }
            "reset" => {
                let client = self.guard.client;
                self.cluster().with_engine_mut(|e, _| e.reset(client));
                self.resp3 = false;
                self.authenticated = self.cluster().password().is_none();
                self.reply(&Reply::Status("RESET".to_string()));
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        if !self.authenticated {
            // Valkey looks the command up before it asks for authentication.
            let reply = dosim_valkey::Engine::precheck(&args)
                .unwrap_or_else(|| Reply::err("NOAUTH Authentication required."));
            self.reply(&reply);
            return Ok(Flow::Continue);
        }
        self.run_command(args).await
    }

    async fn run_command(&mut self, args: Vec<Vec<u8>>) -> io::Result<Flow> {
        let client = self.guard.client;
        let cluster = self.cluster().clone();
        let start = CommandStart {
            args,
            started: cluster.now(),
        };
        let (db, queued) = {
            let engine = cluster.engine().lock();
            let name = String::from_utf8_lossy(&start.args[0]).to_ascii_lowercase();
            (
                engine.selected_db(client),
                engine.in_multi(client) && name != "exec" && name != "discard",
            )
        };
        if let Some(o) = &self.guard.observer {
            o.command_started(&self.guard.info, &start);
        }
        self.guard.running = Some((start, db));
        let args = &self.guard.running.as_ref().expect("just set").0.args;
        // A command queued in MULTI changes nothing until EXEC, which the gate admits as one operation.
        let permit = if queued {
            None
        } else {
            let operation = Operation {
                plane: Plane::Valkey,
                server: cluster.config().host.clone(),
                actor: self.guard.info.peer.clone(),
                session: Some(client.0),
                summary: one_line(args, SUMMARY_CHARS_MAX),
            };
            Some(cluster.gate().admit(operation).await)
        };
        let outcome = cluster.with_engine_mut(|e, now| e.execute(client, args, now));
        drop(permit);
        let (reply, blocked) = match outcome {
            Outcome::Reply(reply) => (reply, false),
            Outcome::Blocked { deadline, .. } => {
                self.flush().await?;
                match self.wait(deadline).await? {
                    Some(reply) => (reply, true),
                    // The connection ended while blocked: the guard tells the observer.
                    None => return Ok(Flow::Close),
                }
            }
        };
        let (start, db) = self.guard.running.take().expect("running");
        if let Some(o) = &self.guard.observer {
            o.command_finished(
                &self.guard.info,
                &CommandRecord {
                    args: start.args,
                    db,
                    started: start.started,
                    finished: cluster.now(),
                    blocked,
                    outcome: CommandOutcome::Replied(reply.clone()),
                },
            );
        }
        self.reply(&reply);
        Ok(Flow::Continue)
    }

    /// Waits for a blocked command's reply: a push by another client, or the deadline; `None` if the connection ended first.
    ///
    /// Input that arrives meanwhile (a pipelined command) is kept for after the reply, as Valkey does not read a blocked client's commands.
    async fn wait(&mut self, deadline: Option<SimTime>) -> io::Result<Option<Reply>> {
        let client = self.guard.client;
        let cluster = self.cluster().clone();
        let mut chunk = vec![0; READ_CHUNK_BYTES];
        loop {
            if let Some(reply) = cluster.take_served(client) {
                return Ok(Some(reply));
            }
            let until = deadline.map(|d| cluster.instant_of(d));
            tokio::select! {
                _ = self.notify.notified() => {}
                _ = async { tokio::time::sleep_until(until.expect("guarded")).await }, if until.is_some() => {
                    if let Some(reply) = cluster.with_engine_mut(|e, now| e.time_out(client, now)) {
                        return Ok(Some(reply));
                    }
                }
                read = self.stream.read(&mut chunk) => match read {
                    Ok(0) | Err(_) => return Ok(None),
                    Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                },
            }
        }
    }

    fn auth(&mut self, args: &[Vec<u8>]) -> Reply {
        if args.len() < 2 || args.len() > 3 {
            return Reply::err("ERR wrong number of arguments for 'auth' command");
        }
        let Some(password) = self.cluster().password() else {
            if args.len() == 2 {
                return Reply::err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            }
            return Reply::ok();
        };
        let user: &[u8] = if args.len() == 3 {
            &args[1]
        } else {
            DEFAULT_USER.as_bytes()
        };
        if user == DEFAULT_USER.as_bytes() && args[args.len() - 1] == password.as_bytes() {
            self.authenticated = true;
            Reply::ok()
        } else {
            Reply::err(WRONGPASS)
        }
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]` (Valkey's `helloCommand`).
    fn hello(&mut self, args: &[Vec<u8>]) -> Reply {
        let mut i = 1;
        let mut proto = None;
        if let Some(version) = args.get(1) {
            let Some(n) = std::str::from_utf8(version)
                .ok()
                .and_then(|v| v.parse::<i64>().ok())
            else {
                return Reply::err("ERR Protocol version is not an integer or out of range");
            };
            if n != 2 && n != 3 {
                return Reply::err("NOPROTO unsupported protocol version");
            }
            proto = Some(n);
            i = 2;
        }
        let mut auth = None;
        let mut setname = None;
        while i < args.len() {
            let more = args.len() - i - 1;
            if args[i].eq_ignore_ascii_case(b"auth") && more >= 2 {
                auth = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 3;
            } else if args[i].eq_ignore_ascii_case(b"setname") && more >= 1 {
                setname = Some(args[i + 1].clone());
                i += 2;
            } else {
                return Reply::err(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[i])
                ));
            }
        }
        if let Some((user, pass)) = auth {
            let ok = match self.cluster().password() {
                None => true,
                Some(p) => user == DEFAULT_USER.as_bytes() && pass == p.as_bytes(),
            };
            if !ok {
                return Reply::err(WRONGPASS);
            }
            self.authenticated = true;
        }
        if !self.authenticated {
            return Reply::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        }
        let client = self.guard.client;
        if let Some(name) = setname {
            let args = vec![b"CLIENT".to_vec(), b"SETNAME".to_vec(), name];
            let reply = self
                .cluster()
                .with_engine_mut(|e, now| e.execute(client, &args, now));
            if let Outcome::Reply(r @ Reply::Error(_)) = reply {
                return r;
            }
        }
        if let Some(n) = proto {
            self.resp3 = n == 3;
        }
        let version = self.cluster().engine().lock().config().version.clone();
        let bulk = |s: &str| Reply::bulk(s.as_bytes());
        Reply::Map(vec![
            (bulk("server"), bulk("valkey")),
            (bulk("version"), bulk(&version)),
            (bulk("proto"), Reply::Int(if self.resp3 { 3 } else { 2 })),
            (bulk("id"), Reply::Int(client.0 as i64)),
            (bulk("mode"), bulk("standalone")),
            (bulk("role"), bulk("master")),
            (bulk("modules"), Reply::Array(Vec::new())),
        ])
    }
}
