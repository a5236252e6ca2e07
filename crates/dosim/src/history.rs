//! The run's history: every operation as the actors saw it, every injected fault, every belief.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde::ser::SerializeStruct;
use serde::Serialize;

/// The longest body kept per operation; a longer one is cut, so a chatty run stays bounded.
pub const BODY_BYTES_MAX: usize = 64 * 1024;

/// The most operations one run records; past this the run stops recording and says so.
pub const OPS_MAX: usize = 100_000;

/// The most beliefs one run records.
pub const BELIEFS_MAX: usize = 100_000;

/// The most body bytes one run keeps to summarize when its history is read; past this, bodies
/// are summarized as they arrive and not kept.
const KEPT_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;

/// How one operation ended, as the actor saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum OpResult {
    /// A response arrived with this status.
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// A statement on a non-HTTP protocol (SQL) got its answer; the op's `response` says which.
    Answered,
    /// The client's own per-attempt timeout fired before a response arrived.
    Timeout,
    /// The connection failed (reset, refused, closed early).
    TransportError {
        /// The client's description of the failure.
        message: String,
    },
    /// The run ended while the operation was still in flight.
    Unfinished,
}

/// One HTTP operation, recorded by the actor's transport.
///
/// Its request and response summaries ([`Op::request`], [`Op::response`], [`Op::resources`])
/// are read from the bodies the first time they are asked for: most runs pass their checks and
/// are never reported, and reading every body as it arrived was most of what recording an
/// exchange cost. The answer is the same either way.
///
/// A check's own tests can build operations with [`Op::new`], [`Op::with_request`] and
/// [`Op::with_response`], and set the other fields directly.
#[derive(Clone, PartialEq, Eq)]
pub struct Op {
    /// The order in which operations were invoked in this run, from 0.
    pub seq: u64,
    /// The actor (or service host) that sent it: `pod-0`, `pod-1`, …
    pub actor: String,
    /// The connection it went over, for protocols with sessions (SQL): its cluster's number for it.
    pub connection: Option<u64>,
    /// The HTTP method.
    pub method: String,
    /// The path and query: `/v2/volumes?name=pgdata`.
    pub target: String,
    /// The request body's summary, or the body to read it from.
    pub(crate) asked: Deferred<Asked>,
    /// Simulated milliseconds since the run started when the request was sent.
    pub invoke_ms: u64,
    /// Simulated milliseconds when the response, timeout or error reached the actor.
    pub end_ms: Option<u64>,
    /// The `x-request-id` of the response, when one arrived.
    pub request_id: Option<String>,
    /// How the operation ended.
    pub result: OpResult,
    /// The response body's summary and the resources it names, or the body to read them from.
    pub(crate) said: Deferred<Said>,
}

impl Op {
    /// An operation with no summaries, not yet ended (`end_ms` is `None`): for building a
    /// [`crate::RunOutcome`] by hand to test a check on.
    pub fn new(
        seq: u64,
        actor: impl Into<String>,
        method: impl Into<String>,
        target: impl Into<String>,
        invoke_ms: u64,
        result: OpResult,
    ) -> Op {
        Op {
            seq,
            actor: actor.into(),
            connection: None,
            method: method.into(),
            target: target.into(),
            asked: Deferred::default(),
            invoke_ms,
            end_ms: None,
            request_id: None,
            result,
            said: Deferred::default(),
        }
    }

    /// The same operation with `summary` as its request's summary.
    pub fn with_request(mut self, summary: impl Into<String>) -> Op {
        self.asked = Deferred::ready(Asked(Some(summary.into())));
        self
    }

    /// The same operation with `summary` (if any) as its response's summary and `resources`
    /// as the resources the response named.
    pub fn with_response(mut self, summary: Option<String>, resources: Vec<String>) -> Op {
        self.said = Deferred::ready(Said { summary, resources });
        self
    }

