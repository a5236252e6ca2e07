//! The S3 wire API: addressing, authentication, the operations, and S3's XML responses and errors.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use dosim_base::faults::{
    DropMode, FaultRequest, InjectedFault, LatencyStage, Lost, RejectBody, Service,
};
use dosim_base::gate::{Operation, Plane};
use dosim_base::lost::{commit_detached, proxy_error_page, ResetBody};
use dosim_base::SimTime;
use dosim_cloud::{SpacesKey, SpacesPermission};

use crate::conditions::{parse_http_date, Conditions};
use crate::error::S3Error;
use crate::service::{LogEntry, Logged, Peer, Spaces};
use crate::sigv2;
use crate::sigv4::{self, query_pairs, Signable};
use crate::store::{Acl, CopyRequest, Directive, NewObject, ObjectVersion, Versioning};
use crate::xml;

/// The domain Spaces answers on: `{region}.digitaloceanspaces.com`.
pub const DOMAIN: &str = "digitaloceanspaces.com";

pub(crate) fn router(spaces: Spaces) -> Router {
    Router::new().fallback(handle).with_state(spaces)
}

/// The request as the operations see it.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) region: String,
    pub(crate) bucket: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) principal: Principal,
    pub(crate) host: String,
}

impl Req {
    pub(crate) fn q(&self, name: &str) -> Option<&str> {
        sigv4::query_param(&self.query, name)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(n, _)| n == name)
    }

    pub(crate) fn h(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) enum Principal {
    Anonymous,
    Key { owner: String, key: Box<SpacesKey> },
}

/// What an operation needs of the key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Read,
    Write,
    Full,
}

/// What the response said, for the log.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) etag: Option<String>,
    pub(crate) version_id: Option<String>,
}

/// Where a request points: its region, bucket and key, and whether the bucket was named in the host.
struct Address {
    region: String,
    bucket: Option<String>,
    key: Option<String>,
    virtual_hosted: bool,
}

