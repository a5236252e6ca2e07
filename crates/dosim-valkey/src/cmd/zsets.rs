//! Sorted sets (Valkey's `t_zset.c`): the commands a sliding-window rate limiter uses.
//!
//! Scores are doubles: bulk strings in RESP2, RESP3's `,` type otherwise, written as Valkey 8 writes them (the shortest form that reads back the same). With `WITHSCORES`, RESP3 nests each member with its score.

use super::{index_range, int, int_arg, is, tri, Cx, OOM, SYNTAX};
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

/// One end of a score range: the value and whether it is exclusive (`(`).
type Bound = (f64, bool);

fn parse_bound(arg: &[u8]) -> Option<Bound> {
    match arg.strip_prefix(b"(") {
        Some(rest) => parse_score(rest).map(|v| (v, true)),
        None => parse_score(arg).map(|v| (v, false)),
    }
}

fn above(v: f64, min: Bound) -> bool {
    if min.1 {
        v > min.0
    } else {
        v >= min.0
    }
}

fn below(v: f64, max: Bound) -> bool {
    if max.1 {
        v < max.0
    } else {
        v <= max.0
    }
}

/// The members whose scores lie between `min` and `max`, highest first, found through the score index as [`by_score`] finds them.
fn by_score_rev(z: &ZSet, min: Bound, max: Bound) -> impl Iterator<Item = &(Score, Vec<u8>)> {
    use std::ops::Bound as End;
    // Every member with a score of `max` sorts below the first key of the next score up.
    let upper = if max.0 == f64::INFINITY {
        End::Unbounded
    } else {
        End::Excluded((Score(max.0.next_up()), Vec::new()))
    };
    z.order
        .range((End::Unbounded, upper))
        .rev()
        .skip_while(move |(s, _)| !below(s.0, max))
        .take_while(move |(s, _)| above(s.0, min))
}

/// The members whose scores lie between `min` and `max`, lowest first, found through the score index rather than by walking the whole set.
fn by_score(z: &ZSet, min: Bound, max: Bound) -> impl Iterator<Item = &(Score, Vec<u8>)> {
    z.order
        .range((Score(min.0), Vec::new())..)
        .skip_while(move |(s, _)| !above(s.0, min))
        .take_while(move |(s, _)| below(s.0, max))
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
        Some(Ok((_, last))) if o.incr => last.map_or(Reply::Nil, Reply::Double),
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
        Some(v) => Reply::Double(*v),
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
    int(z.map_or(0, |z| by_score(z, min, max).count()))
}

