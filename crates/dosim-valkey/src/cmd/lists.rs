//! Lists and the blocking pops (Valkey's `t_list.c`, `blocked.c`, `timeout.c`).

use super::{index_range, int, int_arg, is, parse_f64, tri, Cx, OOM, SYNTAX};
use crate::keyspace::{List, Value};
use crate::{Reply, SimTime};

fn push(cx: &mut Cx<'_>, args: &[Vec<u8>], left: bool) -> Reply {
    let key = &args[1];
    let len = tri!(cx.get_list(key)).map_or(0, List::len);
    if len + args.len() - 2 > cx.e.config.elements_max {
        return Reply::err(OOM);
    }
    if len == 0 {
        cx.insert(key, Value::List(List::default()), None);
    }
    let new_len = cx.modify(key, |e| {
        let Value::List(l) = &mut e.value else {
            unreachable!("checked to be a list")
        };
        for item in &args[2..] {
            l.push(item.clone(), left);
        }
        l.len()
    });
    int(new_len.unwrap_or(0))
}

pub(crate) fn lpush(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    push(cx, args, true)
}

pub(crate) fn rpush(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    push(cx, args, false)
}

/// Pops up to `count` elements from a list known to exist, deleting it if emptied.
fn pop_n(cx: &mut Cx<'_>, key: &[u8], left: bool, count: usize) -> Vec<Vec<u8>> {
    let items = cx
        .modify(key, |e| {
            let Value::List(l) = &mut e.value else {
                unreachable!("checked to be a list")
            };
            (0..count).map_while(|_| l.pop(left)).collect()
        })
        .unwrap_or_default();
    cx.remove_if_empty(key);
    items
}

fn pop(cx: &mut Cx<'_>, args: &[Vec<u8>], left: bool) -> Reply {
    let name = if left { "lpop" } else { "rpop" };
    if args.len() > 3 {
        return Reply::err(format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => {
            let n =
                tri!(int_arg(arg)
                    .map_err(|_| Reply::err("ERR value is out of range, must be positive")));
            if n < 0 {
                return Reply::err("ERR value is out of range, must be positive");
            }
            Some(n as usize)
        }
    };
    let key = &args[1];
    if tri!(cx.get_list(key)).is_none() {
        return if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        };
    }
    match count {
        None => Reply::bulk_or_nil(pop_n(cx, key, left, 1).first().map(Vec::as_slice)),
        Some(n) => Reply::Array(
            pop_n(cx, key, left, n)
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        ),
    }
}

pub(crate) fn lpop(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    pop(cx, args, true)
}

pub(crate) fn rpop(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    pop(cx, args, false)
}

pub(crate) fn llen(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    int(tri!(cx.get_list(&args[1])).map_or(0, List::len))
}

pub(crate) fn lrange(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let start = tri!(int_arg(&args[2]));
    let stop = tri!(int_arg(&args[3]));
    let Some(l) = tri!(cx.get_list(&args[1])) else {
        return Reply::Array(Vec::new());
    };
    match index_range(start, stop, l.len()) {
        None => Reply::Array(Vec::new()),
        Some((a, b)) => Reply::Array(
            l.items
                .range(a..=b)
                .map(|i| Reply::Bulk(i.clone()))
                .collect(),
        ),
    }
}

pub(crate) fn lindex(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let index = tri!(int_arg(&args[2]));
    let Some(l) = tri!(cx.get_list(&args[1])) else {
        return Reply::Nil;
    };
    let len = l.len() as i64;
    let index = if index < 0 { len + index } else { index };
    if index < 0 || index >= len {
        return Reply::Nil;
    }
    Reply::Bulk(l.items[index as usize].clone())
}

