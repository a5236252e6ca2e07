//! Strings and counters (Valkey's `t_string.c`).

use super::{int, int_arg, is, parse_i64, tri, Cx, NOT_INTEGER, SYNTAX, TOO_BIG};
use crate::keyspace::Value;
use crate::Reply;

pub(crate) fn get(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    Reply::bulk_or_nil(tri!(cx.get_string(&args[1])).as_deref())
}

/// How `SET` or `GETEX` was asked to treat the key's expiry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    /// Drop any TTL (a plain `SET`), or leave it (`GETEX` without options).
    Default,
    Keep,
    Persist,
    /// An absolute expiry in milliseconds since the Unix epoch.
    At(i64),
}

/// The expiry an `EX`/`PX`/`EXAT`/`PXAT` argument asks for, or Valkey's errors; `command` names it in `invalid expire time in '<command>' command`.
fn expiry(cx: &Cx<'_>, unit: &[u8], value: &[u8], command: &str) -> Result<i64, Reply> {
    let n = int_arg(value)?;
    let invalid = || Reply::err(format!("ERR invalid expire time in '{command}' command"));
    let seconds = is(unit, "ex") || is(unit, "exat");
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { n * 1000 } else { n };
    let relative = is(unit, "ex") || is(unit, "px");
    if relative {
        ms.checked_add(cx.unix_ms()).ok_or_else(invalid)
    } else {
        Ok(ms)
    }
}

/// An absolute Unix-millisecond expiry as the engine's simulated-time milliseconds (0 if before the epoch: already expired).
pub(crate) fn to_sim_ms(unix_ms: i64) -> u64 {
    let epoch_ms = (dosim_base::EPOCH_UNIX_S * 1000) as i64;
    unix_ms.saturating_sub(epoch_ms).max(0) as u64
}

/// Stores a string, keeping or dropping the TTL, and deletes it at once if its expiry has already passed.
fn store(cx: &mut Cx<'_>, key: &[u8], value: Vec<u8>, ttl: Ttl) {
    let expire_at = match ttl {
        Ttl::At(at) => Some(to_sim_ms(at)),
        Ttl::Keep => cx.entry(key).and_then(|e| e.expire_at),
        Ttl::Default | Ttl::Persist => None,
    };
    cx.insert(key, Value::Str(value), expire_at);
    if expire_at.is_some_and(|at| at <= cx.now_ms()) {
        cx.remove(key);
    }
}

pub(crate) fn set(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut ttl_arg: Option<(&[u8], &[u8])> = None;
    let mut keepttl = false;
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let next = args.get(i + 1);
        if is(opt, "nx") && !xx {
            nx = true;
        } else if is(opt, "xx") && !nx {
            xx = true;
        } else if is(opt, "get") {
            get = true;
        } else if is(opt, "keepttl") && ttl_arg.is_none() {
            keepttl = true;
        } else if let Some(value) = next.filter(|_| {
            ["ex", "px", "exat", "pxat"].iter().any(|u| is(opt, u))
                && !keepttl
                && ttl_arg.is_none_or(|(u, _)| u.eq_ignore_ascii_case(opt))
        }) {
            ttl_arg = Some((opt, value));
            i += 1;
        } else {
            return Reply::err(SYNTAX);
        }
        i += 1;
    }
    let ttl = match ttl_arg {
        Some((unit, value)) => Ttl::At(tri!(expiry(cx, unit, value, "set"))),
        None if keepttl => Ttl::Keep,
        None => Ttl::Default,
    };
    let key = &args[1];
    let old = if get {
        Some(tri!(cx.get_string(key)))
    } else {
        None
    };
    let found = cx.exists(key);
    if (nx && found) || (xx && !found) {
        return match old {
            Some(old) => Reply::bulk_or_nil(old.as_deref()),
            None => Reply::Nil,
        };
    }
    store(cx, key, args[2].clone(), ttl);
    match old {
        Some(old) => Reply::bulk_or_nil(old.as_deref()),
        None => Reply::ok(),
    }
}

pub(crate) fn setnx(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if cx.exists(&args[1]) {
        return Reply::Int(0);
    }
    store(cx, &args[1], args[2].clone(), Ttl::Default);
    Reply::Int(1)
}

pub(crate) fn setex(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let at = tri!(expiry(cx, b"ex", &args[2], "setex"));
    store(cx, &args[1], args[3].clone(), Ttl::At(at));
    Reply::ok()
}

pub(crate) fn psetex(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let at = tri!(expiry(cx, b"px", &args[2], "psetex"));
    store(cx, &args[1], args[3].clone(), Ttl::At(at));
    Reply::ok()
}

