//! `EVAL`, `EVALSHA` and `SCRIPT` with Lua 5.1 (mlua, vendored), as Valkey's `eval.c` and `script_lua.c` run them.
//!
//! Each run gets a fresh Lua state with only the `table`, `string` and `math` libraries (no `os`, no `io`, no `load` of files), `KEYS` and `ARGV`, the `redis` table (`call`, `pcall`, `error_reply`, `status_reply`, `sha1hex`, `log`), a `math.random` seeded the same way for every run, a memory limit and an instruction budget.
//! Time is frozen for the whole script: every command it calls runs at the time of the `EVAL`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mlua::{HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Value as Lua51, VmState};

use super::{int_arg, is, Cx, Flags};
use crate::engine::Engine;
use crate::{ClientId, Reply, SimTime};

/// Instructions between two checks of the budget.
const HOOK_EVERY: u32 = 1000;
/// Nested tables a script's reply may have.
const REPLY_DEPTH_MAX: usize = 64;

/// The lowercase hex SHA-1 of a script's bytes, as `SCRIPT LOAD` answers.
pub(crate) fn sha1_hex(source: &[u8]) -> String {
    sha1_smol::Sha1::from(source).digest().to_string()
}

pub(crate) fn eval(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let sha = sha1_hex(&args[1]);
    cx.e.scripts.insert(sha.clone(), args[1].clone());
    run(cx, &sha, &args[1].clone(), &args[2..])
}

pub(crate) fn evalsha(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let Some(source) = cx.e.scripts.get(&sha).cloned() else {
        return Reply::err("NOSCRIPT No matching script.");
    };
    run(cx, &sha, &source, &args[2..])
}

pub(crate) fn script(cx: &mut Cx<'_>, args: &[Vec<u8>]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity_ok = match sub.as_str() {
        "load" => args.len() == 3,
        "exists" => args.len() >= 3,
        "flush" => args.len() <= 3,
        "kill" => args.len() == 2,
        _ => {
            return Reply::err(format!(
                "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
                String::from_utf8_lossy(&args[1])
            ))
        }
    };
    if !arity_ok {
        return Reply::err(format!(
            "ERR wrong number of arguments for 'script|{sub}' command"
        ));
    }
    match sub.as_str() {
        "load" => {
            let sha = sha1_hex(&args[2]);
            if cx.e.scripts.len() >= cx.e.config.scripts_max && !cx.e.scripts.contains_key(&sha) {
                return Reply::err(super::OOM);
            }
            cx.e.scripts.insert(sha.clone(), args[2].clone());
            Reply::bulk(sha)
        }
        "exists" => Reply::Array(
            args[2..]
                .iter()
                .map(|sha| {
                    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                    Reply::Int(cx.e.scripts.contains_key(&sha) as i64)
                })
                .collect(),
        ),
        "flush" => {
            if args.len() == 3 && !is(&args[2], "async") && !is(&args[2], "sync") {
                return Reply::err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
            cx.e.scripts.clear();
            Reply::ok()
        }
        _ => Reply::err("NOTBUSY No scripts in execution right now."),
    }
}

