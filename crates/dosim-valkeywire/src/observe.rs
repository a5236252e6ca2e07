//! What a cluster tells its [`Observer`] about each connection: the session, each command with its reply and how long it was blocked, keys that expired, and the end.
//!
//! The records are the server's own view, built from the arguments the engine took and the replies it gave, mirroring `dosim-pgwire`'s observer for SQL statements.

use dosim_valkey::{ExpiredKey, Reply, SimTime};

/// The longest summary of a command the gate sees, in characters.
pub const SUMMARY_CHARS_MAX: usize = 120;

/// Told what each connection of a cluster does, from the connection's own task, never while the engine is locked. Every method has an empty default.
pub trait Observer: Send + Sync {
    /// A client connected (before it authenticated).
    fn session_started(&self, _session: &SessionInfo, _at: SimTime) {}

    /// The server took a command and is about to admit it through the gate and run it.
    fn command_started(&self, _session: &SessionInfo, _command: &CommandStart) {}

    /// A command ended: the engine replied, or the connection ended while it was blocked.
    ///
    /// Each `command_started` is followed by one `command_finished` for the same session before the next command of that session starts.
    fn command_finished(&self, _session: &SessionInfo, _command: &CommandRecord) {}

    /// Keys the engine removed because their time came, each at its expiry time, in order.
    fn keys_expired(&self, _keys: &[ExpiredKey]) {}

    /// The connection ended, however it ended; the engine has forgotten the client.
    fn session_ended(&self, _session: &SessionInfo, _at: SimTime) {}
}

/// One connection, as every event about it names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The cluster's number for the connection, from 0 in the order connections were handed to it.
    pub connection: u64,
    /// The label the caller gave the connection; `unknown` when it gave none.
    pub peer: String,
    /// What `CLIENT ID` returns to it; the gate's `session`.
    pub client_id: u64,
}

/// A command about to run.
#[derive(Clone, Debug)]
pub struct CommandStart {
    /// Its arguments, the name first, as sent.
    pub args: Vec<Vec<u8>>,
    /// When the server took it, before the gate.
    pub started: SimTime,
}

/// A command that ended.
#[derive(Clone, Debug)]
pub struct CommandRecord {
    pub args: Vec<Vec<u8>>,
    /// The database it ran in.
    pub db: usize,
    pub started: SimTime,
    pub finished: SimTime,
    /// Whether it blocked (a pop on empty lists) before its reply.
    pub blocked: bool,
    pub outcome: CommandOutcome,
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandOutcome {
    Replied(Reply),
    /// The connection ended while the command was blocked; the engine dropped it.
    Interrupted,
}

/// A command on one line: arguments separated by spaces, quoted where they hold spaces, quotes or bytes outside printable ASCII, cut to `chars_max` characters with an ellipsis.
pub fn one_line(args: &[Vec<u8>], chars_max: usize) -> String {
    let mut text = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        let plain = !arg.is_empty()
            && arg
                .iter()
                .all(|b| b.is_ascii_graphic() && *b != b'"' && *b != b'\\');
        if plain {
            text.push_str(&String::from_utf8_lossy(arg));
        } else {
            let mut quoted = String::new();
            let _ = dosim_valkey::Reply::Bulk(arg.clone()).fmt_into(&mut quoted);
            text.push_str(&quoted);
        }
        if text.chars().count() > chars_max {
            break;
        }
    }
    if text.chars().count() <= chars_max {
        return text;
    }
    let mut clipped: String = text.chars().take(chars_max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}