pub(crate) fn getset(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let old = tri!(cx.get_string(&args[1]));
    store(cx, &args[1], args[2].clone(), Ttl::Default);
    Reply::bulk_or_nil(old.as_deref())
}

pub(crate) fn getdel(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let old = tri!(cx.get_string(&args[1]));
    if old.is_some() {
        cx.remove(&args[1]);
    }
    Reply::bulk_or_nil(old.as_deref())
}

pub(crate) fn getex(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let mut ttl = Ttl::Default;
    let mut i = 2;
    while i < args.len() {
        let opt = &args[i];
        if is(opt, "persist") && ttl == Ttl::Default {
            ttl = Ttl::Persist;
            i += 1;
        } else if ["ex", "px", "exat", "pxat"].iter().any(|u| is(opt, u))
            && ttl == Ttl::Default
            && i + 1 < args.len()
        {
            ttl = Ttl::At(tri!(expiry(cx, opt, &args[i + 1], "getex")));
            i += 2;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    let key = &args[1];
    let Some(value) = tri!(cx.get_string(key)) else {
        return Reply::Nil;
    };
    match ttl {
        Ttl::At(at) => {
            let at = to_sim_ms(at);
            if at <= cx.now_ms() {
                cx.remove(key);
            } else {
                cx.set_expiry(key, Some(at));
            }
        }
        Ttl::Persist if cx.entry(key).is_some_and(|e| e.expire_at.is_some()) => {
            cx.set_expiry(key, None);
        }
        _ => {}
    }
    Reply::Bulk(value)
}

pub(crate) fn mget(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let values = args[1..]
        .iter()
        .map(|k| Reply::bulk_or_nil(cx.get_string(k).ok().flatten().as_deref()))
        .collect();
    Reply::Array(values)
}

fn pairs_ok(args: &[Vec<u8>]) -> bool {
    args.len() % 2 == 1
}

pub(crate) fn mset(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if !pairs_ok(args) {
        return Reply::err("ERR wrong number of arguments for 'mset' command");
    }
    for pair in args[1..].chunks(2) {
        store(cx, &pair[0], pair[1].clone(), Ttl::Default);
    }
    Reply::ok()
}

pub(crate) fn msetnx(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if !pairs_ok(args) {
        return Reply::err("ERR wrong number of arguments for 'msetnx' command");
    }
    if args[1..].chunks(2).any(|pair| cx.exists(&pair[0])) {
        return Reply::Int(0);
    }
    for pair in args[1..].chunks(2) {
        store(cx, &pair[0], pair[1].clone(), Ttl::Default);
    }
    Reply::Int(1)
}

pub(crate) fn append(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let key = &args[1];
    let old = tri!(cx.get_string(key));
    let len = old.as_ref().map_or(0, Vec::len) + args[2].len();
    if len > cx.e.config.value_bytes_max {
        return Reply::err(TOO_BIG);
    }
    match old {
        None => store(cx, key, args[2].clone(), Ttl::Default),
        Some(_) => {
            cx.modify(key, |e| {
                if let Value::Str(s) = &mut e.value {
                    s.extend_from_slice(&args[2]);
                }
            });
        }
    }
    int(len)
}

pub(crate) fn strlen(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    int(tri!(cx.get_string(&args[1])).map_or(0, |s| s.len()))
}

/// `INCRBY` and friends: the stored value must be an integer, the result must fit; the TTL stays.
fn incr_by(cx: &mut Cx<'_>, key: &[u8], by: i64) -> Reply {
    let old = match tri!(cx.get_string(key)) {
        None => 0,
        Some(s) => match parse_i64(&s) {
            Some(n) => n,
            None => return Reply::err(NOT_INTEGER),
        },
    };
    let Some(new) = old.checked_add(by) else {
        return Reply::err("ERR increment or decrement would overflow");
    };
    let text = new.to_string().into_bytes();
    if cx.exists(key) {
        cx.modify(key, |e| e.value = Value::Str(text));
    } else {
        store(cx, key, text, Ttl::Default);
    }
    Reply::Int(new)
}

pub(crate) fn incr(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    incr_by(cx, &args[1], 1)
}

pub(crate) fn decr(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    incr_by(cx, &args[1], -1)
}

pub(crate) fn incrby(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let by = tri!(int_arg(&args[2]));
    incr_by(cx, &args[1], by)
}

pub(crate) fn decrby(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let by = tri!(int_arg(&args[2]));
    if by == i64::MIN {
        return Reply::err("ERR decrement would overflow");
    }
    incr_by(cx, &args[1], -by)
}
