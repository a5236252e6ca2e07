//! One logical database: its keys, their values and expiry times, and the bytes they use as this engine counts them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use indexmap::{IndexMap, IndexSet};

/// What every key costs beyond its bytes, roughly a Valkey dict entry and object header.
pub(crate) const KEY_OVERHEAD_BYTES: u64 = 64;
/// What every hash field or list element costs beyond its bytes.
const ELEMENT_OVERHEAD_BYTES: usize = 16;

/// A list, with the bytes of its elements kept up to date.
#[derive(Clone, Debug, Default)]
pub(crate) struct List {
    pub(crate) items: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl List {
    pub(crate) fn push(&mut self, item: Vec<u8>, left: bool) {
        self.bytes += item.len() + ELEMENT_OVERHEAD_BYTES;
        if left {
            self.items.push_front(item);
        } else {
            self.items.push_back(item);
        }
    }

    pub(crate) fn pop(&mut self, left: bool) -> Option<Vec<u8>> {
        let item = if left {
            self.items.pop_front()
        } else {
            self.items.pop_back()
        }?;
        self.bytes -= item.len() + ELEMENT_OVERHEAD_BYTES;
        Some(item)
    }

    pub(crate) fn remove(&mut self, index: usize) -> Option<Vec<u8>> {
        let item = self.items.remove(index)?;
        self.bytes -= item.len() + ELEMENT_OVERHEAD_BYTES;
        Some(item)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

/// A hash, fields in insertion order as Valkey's listpack keeps them, with its bytes kept up to date.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hash {
    pub(crate) fields: IndexMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl Hash {
    /// Sets a field; whether it is new.
    pub(crate) fn insert(&mut self, field: Vec<u8>, value: Vec<u8>) -> bool {
        let (field_len, value_len) = (field.len(), value.len());
        match self.fields.insert(field, value) {
            Some(old) => {
                self.bytes = self.bytes + value_len - old.len();
                false
            }
            None => {
                self.bytes += field_len + value_len + ELEMENT_OVERHEAD_BYTES;
                true
            }
        }
    }

    pub(crate) fn remove(&mut self, field: &[u8]) -> bool {
        match self.fields.shift_remove_entry(field) {
            Some((f, v)) => {
                self.bytes -= f.len() + v.len() + ELEMENT_OVERHEAD_BYTES;
                true
            }
            None => false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }
}

/// A score with a total order, for a sorted set's index; scores are never NaN.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Score(pub(crate) f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Adding 0.0 turns -0.0 into 0.0, which Valkey's comparisons treat as equal.
        (self.0 + 0.0).total_cmp(&(other.0 + 0.0))
    }
}

/// A sorted set: members by score then member bytes, as Valkey's skiplist orders them, with its bytes kept up to date.
#[derive(Clone, Debug, Default)]
pub(crate) struct ZSet {
    pub(crate) scores: BTreeMap<Vec<u8>, f64>,
    pub(crate) order: BTreeSet<(Score, Vec<u8>)>,
    bytes: usize,
}

impl ZSet {
    /// Sets a member's score; its old score, if it had one.
    pub(crate) fn insert(&mut self, member: Vec<u8>, score: f64) -> Option<f64> {
        let old = self.remove(&member);
        self.bytes += member.len() + 8 + ELEMENT_OVERHEAD_BYTES;
        self.order.insert((Score(score), member.clone()));
        self.scores.insert(member, score);
        old
    }

    /// Removes a member; its score, if it was there.
    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        self.order.remove(&(Score(score), member.to_vec()));
        self.bytes -= member.len() + 8 + ELEMENT_OVERHEAD_BYTES;
        Some(score)
    }

    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    /// The bytes its members and scores use, as the engine counts them.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Valkey 8's default `set-max-intset-entries`.
pub(crate) const SET_INTSET_ENTRIES_MAX: usize = 512;
/// Valkey 8's default `set-max-listpack-entries`.
pub(crate) const SET_LISTPACK_ENTRIES_MAX: usize = 128;
/// Valkey 8's default `set-max-listpack-value`.
pub(crate) const SET_LISTPACK_VALUE_MAX: usize = 64;

/// How Valkey would be storing a set, which decides the order its members come back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetEncoding {
    /// Integers only, kept sorted by value.
    IntSet,
    /// Small: insertion order.
    Listpack,
    /// Large: Valkey's order follows its hash table; this engine keeps insertion order (`docs/valkey.md`).
    Table,
}

/// A set: members in the order Valkey's encoding would give them, with its bytes kept up to date.
#[derive(Clone, Debug)]
pub(crate) struct Set {
    pub(crate) members: IndexSet<Vec<u8>>,
    pub(crate) encoding: SetEncoding,
    bytes: usize,
}

/// Valkey's `string2ll` on a member: whether an intset can hold it.
fn as_int(member: &[u8]) -> Option<i64> {
    crate::cmd::parse_i64(member)
}

impl Set {
    /// An empty set for the first member of a command adding `size_hint` of them (Valkey's `setTypeCreate`).
    pub(crate) fn for_first(first: &[u8], size_hint: usize) -> Set {
        let encoding = if as_int(first).is_some() && size_hint <= SET_INTSET_ENTRIES_MAX {
            SetEncoding::IntSet
        } else if size_hint <= SET_LISTPACK_ENTRIES_MAX {
            SetEncoding::Listpack
        } else {
            SetEncoding::Table
        };
        Set::with_encoding(encoding)
    }