    /// A short summary of the request body (the `name` it creates, for instance).
    pub fn request(&self) -> Option<&str> {
        self.asked.get().0.as_deref()
    }

    /// A short summary of the response body: `2 volumes`, `volume 7f3a…`, `conflict`.
    pub fn response(&self) -> Option<&str> {
        self.said.get().summary.as_deref()
    }

    /// The resources the response told the actor about (`droplet 3164444`, `volume 7f3a…`).
    pub fn resources(&self) -> &[String] {
        &self.said.get().resources
    }

    /// Whether both its bodies were kept to be summarized when read.
    #[cfg(test)]
    pub(crate) fn kept(&self) -> bool {
        self.asked.body.is_some() && self.said.body.is_some()
    }
}

/// Its public fields, and the summaries as the accessors read them.
impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("seq", &self.seq)
            .field("actor", &self.actor)
            .field("connection", &self.connection)
            .field("method", &self.method)
            .field("target", &self.target)
            .field("request", &self.request())
            .field("invoke_ms", &self.invoke_ms)
            .field("end_ms", &self.end_ms)
            .field("request_id", &self.request_id)
            .field("result", &self.result)
            .field("response", &self.response())
            .field("resources", &self.resources())
            .finish()
    }
}

/// The trace's form of an operation: its fields in declaration order, the summaries read from
/// the bodies, absent values left out.
impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut op = serializer.serialize_struct("Op", 12)?;
        op.serialize_field("seq", &self.seq)?;
        op.serialize_field("actor", &self.actor)?;
        if let Some(connection) = &self.connection {
            op.serialize_field("connection", connection)?;
        }
        op.serialize_field("method", &self.method)?;
        op.serialize_field("target", &self.target)?;
        if let Some(request) = self.request() {
            op.serialize_field("request", request)?;
        }
        op.serialize_field("invoke_ms", &self.invoke_ms)?;
        if let Some(end_ms) = &self.end_ms {
            op.serialize_field("end_ms", end_ms)?;
        }
        if let Some(request_id) = &self.request_id {
            op.serialize_field("request_id", request_id)?;
        }
        op.serialize_field("result", &self.result)?;
        if let Some(response) = self.response() {
            op.serialize_field("response", response)?;
        }
        if !self.resources().is_empty() {
            op.serialize_field("resources", self.resources())?;
        }
        op.end()
    }
}

/// A summary read from a body the first time it is asked for, or given whole.
#[derive(Clone, Default)]
pub(crate) struct Deferred<T> {
    /// The status and body to read it from, until it is read (and after).
    body: Option<(u16, bytes::Bytes)>,
    read: OnceLock<T>,
}

/// What a summary is read from.
pub(crate) trait FromBody: Default {
    fn from_body(status: u16, body: &[u8]) -> Self;
}

impl<T: FromBody> Deferred<T> {
    /// A summary already known.
    pub(crate) fn ready(value: T) -> Deferred<T> {
        Deferred {
            body: None,
            read: OnceLock::from(value),
        }
    }

    /// A summary to read from `body`, answered with `status`, when first asked for.
    pub(crate) fn of_body(status: u16, body: bytes::Bytes) -> Deferred<T> {
        Deferred {
            body: Some((status, body)),
            read: OnceLock::new(),
        }
    }

    /// The summary, read now if it was not yet.
    pub(crate) fn get(&self) -> &T {
        self.read.get_or_init(|| match &self.body {
            Some((status, body)) => T::from_body(*status, body),
            None => T::default(),
        })
    }
}

