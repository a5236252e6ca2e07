//! The wire with real clients: redis-rs over tokio TCP, and raw bytes where the protocol's corners matter.

use std::sync::Arc;

use dosim_base::gate::{Admission, Gate, Operation, Permit, Plane};
use dosim_valkey::{Engine, EngineConfig};
use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, ProtocolVersion, RedisConnectionInfo, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{CommandOutcome, CommandRecord, Observer, SessionInfo, ValkeyCluster, WireConfig};

const PASSWORD: &str = "AVNS_test";

async fn start() -> (ValkeyCluster, std::net::SocketAddr) {
    let cluster = ValkeyCluster::new(Engine::new(EngineConfig::default()), WireConfig::default());
    cluster.set_password(PASSWORD);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(crate::serve_listener(listener, cluster.clone()));
    (cluster, addr)
}

async fn connect(addr: std::net::SocketAddr, protocol: ProtocolVersion) -> MultiplexedConnection {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let info = RedisConnectionInfo::default()
        .set_username("default")
        .set_password(PASSWORD)
        .set_protocol(protocol);
    let (conn, driver) =
        MultiplexedConnection::new_with_config(&info, stream, redis::AsyncConnectionConfig::new())
            .await
            .expect("handshake");
    tokio::spawn(driver);
    conn
}

