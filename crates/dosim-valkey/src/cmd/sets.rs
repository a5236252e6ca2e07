//! Sets (Valkey's `t_set.c`): membership, the random pops, the algebra and its `STORE` forms.
//!
//! Members come back in the order Valkey's encoding gives them: integers sorted while the set is an intset, insertion order while it is a listpack, and (where Valkey follows its hash table) insertion order too, which `docs/valkey.md` lists as a difference.
//! `SPOP` and `SRANDMEMBER` draw from the engine's seeded sequence.

use super::{int, int_arg, is, tri, Cx, OOM, SYNTAX};
use crate::keyspace::{Set, SetEncoding, Value};
use crate::Reply;

const OUT_OF_RANGE_POSITIVE: &str = "ERR value is out of range, must be positive";

fn as_set(e: &mut crate::keyspace::Entry) -> &mut Set {
    let Value::Set(s) = &mut e.value else {
        unreachable!("checked to be a set")
    };
    s
}

fn members(items: impl IntoIterator<Item = Vec<u8>>) -> Vec<Reply> {
    items.into_iter().map(Reply::Bulk).collect()
}

pub(crate) fn sadd(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let key = &args[1];
    let adding = &args[2..];
    let len = tri!(cx.get_set(key)).map_or(0, Set::len);
    if len + adding.len() > cx.e.config.elements_max {
        return Reply::err(OOM);
    }
    if len == 0 {
        cx.insert(
            key,
            Value::Set(Set::for_first(&adding[0], adding.len())),
            None,
        );
    }
    let added = cx.modify(key, |e| {
        let set = as_set(e);
        set.expect(adding.len());
        adding.iter().filter(|m| set.insert(m.to_vec())).count()
    });
    int(added.unwrap_or(0))
}

pub(crate) fn srem(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let key = &args[1];
    if tri!(cx.get_set(key)).is_none() {
        return Reply::Int(0);
    }
    let removed = cx.modify(key, |e| {
        let set = as_set(e);
        args[2..].iter().filter(|m| set.remove(m)).count()
    });
    cx.remove_if_empty(key);
    int(removed.unwrap_or(0))
}

pub(crate) fn smembers(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let set = tri!(cx.get_set(&args[1]));
    Reply::Set(set.map_or_else(Vec::new, |s| members(s.members.iter().cloned())))
}

pub(crate) fn sismember(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let set = tri!(cx.get_set(&args[1]));
    Reply::Int(set.is_some_and(|s| s.contains(&args[2])).into())
}

pub(crate) fn smismember(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let set = tri!(cx.get_set(&args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|m| Reply::Int(set.is_some_and(|s| s.contains(m)).into()))
            .collect(),
    )
}

pub(crate) fn scard(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    int(tri!(cx.get_set(&args[1])).map_or(0, Set::len))
}

/// `SPOP key [count]`: without a count one member or nil; with one, a set of up to `count` members.
pub(crate) fn spop(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if args.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(c) => match tri!(int_arg(c)) {
            n if n < 0 => return Reply::err(OUT_OF_RANGE_POSITIVE),
            n => Some(n as usize),
        },
    };
    let key = &args[1];
    let Some(len) = tri!(cx.get_set(key)).map(Set::len) else {
        return match count {
            None => Reply::Nil,
            Some(_) => Reply::Set(Vec::new()),
        };
    };
    let wanted = count.unwrap_or(1).min(len);
    let picks = draw_distinct(cx, len, wanted);
    let popped = cx
        .modify(key, |e| {
            let set = as_set(e);
            let popped: Vec<Vec<u8>> = picks.iter().map(|&i| set.members[i].clone()).collect();
            for m in &popped {
                set.remove(m);
            }
            popped
        })
        .unwrap_or_default();
    cx.remove_if_empty(key);
    match count {
        None => popped.into_iter().next().map_or(Reply::Nil, Reply::Bulk),
        Some(_) => Reply::Set(members(popped)),
    }
}

/// `SRANDMEMBER key [count]`: a negative count may repeat members; a count past the size gives the whole set.
pub(crate) fn srandmember(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    if args.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(c) => match tri!(int_arg(c)) {
            i64::MIN => {
                return Reply::err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            n => Some(n),
        },
    };
    if count.is_some_and(|n| n.unsigned_abs() > cx.e.config.elements_max as u64) {
        return Reply::err(OOM);
    }
    let Some(set) = tri!(cx.get_set(&args[1])).cloned() else {
        return match count {
            None => Reply::Nil,
            Some(_) => Reply::Array(Vec::new()),
        };
    };
    let len = set.len();
    let at = |i: usize| set.members[i].clone();
    match count {
        None => Reply::Bulk(at(cx.e.random_below(len))),
        Some(0) => Reply::Array(Vec::new()),
        Some(n) if n < 0 => Reply::Array(
            (0..n.unsigned_abs())
                .map(|_| Reply::Bulk(at(cx.e.random_below(len))))
                .collect(),
        ),
        Some(n) if n as usize >= len => Reply::Array(members(set.members.iter().cloned())),
        Some(n) => Reply::Array(
            draw_distinct(cx, len, n as usize)
                .into_iter()
                .map(|i| Reply::Bulk(at(i)))
                .collect(),
        ),
    }
}

