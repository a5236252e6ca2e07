//! A deterministic Valkey engine for DigitalOcean's Managed Caching: one cluster's keyspaces, every expiry on simulated time, transactions and blocking pops whose waits the caller schedules; no I/O, no clock, no threads.
//!
//! One [`Engine`] is one cluster.
//! Each connection is a [`ClientId`]; [`Engine::execute`] runs one command (its arguments as bytes) at a [`SimTime`] and returns an [`Outcome`]: a [`Reply`] with Valkey's exact text, or that the client is blocked (`BLPOP` and friends on empty lists).
//! A blocked client is answered later: by a push of another client, collected with [`Engine::take_served`], or by its timeout, which the caller fires with [`Engine::time_out`].
//! Keys expire lazily and actively at the same deterministic points: every command first removes the keys whose time has come, in expiry order, so a key is absent from the first millisecond after its expiry time (`now > expire_at`, Valkey's `keyIsExpired`).
//! `docs/valkey.md` lists the commands served and where they differ from DigitalOcean's Valkey 8.

mod cmd;
mod dump;
mod engine;
mod glob;
mod keyspace;
mod reply;
pub mod script;

pub use cmd::may_write;
pub use dosim_base::SimTime;
pub use dump::{DbDump, EngineDump, KeyDump, ValueDump};
pub use engine::{Engine, ExpiredKey};
pub use reply::Reply;

/// One connection's handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

/// How a command ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The reply to send.
    Reply(Reply),
    /// The client waits for a list to fill (a blocking pop), until `deadline` if it has one; its reply comes from [`Engine::take_served`] or [`Engine::time_out`].
    Blocked {
        /// The keys it waits on, in the order it named them.
        keys: Vec<Vec<u8>>,
        deadline: Option<SimTime>,
    },
}

/// What a full cluster drops to make room, DigitalOcean's `eviction_policy` (underscores, as its API spells them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    /// Refuse writes that need memory with `-OOM`.
    #[default]
    Noeviction,
    AllkeysLru,
    AllkeysRandom,
    VolatileLru,
    VolatileRandom,
    VolatileTtl,
}

impl EvictionPolicy {
    /// Every policy, in the order of DigitalOcean's enum.
    pub const ALL: [EvictionPolicy; 6] = [
        EvictionPolicy::Noeviction,
        EvictionPolicy::AllkeysLru,
        EvictionPolicy::AllkeysRandom,
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
    ];

    /// The name in DigitalOcean's API: `allkeys_lru`.
    pub fn api_name(self) -> &'static str {
        match self {
            EvictionPolicy::Noeviction => "noeviction",
            EvictionPolicy::AllkeysLru => "allkeys_lru",
            EvictionPolicy::AllkeysRandom => "allkeys_random",
            EvictionPolicy::VolatileLru => "volatile_lru",
            EvictionPolicy::VolatileRandom => "volatile_random",
            EvictionPolicy::VolatileTtl => "volatile_ttl",
        }
    }

    /// The policy the API names, if any.
    pub fn from_api_name(name: &str) -> Option<EvictionPolicy> {
        EvictionPolicy::ALL
            .into_iter()
            .find(|p| p.api_name() == name)
    }

    /// The name in Valkey's own `maxmemory-policy`: `allkeys-lru`.
    pub fn server_name(self) -> String {
        self.api_name().replace('_', "-")
    }
}

/// A cluster's settings and limits.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Seeds the random eviction policies, so that a run's evictions depend on its seed alone.
    pub seed: u64,
    /// `valkey_number_of_databases`: `SELECT` takes 0 up to this, exclusive; DigitalOcean's default is 16.
    pub databases: usize,
    /// `maxmemory` in bytes, as this engine counts them (see `docs/valkey.md`); 0 means no limit.
    pub maxmemory_bytes: u64,
    pub eviction_policy: EvictionPolicy,
    /// The longest key.
    pub key_bytes_max: usize,
    /// The longest string value, and the longest element of a hash or list.
    pub value_bytes_max: usize,
    /// Arguments one command may carry, its name included.
    pub args_max: usize,
    /// Elements one hash or list may hold.
    pub elements_max: usize,
    /// Keys the whole cluster may hold; a write past it is refused with `-OOM`.
    pub keys_max: usize,
    /// Commands one `MULTI` may queue.
    pub multi_queue_max: usize,
    /// Clients connected at once; Valkey's `maxclients` is 10000.
    pub clients_max: usize,
    /// Scripts the cache may hold (`EVAL` and `SCRIPT LOAD`).
    pub scripts_max: usize,
    /// Lua instructions one script may run before it is killed.
    pub script_instructions_max: u64,
    /// Memory one script's Lua state may use.
    pub script_memory_bytes_max: usize,
    /// Expired keys kept for [`Engine::take_expired`] before the oldest are dropped.
    pub expired_log_max: usize,
    /// The server version `INFO` and `HELLO` report.
    pub version: String,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            seed: 0,
            databases: 16,
            maxmemory_bytes: 0,
            eviction_policy: EvictionPolicy::Noeviction,
            key_bytes_max: 64 << 10,
            value_bytes_max: 16 << 20,
            args_max: 1 << 16,
            elements_max: 1 << 20,
            keys_max: 1 << 20,
            multi_queue_max: 10_000,
            clients_max: 10_000,
            scripts_max: 10_000,
            script_instructions_max: 10_000_000,
            script_memory_bytes_max: 64 << 20,
            expired_log_max: 10_000,
            version: "8.0.2".to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