#[tokio::test]
async fn redis_rs_speaks_to_it_in_resp2_and_resp3() {
    let (_cluster, addr) = start().await;
    for protocol in [ProtocolVersion::RESP2, ProtocolVersion::RESP3] {
        let mut c = connect(addr, protocol).await;
        let key = format!("lock:{protocol:?}");
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg("token-1")
            .arg("NX")
            .arg("PX")
            .arg(30_000)
            .query_async(&mut c)
            .await
            .expect("set");
        assert_eq!(taken.as_deref(), Some("OK"));
        let again: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg("token-2")
            .arg("NX")
            .arg("PX")
            .arg(30_000)
            .query_async(&mut c)
            .await
            .expect("set");
        assert_eq!(again, None);
        let holder: String = c.get(&key).await.expect("get");
        assert_eq!(holder, "token-1");
        let fence: i64 = c.incr("fence", 1).await.expect("incr");
        assert!(fence >= 1);
        let _: () = c
            .hset_multiple("h", &[("a", "1"), ("b", "2")])
            .await
            .expect("hset");
        let all: Vec<(String, String)> = c.hgetall("h").await.expect("hgetall");
        assert_eq!(
            all,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        let (set, n): (String, i64) = redis::pipe()
            .atomic()
            .set("k", "v")
            .incr("n", 5)
            .query_async(&mut c)
            .await
            .expect("multi/exec");
        assert_eq!((set.as_str(), n >= 5), ("OK", true));
        // redis-rs sends EVALSHA, and on NOSCRIPT loads the script and tries again.
        let unlock = redis::Script::new(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        );
        let released: i64 = unlock
            .key(&key)
            .arg("token-2")
            .invoke_async(&mut c)
            .await
            .expect("script");
        assert_eq!(released, 0);
        let released: i64 = unlock
            .key(&key)
            .arg("token-1")
            .invoke_async(&mut c)
            .await
            .expect("script");
        assert_eq!(released, 1);
        let error = redis::cmd("NOSUCH")
            .query_async::<Value>(&mut c)
            .await
            .expect_err("unknown");
        assert!(
            error.to_string().contains("unknown command 'NOSUCH'"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_blocked_pop_is_served_by_another_connection() {
    let (cluster, addr) = start().await;
    let mut waiter = connect(addr, ProtocolVersion::RESP2).await;
    let mut pusher = connect(addr, ProtocolVersion::RESP3).await;
    let popped = tokio::spawn(async move {
        redis::cmd("BLMOVE")
            .arg("jobs")
            .arg("work")
            .arg("RIGHT")
            .arg("LEFT")
            .arg(0)
            .query_async::<Option<String>>(&mut waiter)
            .await
    });
    // Push only once the waiter is blocked, which the engine shows.
    while cluster.engine().lock().blocked_clients() == 0 {
        tokio::task::yield_now().await;
    }
    let _: i64 = pusher.lpush("jobs", "j1").await.expect("push");
    let reply = popped.await.expect("task").expect("reply");
    assert_eq!(reply.as_deref(), Some("j1"));
    let work: Vec<String> = pusher.lrange("work", 0, -1).await.expect("lrange");
    assert_eq!(work, vec!["j1".to_string()]);
}

/// Sends `input` then `QUIT` on a fresh connection, and checks everything the server wrote until it closed.
#[track_caller]
fn check(input: &str, expect: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let output = runtime.block_on(async {
        let (_cluster, addr) = start().await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(format!("{input}QUIT\r\n").as_bytes())
            .await
            .expect("write");
        let mut output = Vec::new();
        stream.read_to_end(&mut output).await.expect("read");
        output
    });
    let output = String::from_utf8_lossy(&output).replace("\r\n", "|");
    assert_eq!(output, expect.replace("\r\n", "|"), "after {input:?}");
}

#[test]
fn raw_protocol() {
    let auth = "AUTH AVNS_test\r\n";
    for (input, expect) in [
        ("PING\r\n", "-NOAUTH Authentication required.\r\n+OK\r\n"),
        ("*1\r\n$4\r\nPING\r\n", "-NOAUTH Authentication required.\r\n+OK\r\n"),
        (
            "FOO a\r\n",
            "-ERR unknown command 'FOO', with args beginning with: 'a' \r\n+OK\r\n",
        ),
        (
            "AUTH nope\r\n",
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n",
        ),
        ("AUTH default AVNS_test\r\nPING\r\n", "+OK\r\n+PONG\r\n+OK\r\n"),
        (
            "AUTH\r\n",
            "-ERR wrong number of arguments for 'auth' command\r\n+OK\r\n",
        ),
        ("HELLO 4\r\n", "-NOPROTO unsupported protocol version\r\n+OK\r\n"),
        (
            "HELLO x\r\n",
            "-ERR Protocol version is not an integer or out of range\r\n+OK\r\n",
        ),
        (
            "HELLO 3 AUTH default AVNS_test\r\nGET nope\r\nLPOP nope 1\r\n",
            "%7\r\n$6\r\nserver\r\n$6\r\nvalkey\r\n$7\r\nversion\r\n$5\r\n8.0.2\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n_\r\n_\r\n+OK\r\n",
        ),
        (
            "HELLO 3\r\n",
            "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n+OK\r\n",
        ),
        ("", "+OK\r\n"),
        ("\r\n\r\n", "+OK\r\n"),
        // RESP3's types, as redis-server answers the same commands (its doubles aside: `%.17g` there, the shortest form in Valkey 8).
        (
            "HELLO 3 AUTH default AVNS_test\r\nZADD z 1 a 2.5 b\r\nZSCORE z b\r\nZRANGE z 0 -1 WITHSCORES\r\nZPOPMIN z\r\nZADD z 1 a\r\nZPOPMAX z 2\r\nSADD s 2 1\r\nSMEMBERS s\r\nZADD z INCR 1 q\r\nZMSCORE z q x\r\nSPOP s 1\r\nSRANDMEMBER s 5\r\nZSCORE z nope\r\nZADD z 1 inf\r\nZADD z INCR -inf inf\r\n",
            "%7\r\n$6\r\nserver\r\n$6\r\nvalkey\r\n$7\r\nversion\r\n$5\r\n8.0.2\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n:2\r\n,2.5\r\n*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n*2\r\n$1\r\na\r\n,1\r\n:1\r\n*2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n*2\r\n$1\r\na\r\n,1\r\n:2\r\n~2\r\n$1\r\n1\r\n$1\r\n2\r\n,1\r\n*2\r\n,1\r\n_\r\n~1\r\n$1\r\n2\r\n*1\r\n$1\r\n1\r\n_\r\n:1\r\n,-inf\r\n+OK\r\n",
        ),
        (
            "*1\r\n:1\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
    ] {
        check(input, expect);
    }
    for (input, expect) in [
        ("GET nope\r\nLPOP nope 1\r\n", "$-1\r\n*-1\r\n"),
        (
            "HSET h a 1\r\nHGETALL h\r\n",
            ":1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        ),
        (
            "SET k 1\r\nWATCH k\r\nSET k 2\r\nMULTI\r\nEXEC\r\n",
            "+OK\r\n+OK\r\n+OK\r\n+OK\r\n*-1\r\n",
        ),
        ("BLPOP q 0.01\r\n", "*-1\r\n"),
        // Doubles, sets and scored pairs in RESP2: bulk strings and flat arrays.
        (
            "ZADD z 1 a 2.5 b\r\nZSCORE z b\r\nZRANGE z 0 -1 WITHSCORES\r\nZPOPMAX z 1\r\nSADD s 2 1\r\nSMEMBERS s\r\n",
            ":2\r\n$3\r\n2.5\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n:2\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
        ),
        // RESET logs the client out too, as Valkey's does when the default user has a password.
        (
            "CLIENT ID\r\nSELECT 2\r\nRESET\r\nGET k\r\n",
            ":1\r\n+OK\r\n+RESET\r\n-NOAUTH Authentication required.\r\n",
        ),
    ] {
        check(
            &format!("{auth}{input}"),
            &format!("+OK\r\n{expect}+OK\r\n"),
        );
    }
}

/// Records what the gate admits and what the observer hears.
#[derive(Default)]
struct Recorder {
    operations: Mutex<Vec<Operation>>,
    commands: Mutex<Vec<(u64, CommandRecord)>>,
}

struct RecordingGate(Arc<Recorder>);

impl Gate for RecordingGate {
    fn admit(&self, operation: Operation) -> Admission {
        self.0.operations.lock().push(operation);
        Box::pin(std::future::ready(Permit::free()))
    }
}

struct RecordingObserver(Arc<Recorder>);

impl Observer for RecordingObserver {
    fn command_finished(&self, session: &SessionInfo, command: &CommandRecord) {
        self.0
            .commands
            .lock()
            .push((session.client_id, command.clone()));
    }
}

#[tokio::test]
async fn commands_pass_the_gate_and_reach_the_observer() {
    let (cluster, addr) = start().await;
    let recorder = Arc::new(Recorder::default());
    cluster.set_gate(Arc::new(RecordingGate(recorder.clone())));
    cluster.set_observer(Arc::new(RecordingObserver(recorder.clone())));
    let mut c = connect(addr, ProtocolVersion::RESP3).await;
    let _: () = c.set("lock:x", "a b").await.expect("set");
    let (_,): (i64,) = redis::pipe()
        .atomic()
        .incr("n", 1)
        .query_async(&mut c)
        .await
        .expect("exec");
    let summaries: Vec<String> = recorder
        .operations
        .lock()
        .iter()
        .filter(|o| o.plane == Plane::Valkey && o.summary != "CLIENT SETINFO LIB-NAME redis-rs")
        .map(|o| o.summary.clone())
        .filter(|s| !s.starts_with("CLIENT SETINFO"))
        .collect();
    assert_eq!(summaries, vec!["SET lock:x \"a b\"", "MULTI", "EXEC"]);
    let commands = recorder.commands.lock();
    let names: Vec<String> = commands
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(&c.args[0]).to_string())
        .filter(|n| n != "CLIENT")
        .collect();
    assert_eq!(names, vec!["SET", "MULTI", "INCRBY", "EXEC"]);
    let exec = &commands.last().expect("exec").1;
    assert_eq!(
        exec.outcome,
        CommandOutcome::Replied(dosim_valkey::Reply::Array(vec![dosim_valkey::Reply::Int(
            1
        )]))
    );
}