    /// A set as a dump kept it: its kind and its members in order.
    pub(crate) fn from_parts(encoding: SetEncoding, members: IndexSet<Vec<u8>>) -> Set {
        let bytes = members
            .iter()
            .map(|m| m.len() + ELEMENT_OVERHEAD_BYTES)
            .sum();
        Set {
            members,
            encoding,
            bytes,
        }
    }

    /// An empty set of a given kind, for the results of the set algebra.
    pub(crate) fn with_encoding(encoding: SetEncoding) -> Set {
        Set {
            members: IndexSet::new(),
            encoding,
            bytes: 0,
        }
    }

    /// Makes a set of integers only an intset, sorted, if it is small enough (Valkey's `maybeConvertToIntset`).
    pub(crate) fn make_intset_if_integers(&mut self) {
        if self.encoding == SetEncoding::IntSet || self.len() > SET_INTSET_ENTRIES_MAX {
            return;
        }
        let Some(mut ints) = self
            .members
            .iter()
            .map(|m| as_int(m).map(|v| (v, m.clone())))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        ints.sort_by_key(|(v, _)| *v);
        self.members = ints.into_iter().map(|(_, m)| m).collect();
        self.encoding = SetEncoding::IntSet;
    }

    /// Converts before adding `size_hint` members, as Valkey's `setTypeMaybeConvert` does.
    pub(crate) fn expect(&mut self, size_hint: usize) {
        if (self.encoding == SetEncoding::Listpack && size_hint > SET_LISTPACK_ENTRIES_MAX)
            || (self.encoding == SetEncoding::IntSet && size_hint > SET_INTSET_ENTRIES_MAX)
        {
            self.encoding = SetEncoding::Table;
        }
    }

    /// Adds a member; whether it is new.
    pub(crate) fn insert(&mut self, member: Vec<u8>) -> bool {
        if self.members.contains(&member) {
            return false;
        }
        let len = self.members.len();
        match (self.encoding, as_int(&member)) {
            (SetEncoding::IntSet, Some(v)) => {
                let at = self
                    .members
                    .partition_point(|m| as_int(m).is_some_and(|x| x < v));
                self.bytes += member.len() + ELEMENT_OVERHEAD_BYTES;
                self.members.shift_insert(at, member);
                if self.members.len() > SET_INTSET_ENTRIES_MAX {
                    self.encoding = SetEncoding::Table;
                }
                return true;
            }
            (SetEncoding::IntSet, None) => {
                let widest = self.members.iter().map(Vec::len).max().unwrap_or(0);
                self.encoding = if len < SET_LISTPACK_ENTRIES_MAX
                    && member.len() <= SET_LISTPACK_VALUE_MAX
                    && widest <= SET_LISTPACK_VALUE_MAX
                {
                    SetEncoding::Listpack
                } else {
                    SetEncoding::Table
                };
            }
            (SetEncoding::Listpack, _) => {
                if len >= SET_LISTPACK_ENTRIES_MAX || member.len() > SET_LISTPACK_VALUE_MAX {
                    self.encoding = SetEncoding::Table;
                }
            }
            (SetEncoding::Table, _) => {}
        }
        self.bytes += member.len() + ELEMENT_OVERHEAD_BYTES;
        self.members.insert(member);
        true
    }

    /// Removes a member, keeping the others' order; whether it was there.
    pub(crate) fn remove(&mut self, member: &[u8]) -> bool {
        let removed = self.members.shift_remove(member);
        if removed {
            self.bytes -= member.len() + ELEMENT_OVERHEAD_BYTES;
        }
        removed
    }