impl<T: FromBody + PartialEq> PartialEq for Deferred<T> {
    fn eq(&self, other: &Deferred<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: FromBody + Eq> Eq for Deferred<T> {}

impl<T: FromBody + fmt::Debug> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// A request body's summary: [`summarize_request`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Asked(pub(crate) Option<String>);

impl FromBody for Asked {
    fn from_body(_: u16, body: &[u8]) -> Asked {
        Asked(summarize_request(body))
    }
}

/// A response body's summary and the resources it names: [`summarize_response`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Said {
    pub(crate) summary: Option<String>,
    pub(crate) resources: Vec<String>,
}

impl FromBody for Said {
    fn from_body(status: u16, body: &[u8]) -> Said {
        let (summary, resources) = summarize_response(status, body);
        Said { summary, resources }
    }
}

/// Something the harness or the server injected into the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InjectedFault {
    /// Simulated milliseconds since the run started.
    pub at_ms: u64,
    /// Which fault: `partition`, `hold`, `reject 503`, `drop response`, …
    pub kind: String,
    /// What it applied to: hosts, or the request (`POST /v2/droplets`, request id).
    pub target: String,
    /// More detail, such as how long it lasted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A belief an actor stated: what it thinks is true of the cloud (who owns an IP, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Belief {
    /// Simulated milliseconds since the run started.
    pub at_ms: u64,
    /// The actor holding the belief.
    pub actor: String,
    /// What the belief is about, e.g. `ip-owner`.
    pub key: String,
    /// What the actor believes, or `None` when it gave the belief up.
    pub value: Option<String>,
}

/// The shared, append-only record of one run, written by actors and the harness.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    inner: Arc<Mutex<RecorderState>>,
}

#[derive(Debug, Default)]
struct RecorderState {
    ops: Vec<Op>,
    faults: Vec<InjectedFault>,
    beliefs: Vec<Belief>,
    ops_dropped: u64,
    /// Body bytes kept to be summarized when read, at most [`KEPT_BODY_BYTES_MAX`].
    kept_bytes: usize,
    /// The response bodies kept, by length and bytes: a poll gets the same body again and again,
    /// and keeps one copy of it.
    kept_responses: BTreeSet<(usize, bytes::Bytes)>,
}

impl RecorderState {
    /// Appends operation `seq` (the next one), or counts it dropped past [`OPS_MAX`].
    fn push(
        &mut self,
        connection: Option<u64>,
        actor: &str,
        method: &str,
        target: &str,
        asked: impl FnOnce(&mut RecorderState) -> Deferred<Asked>,
        now_ms: u64,
    ) -> Option<u64> {
        if self.ops.len() >= OPS_MAX {
            self.ops_dropped += 1;
            return None;
        }
        let seq = self.ops.len() as u64;
        let asked = asked(self);
        self.ops.push(Op {
            seq,
            actor: actor.to_owned(),
            connection,
            method: method.to_owned(),
            target: target.to_owned(),
            asked,
            invoke_ms: now_ms,
            end_ms: None,
            request_id: None,
            result: OpResult::Unfinished,
            said: Deferred::default(),
        });
        Some(seq)
    }

    /// A response body kept to be summarized later: the copy kept of the same bytes before, else
    /// a new one if it fits in what the run may keep. A copy, since the response's buffer is the
    /// connection's, which it reuses once free.
    fn kept_copy(&mut self, body: &bytes::Bytes) -> Option<bytes::Bytes> {
        // Ordered by length first: a lookup compares only bodies of the same length byte by byte,
        // each to where it first differs.
        if let Some((_, kept)) = self.kept_responses.get(&(body.len(), body.clone())) {
            return Some(kept.clone());
        }
        if !self.keep(body.len()) {
            return None;
        }
        let kept = bytes::Bytes::copy_from_slice(body);
        self.kept_responses.insert((kept.len(), kept.clone()));
        Some(kept)
    }

    /// Whether `len` more body bytes may be kept to be summarized later, counting them if so.
    /// Once a body does not fit, none is kept for the rest of the run.
    fn keep(&mut self, len: usize) -> bool {
        match self.kept_bytes.checked_add(len) {
            Some(total) if total <= KEPT_BODY_BYTES_MAX => {
                self.kept_bytes = total;
                true
            }
            _ => {
                self.kept_bytes = usize::MAX;
                false
            }
        }
    }
}

