//! The operation gate: which requests are admitted, what the gate is told, and that the gate's
//! order is the order of the commits.

mod common;

use std::sync::Arc;

use common::{Api, TOKEN};
use dosim_base::gate::{Admission, Gate, Open, Operation, Permit, Plane};
use parking_lot::Mutex;
use tokio::sync::oneshot;

/// A gate that holds every operation until the test releases it, and writes down what happened
/// with the number of volumes the model held at that moment.
#[derive(Clone, Default)]
struct Holding {
    inner: Arc<HoldingInner>,
}

#[derive(Default)]
struct HoldingInner {
    /// The server, to count volumes when an operation is admitted and released.
    server: Mutex<Option<dosim_api::Server>>,
    waiting: Mutex<Vec<(Operation, Option<oneshot::Sender<()>>)>>,
    events: Mutex<Vec<String>>,
}

impl HoldingInner {
    fn n_volumes(&self) -> usize {
        let server = self
            .server
            .lock()
            .clone()
            .expect("the test sets the server");
        server.state_dump()["accounts"]
            .as_object()
            .unwrap()
            .values()
            .map(|account| account["volumes"].as_object().unwrap().len())
            .sum()
    }
}

impl Gate for Holding {
    fn admit(&self, operation: Operation) -> Admission {
        let (release, released) = oneshot::channel();
        let who = operation.actor.clone();
        self.inner.waiting.lock().push((operation, Some(release)));
        let inner = self.inner.clone();
        Box::pin(async move {
            released.await.expect("the test releases every operation");
            let n = inner.n_volumes();
            inner
                .events
                .lock()
                .push(format!("admit {who} ({n} volumes)"));
            let on_release = inner.clone();
            Permit::on_release(move || {
                let n = on_release.n_volumes();
                on_release
                    .events
                    .lock()
                    .push(format!("release {who} ({n} volumes)"));
            })
        })
    }
}

impl Holding {
    async fn wait_for(&self, n: usize) {
        while self.inner.waiting.lock().len() < n {
            tokio::task::yield_now().await;
        }
    }

    fn release(&self, index: usize) {
        let release = self.inner.waiting.lock()[index].1.take().unwrap();
        release.send(()).unwrap();
    }
}

fn volume(name: &str) -> String {
    format!(r#"{{"name":"{name}","region":"nyc3","size_gigabytes":10}}"#)
}

#[tokio::test]
async fn commits_follow_the_gate_order() {
    let api = Api::new();
    let gate = Holding::default();
    *gate.inner.server.lock() = Some(api.server.clone());
    api.server.set_gate(Arc::new(gate.clone()));
    let (body_a, body_b) = (volume("a"), volume("b"));
    let first = api.send(
        "POST",
        "/v2/volumes/",
        Some(TOKEN),
        Some(&body_a),
        &[("x-dosim-actor", "pod-0")],
    );
    let second = api.send(
        "POST",
        "/v2/volumes",
        Some(TOKEN),
        Some(&body_b),
        &[("x-dosim-actor", "pod-1")],
    );
    let steer = async {
        gate.wait_for(2).await;
        gate.release(1);
        while api.server.history().is_empty() {
            tokio::task::yield_now().await;
        }
        gate.release(0);
    };
    let (first, second, ()) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        tokio::join!(first, second, steer)
    })
    .await
    .expect("both requests wait at the gate, and commit once released");
    assert_eq!((first.status, second.status), (201, 201));

    let operations: Vec<Operation> = gate
        .inner
        .waiting
        .lock()
        .iter()
        .map(|(operation, _)| operation.clone())
        .collect();
    let expect = |actor: &str| Operation {
        plane: Plane::Api,
        server: "dosim.test".to_owned(),
        actor: actor.to_owned(),
        session: None,
        summary: "POST /v2/volumes".to_owned(),
    };
    assert_eq!(operations, vec![expect("pod-0"), expect("pod-1")]);
    // Each permit spans its commit: admitted before the volume exists, released after.
    assert_eq!(
        *gate.inner.events.lock(),
        [
            "admit pod-1 (0 volumes)",
            "release pod-1 (1 volumes)",
            "admit pod-0 (1 volumes)",
            "release pod-0 (2 volumes)",
        ]
    );
    let history = api.server.history();
    let order: Vec<(u64, &str)> = history
        .iter()
        .map(|entry| (entry.seq, entry.actor.as_str()))
        .collect();
    assert_eq!(order, [(1, "pod-1"), (0, "pod-0")]);
    // The listing would wait at this gate too.
    api.server.set_gate(Arc::new(Open));
    let names: Vec<String> = api.call("GET", "/v2/volumes", None).await.json["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["b", "a"]);
}

#[tokio::test]
async fn only_requests_that_reach_a_handler_are_admitted() {
    let api = Api::new();
    let gate = Holding::default();
    *gate.inner.server.lock() = Some(api.server.clone());
    api.server.set_gate(Arc::new(gate.clone()));
    // Refused before the commit, or not the API: none of these may wait at the gate.
    assert_eq!(
        api.send("GET", "/v2/account", None, None, &[]).await.status,
        401
    );
    let plan = r#"{"rules":[{"path":"/v2/sizes","reject":{"status":503}}]}"#;
    assert_eq!(
        api.send("PUT", "/_dosim/faults", None, Some(plan), &[])
            .await
            .status,
        200
    );
    assert_eq!(api.call("GET", "/v2/sizes", None).await.status, 503);
    assert_eq!(
        api.send("GET", "/_dosim/state", None, None, &[])
            .await
            .status,
        200
    );
    assert!(gate.inner.waiting.lock().is_empty());
}
