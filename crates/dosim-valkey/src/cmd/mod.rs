//! The command table, what every handler gets (`Cx`), and the argument parsing Valkey's commands share.
//!
//! A handler is a plain function from its context and arguments to a [`Reply`]; one that would wait (a blocking pop on an empty list) sets `Cx::block` instead.

mod hashes;
mod keys;
mod lists;
mod scan;
mod scripting;
mod server;
mod sets;
mod strings;
mod zsets;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::engine::Engine;
use crate::keyspace::{Entry, Hash, List, Set, Value, ZSet};
use crate::{ClientId, Reply, SimTime};

pub(crate) const WRONGTYPE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
pub(crate) const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub(crate) const SYNTAX: &str = "ERR syntax error";
pub(crate) const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub(crate) const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// What a command is, for the dispatcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags(u32);

impl Flags {
    pub(crate) const NONE: Flags = Flags(0);
    /// It may change the keyspace.
    pub(crate) const WRITE: Flags = Flags(1);
    /// It may use more memory, so a full cluster refuses it with `-OOM` (Valkey's `denyoom`).
    pub(crate) const DENYOOM: Flags = Flags(2 | 1);
    /// Refused inside `MULTI` (Valkey's `no-multi`).
    pub(crate) const NO_MULTI: Flags = Flags(4);
    /// Refused inside a script (Valkey's `noscript`).
    pub(crate) const NO_SCRIPT: Flags = Flags(8);

    const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub(crate) fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

type Handler = fn(&mut Cx<'_>, &[Vec<u8>]) -> Reply;

/// One command: its lowercase name, Valkey's arity (n exactly, or at least -n, the name included), flags, and where its keys are (first, last, step; last -1 is the last argument).
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) arity: i32,
    pub(crate) flags: Flags,
    pub(crate) keys: (usize, i32, usize),
    /// Whether it is a container of subcommands (`CLIENT SETNAME`), which errors name as `client|setname`.
    pub(crate) container: bool,
    run: Handler,
}

impl Spec {
    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The positions of its key arguments in `args`.
    pub(crate) fn key_positions(&self, argc: usize) -> Vec<usize> {
        let (first, last, step) = self.keys;
        if first == 0 || first >= argc {
            return Vec::new();
        }
        let last = if last < 0 {
            (argc as i64 + last as i64).max(0) as usize
        } else {
            (last as usize).min(argc - 1)
        };
        (first..=last).step_by(step.max(1)).collect()
    }
}

const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (usize, i32, usize),
    run: Handler,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        keys,
        container: false,
        run,
    }
}

const fn container(name: &'static str, arity: i32, run: Handler) -> Spec {
    Spec {
        name,
        arity,
        flags: Flags::NONE,
        keys: (0, 0, 0),
        container: true,
        run,
    }
}

const W: Flags = Flags::WRITE;
const WM: Flags = Flags::DENYOOM;
const R: Flags = Flags::NONE;
const NS: Flags = Flags::NO_SCRIPT;
const K1: (usize, i32, usize) = (1, 1, 1);
const K12: (usize, i32, usize) = (1, 2, 1);
const KALL: (usize, i32, usize) = (1, -1, 1);
const KPAIRS: (usize, i32, usize) = (1, -1, 2);
const KBLOCK: (usize, i32, usize) = (1, -2, 1);
const NOKEYS: (usize, i32, usize) = (0, 0, 0);

