//! Hashes (Valkey's `t_hash.c`); fields keep insertion order, as a small hash's listpack does.

use super::{int, int_arg, parse_i64, tri, Cx, OOM};
use crate::keyspace::{Hash, Value};
use crate::Reply;

/// Sets field/value pairs, creating the hash; how many fields are new.
fn set_pairs(cx: &mut Cx<'_>, key: &[u8], pairs: &[Vec<u8>]) -> Result<usize, Reply> {
    let len = cx.get_hash(key)?.map_or(0, Hash::len);
    if len + pairs.len() / 2 > cx.e.config.elements_max {
        return Err(Reply::err(OOM));
    }
    if len == 0 {
        cx.insert(key, Value::Hash(Hash::default()), None);
    }
    let added = cx.modify(key, |e| {
        let Value::Hash(h) = &mut e.value else {
            unreachable!("checked to be a hash")
        };
        pairs
            .chunks(2)
            .filter(|p| h.insert(p[0].clone(), p[1].clone()))
            .count()
    });
    Ok(added.unwrap_or(0))
}

pub(crate) fn hset(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if args.len() % 2 == 1 {
        return Reply::err("ERR wrong number of arguments for 'hset' command");
    }
    int(tri!(set_pairs(cx, &args[1], &args[2..])))
}

pub(crate) fn hmset(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if args.len() % 2 == 1 {
        return Reply::err("ERR wrong number of arguments for 'hmset' command");
    }
    tri!(set_pairs(cx, &args[1], &args[2..]));
    Reply::ok()
}

pub(crate) fn hsetnx(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let present = tri!(cx.get_hash(&args[1])).is_some_and(|h| h.fields.contains_key(&args[2]));
    if present {
        return Reply::Int(0);
    }
    int(tri!(set_pairs(cx, &args[1], &args[2..4])))
}

pub(crate) fn hget(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let h = tri!(cx.get_hash(&args[1]));
    Reply::bulk_or_nil(h.and_then(|h| h.fields.get(&args[2])).map(Vec::as_slice))
}

pub(crate) fn hmget(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let h = tri!(cx.get_hash(&args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|f| Reply::bulk_or_nil(h.and_then(|h| h.fields.get(f)).map(Vec::as_slice)))
            .collect(),
    )
}

pub(crate) fn hdel(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let key = &args[1];
    if tri!(cx.get_hash(key)).is_none() {
        return Reply::Int(0);
    }
    let removed = cx.modify(key, |e| {
        let Value::Hash(h) = &mut e.value else {
            unreachable!("checked to be a hash")
        };
        args[2..].iter().filter(|f| h.remove(f)).count()
    });
    cx.remove_if_empty(key);
    int(removed.unwrap_or(0))
}

pub(crate) fn hexists(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let h = tri!(cx.get_hash(&args[1]));
    Reply::Int(h.is_some_and(|h| h.fields.contains_key(&args[2])) as i64)
}

pub(crate) fn hlen(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    int(tri!(cx.get_hash(&args[1])).map_or(0, Hash::len))
}

pub(crate) fn hincrby(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let by = tri!(int_arg(&args[3]));
    let key = &args[1];
    let old = match tri!(cx.get_hash(key)).and_then(|h| h.fields.get(&args[2])) {
        None => 0,
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => return Reply::err("ERR hash value is not an integer"),
        },
    };
    let Some(new) = old.checked_add(by) else {
        return Reply::err("ERR increment or decrement would overflow");
    };
    tri!(set_pairs(
        cx,
        key,
        &[args[2].clone(), new.to_string().into_bytes()]
    ));
    Reply::Int(new)
}

pub(crate) fn hgetall(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let h = tri!(cx.get_hash(&args[1]));
    Reply::Map(h.map_or_else(Vec::new, |h| {
        h.fields
            .iter()
            .map(|(f, v)| (Reply::Bulk(f.clone()), Reply::Bulk(v.clone())))
            .collect()
    }))
}

pub(crate) fn hkeys(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let h = tri!(cx.get_hash(&args[1]));
    Reply::Array(h.map_or_else(Vec::new, |h| {
        h.fields.keys().map(|f| Reply::Bulk(f.clone())).collect()
    }))
}

pub(crate) fn hvals(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let h = tri!(cx.get_hash(&args[1]));
    Reply::Array(h.map_or_else(Vec::new, |h| {
        h.fields.values().map(|v| Reply::Bulk(v.clone())).collect()
    }))
}
