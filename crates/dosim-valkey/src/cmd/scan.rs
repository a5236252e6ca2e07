//! The `SCAN` family: `SCAN` over a database's keys in steps with a cursor; `SSCAN`, `HSCAN` and
//! `ZSCAN` over one key's elements in a single reply with cursor 0, which is what Valkey answers
//! for a set, hash or sorted set in its compact encoding (intset or listpack), and what dosim
//! answers for every size (Valkey steps through larger ones).
//!
//! As in Valkey's `scanGenericCommand`: the cursor is read first (`ERR invalid cursor`); for the
//! commands on a key, a missing key answers the empty scan whatever options follow, and a key of
//! another type answers `WRONGTYPE` before any option is read; then `MATCH`, `COUNT` (at least
//! 1), `TYPE` (`SCAN` only) and `NOVALUES` (`HSCAN` only).

use super::{int_arg, is, tri, Cx, SYNTAX};
use crate::glob;
use crate::Reply;

/// Keys one `SCAN` step visits when the command gives no `COUNT`, as Valkey's default.
const COUNT_DEFAULT: usize = 10;

/// What a scan reads after its cursor.
struct Options<'a> {
    pattern: Option<&'a [u8]>,
    count: usize,
    type_name: Option<&'a [u8]>,
    no_values: bool,
}

/// Which command reads the options: only `SCAN` takes `TYPE`, only `HSCAN` takes `NOVALUES`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scanned {
    Keys,
    Set,
    Hash,
    SortedSet,
}

fn cursor(arg: &[u8]) -> Result<u64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Reply::err("ERR invalid cursor"))
}

fn options(args: &[Vec<u8>], scanned: Scanned) -> Result<Options<'_>, Reply> {
    let mut options = Options {
        pattern: None,
        count: COUNT_DEFAULT,
        type_name: None,
        no_values: false,
    };
    let mut i = 0;
    while i < args.len() {
        let (word, value) = (&args[i], args.get(i + 1));
        if is(word, "novalues") {
            if scanned != Scanned::Hash {
                return Err(Reply::err("ERR NOVALUES option can only be used in HSCAN"));
            }
            options.no_values = true;
            i += 1;
            continue;
        }
        let Some(value) = value else {
            return Err(Reply::err(SYNTAX));
        };
        if is(word, "match") {
            options.pattern = Some(value.as_slice());
        } else if is(word, "count") {
            let n = int_arg(value)?;
            if n < 1 {
                return Err(Reply::err(SYNTAX));
            }
            options.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(word, "type") && scanned == Scanned::Keys {
            options.type_name = Some(value.as_slice());
        } else {
            return Err(Reply::err(SYNTAX));
        }
        i += 2;
    }
    Ok(options)
}

/// The reply: the next cursor, then the elements.
fn scanned(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(items)])
}

fn matches(options: &Options<'_>, item: &[u8]) -> bool {
    options.pattern.is_none_or(|p| glob::matches(p, item))
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: one step of an iteration over the
/// selected database in its scan order (a hash of each key, seeded from the engine's seed, as
/// Valkey seeds its dictionaries' hash at start). A step visits `COUNT` keys (more when keys
/// share a hash) and returns those of them that match, so a step may return none while the
/// cursor is not 0; the next cursor is 0 when the iteration is complete. As in Valkey, a key
/// present throughout an iteration is returned, and a key added or removed during it may or may
/// not be; unlike Valkey's, no key is returned twice.
pub(crate) fn scan(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let cursor = tri!(cursor(&args[1]));
    let options = tri!(options(&args[2..], Scanned::Keys));
    let db = &cx.e.dbs[cx.db()];
    let (visited, next) = db.scan(cursor, options.count);
    let keys = visited
        .into_iter()
        .filter(|key| matches(&options, key))
        .filter(|key| {
            options
                .type_name
                .is_none_or(|t| db.get(key).is_some_and(|e| is(t, e.value.type_name())))
        })
        .map(|key| Reply::Bulk(key.clone()))
        .collect();
    scanned(next, keys)
}

/// What every scan of one key reads first, in Valkey's order: the cursor, then the key (`None`
/// when it is missing, which answers the empty scan; `WRONGTYPE` for another type), then the
/// options.
fn of_key<'c, 'x, 'a, T>(
    cx: &'c mut Cx<'x>,
    args: &'a [Vec<u8>],
    get: impl FnOnce(&'c mut Cx<'x>, &[u8]) -> Result<Option<&'c T>, Reply>,
    scanned: Scanned,
) -> Result<Option<(&'c T, Options<'a>)>, Reply> {
    cursor(&args[2])?;
    let Some(value) = get(cx, &args[1])? else {
        return Ok(None);
    };
    Ok(Some((value, options(&args[3..], scanned)?)))
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: every matching member, in the set's order.
pub(crate) fn sscan(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let Some((set, options)) = tri!(of_key(cx, args, Cx::get_set, Scanned::Set)) else {
        return scanned(0, Vec::new());
    };
    let members = set
        .members
        .iter()
        .filter(|member| matches(&options, member))
        .map(|member| Reply::Bulk(member.clone()))
        .collect();
    scanned(0, members)
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]`: every field whose name matches,
/// each followed by its value unless `NOVALUES`, in the hash's order.
pub(crate) fn hscan(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let Some((hash, options)) = tri!(of_key(cx, args, Cx::get_hash, Scanned::Hash)) else {
        return scanned(0, Vec::new());
    };
    let mut items = Vec::new();
    for (field, value) in hash.fields.iter().filter(|(f, _)| matches(&options, f)) {
        items.push(Reply::Bulk(field.clone()));
        if !options.no_values {
            items.push(Reply::Bulk(value.clone()));
        }
    }
    scanned(0, items)
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: every matching member followed by its score,
/// in score order; the scores are bulk strings in every protocol version, written as Valkey 8
/// writes doubles.
pub(crate) fn zscan(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let Some((zset, options)) = tri!(of_key(cx, args, Cx::get_zset, Scanned::SortedSet)) else {
        return scanned(0, Vec::new());
    };
    let mut items = Vec::new();
    for (score, member) in zset.order.iter().filter(|(_, m)| matches(&options, m)) {
        items.push(Reply::Bulk(member.clone()));
        items.push(Reply::bulk(Reply::fmt_double(score.0)));
    }
    scanned(0, items)
}