pub(crate) fn lrem(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let count = tri!(int_arg(&args[2]));
    let key = &args[1];
    if tri!(cx.get_list(key)).is_none() {
        return Reply::Int(0);
    }
    let element = &args[3];
    let removed = cx.modify(key, |e| {
        let Value::List(l) = &mut e.value else {
            unreachable!("checked to be a list")
        };
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < l.len() && removed < limit {
                if &l.items[i] == element {
                    l.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = l.len();
            while i > 0 && removed < limit {
                i -= 1;
                if &l.items[i] == element {
                    l.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    });
    cx.remove_if_empty(key);
    int(removed.unwrap_or(0))
}

pub(crate) fn ltrim(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let start = tri!(int_arg(&args[2]));
    let stop = tri!(int_arg(&args[3]));
    let key = &args[1];
    let Some(l) = tri!(cx.get_list(key)) else {
        return Reply::ok();
    };
    let keep = index_range(start, stop, l.len());
    cx.modify(key, |e| {
        let Value::List(l) = &mut e.value else {
            unreachable!("checked to be a list")
        };
        let (a, b) = keep.unwrap_or((l.len(), l.len()));
        let tail = l.len().saturating_sub(b + 1);
        for _ in 0..tail {
            l.pop(false);
        }
        for _ in 0..a.min(l.len()) {
            l.pop(true);
        }
    });
    cx.remove_if_empty(key);
    Reply::ok()
}

/// `LEFT` or `RIGHT`: whether it is left.
fn side(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(Reply::err(SYNTAX))
    }
}

/// Moves one element between lists; `None` if the source is absent or empty.
fn move_one(
    cx: &mut Cx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Vec<u8>>, Reply> {
    if cx.get_list(src)?.is_none() {
        return Ok(None);
    }
    let dst_len = cx.get_list(dst)?.map_or(0, List::len);
    if dst_len + 1 > cx.e.config.elements_max {
        return Err(Reply::err(OOM));
    }
    let Some(item) = pop_n(cx, src, from_left, 1).pop() else {
        return Ok(None);
    };
    if !cx.exists(dst) {
        cx.insert(dst, Value::List(List::default()), None);
    }
    let pushed = item.clone();
    cx.modify(dst, |e| {
        if let Value::List(l) = &mut e.value {
            l.push(pushed, to_left);
        }
    });
    Ok(Some(item))
}

pub(crate) fn lmove(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let from_left = tri!(side(&args[3]));
    let to_left = tri!(side(&args[4]));
    Reply::bulk_or_nil(tri!(move_one(cx, &args[1], &args[2], from_left, to_left)).as_deref())
}

pub(crate) fn rpoplpush(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    Reply::bulk_or_nil(tri!(move_one(cx, &args[1], &args[2], false, true)).as_deref())
}

/// A blocking command's timeout in seconds as Valkey's `getTimeoutFromObjectOrReply` reads it: the deadline, `None` for 0 (forever).
fn deadline(cx: &Cx<'_>, arg: &[u8]) -> Result<Option<SimTime>, Reply> {
    let seconds =
        parse_f64(arg).ok_or_else(|| Reply::err("ERR timeout is not a float or out of range"))?;
    let ms = (seconds * 1000.0).ceil();
    if ms > i64::MAX as f64 {
        return Err(Reply::err("ERR timeout is out of range"));
    }
    let ms = ms as i64;
    if ms < 0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms as u64 > u64::MAX / 2 - cx.now_ms() {
        return Err(Reply::err("ERR timeout is out of range"));
    }
    Ok(Some(cx.now.plus_ms(ms as u64)))
}

fn bpop(cx: &mut Cx<'_>, args: &[Vec<u8>], left: bool) -> Reply {
    let timeout = tri!(deadline(cx, &args[args.len() - 1]));
    let keys = &args[1..args.len() - 1];
    for key in keys {
        if tri!(cx.get_list(key)).is_some() {
            let item = pop_n(cx, key, left, 1)
                .pop()
                .expect("a stored list is never empty");
            return Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(item)]);
        }
    }
    if cx.can_block {
        cx.block = Some((keys.to_vec(), timeout));
    }
    Reply::NilArray
}

pub(crate) fn blpop(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    bpop(cx, args, true)
}

pub(crate) fn brpop(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    bpop(cx, args, false)
}

fn bmove(
    cx: &mut Cx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
    timeout: &[u8],
) -> Reply {
    let timeout = tri!(deadline(cx, timeout));
    if let Some(item) = tri!(move_one(cx, src, dst, from_left, to_left)) {
        return Reply::Bulk(item);
    }
    if cx.can_block {
        cx.block = Some((vec![src.to_vec()], timeout));
    }
    // Inside MULTI or a script an empty source answers a null bulk string, not the timeout's null array.
    Reply::Nil
}

pub(crate) fn blmove(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let from_left = tri!(side(&args[3]));
    let to_left = tri!(side(&args[4]));
    bmove(cx, &args[1], &args[2], from_left, to_left, &args[5])
}

pub(crate) fn brpoplpush(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    bmove(cx, &args[1], &args[2], false, true, &args[3])
}