/// What a recorder held at the end of a run.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    /// Every operation, in invocation order.
    pub ops: Vec<Op>,
    /// Every fault the harness injected, in time order.
    pub faults: Vec<InjectedFault>,
    /// Every belief, in the order stated.
    pub beliefs: Vec<Belief>,
    /// Operations not recorded because the run passed [`OPS_MAX`].
    pub ops_dropped: u64,
}

impl Recorder {
    /// Records the start of an operation and returns its sequence number, or `None` past the limit.
    pub fn invoke(
        &self,
        actor: &str,
        method: &str,
        target: &str,
        request: Option<String>,
        now_ms: u64,
    ) -> Option<u64> {
        self.invoke_on(None, actor, method, target, request, now_ms)
    }

    /// [`Recorder::invoke`] for an operation sent over `connection`.
    pub fn invoke_on(
        &self,
        connection: Option<u64>,
        actor: &str,
        method: &str,
        target: &str,
        request: Option<String>,
        now_ms: u64,
    ) -> Option<u64> {
        let mut state = self.inner.lock();
        state.push(
            connection,
            actor,
            method,
            target,
            |_| Deferred::ready(Asked(request)),
            now_ms,
        )
    }

    /// [`Recorder::invoke`] for an HTTP request whose body (at most [`BODY_BYTES_MAX`] of it) is
    /// summarized when the history is read.
    pub(crate) fn invoke_http(
        &self,
        actor: &str,
        method: &str,
        target: &str,
        body: &bytes::Bytes,
        now_ms: u64,
    ) -> Option<u64> {
        let body = &body[..body.len().min(BODY_BYTES_MAX)];
        let mut state = self.inner.lock();
        state.push(
            None,
            actor,
            method,
            target,
            |state| match state.keep(body.len()) {
                // A copy of what is read, so that what is kept is what is counted (a slice would
                // keep the whole of a larger buffer alive).
                true => Deferred::of_body(0, bytes::Bytes::copy_from_slice(body)),
                false => Deferred::ready(Asked::from_body(0, body)),
            },
            now_ms,
        )
    }

    /// Records how operation `seq` ended.
    pub fn complete(
        &self,
        seq: u64,
        now_ms: u64,
        result: OpResult,
        request_id: Option<String>,
        response: Option<String>,
        resources: Vec<String>,
    ) {
        let mut state = self.inner.lock();
        let Some(op) = usize::try_from(seq)
            .ok()
            .and_then(|index| state.ops.get_mut(index))
        else {
            return;
        };
        op.end_ms = Some(now_ms);
        op.result = result;
        op.request_id = request_id;
        op.said = Deferred::ready(Said {
            summary: response,
            resources,
        });
    }

    /// Records that HTTP operation `seq` was answered with `status` and `body` (at most
    /// [`BODY_BYTES_MAX`] of it), which is summarized when the history is read.
    pub(crate) fn responded(
        &self,
        seq: u64,
        now_ms: u64,
        status: u16,
        request_id: Option<String>,
        body: &bytes::Bytes,
    ) {
        let body = body.slice(..body.len().min(BODY_BYTES_MAX));
        let mut state = self.inner.lock();
        if usize::try_from(seq).map_or(true, |index| index >= state.ops.len()) {
            return;
        }
        let said = match state.kept_copy(&body) {
            Some(kept) => Deferred::of_body(status, kept),
            None => Deferred::ready(Said::from_body(status, &body)),
        };
        let op = &mut state.ops[seq as usize];
        op.end_ms = Some(now_ms);
        op.result = OpResult::Status { status };
        op.request_id = request_id;
        op.said = said;
    }

    /// Records that operation `seq` on a data plane was answered with `response`, its line on the
    /// timeline; a data plane's operations carry no request id and name no resources.
    pub(crate) fn answered(&self, seq: u64, now_ms: u64, response: String) {
        self.complete(
            seq,
            now_ms,
            OpResult::Answered,
            None,
            Some(response),
            Vec::new(),
        );
    }