    pub(crate) fn contains(&self, member: &[u8]) -> bool {
        self.members.contains(member)
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Str(Vec<u8>),
    Hash(Hash),
    List(List),
    Set(Set),
    ZSet(ZSet),
}

impl Value {
    /// What `TYPE` calls it.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    fn bytes(&self) -> u64 {
        (match self {
            Value::Str(s) => s.len(),
            Value::Hash(h) => h.bytes,
            Value::List(l) => l.bytes,
            Value::Set(s) => s.bytes,
            Value::ZSet(z) => z.bytes,
        }) as u64
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) value: Value,
    /// Milliseconds since the simulation's epoch when it expires, if it does.
    pub(crate) expire_at: Option<u64>,
    /// The engine's access clock when it was last read or written, for the LRU policies.
    pub(crate) used: u64,
}

/// One logical database.
#[derive(Debug, Default)]
pub(crate) struct Db {
    keys: BTreeMap<Vec<u8>, Entry>,
    /// Keys with an expiry, by expiry time then key: the active expiry's order.
    expires: BTreeSet<(u64, Vec<u8>)>,
    /// Keys by their scan hash, then key: `SCAN`'s order, which a cursor (a scan hash) resumes.
    by_hash: BTreeSet<(u64, Vec<u8>)>,
    /// The seed of the scan hash, as Valkey seeds its dictionaries' hash function at start.
    hash_seed: u64,
    /// Bytes of keys and values, with per-key overhead.
    used_bytes: u64,
}

impl Db {
    /// An empty database whose `SCAN` order is drawn from `hash_seed`.
    pub(crate) fn new(hash_seed: u64) -> Db {
        Db {
            hash_seed,
            ..Db::default()
        }
    }

    /// Where `key` falls in `SCAN`'s order: FNV-1a over the seed and the key, mixed, never 0
    /// (cursor 0 starts and ends an iteration).
    fn scan_hash(&self, key: &[u8]) -> u64 {
        let mut fnv = dosim_base::Fnv1a::default();
        fnv.write(&self.hash_seed.to_le_bytes());
        fnv.write(key);
        dosim_base::splitmix64(fnv.finish()).max(1)
    }

    /// One `SCAN` step: the keys visited from `cursor` on in scan order (at least `count` of
    /// them, and every key of the last hash visited, since a cursor cannot split a hash), and
    /// the cursor that resumes after them, 0 when the scan is complete. A key present from an
    /// iteration's first step to its last is visited once, whatever changes meanwhile; a key
    /// added or removed meanwhile may or may not be.
    pub(crate) fn scan(&self, cursor: u64, count: usize) -> (Vec<&Vec<u8>>, u64) {
        let mut visited = Vec::new();
        let mut last = None;
        for (hash, key) in self.by_hash.range((cursor, Vec::new())..) {
            if visited.len() >= count.max(1) && last != Some(*hash) {
                return (visited, *hash);
            }
            visited.push(key);
            last = Some(*hash);
        }
        (visited, 0)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn expires_len(&self) -> usize {
        self.expires.len()
    }

    pub(crate) fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.keys.iter()
    }

    /// Changes an entry's value in place with `f`, keeping the byte count; `None` if the key is absent.
    pub(crate) fn modify<R>(&mut self, key: &[u8], f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        let entry = self.keys.get_mut(key)?;
        let before = entry.value.bytes();
        let result = f(entry);
        let after = entry.value.bytes();
        self.used_bytes = self.used_bytes + after - before;
        Some(result)
    }

    /// Stores a value, replacing any, with an expiry.
    pub(crate) fn insert(&mut self, key: Vec<u8>, value: Value, expire_at: Option<u64>, used: u64) {
        self.remove(&key);
        if let Some(at) = expire_at {
            self.expires.insert((at, key.clone()));
        }
        self.used_bytes += KEY_OVERHEAD_BYTES + key.len() as u64 + value.bytes();
        self.by_hash.insert((self.scan_hash(&key), key.clone()));
        self.keys.insert(
            key,
            Entry {
                value,
                expire_at,
                used,
            },
        );
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.keys.remove(key)?;
        self.by_hash.remove(&(self.scan_hash(key), key.to_vec()));
        if let Some(at) = entry.expire_at {
            self.expires.remove(&(at, key.to_vec()));
        }
        self.used_bytes -= KEY_OVERHEAD_BYTES + key.len() as u64 + entry.value.bytes();
        Some(entry)
    }

    /// Sets or clears a present key's expiry.
    pub(crate) fn set_expiry(&mut self, key: &[u8], expire_at: Option<u64>) {
        let Some(entry) = self.keys.get_mut(key) else {
            return;
        };
        if let Some(at) = entry.expire_at {
            self.expires.remove(&(at, key.to_vec()));
        }
        entry.expire_at = expire_at;
        if let Some(at) = expire_at {
            self.expires.insert((at, key.to_vec()));
        }
    }

    /// The key that expires first, if its time has passed: Valkey's `keyIsExpired` is `now > when`, so a key lives through its expiry millisecond.
    pub(crate) fn first_expired(&self, now_ms: u64) -> Option<(u64, Vec<u8>)> {
        let (at, key) = self.expires.first()?;
        (*at < now_ms).then(|| (*at, key.clone()))
    }

    /// The key with the nearest expiry, for `volatile_ttl`.
    pub(crate) fn nearest_expiry(&self) -> Option<Vec<u8>> {
        self.expires.first().map(|(_, k)| k.clone())
    }

    pub(crate) fn clear(&mut self) -> Vec<Vec<u8>> {
        let keys = std::mem::take(&mut self.keys).into_keys().collect();
        self.expires.clear();
        self.by_hash.clear();
        self.used_bytes = 0;
        keys
    }
}