/// Every command served; `docs/valkey.md` lists them.
static TABLE: &[Spec] = &[
    // Connection and server.
    spec("ping", -1, R, NOKEYS, server::ping),
    spec("echo", 2, R, NOKEYS, server::echo),
    spec("select", 2, R, NOKEYS, server::select),
    Spec {
        flags: Flags::NO_SCRIPT,
        ..container("client", -2, server::client)
    },
    spec("info", -1, R, NOKEYS, server::info),
    spec("dbsize", 1, R, NOKEYS, server::dbsize),
    spec("flushdb", -1, W, NOKEYS, server::flushdb),
    spec("flushall", -1, W, NOKEYS, server::flushall),
    spec("time", 1, R, NOKEYS, server::time),
    container("command", -1, server::command),
    // Transactions: MULTI, EXEC and DISCARD are the dispatcher's own.
    spec(
        "multi",
        1,
        Flags::NO_MULTI.with(NS),
        NOKEYS,
        server::unreachable,
    ),
    spec("exec", 1, NS, NOKEYS, server::unreachable),
    spec("discard", 1, NS, NOKEYS, server::unreachable),
    spec("watch", -2, Flags::NO_MULTI.with(NS), KALL, keys::watch),
    spec("unwatch", 1, NS, NOKEYS, keys::unwatch),
    // Scripting.
    spec("eval", -3, WM.with(NS), NOKEYS, scripting::eval),
    spec("evalsha", -3, WM.with(NS), NOKEYS, scripting::evalsha),
    Spec {
        flags: NS,
        ..container("script", -2, scripting::script)
    },
    // Strings and counters.
    spec("get", 2, R, K1, strings::get),
    spec("set", -3, WM, K1, strings::set),
    spec("setnx", 3, WM, K1, strings::setnx),
    spec("setex", 4, WM, K1, strings::setex),
    spec("psetex", 4, WM, K1, strings::psetex),
    spec("getset", 3, WM, K1, strings::getset),
    spec("getdel", 2, W, K1, strings::getdel),
    spec("getex", -2, W, K1, strings::getex),
    spec("mget", -2, R, KALL, strings::mget),
    spec("mset", -3, WM, KPAIRS, strings::mset),
    spec("msetnx", -3, WM, KPAIRS, strings::msetnx),
    spec("append", 3, WM, K1, strings::append),
    spec("strlen", 2, R, K1, strings::strlen),
    spec("incr", 2, WM, K1, strings::incr),
    spec("decr", 2, WM, K1, strings::decr),
    spec("incrby", 3, WM, K1, strings::incrby),
    spec("decrby", 3, WM, K1, strings::decrby),
    // Keys and expiry.
    spec("del", -2, W, KALL, keys::del),
    spec("unlink", -2, W, KALL, keys::del),
    spec("exists", -2, R, KALL, keys::exists),
    spec("type", 2, R, K1, keys::type_),
    spec("expire", -3, W, K1, keys::expire),
    spec("pexpire", -3, W, K1, keys::pexpire),
    spec("expireat", -3, W, K1, keys::expireat),
    spec("pexpireat", -3, W, K1, keys::pexpireat),
    spec("ttl", 2, R, K1, keys::ttl),
    spec("pttl", 2, R, K1, keys::pttl),
    spec("expiretime", 2, R, K1, keys::expiretime),
    spec("pexpiretime", 2, R, K1, keys::pexpiretime),
    spec("persist", 2, W, K1, keys::persist),
    spec("keys", 2, R, NOKEYS, keys::keys),
    spec("scan", -2, R, NOKEYS, scan::scan),
    spec("rename", 3, W, K12, keys::rename),
    // Hashes.
    spec("hset", -4, WM, K1, hashes::hset),
    spec("hmset", -4, WM, K1, hashes::hmset),
    spec("hsetnx", 4, WM, K1, hashes::hsetnx),
    spec("hget", 3, R, K1, hashes::hget),
    spec("hmget", -3, R, K1, hashes::hmget),
    spec("hdel", -3, W, K1, hashes::hdel),
    spec("hexists", 3, R, K1, hashes::hexists),
    spec("hlen", 2, R, K1, hashes::hlen),
    spec("hincrby", 4, WM, K1, hashes::hincrby),
    spec("hgetall", 2, R, K1, hashes::hgetall),
    spec("hkeys", 2, R, K1, hashes::hkeys),
    spec("hvals", 2, R, K1, hashes::hvals),
    spec("hscan", -3, R, K1, scan::hscan),
    // Lists.
    spec("lpush", -3, WM, K1, lists::lpush),
    spec("rpush", -3, WM, K1, lists::rpush),
    spec("lpop", -2, W, K1, lists::lpop),
    spec("rpop", -2, W, K1, lists::rpop),
    spec("llen", 2, R, K1, lists::llen),
    spec("lrange", 4, R, K1, lists::lrange),
    spec("lindex", 3, R, K1, lists::lindex),
    spec("lrem", 4, W, K1, lists::lrem),
    spec("ltrim", 4, W, K1, lists::ltrim),
    spec("lmove", 5, WM, K12, lists::lmove),
    spec("rpoplpush", 3, WM, K12, lists::rpoplpush),
    spec("blpop", -3, W.with(NS), KBLOCK, lists::blpop),
    spec("brpop", -3, W.with(NS), KBLOCK, lists::brpop),
    spec("blmove", 6, WM.with(NS), K12, lists::blmove),
    spec("brpoplpush", 4, WM.with(NS), K12, lists::brpoplpush),
    // Sets.
    spec("sadd", -3, WM, K1, sets::sadd),
    spec("srem", -3, W, K1, sets::srem),
    spec("smembers", 2, R, K1, sets::smembers),
    spec("sismember", 3, R, K1, sets::sismember),
    spec("smismember", -3, R, K1, sets::smismember),
    spec("scard", 2, R, K1, sets::scard),
    spec("spop", -2, W, K1, sets::spop),
    spec("srandmember", -2, R, K1, sets::srandmember),
    spec("smove", 4, W, K12, sets::smove),
    spec("sinter", -2, R, KALL, sets::sinter),
    spec("sintercard", -3, R, NOKEYS, sets::sintercard),
    spec("sinterstore", -3, WM, KALL, sets::sinterstore),
    spec("sunion", -2, R, KALL, sets::sunion),
    spec("sunionstore", -3, WM, KALL, sets::sunionstore),
    spec("sdiff", -2, R, KALL, sets::sdiff),
    spec("sdiffstore", -3, WM, KALL, sets::sdiffstore),
    spec("sscan", -3, R, K1, scan::sscan),
    // Sorted sets.
    spec("zadd", -4, WM, K1, zsets::zadd),
    spec("zrem", -3, W, K1, zsets::zrem),
    spec("zcard", 2, R, K1, zsets::zcard),
    spec("zscore", 3, R, K1, zsets::zscore),
    spec("zscan", -3, R, K1, scan::zscan),
    spec("zcount", 4, R, K1, zsets::zcount),
    spec("zremrangebyscore", 4, W, K1, zsets::zremrangebyscore),
    spec("zincrby", 4, WM, K1, zsets::zincrby),
    spec("zrange", -4, R, K1, zsets::zrange),
    spec("zrangebyscore", -4, R, K1, zsets::zrangebyscore),
    spec("zrevrange", -4, R, K1, zsets::zrevrange),
    spec("zremrangebyrank", 4, W, K1, zsets::zremrangebyrank),
    spec("zrevrangebyscore", -4, R, K1, zsets::zrevrangebyscore),
    spec("zrangebylex", -4, R, K1, zsets::zrangebylex),
    spec("zrevrangebylex", -4, R, K1, zsets::zrevrangebylex),
    spec("zlexcount", 4, R, K1, zsets::zlexcount),
    spec("zrank", -3, R, K1, zsets::zrank),
    spec("zrevrank", -3, R, K1, zsets::zrevrank),
    spec("zmscore", -3, R, K1, zsets::zmscore),
    spec("zpopmin", -2, W, K1, zsets::zpopmin),
    spec("zpopmax", -2, W, K1, zsets::zpopmax),
];

