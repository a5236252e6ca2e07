//! The cluster's hooks inside a turmoil simulation: the observer hears every session and statement as the engine ran it, and the gate decides which connection's statement runs first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dosim_base::gate::{Admission, Gate, Operation, Permit};
use dosim_pg::{Engine, EngineConfig, Outcome, SimTime};
use dosim_pgwire::{
    serve_connection_from, Observer, PgCluster, SessionInfo, StatementOutcome, StatementRecord,
    StatementStart, WireConfig,
};
use parking_lot::Mutex;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

type Error = Box<dyn std::error::Error>;

const USER: &str = "doadmin";
const PASSWORD: &str = "AVNS_secret";

/// A world with fixed latency, so that times and orders repeat, and a cluster served on host `db`, each connection labelled with its client's host name.
fn world(cluster: &PgCluster) -> turmoil::Sim<'static> {
    let mut sim = turmoil::Builder::new()
        .rng_seed(1)
        .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(60))
        .build();
    let cluster = cluster.clone();
    sim.host("db", move || {
        let cluster = cluster.clone();
        async move {
            let listener = turmoil::net::TcpListener::bind("0.0.0.0:25060").await?;
            loop {
                let (stream, peer) = listener.accept().await?;
                let peer = turmoil::reverse_lookup(peer.ip()).unwrap_or_default();
                let serving = serve_connection_from(cluster.clone(), stream, peer);
                tokio::spawn(async move {
                    let _ = serving.await;
                });
            }
        }
    });
    sim
}

/// A cluster with table `t` (one row, `id` 1) and the test user.
fn cluster(wire: WireConfig) -> PgCluster {
    let cluster = PgCluster::new(Engine::new(EngineConfig::default()), wire);
    cluster.set_user(USER, PASSWORD);
    let mut engine = cluster.engine().lock();
    let session = engine.connect("defaultdb").expect("defaultdb exists");
    let created = engine.execute(
        session,
        "CREATE TABLE t (id integer PRIMARY KEY, v integer, s text); INSERT INTO t VALUES (1, 0, '')",
        &[],
        SimTime::ZERO,
    );
    assert!(matches!(created, Outcome::Done(_)), "{created:?}");
    engine.disconnect(session);
    drop(engine);
    cluster
}

/// Connects over turmoil's TCP; the handle is the connection's task, which aborting closes.
async fn connect() -> Result<(Client, JoinHandle<()>), Error> {
    let stream = turmoil::net::TcpStream::connect("db:25060").await?;
    let (client, connection) = tokio_postgres::Config::new()
        .user(USER)
        .password(PASSWORD)
        .dbname("defaultdb")
        .connect_raw(stream, NoTls)
        .await?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, task))
}

/// Every event as one line.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Observer for Lines {
    fn session_started(&self, session: &SessionInfo, _at: SimTime) {
        self.0.lock().push(format!(
            "{} start: {} on {} as {}, pid {}",
            session.connection, session.peer, session.database, session.user, session.backend_pid
        ));
    }

    fn statement_started(&self, session: &SessionInfo, statement: &StatementStart) {
        self.0.lock().push(format!(
            "{} run: {} {:?}",
            session.connection, statement.sql, statement.params
        ));
    }

    fn statement_finished(&self, session: &SessionInfo, statement: &StatementRecord) {
        let outcome = match &statement.outcome {
            StatementOutcome::Done(results) => results
                .iter()
                .map(|result| format!("{} {:?}", result.tag, result.rows))
                .collect::<Vec<_>>()
                .join(", "),
            StatementOutcome::Failed { results, error } => {
                format!("{} results, then {}", results.len(), error.sqlstate)
            }
            StatementOutcome::Refused(error) => format!("refused {}", error.sqlstate),
            StatementOutcome::Interrupted { results } => {
                format!("interrupted after {} results", results.len())
            }
        };
        assert!(statement.finished >= statement.started);
        self.0.lock().push(format!(
            "{} done: {:?} to {:?}, {} ms waiting: {outcome}",
            session.connection,
            statement.transaction_before,
            statement.transaction_after,
            statement.lock_wait_ms
        ));
    }

    fn session_ended(&self, session: &SessionInfo, _at: SimTime) {
        self.0.lock().push(format!("{} end", session.connection));
    }
}

