//! Connection and server commands the engine answers; `HELLO`, `AUTH`, `QUIT` and `RESET` belong to the wire, which knows the protocol and the password.

use super::{int, int_arg, is, Cx, SYNTAX};
use crate::Reply;

pub(crate) fn unreachable(_cx: &mut Cx<'_>, _args: &[Vec<u8>]) -> Reply {
    unreachable!("MULTI, EXEC and DISCARD are the dispatcher's own")
}

pub(crate) fn ping(_cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    match args.len() {
        1 => Reply::Status("PONG".to_string()),
        2 => Reply::Bulk(args[1].clone()),
        _ => Reply::err("ERR wrong number of arguments for 'ping' command"),
    }
}

pub(crate) fn echo(_cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    Reply::Bulk(args[1].clone())
}

pub(crate) fn select(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let Ok(n) = int_arg(&args[1]) else {
        return Reply::err("ERR value is not an integer or out of range");
    };
    if n < 0 || n as u64 >= cx.e.dbs.len() as u64 {
        return Reply::err("ERR DB index is out of range");
    }
    if let Some(c) = cx.e.clients.get_mut(&cx.client) {
        c.db = n as usize;
    }
    Reply::ok()
}

/// Whether a client name or library attribute is printable ASCII without spaces, as Valkey requires.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

pub(crate) fn client(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity = match sub.as_str() {
        "id" | "getname" | "info" | "list" => 2,
        "setname" => 3,
        "setinfo" => 4,
        "no-evict" | "no-touch" => 3,
        _ => {
            return Reply::err(format!(
                "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&args[1])
            ))
        }
    };
    if args.len() != arity {
        return Reply::err(format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        ));
    }
    let id = cx.client.0;
    let db = cx.db();
    let Some(c) = cx.e.clients.get_mut(&cx.client) else {
        return Reply::err("ERR unknown client");
    };
    match sub.as_str() {
        "id" => Reply::Int(id as i64),
        "getname" => Reply::bulk_or_nil(c.name.as_deref()),
        "setname" => {
            if !valid_name(&args[2]) {
                return Reply::err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            c.name = (!args[2].is_empty()).then(|| args[2].clone());
            Reply::ok()
        }
        "setinfo" => {
            let slot = if is(&args[2], "lib-name") {
                &mut c.lib_name
            } else if is(&args[2], "lib-ver") {
                &mut c.lib_ver
            } else {
                return Reply::err(format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(&args[2])
                ));
            };
            if !valid_name(&args[3]) {
                return Reply::err(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&args[2]).to_ascii_lowercase()
                ));
            }
            *slot = Some(args[3].clone());
            Reply::ok()
        }
        "no-evict" | "no-touch" => {
            if is(&args[2], "on") || is(&args[2], "off") {
                Reply::ok()
            } else {
                Reply::err(SYNTAX)
            }
        }
        _ => {
            let text = |b: &Option<Vec<u8>>| {
                b.as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default()
            };
            let line = format!(
                "id={id} name={} db={db} lib-name={} lib-ver={}\n",
                text(&c.name),
                text(&c.lib_name),
                text(&c.lib_ver)
            );
            Reply::Bulk(line.into_bytes())
        }
    }
}

pub(crate) fn info(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let e = &cx.e;
    let mut text = String::new();
    let want = |section: &str| {
        args.len() == 1
            || args[1..]
                .iter()
                .any(|a| is(a, section) || is(a, "all") || is(a, "everything") || is(a, "default"))
    };
    if want("server") {
        text.push_str(&format!(
            "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:{}\r\nredis_mode:standalone\r\nuptime_in_seconds:{}\r\n\r\n",
            e.config.version,
            cx.now.as_ms() / 1000
        ));
    }
    if want("clients") {
        text.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\n\r\n",
            e.clients.len()
        ));
    }
    if want("memory") {
        text.push_str(&format!(
            "# Memory\r\nused_memory:{}\r\nmaxmemory:{}\r\nmaxmemory_policy:{}\r\n\r\n",
            e.used_bytes(),
            e.config.maxmemory_bytes,
            e.config.eviction_policy.server_name()
        ));
    }
    if want("stats") {
        let s = &e.stats;
        text.push_str(&format!(
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n\r\n",
            s.connections, s.commands, s.expired_keys, s.evicted_keys, s.keyspace_hits, s.keyspace_misses
        ));
    }
    if want("replication") {
        text.push_str("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
    }
    if want("keyspace") {
        text.push_str("# Keyspace\r\n");
        for (i, db) in e.dbs.iter().enumerate() {
            if db.len() > 0 {
                text.push_str(&format!(
                    "db{i}:keys={},expires={},avg_ttl=0\r\n",
                    db.len(),
                    db.expires_len()
                ));
            }
        }
    }
    Reply::Bulk(text.trim_end_matches("\r\n").to_string().into_bytes())
}

pub(crate) fn dbsize(cx: &mut Cx<'_>, _args: &[Vec<u8>]) -> Reply {
    int(cx.e.dbs[cx.db()].len())
}

fn flush_mode_ok(args: &[Vec<u8>]) -> bool {
    match args.len() {
        1 => true,
        2 => is(&args[1], "async") || is(&args[1], "sync"),
        _ => false,
    }
}

pub(crate) fn flushdb(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if !flush_mode_ok(args) {
        return Reply::err(SYNTAX);
    }
    let db = cx.db();
    let keys = cx.e.dbs[db].clear();
    cx.e.signal_flushed(db, &keys);
    Reply::ok()
}

pub(crate) fn flushall(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if !flush_mode_ok(args) {
        return Reply::err(SYNTAX);
    }
    for db in 0..cx.e.dbs.len() {
        let keys = cx.e.dbs[db].clear();
        cx.e.signal_flushed(db, &keys);
    }
    Reply::ok()
}

pub(crate) fn time(cx: &mut Cx<'_>, _args: &[Vec<u8>]) -> Reply {
    let ms = cx.unix_ms();
    Reply::Array(vec![
        Reply::bulk((ms / 1000).to_string()),
        Reply::bulk(((ms % 1000) * 1000).to_string()),
    ])
}

/// `COMMAND`, `COMMAND COUNT`, `COMMAND DOCS`: clients ask at start-up; this engine has no command docs to give, so the lists are empty.
pub(crate) fn command(_cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    match args.get(1) {
        None => Reply::Array(Vec::new()),
        Some(sub) if is(sub, "count") => int(super::names().count()),
        Some(sub) if is(sub, "docs") || is(sub, "info") => Reply::Map(Vec::new()),
        Some(sub) => Reply::err(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        )),
    }
}