pub(crate) fn zremrangebyscore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (min, max) = tri!(range_args(args));
    let key = &args[1];
    if tri!(cx.get_zset(key)).is_none() {
        return Reply::Int(0);
    }
    let removed = cx.modify(key, |e| {
        let z = as_zset(e);
        let doomed: Vec<Vec<u8>> = by_score(z, min, max).map(|(_, m)| m.clone()).collect();
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

/// Members, with their scores as pairs when asked.
fn members_reply(picked: Vec<(f64, Vec<u8>)>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            picked
                .into_iter()
                .map(|(s, m)| (Reply::Bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        Reply::Array(picked.into_iter().map(|(_, m)| Reply::Bulk(m)).collect())
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug)]
enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn parse_lex(arg: &[u8]) -> Option<LexBound> {
    match arg.split_first()? {
        (b'-', []) => Some(LexBound::Min),
        (b'+', []) => Some(LexBound::Max),
        (b'[', rest) => Some(LexBound::Incl(rest.to_vec())),
        (b'(', rest) => Some(LexBound::Excl(rest.to_vec())),
        _ => None,
    }
}

fn lex_in_range(m: &[u8], min: &LexBound, max: &LexBound) -> bool {
    let above = match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(b) => m >= b.as_slice(),
        LexBound::Excl(b) => m > b.as_slice(),
    };
    let below = match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(b) => m <= b.as_slice(),
        LexBound::Excl(b) => m < b.as_slice(),
    };
    above && below
}

/// How a range command picks members.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// What the `ZRANGE` family was asked, parsed as Valkey's `zrangeGenericCommand` does.
struct RangeQuery {
    by: By,
    rev: bool,
    withscores: bool,
    /// `LIMIT offset count`: offset and count (negative: no limit).
    limit: Option<(i64, i64)>,
}

/// The fixed parts of a family member: `ZRANGE` lets the options choose, `ZREVRANGEBYSCORE` fixes both.
#[derive(Clone, Copy)]
struct Family {
    by: Option<By>,
    rev: Option<bool>,
}

const ZRANGE: Family = Family {
    by: None,
    rev: None,
};

/// A family member with its way and direction fixed.
const fn fixed(by: By, rev: bool) -> Family {
    Family {
        by: Some(by),
        rev: Some(rev),
    }
}

fn parse_query(args: &[Vec<u8>], family: Family) -> Result<RangeQuery, Reply> {
    let (mut by, mut rev, mut withscores, mut limit) = (family.by, family.rev, false, None);
    let mut i = 4;
    while i < args.len() {
        let left = args.len() - i - 1;
        let a = &args[i];
        if is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            limit = Some((int_arg(&args[i + 1])?, int_arg(&args[i + 2])?));
            i += 2;
        } else if family.rev.is_none() && rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if family.by.is_none() && by.is_none() && is(a, "bylex") {
            by = Some(By::Lex);
        } else if family.by.is_none() && by.is_none() && is(a, "byscore") {
            by = Some(By::Score);
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 1;
    }
    let by = by.unwrap_or(By::Rank);
    if limit.is_some() && by == By::Rank {
        return Err(Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(Reply::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    Ok(RangeQuery {
        by,
        rev: rev.unwrap_or(false),
        withscores,
        limit,
    })
}

/// The whole `ZRANGE` family: the range in `args[2..4]` (maximum first when reversed by score or lex), the options after.
fn range_generic(cx: &mut Cx<'_>, args: &[Vec<u8>], family: Family) -> Reply {
    let q = tri!(parse_query(args, family));
    let (lo, hi) = if q.rev && q.by != By::Rank {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    // Parse the range before looking at the key, as Valkey does, so a bad range is an error on a missing key too.
    enum Parsed {
        Rank(i64, i64),
        Score(Bound, Bound),
        Lex(LexBound, LexBound),
    }
    let parsed = match q.by {
        By::Rank => Parsed::Rank(tri!(int_arg(lo)), tri!(int_arg(hi))),
        By::Score => match (parse_bound(lo), parse_bound(hi)) {
            (Some(min), Some(max)) => Parsed::Score(min, max),
            _ => return Reply::err(RANGE_NOT_FLOAT),
        },
        By::Lex => match (parse_lex(lo), parse_lex(hi)) {
            (Some(min), Some(max)) => Parsed::Lex(min, max),
            _ => return Reply::err("ERR min or max not valid string range item"),
        },
    };
    let Some(z) = tri!(cx.get_zset(&args[1])) else {
        return Reply::Array(Vec::new());
    };
    let ordered: Box<dyn Iterator<Item = &(Score, Vec<u8>)>> = if q.rev {
        Box::new(z.order.iter().rev())
    } else {
        Box::new(z.order.iter())
    };
    let picked: Vec<(f64, Vec<u8>)> = match parsed {
        Parsed::Rank(start, stop) => match index_range(start, stop, z.len()) {
            Some((start, stop)) => ordered
                .skip(start)
                .take(stop - start + 1)
                .map(|(s, m)| (s.0, m.clone()))
                .collect(),
            None => Vec::new(),
        },
        Parsed::Score(min, max) if !q.rev => limited(by_score(z, min, max), q.limit, z.len()),
        Parsed::Score(min, max) => limited(by_score_rev(z, min, max), q.limit, z.len()),
        Parsed::Lex(min, max) => limited(
            ordered.filter(|(_, m)| lex_in_range(m, &min, &max)),
            q.limit,
            z.len(),
        ),
    };
    members_reply(picked, q.withscores)
}

/// Applies `LIMIT offset count` as Valkey does: a negative offset, or one past the end, gives nothing; a negative count no limit.
fn limited<'a>(
    matching: impl Iterator<Item = &'a (Score, Vec<u8>)>,
    limit: Option<(i64, i64)>,
    len: usize,
) -> Vec<(f64, Vec<u8>)> {
    let (offset, count) = limit.unwrap_or((0, -1));
    if offset < 0 || (offset > 0 && offset as u64 >= len as u64) {
        return Vec::new();
    }
    let take = usize::try_from(count).unwrap_or(usize::MAX);
    matching
        .skip(offset as usize)
        .take(take)
        .map(|(s, m)| (s.0, m.clone()))
        .collect()
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`.
pub(crate) fn zrange(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_generic(cx, args, ZRANGE)
}

/// `ZREVRANGE key start stop [WITHSCORES]`.
pub(crate) fn zrevrange(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_generic(cx, args, fixed(By::Rank, true))
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`.
pub(crate) fn zrangebyscore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_generic(cx, args, fixed(By::Score, false))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`.
pub(crate) fn zrevrangebyscore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_generic(cx, args, fixed(By::Score, true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`.
pub(crate) fn zrangebylex(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_generic(cx, args, fixed(By::Lex, false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`.
pub(crate) fn zrevrangebylex(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    range_generic(cx, args, fixed(By::Lex, true))
}

/// `ZLEXCOUNT key min max`.
pub(crate) fn zlexcount(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let (Some(min), Some(max)) = (parse_lex(&args[2]), parse_lex(&args[3])) else {
        return Reply::err("ERR min or max not valid string range item");
    };
    let z = tri!(cx.get_zset(&args[1]));
    int(z.map_or(0, |z| {
        z.order
            .iter()
            .filter(|(_, m)| lex_in_range(m, &min, &max))
            .count()
    }))
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

/// `ZRANK key member [WITHSCORE]`.
pub(crate) fn zrank(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    rank(cx, args, false)
}

/// `ZREVRANK key member [WITHSCORE]`.
pub(crate) fn zrevrank(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    rank(cx, args, true)
}

fn rank(cx: &mut Cx<'_>, args: &[Vec<u8>], rev: bool) -> Reply {
    let withscore = match &args[3..] {
        [] => false,
        [w] if is(w, "withscore") => true,
        _ => return Reply::err(SYNTAX),
    };
    let z = tri!(cx.get_zset(&args[1]));
    let found = z.and_then(|z| {
        let score = *z.scores.get(&args[2])?;
        let below = z.order.range(..(Score(score), args[2].clone())).count();
        let rank = if rev { z.len() - 1 - below } else { below };
        Some((rank, score))
    });
    match found {
        Some((rank, score)) if withscore => Reply::Array(vec![int(rank), Reply::Double(score)]),
        Some((rank, _)) => int(rank),
        None if withscore => Reply::NilArray,
        None => Reply::Nil,
    }
}

/// `ZMSCORE key member [member ...]`: a score or nil for each.
pub(crate) fn zmscore(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let z = tri!(cx.get_zset(&args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.scores.get(m)) {
                Some(v) => Reply::Double(*v),
                None => Reply::Nil,
            })
            .collect(),
    )
}

/// `ZPOPMIN key [count]`.
pub(crate) fn zpopmin(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    pop(cx, args, false)
}

/// `ZPOPMAX key [count]`.
pub(crate) fn zpopmax(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    pop(cx, args, true)
}

/// The lowest (or highest) members with their scores: one flat pair without a count, pairs with one (nested in RESP3).
fn pop(cx: &mut Cx<'_>, args: &[Vec<u8>], max: bool) -> Reply {
    let count = match args.get(2) {
        None => None,
        Some(c) => match tri!(int_arg(c)) {
            n if n < 0 => return Reply::err("ERR value is out of range, must be positive"),
            n => Some(n as usize),
        },
    };
    if args.len() > 3 {
        return Reply::err(SYNTAX);
    }
    let key = &args[1];
    if tri!(cx.get_zset(key)).is_none() {
        return Reply::Array(Vec::new());
    }
    let wanted = count.unwrap_or(1);
    let popped = cx.modify(key, |e| {
        let z = as_zset(e);
        let mut out = Vec::new();
        while out.len() < wanted {
            let next = if max { z.order.last() } else { z.order.first() };
            let Some((s, m)) = next.cloned() else {
                break;
            };
            z.remove(&m);
            out.push((s.0, m));
        }
        out
    });
    cx.remove_if_empty(key);
    let popped = popped.unwrap_or_default();
    match count {
        Some(_) => members_reply(popped, true),
        None => Reply::Array(
            popped
                .into_iter()
                .flat_map(|(s, m)| [Reply::Bulk(m), Reply::Double(s)])
                .collect(),
        ),
    }
}