fn table() -> &'static BTreeMap<&'static str, &'static Spec> {
    static INDEX: OnceLock<BTreeMap<&'static str, &'static Spec>> = OnceLock::new();
    INDEX.get_or_init(|| TABLE.iter().map(|s| (s.name, s)).collect())
}

/// The command of a lowercase name.
pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    table().get(name).copied()
}

/// Whether a command (its name in any case) may change the keyspace: a write, or `EXEC`, which runs a transaction's writes.
pub fn may_write(name: &[u8]) -> bool {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    name == "exec" || lookup(&name).is_some_and(|spec| spec.flags.contains(Flags::WRITE))
}

/// The names of every command served, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|s| s.name)
}

/// The name errors give a command: `client|setname` for a container's subcommand.
pub(crate) fn full_name(spec: &Spec, args: &[Vec<u8>]) -> String {
    match args.get(1) {
        Some(sub) if spec.container => {
            format!(
                "{}|{}",
                spec.name,
                String::from_utf8_lossy(sub).to_ascii_lowercase()
            )
        }
        _ => spec.name.to_string(),
    }
}

/// Runs a looked-up command whose arity was checked: the size limits, the memory check, the handler.
pub(crate) fn run(cx: &mut Cx<'_>, spec: &Spec, args: &[Vec<u8>]) -> Reply {
    let config = &cx.e.config;
    for i in spec.key_positions(args.len()) {
        if args[i].len() > config.key_bytes_max {
            return Reply::err(TOO_BIG);
        }
    }
    if args.iter().any(|a| a.len() > config.value_bytes_max) {
        return Reply::err(TOO_BIG);
    }
    if spec.flags.contains(Flags::DENYOOM) && !cx.e.make_room() {
        return Reply::err(OOM);
    }
    (spec.run)(cx, args)
}

