//! The cluster: its databases, clients, transactions, blocked clients, expiry and eviction, and the dispatch of each command to its handler in `cmd/`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use dosim_base::splitmix64;

use crate::cmd::{self, Cx, Flags};
use crate::keyspace::Db;
use crate::{ClientId, EngineConfig, EvictionPolicy, Outcome, Reply, SimTime};

/// Rounds of serving blocked clients after one command; each round needs a push, so real runs stop after a few.
const SERVE_ROUNDS_MAX: usize = 100_000;

/// A key that expired: removed at `at`, its expiry time, whichever command or sweep noticed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub at: SimTime,
}

pub(crate) struct Client {
    pub(crate) db: usize,
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) lib_name: Option<Vec<u8>>,
    pub(crate) lib_ver: Option<Vec<u8>>,
    pub(crate) multi: Option<Multi>,
    /// Keys it watches, by database.
    pub(crate) watched: Vec<(usize, Vec<u8>)>,
    /// A watched key was written or expired since `WATCH`: its `EXEC` fails.
    pub(crate) cas_dirty: bool,
}

pub(crate) struct Multi {
    pub(crate) queue: Vec<Vec<Vec<u8>>>,
    /// A command was refused while queueing: `EXEC` replies `EXECABORT`.
    pub(crate) poisoned: bool,
}

struct Blocked {
    db: usize,
    args: Vec<Vec<u8>>,
    keys: Vec<Vec<u8>>,
    deadline: Option<SimTime>,
}

/// Counters `INFO` reports.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) commands: u64,
    pub(crate) connections: u64,
    pub(crate) expired_keys: u64,
    pub(crate) evicted_keys: u64,
    pub(crate) keyspace_hits: u64,
    pub(crate) keyspace_misses: u64,
}

