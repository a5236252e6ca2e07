//! The run's history: every operation as the actors saw it, every injected fault, every belief.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

/// The longest body kept per operation; a longer one is cut, so a chatty run stays bounded.
pub const BODY_BYTES_MAX: usize = 64 * 1024;

/// The most operations one run records; past this the run stops recording and says so.
pub const OPS_MAX: usize = 100_000;

/// The most beliefs one run records.
pub const BELIEFS_MAX: usize = 100_000;

/// The most response summaries one run remembers, and the most body bytes they may hold.
const SUMMARIES_MAX: usize = 256;
const SUMMARIES_BYTES_MAX: usize = 1024 * 1024;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Op {
    /// The order in which operations were invoked in this run, from 0.
    pub seq: u64,
    /// The actor (or service host) that sent it: `pod-0`, `pod-1`, …
    pub actor: String,
    /// The connection it went over, for protocols with sessions (SQL): its cluster's number for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<u64>,
    /// The HTTP method.
    pub method: String,
    /// The path and query: `/v2/volumes?name=pgdata`.
    pub target: String,
    /// A short summary of the request body (the `name` it creates, for instance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Simulated milliseconds since the run started when the request was sent.
    pub invoke_ms: u64,
    /// Simulated milliseconds when the response, timeout or error reached the actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    /// The `x-request-id` of the response, when one arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// How the operation ended.
    pub result: OpResult,
    /// A short summary of the response body: `2 volumes`, `volume 7f3a…`, `conflict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The resources this response told the actor about (`droplet 3164444`, `volume 7f3a…`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
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
    summaries: Summaries,
}

/// A remembered body: whether it was an error's, its length, and its bytes.
type BodyKey = (bool, usize, bytes::Bytes);

/// The summary of each response body already read in this run, by whether it was an error and
/// the body: a poll reads the same body again and again (a droplet until it is active, a fleet's
/// list page), and reading a body through was most of recording its exchange.
#[derive(Debug, Default)]
struct Summaries {
    // Ordered by length, then by the bytes: a lookup compares a few bodies, and only those of
    // the same length byte by byte, each to where it first differs, which costs less than
    // hashing the body whole (bodies of one run share long prefixes: `{"droplet":{"backup_ids"`).
    by_body: BTreeMap<BodyKey, (Option<String>, Vec<String>)>,
    bytes: usize,
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
        if state.ops.len() >= OPS_MAX {
            state.ops_dropped += 1;
            return None;
        }
        let seq = state.ops.len() as u64;
        state.ops.push(Op {
            seq,
            actor: actor.to_owned(),
            connection,
            method: method.to_owned(),
            target: target.to_owned(),
            request,
            invoke_ms: now_ms,
            end_ms: None,
            request_id: None,
            result: OpResult::Unfinished,
            response: None,
            resources: Vec::new(),
        });
        Some(seq)
    }

    /// [`summarize_response`], remembered for the rest of the run: a body read before is not
    /// read again. The answer is the same either way; only what it costs differs.
    pub fn summarize_response(
        &self,
        status: u16,
        body: &bytes::Bytes,
    ) -> (Option<String>, Vec<String>) {
        let is_error = status >= 400;
        if let Some(summarized) =
            self.inner
                .lock()
                .summaries
                .by_body
                .get(&(is_error, body.len(), body.clone()))
        {
            return summarized.clone();
        }
        let summarized = summarize_response(status, body);
        let summaries = &mut self.inner.lock().summaries;
        if summaries.by_body.len() < SUMMARIES_MAX
            && summaries.bytes + body.len() <= SUMMARIES_BYTES_MAX
        {
            summaries.bytes += body.len();
            // A copy, so that a slice of a larger response does not keep all of it alive.
            let key = (is_error, body.len(), bytes::Bytes::copy_from_slice(body));
            summaries.by_body.insert(key, summarized.clone());
        }
        summarized
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
        op.response = response;
        op.resources = resources;
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
    /// recorded is left empty, as a new recorder's is (the summaries memo is dropped too).
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
