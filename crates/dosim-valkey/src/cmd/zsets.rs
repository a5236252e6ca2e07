//! Sorted sets (Valkey's `t_zset.c`): the commands a sliding-window rate limiter uses.
//!
//! Scores come back as bulk strings in both protocols (RESP3's double type is not modelled), formatted as Rust's shortest round-trip form, which matches Valkey's `%.17g` for integers and usual fractions.

use super::{int, int_arg, tri, Cx, OOM, SYNTAX};
use crate::keyspace::{Score, Value, ZSet};
use crate::Reply;

const NOT_FLOAT: &str = "ERR value is not a valid float";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";

/// Parses a score as Valkey's `strtod` does, `inf` and `-inf` included, NaN refused.
fn parse_score(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// A score as Valkey prints it.
pub(crate) fn fmt_score(v: f64) -> Vec<u8> {
    if v == f64::INFINITY {
        b"inf".to_vec()
    } else if v == f64::NEG_INFINITY {
        b"-inf".to_vec()
    } else {
        format!("{v}").into_bytes()
    }
}

/// One end of a score range: the value and whether it is exclusive (`(`).
type Bound = (f64, bool);

fn parse_bound(arg: &[u8]) -> Option<Bound> {
    match arg.strip_prefix(b"(") {
        Some(rest) => parse_score(rest).map(|v| (v, true)),
        None => parse_score(arg).map(|v| (v, false)),
    }
}

fn in_range(v: f64, min: Bound, max: Bound) -> bool {
    let above = if min.1 { v > min.0 } else { v >= min.0 };
    let below = if max.1 { v < max.0 } else { v <= max.0 };
    above && below
}

fn as_zset(e: &mut crate::keyspace::Entry) -> &mut ZSet {
    let Value::ZSet(z) = &mut e.value else {
        unreachable!("checked to be a sorted set")
    };
    z
}

#[derive(Default)]
struct AddOpts {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Parses ZADD's options; the index of the first score.
fn add_opts(args: &[Vec<u8>]) -> (AddOpts, usize) {
    let mut o = AddOpts::default();
    let mut i = 2;
    while i < args.len() {
        match args[i].to_ascii_lowercase().as_slice() {
            b"nx" => o.nx = true,
            b"xx" => o.xx = true,
            b"gt" => o.gt = true,
            b"lt" => o.lt = true,
            b"ch" => o.ch = true,
            b"incr" => o.incr = true,
            _ => break,
        }
        i += 1;
    }
    (o, i)
}

pub(crate) fn zadd(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (o, first) = add_opts(args);
    let pairs = &args[first..];
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return Reply::err(SYNTAX);
    }
    if o.nx && o.xx {
        return Reply::err("ERR XX and NX options at the same time are not compatible");
    }
    if [o.gt, o.lt, o.nx].iter().filter(|b| **b).count() > 1 {
        return Reply::err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if o.incr && pairs.len() > 2 {
        return Reply::err("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for p in pairs.chunks(2) {
        match parse_score(&p[0]) {
            Some(v) => scores.push((v, p[1].clone())),
            None => return Reply::err(NOT_FLOAT),
        }
    }
    let key = &args[1];
    let len = tri!(cx.get_zset(key)).map_or(0, ZSet::len);
    if len + scores.len() > cx.e.config.elements_max {
        return Reply::err(OOM);
    }
    if len == 0 {
        if o.xx {
            return if o.incr { Reply::Nil } else { Reply::Int(0) };
        }
        cx.insert(key, Value::ZSet(ZSet::default()), None);
    }
    let outcome = cx.modify(key, |e| add_all(as_zset(e), &o, scores));
    cx.remove_if_empty(key);
    match outcome {
        Some(Ok((_, last))) if o.incr => last.map_or(Reply::Nil, |v| Reply::Bulk(fmt_score(v))),
        Some(Ok((changed, _))) => int(changed),
        Some(Err(e)) => e,
        None => Reply::Int(0),
    }
}

/// Applies ZADD's pairs; how many were added (or changed, with CH) and the last new score (for INCR).
fn add_all(
    z: &mut ZSet,
    o: &AddOpts,
    scores: Vec<(f64, Vec<u8>)>,
) -> Result<(usize, Option<f64>), Reply> {
    let (mut added, mut changed, mut last) = (0, 0, None);
    for (v, member) in scores {
        let old = z.scores.get(&member).copied();
        let new = match (old, o.incr) {
            (Some(old), true) => old + v,
            _ => v,
        };
        if new.is_nan() {
            return Err(Reply::err("ERR resulting score is not a number (NaN)"));
        }
        let skip = match old {
            Some(old) => o.nx || (o.gt && new <= old) || (o.lt && new >= old),
            None => o.xx,
        };
        if skip {
            continue;
        }
        last = Some(new);
        match z.insert(member, new) {
            None => added += 1,
            Some(old) if Score(old) != Score(new) => changed += 1,
            Some(_) => {}
        }
    }
    Ok((if o.ch { added + changed } else { added }, last))
}

pub(crate) fn zrem(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let key = &args[1];
    if tri!(cx.get_zset(key)).is_none() {
        return Reply::Int(0);
    }
    let removed = cx.modify(key, |e| {
        let z = as_zset(e);
        args[2..].iter().filter(|m| z.remove(m).is_some()).count()
    });
    cx.remove_if_empty(key);
    int(removed.unwrap_or(0))
}

pub(crate) fn zcard(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    int(tri!(cx.get_zset(&args[1])).map_or(0, ZSet::len))
}

pub(crate) fn zscore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let z = tri!(cx.get_zset(&args[1]));
    match z.and_then(|z| z.scores.get(&args[2])) {
        Some(v) => Reply::Bulk(fmt_score(*v)),
        None => Reply::Nil,
    }
}

fn range_args(args: &[Vec<u8>]) -> Result<(Bound, Bound), Reply> {
    match (parse_bound(&args[2]), parse_bound(&args[3])) {
        (Some(min), Some(max)) => Ok((min, max)),
        _ => Err(Reply::err(RANGE_NOT_FLOAT)),
    }
}

pub(crate) fn zcount(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (min, max) = tri!(range_args(args));
    let z = tri!(cx.get_zset(&args[1]));
    int(z.map_or(0, |z| {
        z.order
            .iter()
            .filter(|(s, _)| in_range(s.0, min, max))
            .count()
    }))
}

pub(crate) fn zremrangebyscore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (min, max) = tri!(range_args(args));
    let key = &args[1];
    if tri!(cx.get_zset(key)).is_none() {
        return Reply::Int(0);
    }
    let removed = cx.modify(key, |e| {
        let z = as_zset(e);
        let doomed: Vec<Vec<u8>> = z
            .order
            .iter()
            .filter(|(s, _)| in_range(s.0, min, max))
            .map(|(_, m)| m.clone())
            .collect();
        doomed.iter().filter(|m| z.remove(m).is_some()).count()
    });
    cx.remove_if_empty(key);
    int(removed.unwrap_or(0))
}

pub(crate) fn zincrby(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let rewritten = [
        args[0].clone(),
        args[1].clone(),
        b"INCR".to_vec(),
        args[2].clone(),
        args[3].clone(),
    ];
    zadd(cx, &rewritten)
}

/// Members and optionally scores, flat as RESP2 sends them.
fn members_reply(picked: Vec<(f64, Vec<u8>)>, withscores: bool) -> Reply {
    let mut out = Vec::with_capacity(picked.len() * 2);
    for (s, m) in picked {
        out.push(Reply::Bulk(m));
        if withscores {
            out.push(Reply::Bulk(fmt_score(s)));
        }
    }
    Reply::Array(out)
}

/// Valkey's index range: negative indexes from the end, clamped; `None` if empty.
fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

/// `ZRANGE key start stop [WITHSCORES]`, by index only.
pub(crate) fn zrange(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_by_index(cx, args, false)
}

/// `ZREVRANGE key start stop [WITHSCORES]`.
pub(crate) fn zrevrange(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_by_index(cx, args, true)
}

fn range_by_index(cx: &mut Cx<'_>, args: &[Vec<u8>], rev: bool) -> Reply {
    let withscores = match &args[4..] {
        [] => false,
        [w] if w.eq_ignore_ascii_case(b"withscores") => true,
        _ => return Reply::err(SYNTAX),
    };
    let (start, stop) = (tri!(int_arg(&args[2])), tri!(int_arg(&args[3])));
    let Some(z) = tri!(cx.get_zset(&args[1])) else {
        return Reply::Array(Vec::new());
    };
    let Some((start, stop)) = index_range(start, stop, z.len()) else {
        return Reply::Array(Vec::new());
    };
    let iter = z.order.iter().map(|(s, m)| (s.0, m.clone()));
    let picked: Vec<_> = if rev {
        iter.rev().skip(start).take(stop - start + 1).collect()
    } else {
        iter.skip(start).take(stop - start + 1).collect()
    };
    members_reply(picked, withscores)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`.
pub(crate) fn zrangebyscore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (min, max) = tri!(range_args(args));
    let (mut withscores, mut offset, mut count) = (false, 0i64, -1i64);
    let mut i = 4;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"withscores") {
            withscores = true;
            i += 1;
        } else if args[i].eq_ignore_ascii_case(b"limit") && i + 2 < args.len() {
            offset = tri!(int_arg(&args[i + 1]));
            count = tri!(int_arg(&args[i + 2]));
            i += 3;
        } else {
            return Reply::err(SYNTAX);
        }
    }
    let Some(z) = tri!(cx.get_zset(&args[1])) else {
        return Reply::Array(Vec::new());
    };
    if offset < 0 {
        return Reply::Array(Vec::new());
    }
    let take = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let picked = z
        .order
        .iter()
        .filter(|(s, _)| in_range(s.0, min, max))
        .skip(offset as usize)
        .take(take)
        .map(|(s, m)| (s.0, m.clone()))
        .collect();
    members_reply(picked, withscores)
}

pub(crate) fn zremrangebyrank(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (start, stop) = (tri!(int_arg(&args[2])), tri!(int_arg(&args[3])));
    let key = &args[1];
    let Some(z) = tri!(cx.get_zset(key)) else {
        return Reply::Int(0);
    };
    let Some((start, stop)) = index_range(start, stop, z.len()) else {
        return Reply::Int(0);
    };
    let removed = cx.modify(key, |e| {
        let z = as_zset(e);
        let doomed: Vec<Vec<u8>> = z
            .order
            .iter()
            .skip(start)
            .take(stop - start + 1)
            .map(|(_, m)| m.clone())
            .collect();
        doomed.iter().filter(|m| z.remove(m).is_some()).count()
    });
    cx.remove_if_empty(key);
    int(removed.unwrap_or(0))
}

pub(crate) fn zrank(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let z = tri!(cx.get_zset(&args[1]));
    let rank = z.and_then(|z| {
        let score = *z.scores.get(&args[2])?;
        Some(z.order.range(..(Score(score), args[2].clone())).count())
    });
    rank.map_or(Reply::Nil, int)
}

/// `ZPOPMIN key [count]`: the lowest members with their scores, flat as RESP2 sends them.
pub(crate) fn zpopmin(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let count = match args.get(2) {
        None => 1,
        Some(c) => match tri!(int_arg(c)) {
            n if n < 0 => return Reply::err("ERR value is out of range, must be positive"),
            n => n as usize,
        },
    };
    if args.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let key = &args[1];
    if tri!(cx.get_zset(key)).is_none() {
        return Reply::Array(Vec::new());
    }
    let popped = cx.modify(key, |e| {
        let z = as_zset(e);
        let mut out = Vec::new();
        while out.len() < count {
            let Some((s, m)) = z.order.first().cloned() else {
                break;
            };
            z.remove(&m);
            out.push((s.0, m));
        }
        out
    });
    cx.remove_if_empty(key);
    members_reply(popped.unwrap_or_default(), true)
}