/// What a handler works with: the engine, the client, the command's time (one snapshot per command, frozen across `EXEC`).
pub(crate) struct Cx<'a> {
    pub(crate) e: &'a mut Engine,
    pub(crate) client: ClientId,
    pub(crate) now: SimTime,
    /// False inside `EXEC` and for a served blocked client: blocking pops answer at once.
    pub(crate) can_block: bool,
    /// Set by a blocking pop that must wait: the keys and the deadline.
    pub(crate) block: Option<(Vec<Vec<u8>>, Option<SimTime>)>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(
        e: &'a mut Engine,
        client: ClientId,
        now: SimTime,
        can_block: bool,
    ) -> Cx<'a> {
        Cx {
            e,
            client,
            now,
            can_block,
            block: None,
        }
    }

    pub(crate) fn db(&self) -> usize {
        self.e.selected_db(self.client)
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.now.as_ms()
    }

    /// Milliseconds since the Unix epoch, for `EXPIREAT`, `PXAT` and `TIME`.
    pub(crate) fn unix_ms(&self) -> i64 {
        (dosim_base::EPOCH_UNIX_S * 1000 + self.now.as_ms()) as i64
    }

    fn tick(&mut self) -> u64 {
        self.e.clock += 1;
        self.e.clock
    }

    /// A key's entry for reading, its LRU clock bumped; counts a keyspace hit or miss.
    pub(crate) fn read(&mut self, key: &[u8]) -> Option<&Entry> {
        let db = self.db();
        let tick = self.tick();
        let found = self.e.dbs[db].modify(key, |e| e.used = tick).is_some();
        if found {
            self.e.stats.keyspace_hits += 1;
        } else {
            self.e.stats.keyspace_misses += 1;
        }
        self.e.dbs[db].get(key)
    }

    /// Whether a key exists, without counting a hit.
    pub(crate) fn exists(&self, key: &[u8]) -> bool {
        self.e.dbs[self.db()].get(key).is_some()
    }

    pub(crate) fn entry(&self, key: &[u8]) -> Option<&Entry> {
        self.e.dbs[self.db()].get(key)
    }

    /// A string's value, `Ok(None)` if absent, `WRONGTYPE` if another type.
    pub(crate) fn get_string(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
        match self.read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Reply::err(WRONGTYPE)),
        }
    }

    pub(crate) fn get_list(&mut self, key: &[u8]) -> Result<Option<&List>, Reply> {
        match self.read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::List(l)) => Ok(Some(l)),
            Some(_) => Err(Reply::err(WRONGTYPE)),
        }
    }

    pub(crate) fn get_hash(&mut self, key: &[u8]) -> Result<Option<&Hash>, Reply> {
        match self.read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Hash(h)) => Ok(Some(h)),
            Some(_) => Err(Reply::err(WRONGTYPE)),
        }
    }

    pub(crate) fn get_set(&mut self, key: &[u8]) -> Result<Option<&Set>, Reply> {
        match self.read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Set(s)) => Ok(Some(s)),
            Some(_) => Err(Reply::err(WRONGTYPE)),
        }
    }

    pub(crate) fn get_zset(&mut self, key: &[u8]) -> Result<Option<&ZSet>, Reply> {
        match self.read(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::ZSet(z)) => Ok(Some(z)),
            Some(_) => Err(Reply::err(WRONGTYPE)),
        }
    }

    /// Changes a present key in place and signals it; `None` if absent.
    pub(crate) fn modify<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        let db = self.db();
        let tick = self.tick();
        let result = self.e.dbs[db].modify(key, |e| {
            e.used = tick;
            f(e)
        })?;
        self.e.signal_modified(db, key);
        Some(result)
    }

    /// Stores a value (replacing any) with an expiry, and signals it.
    pub(crate) fn insert(&mut self, key: &[u8], value: Value, expire_at: Option<u64>) {
        let db = self.db();
        let tick = self.tick();
        self.e.dbs[db].insert(key.to_vec(), value, expire_at, tick);
        self.e.signal_modified(db, key);
    }

    /// Deletes a key and signals it; whether it existed.
    pub(crate) fn remove(&mut self, key: &[u8]) -> bool {
        let db = self.db();
        let existed = self.e.dbs[db].remove(key).is_some();
        if existed {
            self.e.signal_modified(db, key);
        }
        existed
    }

    /// Sets or clears a present key's expiry, and signals it.
    pub(crate) fn set_expiry(&mut self, key: &[u8], expire_at: Option<u64>) {
        let db = self.db();
        self.e.dbs[db].set_expiry(key, expire_at);
        self.e.signal_modified(db, key);
    }

    /// Deletes a key left empty (a list or hash with no elements), as Valkey does after every removal.
    pub(crate) fn remove_if_empty(&mut self, key: &[u8]) {
        let empty = match self.entry(key).map(|e| &e.value) {
            Some(Value::List(l)) => l.len() == 0,
            Some(Value::Hash(h)) => h.len() == 0,
            Some(Value::Set(s)) => s.len() == 0,
            Some(Value::ZSet(z)) => z.len() == 0,
            _ => false,
        };
        if empty {
            self.remove(key);
        }
    }
}

/// Valkey's `string2ll`: an optional `-`, digits without a leading zero (except `0` itself), within `i64`.
pub(crate) fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' || (digits == b"0" && bytes.len() > 1) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// An integer argument, or Valkey's `value is not an integer or out of range`.
pub(crate) fn int_arg(bytes: &[u8]) -> Result<i64, Reply> {
    parse_i64(bytes).ok_or_else(|| Reply::err(NOT_INTEGER))
}

/// A float argument as Valkey's `string2ld` reads it: no spaces, finite or `inf`, not NaN.
pub(crate) fn parse_f64(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty()
        || text.len() > 255
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    (!value.is_nan()).then_some(value)
}

/// Whether an argument is `word`, ignoring ASCII case.
pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A Valkey index range (negative indexes count from the end) clamped to `len` items; `None` if
/// it holds none. Lists and sorted sets share it.
pub(crate) fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
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

/// An integer reply from a count.
pub(crate) fn int(n: usize) -> Reply {
    Reply::Int(n as i64)
}

/// Unwraps a `Result<T, Reply>` in a handler: the error is the reply.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}
pub(crate) use tri;