    /// Records that operation `seq`'s connection closed before its answer, `message` saying when.
    /// When the world is torn down at the end of the run the operation stays unfinished instead,
    /// which the report says as "no answer before the run ended".
    pub(crate) fn connection_closed(&self, seq: u64, now_ms: u64, message: &str) {
        if turmoil::in_simulation() {
            let result = OpResult::TransportError {
                message: message.to_owned(),
            };
            self.complete(seq, now_ms, result, None, None, Vec::new());
        }
    }

    /// Records an injected fault.
    pub fn fault(&self, fault: InjectedFault) {
        self.inner.lock().faults.push(fault);
    }

    /// Records a belief.
    pub fn believe(&self, belief: Belief) {
        let mut state = self.inner.lock();
        if state.beliefs.len() < BELIEFS_MAX {
            state.beliefs.push(belief);
        }
    }

    /// Everything recorded, moved out: the run has ended and nothing records after it. What was
    /// recorded is left empty, as a new recorder's is.
    pub(crate) fn take(&self) -> Recorded {
        let mut state = self.inner.lock();
        let taken = std::mem::take(&mut *state);
        Recorded {
            ops: taken.ops,
            faults: taken.faults,
            beliefs: taken.beliefs,
            ops_dropped: taken.ops_dropped,
        }
    }

    /// Everything recorded so far.
    pub fn snapshot(&self) -> Recorded {
        let state = self.inner.lock();
        Recorded {
            ops: state.ops.clone(),
            faults: state.faults.clone(),
            beliefs: state.beliefs.clone(),
            ops_dropped: state.ops_dropped,
        }
    }
}

/// Simulated milliseconds since the run started, or 0 outside a simulation.
pub fn now_ms() -> u64 {
    if !turmoil::in_simulation() {
        return 0;
    }
    turmoil::sim_elapsed().map_or(0, |elapsed| {
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    })
}

/// Summarises a JSON request body as the name(s) it carries, for the timeline.
pub fn summarize_request(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    if let Some(name) = object.get("name").and_then(|name| name.as_str()) {
        return Some(name.to_owned());
    }
    if let Some(names) = object.get("names").and_then(|names| names.as_array()) {
        let names: Vec<&str> = names.iter().filter_map(|name| name.as_str()).collect();
        return Some(names.join(","));
    }
    if let Some(kind) = object.get("type").and_then(|kind| kind.as_str()) {
        let target = object
            .get("droplet_id")
            .map(|id| format!(" droplet {id}"))
            .unwrap_or_default();
        return Some(format!("{kind}{target}"));
    }
    None
}

