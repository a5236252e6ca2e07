//! The builtins a SELECT calls that need the engine: the advisory-lock functions, `gen_random_uuid()`, `current_database()` and `pg_backend_pid()`, and undoing the locks a failed statement took.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;

use crate::engine::{gen_random_uuid, AdvisoryHolders, Engine};
use crate::error::PgError;
use crate::eval::{no_function, Flow, Res};
use crate::value::{SqlType, Value};
use crate::{AdvisoryKey, Notice, SessionId, WaitFor};

/// The engine state a SELECT's builtins use, and what they did, for the statement to keep or undo.
pub(super) struct Builtins<'e> {
    pub(super) advisory: &'e mut BTreeMap<AdvisoryKey, AdvisoryHolders>,
    pub(super) rng: &'e mut ChaCha8Rng,
    pub(super) session: SessionId,
    pub(super) pid: u32,
    pub(super) database: String,
    /// Advisory locks taken, and whether each is transaction-level, undone if the statement fails or waits.
    pub(super) acquired: Vec<(AdvisoryKey, bool)>,
    /// A lock was released, so waiters may run.
    pub(super) released: bool,
    pub(super) notices: Vec<Notice>,
}

impl Builtins<'_> {
    /// Calls the builtin `name`, or returns `None` when the name is not one of these.
    pub(super) fn call(&mut self, name: &str, args: &[Value]) -> Option<Res<Value>> {
        if let Some(v) = gen_random_uuid(self.rng, name, args) {
            return Some(v);
        }
        Some(match name {
            "current_database" if args.is_empty() => Ok(Value::Text(self.database.clone())),
            "current_database" => Err(no_function(name, args).into()),
            "pg_backend_pid" => Ok(Value::Int4(self.pid as i32)),
            "pg_advisory_lock" | "pg_advisory_xact_lock" => {
                self.lock(name, args, name == "pg_advisory_xact_lock")
            }
            "pg_try_advisory_lock" | "pg_try_advisory_xact_lock" => self
                .try_lock(name, args, name == "pg_try_advisory_xact_lock")
                .map_err(Flow::Error),
            "pg_advisory_unlock" => self.unlock(name, args).map_err(Flow::Error),
            "pg_advisory_unlock_all" => {
                self.unlock_all();
                Ok(Value::Void)
            }
            _ => return None,
        })
    }

    /// `pg_advisory_lock`: takes the lock, or waits for it.
    fn lock(&mut self, name: &str, args: &[Value], xact: bool) -> Res<Value> {
        let k = advisory_key(name, args)?;
        if args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        if !self.try_take(k, xact) {
            self.advisory.retain(|_, h| !h.is_empty());
            return Err(Flow::Block(WaitFor::Advisory(k)));
        }
        self.acquired.push((k, xact));
        Ok(Value::Void)
    }

    /// `pg_try_advisory_lock`: takes the lock if it is free, and says whether it did.
    fn try_lock(&mut self, name: &str, args: &[Value], xact: bool) -> Result<Value, PgError> {
        if args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        let k = advisory_key(name, args)?;
        let ok = self.try_take(k, xact);
        self.advisory.retain(|_, h| !h.is_empty());
        if ok {
            self.acquired.push((k, xact));
        }
        Ok(Value::Bool(ok))
    }

    /// `pg_advisory_unlock`: releases one session-level hold, or warns that there is none.
    fn unlock(&mut self, name: &str, args: &[Value]) -> Result<Value, PgError> {
        if args.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        let k = advisory_key(name, args)?;
        let held = self
            .advisory
            .get_mut(&k)
            .and_then(|h| h.get_mut(&self.session))
            .filter(|(s, _)| *s > 0);
        let Some((s, _)) = held else {
            self.notices.push(Engine::warning(
                "01000",
                "you don't own a lock of type ExclusiveLock",
            ));
            return Ok(Value::Bool(false));
        };
        *s -= 1;
        if let Some(h) = self.advisory.get_mut(&k) {
            h.retain(|_, (s, x)| *s > 0 || *x > 0);
        }
        self.advisory.retain(|_, h| !h.is_empty());
        self.released = true;
        Ok(Value::Bool(true))
    }

    /// `pg_advisory_unlock_all`: releases every session-level hold; transaction-level ones stay.
    fn unlock_all(&mut self) {
        for h in self.advisory.values_mut() {
            if let Some((s, _)) = h.get_mut(&self.session) {
                *s = 0;
            }
            h.retain(|_, (s, x)| *s > 0 || *x > 0);
        }
        self.advisory.retain(|_, h| !h.is_empty());
        self.released = true;
    }

    /// Takes one more hold on the lock unless another session holds it; may leave an empty entry behind.
    fn try_take(&mut self, key: AdvisoryKey, xact: bool) -> bool {
        let holders = self.advisory.entry(key).or_default();
        if holders.keys().any(|s| *s != self.session) {
            return false;
        }
        let e = holders.entry(self.session).or_insert((0, 0));
        if xact {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
        true
    }
}

/// An advisory function's key: one `bigint`, or two `integer`s.
fn advisory_key(name: &str, args: &[Value]) -> Result<AdvisoryKey, PgError> {
    match args {
        [k] => match k.clone().coerce(SqlType::Int8)? {
            Value::Int8(v) => Ok(AdvisoryKey::Int8(v)),
            _ => Err(no_function(name, args)),
        },
        [a, b] => match (
            a.clone().coerce(SqlType::Int4)?,
            b.clone().coerce(SqlType::Int4)?,
        ) {
            (Value::Int4(x), Value::Int4(y)) => Ok(AdvisoryKey::Int4Pair(x, y)),
            _ => Err(no_function(name, args)),
        },
        _ => Err(no_function(name, args)),
    }
}

impl Engine {
    /// Gives back the advisory locks a statement took before it failed or had to wait, newest first.
    pub(super) fn undo_advisory(&mut self, session: SessionId, acquired: &[(AdvisoryKey, bool)]) {
        for (key, xact) in acquired.iter().rev() {
            if let Some(holders) = self.advisory.get_mut(key) {
                if let Some((s, x)) = holders.get_mut(&session) {
                    if *xact {
                        *x = x.saturating_sub(1);
                    } else {
                        *s = s.saturating_sub(1);
                    }
                }
                holders.retain(|_, (s, x)| *s > 0 || *x > 0);
            }
        }
        self.advisory.retain(|_, h| !h.is_empty());
    }
}
