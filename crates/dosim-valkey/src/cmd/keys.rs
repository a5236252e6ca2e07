//! Keys, expiry and `WATCH` (Valkey's `db.c`, `expire.c`, `multi.c`).

use super::strings::to_sim_ms;
use super::{int, int_arg, is, tri, Cx};
use crate::glob;
use crate::Reply;

pub(crate) fn del(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    int(args[1..].iter().filter(|k| cx.remove(k)).count())
}

pub(crate) fn exists(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    int(args[1..].iter().filter(|k| cx.read(k).is_some()).count())
}

pub(crate) fn type_(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let name = cx.read(&args[1]).map_or("none", |e| e.value.type_name());
    Reply::Status(name.to_string())
}

#[derive(Clone, Copy, Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn expire_flags(args: &[Vec<u8>]) -> Result<ExpireFlags, Reply> {
    let mut f = ExpireFlags::default();
    for opt in &args[3..] {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            return Err(Reply::err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(Reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT` (Valkey's `expireGenericCommand`): a time at or before now deletes the key.
fn expire_generic(
    cx: &mut Cx<'_>,
    args: &[Vec<u8>],
    seconds: bool,
    relative: bool,
    name: &str,
) -> Reply {
    let flags = tri!(expire_flags(args));
    let when = tri!(int_arg(&args[2]));
    let invalid = || Reply::err(format!("ERR invalid expire time in '{name}' command"));
    let mut when_ms = if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return invalid();
        }
        when * 1000
    } else {
        when
    };
    if relative {
        when_ms = match when_ms.checked_add(cx.unix_ms()) {
            Some(at) => at,
            None => return invalid(),
        };
    }
    let key = &args[1];
    let Some(current) = cx.read(key).map(|e| e.expire_at) else {
        return Reply::Int(0);
    };
    let epoch_ms = (dosim_base::EPOCH_UNIX_S * 1000) as i64;
    let current_unix = current.map(|at| at as i64 + epoch_ms);
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        || (flags.gt && current_unix.is_none_or(|c| when_ms <= c))
        || (flags.lt && current_unix.is_some_and(|c| when_ms >= c));
    if refused {
        return Reply::Int(0);
    }
    let at = to_sim_ms(when_ms);
    if when_ms <= cx.unix_ms() {
        cx.remove(key);
    } else {
        cx.set_expiry(key, Some(at));
    }
    Reply::Int(1)
}

pub(crate) fn expire(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    expire_generic(cx, args, true, true, "expire")
}

pub(crate) fn pexpire(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    expire_generic(cx, args, false, true, "pexpire")
}

pub(crate) fn expireat(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    expire_generic(cx, args, true, false, "expireat")
}

pub(crate) fn pexpireat(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    expire_generic(cx, args, false, false, "pexpireat")
}

/// The time to live in milliseconds: -2 missing, -1 without expiry.
fn ttl_ms(cx: &mut Cx<'_>, key: &[u8]) -> i64 {
    let now = cx.now_ms();
    match cx.read(key) {
        None => -2,
        Some(e) => match e.expire_at {
            None => -1,
            Some(at) => at.saturating_sub(now) as i64,
        },
    }
}

pub(crate) fn ttl(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let ms = ttl_ms(cx, &args[1]);
    Reply::Int(if ms < 0 { ms } else { (ms + 500) / 1000 })
}

pub(crate) fn pttl(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    Reply::Int(ttl_ms(cx, &args[1]))
}

fn expiretime_ms(cx: &mut Cx<'_>, key: &[u8]) -> i64 {
    let epoch_ms = (dosim_base::EPOCH_UNIX_S * 1000) as i64;
    match cx.read(key) {
        None => -2,
        Some(e) => e.expire_at.map_or(-1, |at| at as i64 + epoch_ms),
    }
}

pub(crate) fn expiretime(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let ms = expiretime_ms(cx, &args[1]);
    Reply::Int(if ms < 0 { ms } else { ms / 1000 })
}

pub(crate) fn pexpiretime(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    Reply::Int(expiretime_ms(cx, &args[1]))
}

pub(crate) fn persist(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let key = &args[1];
    if cx.read(key).is_some_and(|e| e.expire_at.is_some()) {
        cx.set_expiry(key, None);
        return Reply::Int(1);
    }
    Reply::Int(0)
}

/// `KEYS pattern`: the live keys of the selected database that match, in key order (Valkey's are in
/// hash-table order).
pub(crate) fn keys(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let pattern = &args[1];
    Reply::Array(
        cx.e.dbs[cx.db()]
            .keys()
            .filter(|(key, _)| glob::matches(pattern, key))
            .map(|(key, _)| Reply::Bulk(key.clone()))
            .collect(),
    )
}

pub(crate) fn rename(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (from, to) = (&args[1], &args[2]);
    let Some(entry) = cx.read(from).cloned() else {
        return Reply::err("ERR no such key");
    };
    if from == to {
        return Reply::ok();
    }
    cx.remove(from);
    cx.insert(to, entry.value, entry.expire_at);
    Reply::ok()
}

pub(crate) fn watch(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let db = cx.db();
    for key in &args[1..] {
        cx.e.watch(cx.client, db, key);
    }
    Reply::ok()
}

pub(crate) fn unwatch(cx: &mut Cx<'_>, _args: &[Vec<u8>]) -> Reply {
    cx.e.unwatch_all(cx.client);
    Reply::ok()
}