/// The summary and the resources a response body tells its reader about; the summary says
/// what an error body's `id` and `message` are when `status` is 400 or more.
///
/// DigitalOcean wraps every resource in an envelope named after it (`{"volume": {…}}`,
/// `{"volumes": […]}`), so the envelope's key says what the ids are.
pub fn summarize_response(status: u16, body: &[u8]) -> (Option<String>, Vec<String>) {
    // Only the few fields a summary reads are kept; everything else is checked as JSON and
    // skipped unbuilt: a parse into a `Value` tree was a fifth of a request-heavy seed.
    let Ok(envelope) = dosim_base::json::decode::<Envelope>(body) else {
        if body.is_empty() {
            return (None, Vec::new());
        }
        return (Some("non-JSON body".to_owned()), Vec::new());
    };
    let Envelope::Object(members) = envelope else {
        return (None, Vec::new());
    };
    let text = |key: &str| match members.get(key) {
        Some(Member::Scalar(scalar)) => scalar.text(),
        _ => None,
    };
    if status >= 400 {
        let id = text("id").unwrap_or("error");
        // The message is what tells DigitalOcean's 422s apart (a pending event, an attached
        // volume), so the summary carries it, clipped to keep the timeline one line per request.
        let summary = match text("message") {
            Some(message) => format!("{id}: {}", clip(message, ERROR_MESSAGE_CHARS_MAX)),
            None => id.to_owned(),
        };
        return (Some(summary), Vec::new());
    }
    let mut resources = Vec::new();
    let mut summary = None;
    for (key, item) in &members {
        if matches!(key.as_str(), "links" | "meta") {
            continue;
        }
        let kind = singular(key);
        match item {
            Member::Array(items) => {
                summary.get_or_insert_with(|| format!("{} {}", items.len(), key));
                for item in items.iter().flatten() {
                    if let Some(id) = item.resource_id(kind) {
                        resources.push(format!("{kind} {id}"));
                    }
                }
            }
            Member::Object(item) => {
                if let Some(id) = item.resource_id(kind) {
                    // A status (`new`, `in-progress`, `completed`) is what a poll is waiting on.
                    let status = item.status.as_ref().and_then(Scalar::text);
                    summary.get_or_insert_with(|| match status {
                        Some(status) => format!("{kind} {} {status}", short(&id)),
                        None => format!("{kind} {}", short(&id)),
                    });
                    resources.push(format!("{kind} {id}"));
                }
                // A droplet lists its volumes, and an action its resource: both are
                // things the reader now knows exist.
                for id in item.volume_ids.iter().filter_map(Scalar::text) {
                    resources.push(format!("volume {id}"));
                }
            }
            Member::Scalar(_) => {}
        }
    }
    (summary, resources)
}

/// A response body as [`summarize_response`] reads it: an object's members by key, in key order
/// as a `serde_json::Map` keeps them (the last of repeated keys wins), or anything else.
enum Envelope {
    Object(BTreeMap<String, Member>),
    Other,
}

/// One member of the envelope: a list of resources (`None` for an item that is no object), one
/// resource, or a plain value (an error body's `id` and `message`).
enum Member {
    Array(Vec<Option<Fields>>),
    Object(Fields),
    Scalar(Scalar),
}

/// The fields of a resource a summary reads; the others are skipped.
#[derive(Default)]
struct Fields {
    id: Option<Scalar>,
    ip: Option<Scalar>,
    status: Option<Scalar>,
    /// The items of `volume_ids`, when it is an array.
    volume_ids: Vec<Scalar>,
}

impl Fields {
    /// The id a resource of `kind` goes by: `ip` for reserved and floating IPs, `id` otherwise,
    /// as text if it is a string or a number.
    fn resource_id(&self, kind: &str) -> Option<String> {
        let field = if matches!(kind, "reserved_ip" | "floating_ip") {
            &self.ip
        } else {
            &self.id
        };
        match field.as_ref()? {
            Scalar::Text(text) | Scalar::Number(text) => Some(text.clone()),
            Scalar::Other => None,
        }
    }
}

/// A value: a string, a number in `serde_json`'s text form, or anything else (skipped).
enum Scalar {
    Text(String),
    Number(String),
    Other,
}