/// Splits the host and path into region, bucket and key: virtual-hosted `{bucket}.{region}.digitaloceanspaces.com`, else path-style.
fn address(host: &str, path: &str, default_region: &str) -> Address {
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let decoded = |raw: &str| {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut region = default_region.to_owned();
    let mut virtual_bucket = None;
    if let Some(rest) = host.strip_suffix(DOMAIN).and_then(|r| r.strip_suffix('.')) {
        match rest.rsplit_once('.') {
            Some((bucket, r)) => {
                region = r.to_owned();
                virtual_bucket = Some(bucket.to_owned());
            }
            None => region = rest.to_owned(),
        }
    } else if let Some(bucket) = host.strip_suffix(".localhost") {
        virtual_bucket = Some(bucket.to_owned());
    }
    match virtual_bucket {
        Some(bucket) => Address {
            region,
            bucket: Some(bucket),
            key: (!path.is_empty()).then(|| decoded(path)),
            virtual_hosted: true,
        },
        None => {
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            Address {
                region,
                bucket: (!bucket.is_empty()).then(|| decoded(bucket)),
                key: (!key.is_empty()).then(|| decoded(key)),
                virtual_hosted: false,
            }
        }
    }
}

async fn handle(State(spaces): State<Spaces>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
        .to_owned();
    let actor = parts
        .extensions
        .get::<Peer>()
        .map_or_else(|| "unknown".to_owned(), |p| p.0.clone());
    let address = address(&host, parts.uri.path(), &spaces.inner.config.region);
    let seq = spaces.next_seq();
    let method = parts.method.to_string();
    // The path-style path whatever the addressing: what a fault-plan rule matches and what an
    // error's `Resource` names.
    let resource = match (&address.bucket, &address.key) {
        (Some(b), Some(k)) => format!("/{b}/{k}"),
        (Some(b), None) => format!("/{b}"),
        _ => "/".to_owned(),
    };
    let faults = spaces.faults();
    let at = FaultRequest {
        service: Service::Spaces,
        seq,
        method: &method,
        path: &resource,
    };
    // In transit: a client that gives up now cancels the request before Spaces sees it.
    let mut fault = None;
    if let Some((rule, latency_ms)) = faults.network_latency(at) {
        tokio::time::sleep(std::time::Duration::from_millis(latency_ms)).await;
        fault = Some(InjectedFault::Latency {
            rule,
            stage: LatencyStage::Network,
            latency_ms,
        });
    }
    let now = spaces.now();
    let request_id = request_id(&spaces, seq, now, &address.region);
    let is_head = parts.method == Method::HEAD;
    let mut entry = LogEntry {
        seq,
        at_ms: now.0,
        request_id: request_id.clone(),
        actor: actor.clone(),
        operation: "",
        method: method.clone(),
        bucket: address.bucket.clone(),
        key: address.key.clone(),
        status: 0,
        error: None,
        etag: None,
        version_id: None,
        fault,
    };
    let result = read_request(&spaces, &parts, body, address, &host, now, &mut entry).await;
    let mut done = Done {
        spaces: spaces.clone(),
        entry,
        resource: resource.clone(),
        request_id,
        is_head,
    };
    let admitted = match result {
        Ok(admitted) => admitted,
        Err(error) => return done.refused(&error),
    };
    let Some(arrival) = faults.on_arrival(at) else {
        let result = commit(spaces, admitted, actor).await;
        return done.committed(result, None).await;
    };
    let rule = arrival.rule;
    if let Some(reject) = arrival.reject {
        done.entry.fault = Some(InjectedFault::Reject {
            rule,
            status: reject.status,
            body: reject.body,
        });
        let status =
            StatusCode::from_u16(reject.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return match (reject.body, status) {
            (RejectBody::Html, status) => done.finish(proxy_page(status)),
            (_, StatusCode::SERVICE_UNAVAILABLE) => done.refused(&S3Error::slow_down()),
            _ => done.refused(&S3Error::internal_error()),
        };
    }
    if let Some(latency_ms) = arrival.processing_latency_ms {
        done.entry.fault = Some(InjectedFault::Latency {
            rule,
            stage: LatencyStage::Processing,
            latency_ms,
        });
    }
    // From the commit on, the request runs to its end, response lost or not.
    let (seq, method, path) = (at.seq, at.method.to_owned(), at.path.to_owned());
    let rest = async move {
        let result = commit(spaces, admitted, actor).await;
        let at = FaultRequest {
            service: Service::Spaces,
            seq,
            method: &method,
            path: &path,
        };
        let lost = if arrival.may_lose_response {
            faults.lose_response(at, rule)
        } else {
            None
        };
        done.committed(result, lost.map(|lost| (rule, lost))).await
    };
    match arrival.processing_latency_ms {
        None => rest.await,
        // The request has reached Spaces: on a task of its own, it commits (and is logged)
        // whether its client still waits or not.
        Some(latency_ms) => commit_detached(latency_ms, rest).await,
    }
}

/// Who signed the request, checked against the keys and the signing clock (`now_unix`): anonymous,
/// Signature Version 2, or Signature Version 4, whose verification also gives what streaming
/// chunks are verified with.
fn authenticate(
    spaces: &Spaces,
    signable: &Signable<'_>,
    now_unix: i64,
    virtual_bucket: Option<&str>,
) -> Result<(Principal, Option<sigv4::Verified>), S3Error> {
    let principal = |access_key: &str| {
        let (owner, key) = spaces
            .inner
            .keys
            .key(access_key)
            .ok_or_else(S3Error::invalid_access_key_id)?;
        Ok::<_, S3Error>((owner, key))
    };
    if let Some(claim) = sigv2::claim(signable)? {
        let (owner, key) = principal(&claim.access_key)?;
        sigv2::verify(signable, &claim, &key.secret_key, now_unix, virtual_bucket)?;
        let key = Box::new(key);
        return Ok((Principal::Key { owner, key }, None));
    }
    let Some(claim) = sigv4::claim(signable)? else {
        return Ok((Principal::Anonymous, None));
    };
    let (owner, key) = principal(&claim.access_key)?;
    let verified = sigv4::verify(signable, &claim, &key.secret_key, now_unix)?;
    let key = Box::new(key);
    Ok((Principal::Key { owner, key }, Some(verified)))
}

/// Reads a request's body, authenticates it against the keys and the signing clock at `now`,
/// decodes the body the SDK sent, and checks its grants and its bucket's request rate.
async fn read_request(
    spaces: &Spaces,
    parts: &http::request::Parts,
    body: Body,
    address: Address,
    host: &str,
    now: SimTime,
    entry: &mut LogEntry,
) -> Result<Admitted, S3Error> {
    let raw = axum::body::to_bytes(body, spaces.inner.config.body_bytes_max)
        .await
        .map_err(|_| S3Error::entity_too_large())?;
    let signable = Signable {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
    };
    let virtual_bucket = address.bucket.as_deref().filter(|_| address.virtual_hosted);
    let (principal, verified) =
        authenticate(spaces, &signable, spaces.signing_time(now), virtual_bucket)?;
    let body = crate::payload::decode(&parts.headers, raw, verified.as_ref())?;
    let req = Req {
        method: parts.method.clone(),
        region: address.region,
        bucket: address.bucket,
        key: address.key,
        query: query_pairs(parts.uri.query().unwrap_or("")),
        headers: parts.headers.clone(),
        body,
        principal,
        host: host.to_owned(),
    };
    let (operation, changes) = admit(spaces, &req, entry)?;
    Ok(Admitted {
        req,
        operation,
        changes,
    })
}

/// A request that passed authentication, authorization and the rate limit.
struct Admitted {
    req: Req,
    operation: &'static str,
    /// Whether it changes state (and so passes the gate).
    changes: bool,
}

/// A request on its way out: what its log entry and its error body need.
struct Done {
    spaces: Spaces,
    entry: LogEntry,
    resource: String,
    request_id: String,
    is_head: bool,
}

impl Done {
    /// S3's refusal, as its XML.
    fn refused(mut self, error: &S3Error) -> Response {
        self.entry.error = Some(error.code);
        let response = error_response(
            &self.spaces,
            error,
            &self.resource,
            &self.request_id,
            self.is_head,
        );
        self.finish(response)
    }

    /// The commit's response, or its refusal; lost on the way when `lost` says so.
    async fn committed(
        mut self,
        result: Result<(Response, Outcome), S3Error>,
        lost: Option<(usize, Lost)>,
    ) -> Response {
        if let Some((rule, lost)) = lost {
            self.entry.fault = Some(InjectedFault::DropResponse {
                rule,
                mode: lost.mode,
                hang_ms: lost.hang_ms,
            });
        }
        let response = match result {
            Ok((response, outcome)) => {
                self.entry.etag = outcome.etag;
                self.entry.version_id = outcome.version_id;
                self.finish(response)
            }
            Err(error) => self.refused(&error),
        };
        let Some((_, lost)) = lost else {
            return response;
        };
        // Logged (by `finish`) before it hangs, so a run that ends meanwhile still sees the commit.
        if lost.mode == DropMode::Hang {
            tokio::time::sleep(std::time::Duration::from_millis(lost.hang_ms)).await;
        }
        let (parts, _) = response.into_parts();
        let mut response = Response::from_parts(parts, Body::new(ResetBody));
        response.headers_mut().remove(header::CONTENT_LENGTH);
        response
    }

    /// Logs the request and stamps the response with its ids.
    fn finish(mut self, mut response: Response) -> Response {
        self.entry.status = response.status().as_u16();
        if self.entry.operation.is_empty() {
            self.entry.operation = "Unknown";
        }
        let seq = self.entry.seq;
        self.spaces.record(self.entry);
        response.extensions_mut().insert(Logged(seq));
        let headers = response.headers_mut();
        headers.insert("x-amz-request-id", value(&self.request_id));
        headers.insert("x-amz-id-2", value(&host_id(&self.spaces)));
        response
    }
}

/// Passes the gate if the request changes state, then commits.
async fn commit(
    spaces: Spaces,
    admitted: Admitted,
    actor: String,
) -> Result<(Response, Outcome), S3Error> {
    let Admitted {
        req,
        operation,
        changes,
    } = admitted;
    let _permit = if changes {
        let summary = match (&req.bucket, &req.key) {
            (Some(b), Some(k)) => format!("{operation} {b}/{k}"),
            (Some(b), None) => format!("{operation} {b}"),
            _ => operation.to_owned(),
        };
        Some(
            spaces
                .gate()
                .admit(Operation {
                    plane: Plane::Spaces,
                    server: req.host.clone(),
                    actor,
                    session: None,
                    summary,
                })
                .await,
        )
    } else {
        None
    };
    // Time is read after admission: a write held at the gate commits when it is let through.
    let now = spaces.now();
    crate::ops::run(&spaces, &req, operation, now)
}

fn proxy_page(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut response = Response::new(Body::from(proxy_error_page(status.as_u16(), reason)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

pub(crate) fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Ceph RGW's request id shape: `tx` + sequence in hex, the time, the gateway, the zone.
fn request_id(spaces: &Spaces, seq: u64, now: SimTime, region: &str) -> String {
    let gateway = dosim_base::splitmix64(spaces.inner.config.seed) & 0xffff;
    format!(
        "tx{seq:021x}-{:010x}-{gateway:x}-{region}a",
        now.unix_secs()
    )
}

fn host_id(spaces: &Spaces) -> String {
    let gateway = dosim_base::splitmix64(spaces.inner.config.seed) & 0xfff_ffff;
    let region = &spaces.inner.config.region;
    format!("{gateway:07x}-{region}a-{region}")
}

fn error_response(
    spaces: &Spaces,
    error: &S3Error,
    resource: &str,
    request_id: &str,
    is_head: bool,
) -> Response {
    let body = if is_head || error.status == StatusCode::NOT_MODIFIED {
        Body::empty()
    } else {
        Body::from(xml::error_body(
            error.code,
            &error.message,
            resource,
            request_id,
            &host_id(spaces),
        ))
    };
    let mut response = Response::new(body);
    *response.status_mut() = error.status;
    if error.status != StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
    }
    response
}

fn xml_response(body: String) -> Response {
    let mut response = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>{body}"
    )));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Headers dosim does not implement; Spaces answers unsupported features with 501.
const UNSUPPORTED_HEADERS: &[&str] = &[
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
    "x-amz-website-redirect-location",
    "x-amz-grant-read",
    "x-amz-grant-full-control",
];

/// Query subresources served; any other names an operation Spaces or dosim does not serve: 501.
const SUBRESOURCES: &[&str] = &[
    "versioning",
    "versions",
    "location",
    "uploads",
    "uploadId",
    "partNumber",
    "delete",
    "tagging",
    "acl",
    "list-type",
    "prefix",
    "delimiter",
    "max-keys",
    "marker",
    "continuation-token",
    "start-after",
    "fetch-owner",
    "encoding-type",
    "versionId",
    "key-marker",
    "version-id-marker",
    "max-uploads",
    "max-parts",
    "part-number-marker",
    "upload-id-marker",
    "x-id",
    "response-content-type",
    "response-content-disposition",
    "response-cache-control",
    "response-content-encoding",
    "response-content-language",
    "response-expires",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Expires",
    "Signature",
    "x-amz-checksum-mode",
];

/// Names the operation, then checks the key's grants and the bucket's request rate: the
/// operation and whether it changes state.
fn admit(
    spaces: &Spaces,
    req: &Req,
    entry: &mut LogEntry,
) -> Result<(&'static str, bool), S3Error> {
    if req
        .query
        .iter()
        .any(|(n, _)| !SUBRESOURCES.contains(&n.as_str()))
        || UNSUPPORTED_HEADERS
            .iter()
            .any(|h| req.headers.contains_key(*h))
    {
        entry.operation = "Unsupported";
        return Err(S3Error::not_implemented());
    }
    let m = &req.method;
    let (operation, need, changes): (&'static str, Need, bool) = match (&req.bucket, &req.key) {
        (None, _) if m == Method::GET => ("ListBuckets", Need::Read, false),
        (None, _) => return Err(S3Error::method_not_allowed()),
        (Some(_), None) => match *m {
            Method::GET if req.has("location") => ("GetBucketLocation", Need::Read, false),
            Method::GET if req.has("versioning") => ("GetBucketVersioning", Need::Read, false),
            Method::GET if req.has("versions") => ("ListObjectVersions", Need::Read, false),
            Method::GET if req.has("uploads") => ("ListMultipartUploads", Need::Read, false),
            Method::GET if req.has("acl") || req.has("tagging") => {
                return Err(S3Error::not_implemented())
            }
            Method::GET if req.q("list-type") == Some("2") => ("ListObjectsV2", Need::Read, false),
            Method::GET => ("ListObjects", Need::Read, false),
            Method::HEAD => ("HeadBucket", Need::Read, false),
            Method::PUT if req.has("versioning") => ("PutBucketVersioning", Need::Full, true),
            Method::PUT if req.has("acl") || req.has("tagging") => {
                return Err(S3Error::not_implemented())
            }
            Method::PUT => ("CreateBucket", Need::Full, true),
            Method::DELETE if req.has("tagging") => return Err(S3Error::not_implemented()),
            Method::DELETE => ("DeleteBucket", Need::Full, true),
            Method::POST if req.has("delete") => ("DeleteObjects", Need::Write, true),
            _ => return Err(S3Error::method_not_allowed()),
        },
        (Some(_), Some(_)) => match *m {
            Method::GET if req.has("uploadId") => ("ListParts", Need::Read, false),
            Method::GET if req.has("tagging") => ("GetObjectTagging", Need::Read, false),
            Method::GET if req.has("acl") => return Err(S3Error::not_implemented()),
            Method::GET => ("GetObject", Need::Read, false),
            Method::HEAD => ("HeadObject", Need::Read, false),
            Method::PUT if req.has("partNumber") && req.has("uploadId") => {
                if req.headers.contains_key("x-amz-copy-source") {
                    return Err(S3Error::not_implemented());
                }
                ("UploadPart", Need::Write, true)
            }
            Method::PUT if req.has("tagging") => ("PutObjectTagging", Need::Write, true),
            Method::PUT if req.has("acl") => return Err(S3Error::not_implemented()),
            Method::PUT if req.headers.contains_key("x-amz-copy-source") => {
                ("CopyObject", Need::Write, true)
            }
            Method::PUT => ("PutObject", Need::Write, true),
            Method::DELETE if req.has("uploadId") => ("AbortMultipartUpload", Need::Write, true),
            Method::DELETE if req.has("tagging") => ("DeleteObjectTagging", Need::Write, true),
            Method::DELETE => ("DeleteObject", Need::Write, true),
            Method::POST if req.has("uploads") => ("CreateMultipartUpload", Need::Write, true),
            Method::POST if req.has("uploadId") => ("CompleteMultipartUpload", Need::Write, true),
            _ => return Err(S3Error::method_not_allowed()),
        },
    };
    entry.operation = operation;
    authorize(spaces, req, operation, need)?;
    if let (Some(bucket), Some(limit)) =
        (&req.bucket, spaces.inner.config.bucket_requests_per_second)
    {
        let second = spaces.now().0 / 1000;
        let mut rate = spaces.inner.rate.lock();
        let slot = rate.entry(bucket.clone()).or_insert((second, 0));
        if slot.0 != second {
            *slot = (second, 0);
        }
        if slot.1 >= limit {
            return Err(S3Error::slow_down());
        }
        slot.1 += 1;
    }
    Ok((operation, changes))
}

/// Grants: read for GET, HEAD and lists; readwrite for object writes; fullaccess for bucket writes.
/// A bucket of another account is refused unless public-read allows an anonymous-style read.
fn authorize(spaces: &Spaces, req: &Req, operation: &str, need: Need) -> Result<(), S3Error> {
    let store = spaces.inner.store.lock();
    let bucket = req.bucket.as_deref().and_then(|b| store.bucket(b).ok());
    let public_read = need == Need::Read
        && bucket.is_some_and(|b| {
            b.acl == Acl::PublicRead
                || (matches!(operation, "GetObject" | "HeadObject")
                    && req
                        .key
                        .as_deref()
                        .and_then(|k| b.current(k))
                        .is_some_and(|v| v.acl == Acl::PublicRead))
        });
    match &req.principal {
        Principal::Anonymous => {
            if public_read {
                Ok(())
            } else {
                Err(S3Error::access_denied())
            }
        }
        Principal::Key { owner, key } => {
            if operation == "ListBuckets" {
                return Ok(());
            }
            let name = req.bucket.as_deref().unwrap_or("");
            if let Some(b) = bucket {
                if &b.owner != owner {
                    return if public_read {
                        Ok(())
                    } else {
                        Err(S3Error::access_denied())
                    };
                }
            }
            let held = key.permission_on(name);
            let allowed = matches!(
                (need, held),
                (_, Some(SpacesPermission::FullAccess))
                    | (
                        Need::Read,
                        Some(SpacesPermission::Read | SpacesPermission::ReadWrite)
                    )
                    | (Need::Write, Some(SpacesPermission::ReadWrite))
            );
            if allowed || public_read {
                Ok(())
            } else {
                Err(S3Error::access_denied())
            }
        }
    }
}

pub(crate) mod render {
    //! Response pieces shared by the operations.
    use super::*;

    pub fn http_date(time: SimTime) -> String {
        httpdate::fmt_http_date(dosim_base::epoch() + std::time::Duration::from_secs(time.0 / 1000))
    }

    /// The headers GET and HEAD send for an object.
    pub fn object_headers(
        response: &mut Response,
        version: &ObjectVersion,
        versioning: Versioning,
    ) {
        let h = response.headers_mut();
        h.insert(header::ETAG, value(&format!("\"{}\"", version.etag)));
        h.insert(
            header::LAST_MODIFIED,
            value(&http_date(version.last_modified)),
        );
        h.insert(header::CONTENT_TYPE, value(&version.content_type));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        for (name, v) in &version.headers {
            if let Ok(name) = header::HeaderName::from_bytes(name.as_bytes()) {
                h.insert(name, value(v));
            }
        }
        for (name, v) in &version.metadata {
            if let Ok(name) =
                header::HeaderName::from_bytes(format!("x-amz-meta-{name}").as_bytes())
            {
                h.insert(name, value(v));
            }
        }
        if versioning != Versioning::Unversioned {
            h.insert("x-amz-version-id", value(&version.version_id));
        }
        if !version.tags.is_empty() {
            h.insert(
                "x-amz-tagging-count",
                value(&version.tags.len().to_string()),
            );
        }
    }
}

/// Reads the object-describing headers of a PUT, copy with REPLACE, or multipart create.
pub(crate) fn new_object(req: &Req) -> Result<NewObject, S3Error> {
    let mut metadata = BTreeMap::new();
    let mut headers = BTreeMap::new();
    for (name, v) in &req.headers {
        let text = String::from_utf8_lossy(v.as_bytes()).into_owned();
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            metadata.insert(meta.to_owned(), text);
        } else if matches!(
            name.as_str(),
            "cache-control" | "content-disposition" | "content-language" | "expires"
        ) || (name.as_str() == "content-encoding" && !text.contains("aws-chunked"))
        {
            headers.insert(name.as_str().to_owned(), text);
        }
    }
    let acl = match req.h("x-amz-acl") {
        None => None,
        Some(raw) => Some(Acl::parse(raw).ok_or_else(S3Error::not_implemented)?),
    };
    let mut tags = BTreeMap::new();
    if let Some(raw) = req.h("x-amz-tagging") {
        for (k, v) in query_pairs(raw) {
            tags.insert(k, v);
        }
    }
    Ok(NewObject {
        body: req.body.clone(),
        content_type: req.h("content-type").map(str::to_owned),
        headers,
        metadata,
        tags,
        acl,
    })
}

pub(crate) fn conditions(req: &Req, prefix: &str) -> Conditions {
    let h = |name: &str| req.h(&format!("{prefix}{name}")).map(str::to_owned);
    Conditions {
        if_match: h("if-match"),
        if_none_match: h("if-none-match"),
        if_modified_since: h("if-modified-since").and_then(|d| parse_http_date(&d)),
        if_unmodified_since: h("if-unmodified-since").and_then(|d| parse_http_date(&d)),
    }
}

pub(crate) fn copy_request(req: &Req) -> Result<CopyRequest, S3Error> {
    let raw = req.h("x-amz-copy-source").unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    let (path, version) = match decoded.split_once("?versionId=") {
        Some((p, v)) => (p.to_owned(), Some(v.to_owned())),
        None => (decoded.clone(), None),
    };
    let path = path.strip_prefix('/').unwrap_or(&path);
    let (source_bucket, source_key) = path
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            )
        })?;
    let directive = match req.h("x-amz-metadata-directive") {
        None | Some("COPY") => Directive::Copy,
        Some("REPLACE") => Directive::Replace,
        Some(_) => return Err(S3Error::invalid_argument("Unknown metadata directive.")),
    };
    Ok(CopyRequest {
        source_bucket: source_bucket.to_owned(),
        source_key: source_key.to_owned(),
        source_version: version,
        source_conditions: conditions(req, "x-amz-copy-source-"),
        bucket: req.bucket.clone().unwrap_or_default(),
        key: req.key.clone().unwrap_or_default(),
        directive,
        replacement: new_object(req)?,
        conditions: conditions(req, ""),
    })
}

pub(crate) use self::render::object_headers;

pub(crate) fn xml_ok(body: String) -> Response {
    xml_response(body)
}