#[test]
fn the_observer_hears_each_session_and_statement() {
    let cluster = cluster(WireConfig::default());
    let lines = Arc::new(Lines::default());
    cluster.set_observer(lines.clone());
    let mut sim = world(&cluster);
    sim.client("app", async {
        let (a, _) = connect().await?;
        let (b, b_connection) = connect().await?;
        a.batch_execute("BEGIN").await?;
        a.execute("UPDATE t SET v = $1 WHERE id = $2", &[&5i32, &1i32])
            .await?;
        // b waits for a's row lock until a commits, half a second later.
        let waiter = tokio::spawn(async move {
            b.batch_execute("UPDATE t SET v = v + 1 WHERE id = 1")
                .await
                .map(|()| b)
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        a.batch_execute("COMMIT").await?;
        let b = waiter.await??;
        b.query("SELECT v FROM t", &[]).await?;
        assert!(b.prepare("SELECT nope FROM t").await.is_err());
        let _ = b.simple_query("SELECT 1; SELECT nope").await;
        // b waits again, and its connection closes while it waits.
        a.batch_execute("BEGIN; UPDATE t SET v = 0 WHERE id = 1")
            .await?;
        let waiter = tokio::spawn(async move { b.batch_execute("DELETE FROM t").await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        b_connection.abort();
        let _ = waiter.await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        a.batch_execute("ROLLBACK").await?;
        drop(a);
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    });
    sim.run().expect("the simulation completes");
    assert_eq!(
        *lines.0.lock(),
        [
            // pid 1001 was the setup's session.
            "0 start: app on defaultdb as doadmin, pid 1002",
            "1 start: app on defaultdb as doadmin, pid 1003",
            "0 run: BEGIN []",
            "0 done: Idle to Some(InBlock), 0 ms waiting: BEGIN []",
            "0 run: UPDATE t SET v = $1 WHERE id = $2 [Int4(5), Int4(1)]",
            "0 done: InBlock to Some(InBlock), 0 ms waiting: UPDATE 1 []",
            "1 run: UPDATE t SET v = v + 1 WHERE id = 1 []",
            "0 run: COMMIT []",
            "0 done: InBlock to Some(Idle), 0 ms waiting: COMMIT []",
            "1 done: Idle to Some(Idle), 500 ms waiting: UPDATE 1 []",
            "1 run: SELECT v FROM t []",
            "1 done: Idle to Some(Idle), 0 ms waiting: SELECT 1 [[Some(\"6\")]]",
            "1 run: SELECT nope FROM t []",
            "1 done: Idle to Some(Idle), 0 ms waiting: refused 42703",
            "1 run: SELECT 1; SELECT nope []",
            "1 done: Idle to Some(Idle), 0 ms waiting: 1 results, then 42703",
            "0 run: BEGIN; UPDATE t SET v = 0 WHERE id = 1 []",
            "0 done: Idle to Some(InBlock), 0 ms waiting: BEGIN [], UPDATE 1 []",
            "1 run: DELETE FROM t []",
            "1 done: Idle to None, 0 ms waiting: interrupted after 0 results",
            "1 end",
            "0 run: ROLLBACK []",
            "0 done: InBlock to Some(Idle), 0 ms waiting: ROLLBACK []",
            "0 end",
        ]
    );
}

/// A gate that holds the statements of the hosts in `order` until each of them has one waiting, then admits them one at a time in that order, each when the one before has committed; others pass at once.
struct Ordered {
    order: Vec<String>,
    state: Mutex<OrderedState>,
}

#[derive(Default)]
struct OrderedState {
    waiting: BTreeMap<String, oneshot::Sender<Permit>>,
    released: usize,
    seen: Vec<String>,
}

impl Ordered {
    /// Admits the next host in the order, if every one has arrived.
    fn release_next(self: &Arc<Ordered>) {
        let mut state = self.state.lock();
        if state.waiting.len() + state.released < self.order.len() {
            return;
        }
        let Some(actor) = self.order.get(state.released) else {
            return;
        };
        state.released += 1;
        let sender = state.waiting.remove(actor).expect("every host arrived");
        drop(state);
        let gate = self.clone();
        // A permit the host no longer waits for is dropped here, outside the lock it takes.
        let _ = sender.send(Permit::on_release(move || gate.release_next()));
    }
}

/// The gate itself: an `Arc` of it, which the permits it hands out keep.
struct OrderedGate(Arc<Ordered>);

impl Gate for OrderedGate {
    fn admit(&self, operation: Operation) -> Admission {
        let mut state = self.0.state.lock();
        state.seen.push(format!(
            "{} {} {} session {} {}",
            operation.plane,
            operation.server,
            operation.actor,
            operation.session.is_some(),
            operation.summary
        ));
        if !self.0.order.contains(&operation.actor) {
            return Box::pin(std::future::ready(Permit::free()));
        }
        let (sender, receiver) = oneshot::channel();
        state.waiting.insert(operation.actor, sender);
        drop(state);
        self.0.release_next();
        Box::pin(async move { receiver.await.expect("the gate admits every host") })
    }
}

/// Two hosts append their name to the same row at the same moment, and the gate admits them in `order`; returns what the row holds and what the gate saw, in order.
fn race(order: &[&str]) -> (String, Vec<String>) {
    let cluster = cluster(WireConfig {
        host: "db.example".to_owned(),
        ..WireConfig::default()
    });
    let gate = Arc::new(Ordered {
        order: order.iter().map(|host| (*host).to_owned()).collect(),
        state: Mutex::default(),
    });
    cluster.set_gate(Arc::new(OrderedGate(gate.clone())));
    let mut sim = world(&cluster);
    for host in ["alice", "bob"] {
        sim.client(host, async move {
            let (client, _) = connect().await?;
            client
                .batch_execute(&format!("UPDATE t SET s = s || '{host} ' WHERE id = 1"))
                .await?;
            Ok(())
        });
    }
    sim.run().expect("the simulation completes");
    let mut engine = cluster.engine().lock();
    let session = engine.connect("defaultdb").expect("defaultdb exists");
    let row = match engine.execute(session, "SELECT s FROM t", &[], SimTime::ZERO) {
        Outcome::Done(results) => results[0].rows[0][0].to_text().unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    let mut seen = gate.state.lock().seen.clone();
    seen.sort();
    (row, seen)
}

#[track_caller]
fn check(order: &[&str], expect: &str) {
    let (row, seen) = race(order);
    assert_eq!(row, expect, "admitted in the order {order:?}");
    assert_eq!(
        seen,
        [
            "postgres db.example alice session true UPDATE t SET s = s || 'alice ' WHERE id = 1",
            "postgres db.example bob session true UPDATE t SET s = s || 'bob ' WHERE id = 1",
        ]
    );
}

#[test]
fn the_gate_decides_which_connection_runs_first() {
    check(&["alice", "bob"], "alice bob ");
    check(&["bob", "alice"], "bob alice ");
}

/// A gate that admits one statement at a time, counting admissions.
struct OneAtATime {
    permits: Arc<Semaphore>,
    admitted: Arc<Mutex<Vec<String>>>,
}

impl Gate for OneAtATime {
    fn admit(&self, operation: Operation) -> Admission {
        let (permits, admitted) = (self.permits.clone(), self.admitted.clone());
        Box::pin(async move {
            let held = permits.acquire_owned().await.expect("never closed");
            admitted
                .lock()
                .push(format!("{}: {}", operation.actor, operation.summary));
            Permit::on_release(move || drop(held))
        })
    }
}

#[test]
fn a_statement_waiting_for_a_lock_lets_the_gate_go_and_is_not_admitted_again() {
    // If the waiter kept its permit, the holder's COMMIT could never be admitted and the run would end with both stuck.
    let cluster = cluster(WireConfig::default());
    let admitted: Arc<Mutex<Vec<String>>> = Arc::default();
    cluster.set_gate(Arc::new(OneAtATime {
        permits: Arc::new(Semaphore::new(1)),
        admitted: admitted.clone(),
    }));
    let mut sim = world(&cluster);
    sim.client("holder", async {
        let (client, _) = connect().await?;
        client
            .batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1")
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        client.batch_execute("COMMIT").await?;
        Ok(())
    });
    sim.client("waiter", async {
        let (client, _) = connect().await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        client
            .batch_execute("UPDATE t SET v = v + 10 WHERE id = 1")
            .await?;
        Ok(())
    });
    sim.run().expect("the simulation completes");
    assert_eq!(
        *admitted.lock(),
        [
            "holder: BEGIN; UPDATE t SET v = 1 WHERE id = 1",
            "waiter: UPDATE t SET v = v + 10 WHERE id = 1",
            "holder: COMMIT",
        ]
    );
}