/// One Valkey cluster's data.
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) dbs: Vec<Db>,
    pub(crate) clients: BTreeMap<ClientId, Client>,
    next_client: u64,
    watchers: BTreeMap<(usize, Vec<u8>), BTreeSet<ClientId>>,
    blocked: BTreeMap<ClientId, Blocked>,
    /// Clients blocked on each key, first blocked first.
    blocked_on: BTreeMap<(usize, Vec<u8>), VecDeque<ClientId>>,
    /// Keys with blocked clients that a command pushed to, in the order it did.
    ready: VecDeque<(usize, Vec<u8>)>,
    served: Vec<(ClientId, Reply)>,
    expired: VecDeque<ExpiredKey>,
    /// The access clock for LRU: one tick per key read or written.
    pub(crate) clock: u64,
    rng: u64,
    /// Scripts by the SHA-1 of their source, from `EVAL` and `SCRIPT LOAD`.
    pub(crate) scripts: BTreeMap<String, Vec<u8>>,
    pub(crate) stats: Stats,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Engine {
        let dbs = (0..config.databases.max(1))
            .map(|index| Db::new(dosim_base::splitmix64(config.seed ^ index as u64)))
            .collect();
        Engine {
            rng: config.seed,
            config,
            dbs,
            clients: BTreeMap::new(),
            next_client: 1,
            watchers: BTreeMap::new(),
            blocked: BTreeMap::new(),
            blocked_on: BTreeMap::new(),
            ready: VecDeque::new(),
            served: Vec::new(),
            expired: VecDeque::new(),
            clock: 0,
            scripts: BTreeMap::new(),
            stats: Stats::default(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Changes the eviction policy, as `PUT /v2/databases/{uuid}/eviction_policy` does.
    pub fn set_eviction_policy(&mut self, policy: EvictionPolicy) {
        self.config.eviction_policy = policy;
    }

    /// Changes `maxmemory`, as resizing the cluster does; 0 lifts the limit.
    pub fn set_maxmemory(&mut self, bytes: u64) {
        self.config.maxmemory_bytes = bytes;
    }

    /// A new client on database 0, numbered from 1 as Valkey's `CLIENT ID`; `None` past `clients_max` (Valkey: `-ERR max number of clients reached`).
    pub fn connect(&mut self) -> Option<ClientId> {
        if self.clients.len() >= self.config.clients_max {
            return None;
        }
        let id = ClientId(self.next_client);
        self.next_client += 1;
        self.stats.connections += 1;
        self.clients.insert(
            id,
            Client {
                db: 0,
                name: None,
                lib_name: None,
                lib_ver: None,
                multi: None,
                watched: Vec::new(),
                cas_dirty: false,
            },
        );
        Some(id)
    }

    /// Forgets a client: its transaction, watches and blocked command go with it.
    pub fn disconnect(&mut self, client: ClientId) {
        self.unwatch_all(client);
        self.unblock(client);
        self.clients.remove(&client);
        self.served.retain(|(c, _)| *c != client);
    }

    /// `RESET`: ends the client's transaction, drops its watches, selects database 0 and clears its name.
    pub fn reset(&mut self, client: ClientId) {
        self.discard(client);
        if let Some(c) = self.clients.get_mut(&client) {
            c.db = 0;
            c.name = None;
        }
    }

    /// The error Valkey replies before anything else (authentication included) for a command it does not know or whose arity is wrong.
    pub fn precheck(args: &[Vec<u8>]) -> Option<Reply> {
        let name = String::from_utf8_lossy(args.first()?).to_ascii_lowercase();
        let Some(spec) = cmd::lookup(&name) else {
            return Some(Reply::Error(unknown_command(args)));
        };
        if !spec.arity_ok(args.len()) {
            let full = cmd::full_name(spec, args);
            return Some(Reply::Error(format!(
                "ERR wrong number of arguments for '{full}' command"
            )));
        }
        None
    }

    /// Whether a client has a `MULTI` open.
    pub fn in_multi(&self, client: ClientId) -> bool {
        self.clients.get(&client).is_some_and(|c| c.multi.is_some())
    }

    /// The database a client has selected.
    pub fn selected_db(&self, client: ClientId) -> usize {
        self.clients.get(&client).map_or(0, |c| c.db)
    }

    /// Keys in a database, expired ones removed up to the last command's time.
    pub fn dbsize(&self, db: usize) -> usize {
        self.dbs.get(db).map_or(0, Db::len)
    }

    /// Bytes in use, as this engine counts them.
    pub fn used_bytes(&self) -> u64 {
        self.dbs.iter().map(Db::used_bytes).sum()
    }

    /// A string key's value, for checks over the final keyspace; `None` if absent, expired at `now` or not a string.
    pub fn peek_string(&self, db: usize, key: &[u8], now: SimTime) -> Option<Vec<u8>> {
        let entry = self.dbs.get(db)?.get(key)?;
        if entry.expire_at.is_some_and(|at| at < now.as_ms()) {
            return None;
        }
        match &entry.value {
            crate::keyspace::Value::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// A key's remaining time to live at `now`, for checks over the final keyspace: `None` if absent or expired, `Some(None)` if it never expires.
    pub fn peek_ttl(&self, db: usize, key: &[u8], now: SimTime) -> Option<Option<u64>> {
        let entry = self.dbs.get(db)?.get(key)?;
        match entry.expire_at {
            Some(at) if at < now.as_ms() => None,
            Some(at) => Some(Some(at - now.as_ms())),
            None => Some(None),
        }
    }

    /// Every live key of a database at `now` with its type name, in key order.
    pub fn peek_keys(&self, db: usize, now: SimTime) -> Vec<(Vec<u8>, &'static str)> {
        let Some(d) = self.dbs.get(db) else {
            return Vec::new();
        };
        d.keys()
            .filter(|(_, e)| e.expire_at.is_none_or(|at| at >= now.as_ms()))
            .map(|(k, e)| (k.clone(), e.value.type_name()))
            .collect()
    }

    /// Runs one command for `client` at `now`.
    ///
    /// `args[0]` is the command's name in any case. An empty `args` (which the wire skips, as Valkey does) replies an error.
    pub fn execute(&mut self, client: ClientId, args: &[Vec<u8>], now: SimTime) -> Outcome {
        assert!(
            !self.blocked.contains_key(&client),
            "a blocked client sends nothing until it is served"
        );
        if !self.clients.contains_key(&client) {
            return Outcome::Reply(Reply::err("ERR unknown client"));
        }
        self.advance(now);
        self.stats.commands += 1;
        let outcome = self.dispatch(client, args, now);
        self.serve_ready(now);
        outcome
    }

    /// Replies for blocked clients that commands since the last call served, in the order they were served.
    pub fn take_served(&mut self) -> Vec<(ClientId, Reply)> {
        std::mem::take(&mut self.served)
    }

    /// Ends a blocked client's wait if its deadline has come by `now`: Valkey's null array. `None` if it is not blocked or its time has not come.
    pub fn time_out(&mut self, client: ClientId, now: SimTime) -> Option<Reply> {
        let deadline = self.blocked.get(&client)?.deadline?;
        if deadline > now {
            return None;
        }
        self.unblock(client);
        Some(Reply::NilArray)
    }

    /// How many clients are blocked.
    pub fn blocked_clients(&self) -> usize {
        self.blocked.len()
    }

    /// Whether a client is blocked.
    pub fn is_blocked(&self, client: ClientId) -> bool {
        self.blocked.contains_key(&client)
    }

    /// Keys that expired since the last call, in expiry order.
    pub fn take_expired(&mut self) -> Vec<ExpiredKey> {
        self.expired.drain(..).collect()
    }

    /// The active expiry: removes every key whose expiry time is before `now`, earliest first, so a key is absent from the millisecond after it expires, as Valkey's `now > when`.
    ///
    /// Every command calls it first; a caller may call it between commands too (a cron), with the same effect on what clients see.
    pub fn advance(&mut self, now: SimTime) {
        let now_ms = now.as_ms();
        for db in 0..self.dbs.len() {
            while let Some((at, key)) = self.dbs[db].first_expired(now_ms) {
                self.dbs[db].remove(&key);
                self.stats.expired_keys += 1;
                self.signal_modified(db, &key);
                if self.expired.len() >= self.config.expired_log_max {
                    self.expired.pop_front();
                }
                self.expired.push_back(ExpiredKey {
                    db,
                    key,
                    at: SimTime::from_ms(at),
                });
            }
        }
    }

    fn dispatch(&mut self, client: ClientId, args: &[Vec<u8>], now: SimTime) -> Outcome {
        let Some(name_bytes) = args.first() else {
            return Outcome::Reply(Reply::err("ERR empty command"));
        };
        let name = String::from_utf8_lossy(name_bytes).to_ascii_lowercase();
        let in_multi = self.in_multi(client);
        let Some(spec) = cmd::lookup(&name) else {
            return Outcome::Reply(self.reject(client, unknown_command(args)));
        };
        if !spec.arity_ok(args.len()) {
            let full = cmd::full_name(spec, args);
            return Outcome::Reply(self.reject(
                client,
                format!("ERR wrong number of arguments for '{full}' command"),
            ));
        }
        if args.len() > self.config.args_max {
            return Outcome::Reply(self.reject(client, "ERR too many arguments".to_string()));
        }
        if in_multi {
            match name.as_str() {
                "exec" => return Outcome::Reply(self.exec(client, now)),
                "discard" => {
                    self.discard(client);
                    return Outcome::Reply(Reply::ok());
                }
                _ if spec.flags.contains(Flags::NO_MULTI) => {
                    return Outcome::Reply(self.reject(
                        client,
                        "ERR Command not allowed inside a transaction".to_string(),
                    ));
                }
                _ => {}
            }
            let multi = self
                .clients
                .get_mut(&client)
                .and_then(|c| c.multi.as_mut())
                .expect("in_multi said the client has a transaction");
            if multi.queue.len() >= self.config.multi_queue_max {
                multi.poisoned = true;
                return Outcome::Reply(Reply::err(
                    "ERR too many commands queued in this transaction",
                ));
            }
            multi.queue.push(args.to_vec());
            return Outcome::Reply(Reply::Status("QUEUED".to_string()));
        }
        match name.as_str() {
            "exec" => return Outcome::Reply(Reply::err("ERR EXEC without MULTI")),
            "discard" => return Outcome::Reply(Reply::err("ERR DISCARD without MULTI")),
            "multi" => {
                if let Some(c) = self.clients.get_mut(&client) {
                    c.multi = Some(Multi {
                        queue: Vec::new(),
                        poisoned: false,
                    });
                }
                return Outcome::Reply(Reply::ok());
            }
            _ => {}
        }
        let mut cx = Cx::new(self, client, now, true);
        let reply = cmd::run(&mut cx, spec, args);
        match cx.block.take() {
            Some((keys, deadline)) => {
                let db = self.selected_db(client);
                self.block(client, db, args.to_vec(), keys.clone(), deadline);
                Outcome::Blocked { keys, deadline }
            }
            None => Outcome::Reply(reply),
        }
    }

    /// Refuses a command: inside `MULTI` the transaction is poisoned too, as Valkey's `rejectCommand` does.
    fn reject(&mut self, client: ClientId, error: String) -> Reply {
        if let Some(multi) = self.clients.get_mut(&client).and_then(|c| c.multi.as_mut()) {
            multi.poisoned = true;
        }
        Reply::Error(error)
    }

    fn exec(&mut self, client: ClientId, now: SimTime) -> Reply {
        let c = self
            .clients
            .get_mut(&client)
            .expect("exec for a known client");
        let multi = c.multi.take().expect("exec inside MULTI");
        let dirty = c.cas_dirty;
        self.unwatch_all(client);
        if multi.poisoned {
            return Reply::err("EXECABORT Transaction discarded because of previous errors.");
        }
        if dirty {
            return Reply::NilArray;
        }
        let mut replies = Vec::with_capacity(multi.queue.len());
        for args in &multi.queue {
            replies.push(self.run_nonblocking(client, args, now));
        }
        Reply::Array(replies)
    }

    fn discard(&mut self, client: ClientId) {
        if let Some(c) = self.clients.get_mut(&client) {
            c.multi = None;
        }
        self.unwatch_all(client);
    }

    /// Runs a command that must not block (queued in `MULTI`, or a served blocked client's): blocking pops reply as if their time ran out.
    pub(crate) fn run_nonblocking(
        &mut self,
        client: ClientId,
        args: &[Vec<u8>],
        now: SimTime,
    ) -> Reply {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let spec = cmd::lookup(&name).expect("queued commands were looked up when queued");
        let mut cx = Cx::new(self, client, now, false);
        cmd::run(&mut cx, spec, args)
    }

    pub(crate) fn watch(&mut self, client: ClientId, db: usize, key: &[u8]) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        if c.watched.iter().any(|(d, k)| *d == db && k == key) {
            return;
        }
        c.watched.push((db, key.to_vec()));
        self.watchers
            .entry((db, key.to_vec()))
            .or_default()
            .insert(client);
    }

    pub(crate) fn unwatch_all(&mut self, client: ClientId) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        c.cas_dirty = false;
        for (db, key) in std::mem::take(&mut c.watched) {
            let slot = (db, key);
            if let Some(set) = self.watchers.get_mut(&slot) {
                set.remove(&client);
                if set.is_empty() {
                    self.watchers.remove(&slot);
                }
            }
        }
    }

    /// A key changed (written, deleted, expired): clients watching it fail their `EXEC`, and clients blocked on it get a chance to pop.
    pub(crate) fn signal_modified(&mut self, db: usize, key: &[u8]) {
        let slot = (db, key.to_vec());
        if let Some(set) = self.watchers.get(&slot) {
            for c in set {
                if let Some(client) = self.clients.get_mut(c) {
                    client.cas_dirty = true;
                }
            }
        }
        if self.blocked_on.contains_key(&slot) && !self.ready.contains(&slot) {
            self.ready.push_back(slot);
        }
    }

    /// Every key of a database changed (`FLUSHDB`).
    pub(crate) fn signal_flushed(&mut self, db: usize, keys: &[Vec<u8>]) {
        for key in keys {
            self.signal_modified(db, key);
        }
    }

    fn block(
        &mut self,
        client: ClientId,
        db: usize,
        args: Vec<Vec<u8>>,
        keys: Vec<Vec<u8>>,
        deadline: Option<SimTime>,
    ) {
        for key in &keys {
            let queue = self.blocked_on.entry((db, key.clone())).or_default();
            if !queue.contains(&client) {
                queue.push_back(client);
            }
        }
        self.blocked.insert(
            client,
            Blocked {
                db,
                args,
                keys,
                deadline,
            },
        );
    }

    fn unblock(&mut self, client: ClientId) {
        let Some(b) = self.blocked.remove(&client) else {
            return;
        };
        for key in b.keys {
            let slot = (b.db, key);
            if let Some(queue) = self.blocked_on.get_mut(&slot) {
                queue.retain(|c| *c != client);
                if queue.is_empty() {
                    self.blocked_on.remove(&slot);
                }
            }
        }
    }

    /// Serves clients blocked on keys that commands pushed to, first blocked first, by running their command again, as Valkey 7+ does.
    fn serve_ready(&mut self, now: SimTime) {
        for _ in 0..SERVE_ROUNDS_MAX {
            let Some((db, key)) = self.ready.pop_front() else {
                return;
            };
            while let Some(&client) = self
                .blocked_on
                .get(&(db, key.clone()))
                .and_then(|q| q.front())
            {
                if !self.list_nonempty(db, &key) {
                    break;
                }
                let args = self.blocked[&client].args.clone();
                self.unblock(client);
                let reply = self.run_nonblocking(client, &args, now);
                self.served.push((client, reply));
            }
        }
    }

    fn list_nonempty(&self, db: usize, key: &[u8]) -> bool {
        matches!(
            self.dbs[db].get(key).map(|e| &e.value),
            Some(crate::keyspace::Value::List(l)) if l.len() > 0
        )
    }

    /// Makes room before a command that may use memory: evicts by the policy until the cluster fits; whether it fits.
    /// A number below `n` (at least 1) from the engine's seeded sequence: random evictions, `SPOP`, `SRANDMEMBER`.
    pub(crate) fn random_below(&mut self, n: usize) -> usize {
        self.rng = self.rng.wrapping_add(1);
        (splitmix64(self.rng) % n.max(1) as u64) as usize
    }

    pub(crate) fn make_room(&mut self) -> bool {
        loop {
            let keys: usize = self.dbs.iter().map(Db::len).sum();
            let over_memory =
                self.config.maxmemory_bytes > 0 && self.used_bytes() > self.config.maxmemory_bytes;
            let over_keys = keys >= self.config.keys_max;
            if !over_memory && !over_keys {
                return true;
            }
            let Some((db, key)) = self.victim() else {
                return false;
            };
            self.dbs[db].remove(&key);
            self.stats.evicted_keys += 1;
            self.signal_modified(db, &key);
        }
    }

    /// The key the eviction policy drops next, if it has one.
    fn victim(&mut self) -> Option<(usize, Vec<u8>)> {
        let policy = self.config.eviction_policy;
        let volatile = matches!(
            policy,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        );
        let candidates = |db: &Db| -> usize {
            if volatile {
                db.expires_len()
            } else {
                db.len()
            }
        };
        match policy {
            EvictionPolicy::Noeviction => None,
            EvictionPolicy::VolatileTtl => self
                .dbs
                .iter()
                .enumerate()
                .find_map(|(i, db)| db.nearest_expiry().map(|k| (i, k))),
            EvictionPolicy::AllkeysLru | EvictionPolicy::VolatileLru => self
                .dbs
                .iter()
                .enumerate()
                .flat_map(|(i, db)| db.keys().map(move |(k, e)| (i, k, e)))
                .filter(|(_, _, e)| !volatile || e.expire_at.is_some())
                .min_by_key(|(_, _, e)| e.used)
                .map(|(i, k, _)| (i, k.clone())),
            EvictionPolicy::AllkeysRandom | EvictionPolicy::VolatileRandom => {
                let total: usize = self.dbs.iter().map(candidates).sum();
                if total == 0 {
                    return None;
                }
                let mut pick = self.random_below(total);
                for (i, db) in self.dbs.iter().enumerate() {
                    let n = candidates(db);
                    if pick < n {
                        return db
                            .keys()
                            .filter(|(_, e)| !volatile || e.expire_at.is_some())
                            .nth(pick)
                            .map(|(k, _)| (i, k.clone()));
                    }
                    pick -= n;
                }
                None
            }
        }
    }
}

/// Valkey's reply to a command it does not know: the name as sent and the first arguments, each quoted and followed by a space, up to 128 bytes.
fn unknown_command(args: &[Vec<u8>]) -> String {
    let mut listed = String::new();
    for arg in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let text = String::from_utf8_lossy(arg);
        let room = 128 - listed.len();
        let clipped: String = text.chars().take(room).collect();
        listed.push_str(&format!("'{clipped}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0])
        .chars()
        .take(128)
        .collect();
    format!("ERR unknown command '{name}', with args beginning with: {listed}")
}
