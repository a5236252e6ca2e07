//! The advisory-lock functions: taking, trying, releasing, and undoing what a failed statement took.

use std::collections::BTreeMap;

use crate::engine::Engine;
use crate::error::PgError;
use crate::eval::{Flow, Res};
use crate::value::{SqlType, Value};
use crate::{AdvisoryKey, Notice, SessionId, WaitFor};

/// The advisory-lock builtins. Returns `None` for any other function name.
#[allow(clippy::too_many_arguments)]
pub(super) fn advisory_call(
    advisory: &mut BTreeMap<AdvisoryKey, crate::engine::AdvisoryHolders>,
    session: SessionId,
    pid: u32,
    name: &str,
    args: &[Value],
    acquired: &mut Vec<(AdvisoryKey, bool)>,
    released: &mut bool,
    notices: &mut Vec<Notice>,
) -> Option<Res<Value>> {
    let key = || -> Result<AdvisoryKey, PgError> {
        match args {
            [k] => match k.clone().coerce(SqlType::Int8)? {
                Value::Int8(v) => Ok(AdvisoryKey::Int8(v)),
                _ => Err(crate::eval::no_function(name, args)),
            },
            [a, b] => match (
                a.clone().coerce(SqlType::Int4)?,
                b.clone().coerce(SqlType::Int4)?,
            ) {
                (Value::Int4(x), Value::Int4(y)) => Ok(AdvisoryKey::Int4Pair(x, y)),
                _ => Err(crate::eval::no_function(name, args)),
            },
            _ => Err(crate::eval::no_function(name, args)),
        }
    };
    let try_take = |advisory: &mut BTreeMap<AdvisoryKey, crate::engine::AdvisoryHolders>,
                    key: AdvisoryKey,
                    xact: bool|
     -> bool {
        let holders = advisory.entry(key).or_default();
        if holders.keys().any(|s| *s != session) {
            return false;
        }
        let e = holders.entry(session).or_insert((0, 0));
        if xact {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
        true
    };
    let result: Res<Value> = (|| {
        Ok(match name {
            "pg_backend_pid" => Value::Int4(pid as i32),
            "pg_advisory_lock" | "pg_advisory_xact_lock" => {
                let k = key()?;
                let xact = name == "pg_advisory_xact_lock";
                if args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                if !try_take(advisory, k, xact) {
                    advisory.retain(|_, h| !h.is_empty());
                    return Err(Flow::Block(WaitFor::Advisory(k)));
                }
                acquired.push((k, xact));
                Value::Void
            }
            "pg_try_advisory_lock" | "pg_try_advisory_xact_lock" => {
                if args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                let k = key()?;
                let xact = name == "pg_try_advisory_xact_lock";
                let ok = try_take(advisory, k, xact);
                advisory.retain(|_, h| !h.is_empty());
                if ok {
                    acquired.push((k, xact));
                }
                Value::Bool(ok)
            }
            "pg_advisory_unlock" => {
                if args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                let k = key()?;
                let held = advisory
                    .get_mut(&k)
                    .and_then(|h| h.get_mut(&session))
                    .filter(|(s, _)| *s > 0);
                match held {
                    Some((s, _)) => {
                        *s -= 1;
                        if let Some(h) = advisory.get_mut(&k) {
                            h.retain(|_, (s, x)| *s > 0 || *x > 0);
                        }
                        advisory.retain(|_, h| !h.is_empty());
                        *released = true;
                        Value::Bool(true)
                    }
                    None => {
                        notices.push(Engine::warning(
                            "01000",
                            "you don't own a lock of type ExclusiveLock",
                        ));
                        Value::Bool(false)
                    }
                }
            }
            "pg_advisory_unlock_all" => {
                for h in advisory.values_mut() {
                    if let Some((s, _)) = h.get_mut(&session) {
                        *s = 0;
                    }
                    h.retain(|_, (s, x)| *s > 0 || *x > 0);
                }
                advisory.retain(|_, h| !h.is_empty());
                *released = true;
                Value::Void
            }
            _ => {
                return Err(Flow::Error(PgError::new(
                    "XX000",
                    "not an advisory function",
                )))
            }
        })
    })();
    match result {
        Err(Flow::Error(e)) if e.sqlstate == "XX000" => None,
        other => Some(other),
    }
}

impl Engine {
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