/// `wanted` distinct positions below `len`, drawn from the engine's sequence, in ascending order: Valkey walks a listpack front to back when it picks several members.
fn draw_distinct(cx: &mut Cx<'_>, len: usize, wanted: usize) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..len).collect();
    let mut picks: Vec<usize> = (0..wanted.min(len))
        .map(|_| {
            let i = cx.e.random_below(pool.len());
            pool.swap_remove(i)
        })
        .collect();
    picks.sort_unstable();
    picks
}

pub(crate) fn smove(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    let Some(from) = cx.read(src).map(|e| matches!(e.value, Value::Set(_))) else {
        return Reply::Int(0);
    };
    if !from {
        return Reply::err(super::WRONGTYPE);
    }
    tri!(cx.get_set(dst));
    if src == dst {
        let set = tri!(cx.get_set(src));
        return Reply::Int(set.is_some_and(|s| s.contains(member)).into());
    }
    if cx.modify(src, |e| as_set(e).remove(member)) != Some(true) {
        return Reply::Int(0);
    }
    cx.remove_if_empty(src);
    if !cx.exists(dst) {
        cx.insert(dst, Value::Set(Set::for_first(member, 1)), None);
    }
    cx.modify(dst, |e| as_set(e).insert(member.clone()));
    Reply::Int(1)
}

/// The sets named, missing keys as `None`; `WRONGTYPE` if one is another type.
fn load(cx: &mut Cx<'_>, keys: &[Vec<u8>]) -> Result<Vec<Option<Set>>, Reply> {
    keys.iter()
        .map(|k| cx.get_set(k).map(Option::<&Set>::cloned))
        .collect()
}

/// What `SINTER` yields: the smallest set's members, in its order, that every other set holds.
fn intersect(sets: Vec<Option<Set>>, limit: usize) -> Option<(Set, Vec<Vec<u8>>)> {
    let mut sets: Vec<Set> = sets.into_iter().collect::<Option<_>>()?;
    sets.sort_by_key(Set::len);
    let (first, rest) = sets.split_first()?;
    let found = first
        .members
        .iter()
        .filter(|m| rest.iter().all(|s| s.contains(m)))
        .take(limit)
        .cloned()
        .collect();
    Some((first.clone(), found))
}

pub(crate) fn sinter(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let sets = tri!(load(cx, &args[1..]));
    let found = intersect(sets, usize::MAX).map_or_else(Vec::new, |(_, f)| f);
    Reply::Set(members(found))
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
pub(crate) fn sintercard(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let numkeys = match super::parse_i64(&args[1]) {
        Some(n) if n >= 1 => n as usize,
        _ => return Reply::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            limit = match super::parse_i64(&args[i + 1]) {
                Some(n) if n >= 0 => n as usize,
                _ => return Reply::err("ERR LIMIT can't be negative"),
            };
            i += 2;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    let sets = tri!(load(cx, &args[2..2 + numkeys]));
    let limit = if limit == 0 { usize::MAX } else { limit };
    int(intersect(sets, limit).map_or(0, |(_, f)| f.len()))
}

pub(crate) fn sinterstore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let sets = tri!(load(cx, &args[2..]));
    let Some((first, found)) = intersect(sets, usize::MAX) else {
        return store(cx, &args[1], None);
    };
    // Valkey starts the result as the smallest set's kind (a listpack for a table) and makes it an intset if only integers came.
    let start = match first.encoding {
        SetEncoding::IntSet => SetEncoding::IntSet,
        _ => SetEncoding::Listpack,
    };
    let mut result = Set::with_encoding(start);
    for m in found {
        result.insert(m);
    }
    result.make_intset_if_integers();
    store(cx, &args[1], Some(result))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

/// `SUNION` or `SDIFF` into a fresh set that starts as an intset, as Valkey's `sunionDiffGenericCommand` builds it.
fn union_diff(cx: &mut Cx<'_>, keys: &[Vec<u8>], op: Op) -> Result<Set, Reply> {
    let sets = load(cx, keys)?;
    let mut result = Set::with_encoding(SetEncoding::IntSet);
    let cap = cx.e.config.elements_max;
    match op {
        Op::Union => {
            for set in sets.iter().flatten() {
                for m in &set.members {
                    result.insert(m.clone());
                    if result.len() > cap {
                        return Err(Reply::err(OOM));
                    }
                }
            }
        }
        Op::Diff => {
            let same_key = keys[1..].iter().any(|k| k == &keys[0]);
            if let (Some(first), false) = (&sets[0], same_key) {
                for m in &first.members {
                    if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                        result.insert(m.clone());
                    }
                }
            }
        }
    }
    Ok(result)
}

pub(crate) fn sunion(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let set = tri!(union_diff(cx, &args[1..], Op::Union));
    Reply::Set(members(set.members))
}

pub(crate) fn sunionstore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let set = tri!(union_diff(cx, &args[2..], Op::Union));
    store(cx, &args[1], Some(set))
}

pub(crate) fn sdiff(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let set = tri!(union_diff(cx, &args[1..], Op::Diff));
    Reply::Set(members(set.members))
}

pub(crate) fn sdiffstore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let set = tri!(union_diff(cx, &args[2..], Op::Diff));
    store(cx, &args[1], Some(set))
}

/// Replaces `dst` with a non-empty result (dropping any expiry) or deletes it; the result's size.
fn store(cx: &mut Cx<'_>, dst: &[u8], result: Option<Set>) -> Reply {
    match result.filter(|s| s.len() > 0) {
        Some(set) => {
            let n = set.len();
            cx.insert(dst, Value::Set(set), None);
            int(n)
        }
        None => {
            cx.remove(dst);
            Reply::Int(0)
        }
    }
}