/// An error `redis.call` raised, with the line of the script that called it.
#[derive(Debug)]
struct CallError {
    error: String,
    line: Option<usize>,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

impl std::error::Error for CallError {}

fn run(cx: &mut Cx<'_>, sha: &str, source: &[u8], rest: &[Vec<u8>]) -> Reply {
    let numkeys = match int_arg(&rest[0]) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    if numkeys < 0 {
        return Reply::err("ERR Number of keys can't be negative");
    }
    if numkeys as u64 > (rest.len() - 1) as u64 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    let keys = &rest[1..1 + numkeys as usize];
    let argv = &rest[1 + numkeys as usize..];
    let lua = match Lua::new_with(
        StdLib::TABLE | StdLib::STRING | StdLib::MATH,
        LuaOptions::new(),
    ) {
        Ok(lua) => lua,
        Err(e) => return Reply::err(format!("ERR {e}")),
    };
    let _ = lua.set_memory_limit(cx.e.config.script_memory_bytes_max);
    let budget = cx.e.config.script_instructions_max;
    let counted = Arc::new(AtomicU64::new(0));
    let hook_count = counted.clone();
    let _ = lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, debug| {
            let n = hook_count.fetch_add(u64::from(HOOK_EVERY), Ordering::Relaxed);
            if n >= budget {
                return Err(mlua::Error::external(CallError {
                    error: "ERR Script killed by user with SCRIPT KILL...".to_owned(),
                    line: debug.current_line(),
                }));
            }
            Ok(VmState::Continue)
        },
    );
    let client = cx.client;
    let now = cx.now;
    let engine = RefCell::new(&mut *cx.e);
    let result = lua.scope(|scope| {
        setup_globals(&lua, keys, argv)?;
        let redis = lua.create_table()?;
        redis.set(
            "call",
            scope.create_function(|lua, args: MultiValue| {
                call(lua, &engine, client, now, args, true)
            })?,
        )?;
        redis.set(
            "pcall",
            scope.create_function(|lua, args: MultiValue| {
                call(lua, &engine, client, now, args, false)
            })?,
        )?;
        redis.set(
            "error_reply",
            lua.create_function(|lua, msg: mlua::LuaString| {
                let t = lua.create_table()?;
                let text = msg.to_string_lossy();
                t.set(
                    "err",
                    if text.starts_with('-') {
                        text
                    } else {
                        format!("-{text}")
                    },
                )?;
                Ok(t)
            })?,
        )?;
        redis.set(
            "status_reply",
            lua.create_function(|lua, msg: mlua::LuaString| {
                let t = lua.create_table()?;
                t.set("ok", msg)?;
                Ok(t)
            })?,
        )?;
        redis.set(
            "sha1hex",
            lua.create_function(|_, s: mlua::LuaString| Ok(sha1_hex(&s.as_bytes())))?,
        )?;
        redis.set("log", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
        redis.set("setresp", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
        redis.set("set_repl", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
        redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
        for (name, level) in [
            ("LOG_DEBUG", 0),
            ("LOG_VERBOSE", 1),
            ("LOG_NOTICE", 2),
            ("LOG_WARNING", 3),
        ] {
            redis.set(name, level)?;
        }
        for (name, n) in [
            ("REPL_NONE", 0),
            ("REPL_AOF", 1),
            ("REPL_SLAVE", 2),
            ("REPL_REPLICA", 2),
            ("REPL_ALL", 3),
        ] {
            redis.set(name, n)?;
        }
        lua.globals().set("redis", redis.clone())?;
        lua.globals().set("server", redis)?;
        let value: Lua51 = lua.load(source).set_name("@user_script").eval()?;
        Ok(to_reply(&value, 0))
    });
    match result {
        Ok(reply) => reply,
        Err(error) => error_reply(&error, sha),
    }
}

fn setup_globals(lua: &Lua, keys: &[Vec<u8>], argv: &[Vec<u8>]) -> mlua::Result<()> {
    let strings = |items: &[Vec<u8>]| -> mlua::Result<mlua::Table> {
        let t = lua.create_table()?;
        for (i, item) in items.iter().enumerate() {
            t.set(i + 1, lua.create_string(item)?)?;
        }
        Ok(t)
    };
    lua.globals().set("KEYS", strings(keys)?)?;
    lua.globals().set("ARGV", strings(argv)?)?;
    // No way out of the sandbox, and randomness from a fixed seed, reset for every script.
    for name in [
        "dofile",
        "loadfile",
        "load",
        "loadstring",
        "require",
        "module",
        "getfenv",
        "setfenv",
        "collectgarbage",
        "newproxy",
        "print",
    ] {
        lua.globals().set(name, Lua51::Nil)?;
    }
    let state = Arc::new(AtomicU64::new(0));
    let math: mlua::Table = lua.globals().get("math")?;
    let draw = state.clone();
    math.set(
        "random",
        lua.create_function(move |_, args: MultiValue| {
            let x = dosim_base::splitmix64(draw.fetch_add(1, Ordering::Relaxed));
            let r = (x >> 11) as f64 / (1u64 << 53) as f64;
            let nums: Vec<f64> = args
                .iter()
                .map(|v| match v {
                    Lua51::Integer(i) => Ok(*i as f64),
                    Lua51::Number(n) => Ok(*n),
                    _ => Err(mlua::Error::runtime(
                        "bad argument to 'random' (number expected)",
                    )),
                })
                .collect::<mlua::Result<_>>()?;
            match nums.as_slice() {
                [] => Ok(r),
                [m] if *m >= 1.0 => Ok((r * m.floor()).floor() + 1.0),
                [m, n] if m <= n => Ok((r * (n - m + 1.0)).floor() + m),
                _ => Err(mlua::Error::runtime(
                    "bad argument to 'random' (interval is empty)",
                )),
            }
        })?,
    )?;
    math.set(
        "randomseed",
        lua.create_function(move |_, seed: f64| {
            state.store(seed as u64, Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    Ok(())
}

/// `redis.call` (`raise`) and `redis.pcall`: runs a command in the script's client, frozen at the script's time.
fn call(
    lua: &Lua,
    engine: &RefCell<&mut Engine>,
    client: ClientId,
    now: SimTime,
    args: MultiValue,
    raise: bool,
) -> mlua::Result<Lua51> {
    let fail = |error: String| -> mlua::Result<Lua51> {
        if raise {
            let line = lua.inspect_stack(1, |d| d.current_line()).flatten();
            Err(mlua::Error::external(CallError { error, line }))
        } else {
            let t = lua.create_table()?;
            t.set("err", error)?;
            Ok(Lua51::Table(t))
        }
    };
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call".to_owned());
    }
    let mut argv = Vec::with_capacity(args.len());
    for arg in args.iter() {
        match arg {
            Lua51::String(s) => argv.push(s.as_bytes().to_vec()),
            Lua51::Integer(i) => argv.push(i.to_string().into_bytes()),
            Lua51::Number(n) => argv.push(lua_number(*n).into_bytes()),
            _ => {
                return fail(
                    "ERR Lua redis lib command arguments must be strings or integers".to_owned(),
                )
            }
        }
    }
    let reply = engine.borrow_mut().script_command(client, &argv, now);
    match reply {
        Reply::Error(error) => fail(error),
        reply => to_lua(lua, &reply),
    }
}

/// A number as Lua 5.1's `tostring` writes it (`%.14g`).
fn lua_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A reply as a script sees it (RESP2 conversions): nil as `false`, status as `{ok=…}`, error as `{err=…}`.
fn to_lua(lua: &Lua, reply: &Reply) -> mlua::Result<Lua51> {
    Ok(match reply {
        Reply::Int(n) => Lua51::Number(*n as f64),
        Reply::Bulk(b) => Lua51::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray => Lua51::Boolean(false),
        Reply::Status(s) => {
            let t = lua.create_table()?;
            t.set("ok", s.as_str())?;
            Lua51::Table(t)
        }
        Reply::Error(e) => {
            let t = lua.create_table()?;
            t.set("err", e.as_str())?;
            Lua51::Table(t)
        }
        Reply::Double(v) => Lua51::String(lua.create_string(Reply::fmt_double(*v))?),
        Reply::Array(items) | Reply::Set(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.iter().enumerate() {
                t.set(i + 1, to_lua(lua, item)?)?;
            }
            Lua51::Table(t)
        }
        Reply::Map(pairs) | Reply::Pairs(pairs) => {
            let t = lua.create_table()?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.set(2 * i + 1, to_lua(lua, k)?)?;
                t.set(2 * i + 2, to_lua(lua, v)?)?;
            }
            Lua51::Table(t)
        }
    })
}

/// A script's result as a reply: numbers truncated to integers, `true` as 1, `false` and `nil` as nil, `{ok=…}` a status, `{err=…}` an error, a table an array up to its first nil (a `false` inside is a nil element).
fn to_reply(value: &Lua51, depth: usize) -> Reply {
    match value {
        Lua51::Integer(i) => Reply::Int(*i),
        Lua51::Number(n) => Reply::Int(*n as i64),
        Lua51::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Lua51::Boolean(true) => Reply::Int(1),
        Lua51::Table(t) => {
            if let Ok(Lua51::String(err)) = t.raw_get::<Lua51>("err") {
                // Valkey writes the text after a `-`, so its first word is the code, whatever it is.
                let text = err.to_string_lossy();
                return Reply::Error(text.strip_prefix('-').unwrap_or(&text).to_owned());
            }
            if let Ok(Lua51::String(ok)) = t.raw_get::<Lua51>("ok") {
                return Reply::Status(ok.to_string_lossy());
            }
            if depth >= REPLY_DEPTH_MAX {
                return Reply::err("ERR reached lua stack limit");
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Lua51>(i) {
                    Ok(Lua51::Nil) | Err(_) => break,
                    Ok(v) => items.push(to_reply(&v, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// A failed script's reply, as Valkey words it: the error, then the script's SHA and the line.
fn error_reply(error: &mlua::Error, sha: &str) -> Reply {
    let root = root_cause(error);
    if let Some(call) = find_call_error(error) {
        let line = call.line.map_or(String::from("?"), |l| l.to_string());
        let (code, rest) = call.error.split_once(' ').unwrap_or(("ERR", &call.error));
        return Reply::Error(format!(
            "{code} {rest} script: {sha}, on @user_script:{line}."
        ));
    }
    match root {
        mlua::Error::SyntaxError { message, .. } => Reply::Error(format!(
            "ERR Error compiling script (new function): {message}"
        )),
        mlua::Error::MemoryError(_) => Reply::err("ERR Error running script: not enough memory"),
        other => {
            let message = match other {
                mlua::Error::RuntimeError(m) => m.clone(),
                e => e.to_string(),
            };
            let message = message.lines().next().unwrap_or_default().to_owned();
            let line = message
                .strip_prefix("user_script:")
                .and_then(|r| r.split(':').next())
                .unwrap_or("?")
                .to_owned();
            Reply::Error(format!(
                "ERR {message} script: {sha}, on @user_script:{line}."
            ))
        }
    }
}

fn root_cause(error: &mlua::Error) -> &mlua::Error {
    match error {
        mlua::Error::CallbackError { cause, .. } => root_cause(cause),
        mlua::Error::WithContext { cause, .. } => root_cause(cause),
        e => e,
    }
}

fn find_call_error(error: &mlua::Error) -> Option<&CallError> {
    match root_cause(error) {
        mlua::Error::ExternalError(e) => e.downcast_ref::<CallError>(),
        _ => None,
    }
}

impl Engine {
    /// Runs a command a script called: refused if unknown, of the wrong arity or not allowed in scripts; never blocks.
    pub(crate) fn script_command(
        &mut self,
        client: ClientId,
        args: &[Vec<u8>],
        now: SimTime,
    ) -> Reply {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let Some(spec) = super::lookup(&name) else {
            return Reply::err("ERR Unknown Redis command called from script");
        };
        if !spec.arity_ok(args.len()) {
            return Reply::err("ERR Wrong number of args calling Redis command from script");
        }
        if spec.flags.contains(Flags::NO_SCRIPT) {
            return Reply::err("ERR This Redis command is not allowed from script");
        }
        let mut cx = Cx::new(self, client, now, false);
        super::run(&mut cx, spec, args)
    }
}
