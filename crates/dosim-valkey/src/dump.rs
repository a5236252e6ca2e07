//! The keyspace as data that outlives the process (`dosim serve --state`): every live key with its
//! value and the time it has left, and back.
//!
//! Times are kept as what is left, not as instants, because the engine's clock starts again at
//! zero in the next process. Bytes that are UTF-8 are kept as text, others as `hex:` and their hex
//! digits (and so is text that itself starts with `hex:`), so a dump reads as the keys do.
//! Scores are kept as text, since JSON has no infinity.

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::keyspace::{Hash, List, Set, SetEncoding, Value, ZSet};
use crate::{Reply, SimTime};

/// Every live key of every logical database.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineDump {
    pub dbs: Vec<DbDump>,
}

/// One logical database's keys, in key order; databases without keys are left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbDump {
    pub db: usize,
    pub keys: Vec<KeyDump>,
}

/// One key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyDump {
    pub key: String,
    /// Milliseconds it has left, if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    pub value: ValueDump,
}

/// A value, by type; members and elements in the order the engine keeps them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ValueDump {
    String {
        value: String,
    },
    Hash {
        fields: Vec<(String, String)>,
    },
    List {
        items: Vec<String>,
    },
    Set {
        /// `intset`, `listpack` or `hashtable`, which decides the order members come back in.
        encoding: String,
        members: Vec<String>,
    },
    Zset {
        /// Members with their scores, lowest first.
        members: Vec<(String, String)>,
    },
}

fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.starts_with("hex:") => s.to_owned(),
        _ => {
            let mut out = String::with_capacity(4 + bytes.len() * 2);
            out.push_str("hex:");
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

fn bytes(text: &str) -> Result<Vec<u8>, String> {
    let Some(hex) = text.strip_prefix("hex:") else {
        return Ok(text.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 {
        return Err(format!("{text:?}: an odd number of hex digits"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16)
                .map_err(|_| format!("{text:?}: not hex after `hex:`"))
        })
        .collect()
}

fn encoding_name(encoding: SetEncoding) -> &'static str {
    match encoding {
        SetEncoding::IntSet => "intset",
        SetEncoding::Listpack => "listpack",
        SetEncoding::Table => "hashtable",
    }
}

fn dump_value(value: &Value) -> ValueDump {
    match value {
        Value::Str(s) => ValueDump::String { value: text(s) },
        Value::Hash(h) => ValueDump::Hash {
            fields: h.fields.iter().map(|(f, v)| (text(f), text(v))).collect(),
        },
        Value::List(l) => ValueDump::List {
            items: l.items.iter().map(|i| text(i)).collect(),
        },
        Value::Set(s) => ValueDump::Set {
            encoding: encoding_name(s.encoding).to_owned(),
            members: s.members.iter().map(|m| text(m)).collect(),
        },
        Value::ZSet(z) => ValueDump::Zset {
            members: z
                .order
                .iter()
                .map(|(s, m)| (text(m), Reply::fmt_double(s.0)))
                .collect(),
        },
    }
}

fn restore_value(dump: &ValueDump) -> Result<Value, String> {
    Ok(match dump {
        ValueDump::String { value } => Value::Str(bytes(value)?),
        ValueDump::Hash { fields } => {
            let mut h = Hash::default();
            for (f, v) in fields {
                h.insert(bytes(f)?, bytes(v)?);
            }
            Value::Hash(h)
        }
        ValueDump::List { items } => {
            let mut l = List::default();
            for item in items {
                l.push(bytes(item)?, false);
            }
            Value::List(l)
        }
        ValueDump::Set { encoding, members } => {
            let encoding = match encoding.as_str() {
                "intset" => SetEncoding::IntSet,
                "listpack" => SetEncoding::Listpack,
                "hashtable" => SetEncoding::Table,
                other => {
                    return Err(format!(
                        "a set's encoding {other:?} is not intset, listpack or hashtable"
                    ))
                }
            };
            let members = members.iter().map(|m| bytes(m)).collect::<Result<_, _>>()?;
            Value::Set(Set::from_parts(encoding, members))
        }
        ValueDump::Zset { members } => {
            let mut z = ZSet::default();
            for (m, score) in members {
                let score: f64 = match score.as_str() {
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    s => s
                        .parse()
                        .map_err(|_| format!("score {s:?} is not a number"))?,
                };
                if score.is_nan() {
                    return Err("a score is NaN".to_owned());
                }
                z.insert(bytes(m)?, score);
            }
            Value::ZSet(z)
        }
    })
}

impl Engine {
    /// Every key alive at `now`, with the time it has left.
    pub fn dump(&self, now: SimTime) -> EngineDump {
        let now_ms = now.as_ms();
        let dbs = self
            .dbs
            .iter()
            .enumerate()
            .filter_map(|(db, d)| {
                let keys: Vec<KeyDump> = d
                    .keys()
                    .filter(|(_, e)| e.expire_at.is_none_or(|at| at >= now_ms))
                    .map(|(k, e)| KeyDump {
                        key: text(k),
                        ttl_ms: e.expire_at.map(|at| at - now_ms),
                        value: dump_value(&e.value),
                    })
                    .collect();
                (!keys.is_empty()).then_some(DbDump { db, keys })
            })
            .collect();
        EngineDump { dbs }
    }

    /// Replaces every database's keys with the dump's, each expiring its time left after `now`.
    /// Nothing changes when the dump is malformed or does not fit the cluster's limits.
    pub fn restore(&mut self, dump: &EngineDump, now: SimTime) -> Result<(), String> {
        let mut restored = Vec::new();
        let mut total = 0usize;
        for d in &dump.dbs {
            if d.db >= self.dbs.len() {
                return Err(format!(
                    "database {} is past the cluster's {}",
                    d.db,
                    self.dbs.len()
                ));
            }
            total += d.keys.len();
            if total > self.config.keys_max {
                return Err(format!(
                    "more than the cluster's {} keys",
                    self.config.keys_max
                ));
            }
            for k in &d.keys {
                let key = bytes(&k.key)?;
                let value = restore_value(&k.value)?;
                let expire_at = k.ttl_ms.map(|ttl| now.as_ms().saturating_add(ttl));
                restored.push((d.db, key, value, expire_at));
            }
        }
        for db in &mut self.dbs {
            db.clear();
        }
        for (db, key, value, expire_at) in restored {
            self.clock += 1;
            self.dbs[db].insert(key, value, expire_at, self.clock);
        }
        Ok(())
    }
}