impl Scalar {
    /// The string, if the value is one.
    fn text(&self) -> Option<&str> {
        match self {
            Scalar::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// What a visitor makes of each kind of JSON value; containers it does not read are skipped.
trait Shape: Sized {
    fn scalar(scalar: Scalar) -> Self;
    fn map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
    fn seq<'de, A: serde::de::SeqAccess<'de>>(seq: A) -> Result<Self, A::Error>;
}

/// Drives a [`Shape`] from any JSON value.
struct ShapeVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Shape> serde::de::Visitor<'de> for ShapeVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::scalar(Scalar::Other))
    }
    fn visit_i64<E>(self, v: i64) -> Result<T, E> {
        Ok(T::scalar(Scalar::Number(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<T, E> {
        Ok(T::scalar(Scalar::Number(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<T, E> {
        Ok(T::scalar(match serde_json::Number::from_f64(v) {
            Some(n) => Scalar::Number(n.to_string()),
            None => Scalar::Other,
        }))
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok(T::scalar(Scalar::Text(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<T, E> {
        Ok(T::scalar(Scalar::Text(v)))
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::scalar(Scalar::Other))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
}

/// Skips the rest of a map or list.
fn skip_map<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map
        .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
        .is_some()
    {}
    Ok(())
}

fn skip_seq<'de, A: serde::de::SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
    Ok(())
}

impl Shape for Scalar {
    fn scalar(scalar: Scalar) -> Self {
        scalar
    }
    fn map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        skip_map(map).map(|()| Scalar::Other)
    }
    fn seq<'de, A: serde::de::SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| Scalar::Other)
    }
}

/// `volume_ids`: its items when it is an array, nothing otherwise.
struct ScalarList(Vec<Scalar>);

impl Shape for ScalarList {
    fn scalar(_: Scalar) -> Self {
        ScalarList(Vec::new())
    }
    fn map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        skip_map(map).map(|()| ScalarList(Vec::new()))
    }
    fn seq<'de, A: serde::de::SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Scalar>()? {
            items.push(item);
        }
        Ok(ScalarList(items))
    }
}

impl Shape for Option<Fields> {
    fn scalar(_: Scalar) -> Self {
        None
    }
    fn map<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "id" => fields.id = Some(map.next_value()?),
                "ip" => fields.ip = Some(map.next_value()?),
                "status" => fields.status = Some(map.next_value()?),
                "volume_ids" => fields.volume_ids = map.next_value::<ScalarList>()?.0,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(Some(fields))
    }
    fn seq<'de, A: serde::de::SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| None)
    }
}

impl Shape for Member {
    fn scalar(scalar: Scalar) -> Self {
        Member::Scalar(scalar)
    }
    fn map<'de, A: serde::de::MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        Ok(Member::Object(
            <Option<Fields> as Shape>::map(map)?.unwrap_or_default(),
        ))
    }
    fn seq<'de, A: serde::de::SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<OptionFields>()? {
            items.push(item.0);
        }
        Ok(Member::Array(items))
    }
}

/// An array item: its fields when it is an object.
struct OptionFields(Option<Fields>);

impl Shape for Envelope {
    fn scalar(_: Scalar) -> Self {
        Envelope::Other
    }
    fn map<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut members = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let member: Member = map.next_value()?;
            members.insert(key, member);
        }
        Ok(Envelope::Object(members))
    }
    fn seq<'de, A: serde::de::SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| Envelope::Other)
    }
}

macro_rules! deserialize_by_shape {
    ($($ty:ty => $shape:ty, $wrap:expr;)*) => {$(
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer
                    .deserialize_any(ShapeVisitor::<$shape>(std::marker::PhantomData))
                    .map($wrap)
            }
        }
    )*};
}

deserialize_by_shape! {
    Envelope => Envelope, |v| v;
    Member => Member, |v| v;
    Scalar => Scalar, |v| v;
    ScalarList => ScalarList, |v| v;
    OptionFields => Option<Fields>, OptionFields;
}

pub(crate) fn singular(key: &str) -> &str {
    match key {
        "droplets" => "droplet",
        "volumes" => "volume",
        "reserved_ips" => "reserved_ip",
        "floating_ips" => "floating_ip",
        "actions" => "action",
        "databases" => "database",
        other => other,
    }
}

/// The longest error message a timeline line shows.
const ERROR_MESSAGE_CHARS_MAX: usize = 60;

/// `text` cut to `chars_max` characters, with an ellipsis when cut.
pub(crate) fn clip(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(chars_max - 1).collect();
    clipped.push('…');
    clipped
}

/// The first eight characters of a long id (UUIDs), the whole of a short one.
pub fn short(id: &str) -> String {
    if id.len() > 12 && id.is_char_boundary(8) {
        format!("{}…", &id[..8])
    } else {
        id.to_owned()
    }
}
