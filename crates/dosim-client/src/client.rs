//! The client: configuration, one request with timeout and retries, decoding, and paged lists.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT,
};
use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::common::{Links, Meta, Page};
use crate::error::{excerpt, retry_after, ApiError, Error, RateLimit};
use crate::retry::{Jitter, RetryPolicy};
use crate::transport::{HyperTransport, Transport, TransportErrorKind};

/// DigitalOcean's API endpoint.
pub const DIGITALOCEAN_BASE_URL: &str = "https://api.digitalocean.com";

/// The user agent sent unless another is set.
pub const USER_AGENT_DEFAULT: &str = concat!("dosim-client/", env!("CARGO_PKG_VERSION"));

/// The per-attempt timeout unless another is set.
pub const TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);

/// The most pages `.all()` reads before it gives up with an error.
pub const LIST_PAGES_MAX: u32 = 1000;

/// The largest `per_page` DigitalOcean accepts.
pub const PER_PAGE_MAX: u32 = 200;

/// A DigitalOcean API v2 client. Cheap to clone; clones share the transport, the jitter stream and
/// the last seen rate limit.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: String,
    headers: HeaderMap,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    jitter: Mutex<Jitter>,
    rate: Mutex<Option<RateLimit>>,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    base_url: String,
    token: String,
    user_agent: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    invalid: Option<String>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    transport: Option<Arc<dyn Transport>>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            base_url: DIGITALOCEAN_BASE_URL.to_owned(),
            token: String::new(),
            user_agent: USER_AGENT_DEFAULT.to_owned(),
            headers: Vec::new(),
            invalid: None,
            timeout: Some(TIMEOUT_DEFAULT),
            retry: RetryPolicy::none(),
            transport: None,
        }
    }
}

impl ClientBuilder {
    /// The API's base URL, with or without a trailing slash (`http://127.0.0.1:8080`); paths are `/v2/…` below it.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The personal access token sent as `Authorization: Bearer <token>`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The `User-Agent` header (default `dosim-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// A header sent with every request, e.g. `x-dosim-actor: pod-0`.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => self.headers.push((name, value)),
            _ => self.invalid = Some(format!("invalid header {name:?}: {value:?}")),
        }
        self
    }

    /// The timeout of each attempt (default 60 s). Time is `tokio::time`'s, so simulations control it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Waits for responses forever. A lost response then hangs the call.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The retry policy (default [`RetryPolicy::none`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The transport (default [`HyperTransport::http`], or HTTPS with the `tls` feature).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// A shared transport.
    pub fn transport_arc(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The client; fails on a base URL that is not `http(s)://host[:port][/prefix]`, or a bad header or token.
    pub fn build(self) -> Result<Client, Error> {
        if let Some(invalid) = self.invalid {
            return Err(Error::InvalidArgument(invalid));
        }
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        let uri: http::Uri = format!("{base_url}/v2")
            .parse()
            .map_err(|e| Error::InvalidArgument(format!("base URL {:?}: {e}", self.base_url)))?;
        if uri.scheme().is_none() || uri.authority().is_none() || uri.query().is_some() {
            return Err(Error::InvalidArgument(format!(
                "base URL {:?} must be http(s)://host[:port]",
                self.base_url
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let user_agent = HeaderValue::try_from(self.user_agent.as_str()).map_err(|_| {
            Error::InvalidArgument(format!("invalid user agent {:?}", self.user_agent))
        })?;
        headers.insert(USER_AGENT, user_agent);
        if !self.token.is_empty() {
            let mut authorization = HeaderValue::try_from(format!("Bearer {}", self.token))
                .map_err(|_| {
                    Error::InvalidArgument("the token is not a valid header value".to_owned())
                })?;
            authorization.set_sensitive(true);
            headers.insert(AUTHORIZATION, authorization);
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport(),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                base_url,
                headers,
                timeout: self.timeout,
                jitter: Mutex::new(Jitter::new(self.retry.jitter_seed)),
                retry: self.retry,
                rate: Mutex::new(None),
                transport,
            }),
        })
    }
}

#[cfg(not(feature = "tls"))]
fn default_transport() -> Arc<dyn Transport> {
    Arc::new(HyperTransport::http())
}

#[cfg(feature = "tls")]
fn default_transport() -> Arc<dyn Transport> {
    Arc::new(HyperTransport::https())
}

impl Client {
    /// A client for `base_url` with `token` over `transport`, no retries and the default timeout.
    /// A bad base URL or token makes every call fail with [`Error::InvalidArgument`].
    pub fn new(
        base_url: impl Into<String>,
        token: impl Into<String>,
        transport: impl Transport,
    ) -> Client {
        let base_url = base_url.into();
        let builder = Client::builder()
            .base_url(base_url.clone())
            .token(token)
            .transport(transport);
        match builder.build() {
            Ok(client) => client,
            Err(e) => Client::broken(base_url, e.to_string()),
        }
    }

    /// A client whose every call fails: what `new` returns for input `build` refuses.
    fn broken(base_url: String, reason: String) -> Client {
        struct Broken(String);
        impl Transport for Broken {
            fn send(&self, _req: http::Request<Bytes>) -> crate::transport::TransportFuture<'_> {
                let reason = self.0.clone();
                Box::pin(async move {
                    Err(crate::transport::TransportError::new(
                        TransportErrorKind::Request,
                        reason,
                    ))
                })
            }
        }
        Client {
            inner: Arc::new(Inner {
                base_url,
                headers: HeaderMap::new(),
                timeout: None,
                retry: RetryPolicy::none(),
                jitter: Mutex::new(Jitter::new(None)),
                rate: Mutex::new(None),
                transport: Arc::new(Broken(reason)),
            }),
        }
    }

    /// A builder with DigitalOcean's base URL, no token, no retries and a 60 s timeout.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for the real API at `https://api.digitalocean.com` over rustls.
    #[cfg(feature = "tls")]
    pub fn digitalocean(token: impl Into<String>) -> Client {
        Client::new(DIGITALOCEAN_BASE_URL, token, HyperTransport::https())
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The rate-limit headers of the last response that carried them.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        *self
            .inner
            .rate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one call with the timeout and retry policy, returning the 2xx response or the error.
    pub(crate) async fn execute(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<http::Response<Bytes>, Error> {
        let inner = &*self.inner;
        let uri = [inner.base_url.as_str(), path].concat();
        let idempotent = !(method == Method::POST || method == Method::PATCH);
        let method_retryable = idempotent || inner.retry.retry_post;
        let retries = inner.retry.retries();
        let mut waited = Duration::ZERO;
        let mut retry = 0;
        loop {
            let mut request = http::Request::builder()
                .method(method.clone())
                .uri(uri.as_str());
            if let Some(headers) = request.headers_mut() {
                headers.clone_from(&inner.headers);
                if body.is_some() {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
            }
            let request = request
                .body(body.clone().unwrap_or_default())
                .map_err(|e| Error::InvalidArgument(format!("request {method} {uri}: {e}")))?;
            let sent = inner.transport.send(request);
            let outcome = match inner.timeout {
                Some(after) => match tokio::time::timeout(after, sent).await {
                    Ok(outcome) => outcome.map_err(Error::Transport),
                    Err(_) => Err(Error::Timeout { after }),
                },
                None => sent.await.map_err(Error::Transport),
            };
            let (error, server_wait) = match outcome {
                Ok(response) => {
                    if let Some(rate) = RateLimit::from_headers(response.headers()) {
                        *inner.rate.lock().unwrap_or_else(PoisonError::into_inner) = Some(rate);
                    }
                    let status = response.status();
                    if status.is_success() {
                        return Ok(response);
                    }
                    let server_wait = if inner.retry.honor_retry_after
                        && (status == StatusCode::TOO_MANY_REQUESTS
                            || status == StatusCode::SERVICE_UNAVAILABLE)
                    {
                        retry_after(response.headers())
                    } else {
                        None
                    };
                    let error = ApiError::from_response(
                        method.clone(),
                        path.to_owned(),
                        status,
                        response.headers(),
                        response.body(),
                    );
                    (Error::Api(error), server_wait)
                }
                Err(error) => (error, None),
            };
            let retryable = match &error {
                Error::Transport(e) => match e.kind() {
                    TransportErrorKind::Connect => true,
                    TransportErrorKind::Io => method_retryable,
                    TransportErrorKind::BodyTooLarge | TransportErrorKind::Request => false,
                },
                Error::Timeout { .. } => inner.retry.retry_on_timeout && method_retryable,
                Error::Api(e) => {
                    method_retryable
                        && (e.status == 429 || (500..=599).contains(&e.status) && e.status != 501)
                }
                _ => false,
            };
            if !retryable || retry >= retries {
                return Err(error);
            }
            let wait = match server_wait {
                Some(wait) => wait,
                None => {
                    let backoff = inner.retry.backoff(retry);
                    inner
                        .jitter
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .apply(backoff)
                }
            };
            if waited + wait > inner.retry.total_wait_max {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            waited += wait;
            retry += 1;
        }
    }

    /// Sends a call whose body is `body` as JSON.
    pub(crate) async fn execute_json<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<http::Response<Bytes>, Error> {
        let body = serde_json::to_vec(body)
            .map_err(|e| Error::InvalidArgument(format!("request body: {e}")))?;
        self.execute(method, path, Some(Bytes::from(body))).await
    }

    /// GET `path` and decode the object under `key`.
    pub(crate) async fn get<T: DeserializeOwned + Clone + 'static>(
        &self,
        path: &str,
        key: &str,
    ) -> Result<T, Error> {
        let response = self.execute(Method::GET, path, None).await?;
        decode_key(&response, key)
    }

    /// Sends `body` and decodes the object under `key`.
    pub(crate) async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned + Clone + 'static>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        key: &str,
    ) -> Result<T, Error> {
        let response = self.execute_json(method, path, body).await?;
        decode_key(&response, key)
    }

    /// Sends `body` to a call that answers with no body worth reading (DigitalOcean answers 204).
    pub(crate) async fn send_empty<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<(), Error> {
        self.execute_json(method, path, body).await.map(drop)
    }

    /// DELETE `path`; any 2xx is success (DigitalOcean answers 204).
    pub(crate) async fn delete(&self, path: &str) -> Result<(), Error> {
        self.execute(Method::DELETE, path, None).await.map(drop)
    }
}

pub(crate) fn decode_error(response: &http::Response<Bytes>, source: serde_json::Error) -> Error {
    Error::Decode {
        status: response.status().as_u16(),
        body_excerpt: excerpt(response.body()),
        source,
    }
}

/// Decodes the object under `key` (`{"droplet": {…}}`) straight from the body: the other members
/// are checked as JSON and skipped, not built.
pub(crate) fn decode_key<T: DeserializeOwned + Clone + 'static>(
    response: &http::Response<Bytes>,
    key: &str,
) -> Result<T, Error> {
    decode_keys::<T, serde::de::IgnoredAny>(response, key, None).map(|(found, _)| found)
}

/// As [`decode_key`], and the member `other` too when there is one and it is not `null` (the
/// `links` beside a created droplet).
pub(crate) fn decode_keys<T, O>(
    response: &http::Response<Bytes>,
    key: &str,
    other: Option<&str>,
) -> Result<(T, Option<O>), Error>
where
    T: DeserializeOwned + Clone + 'static,
    O: DeserializeOwned + Clone + 'static,
{
    let keyed = || Keyed::<T, O> {
        key,
        other,
        found: std::marker::PhantomData,
    };
    crate::bodies::decoded(response.body(), (key, other), || {
        crate::catalogue::remembering(|| dosim_base::json::decode_seed(response.body(), keyed()))
            .or_else(|_| dosim_base::json::decode_seed(response.body(), keyed()))
    })
    .map_err(|source| decode_error(response, source))
}

/// The value under one key of a JSON object, and optionally under a second, as [`decode_keys`]
/// reads them; a repeated key is decoded each time and the last wins, as in a `serde_json::Map`.
struct Keyed<'k, T, O> {
    key: &'k str,
    other: Option<&'k str>,
    found: std::marker::PhantomData<(T, O)>,
}

impl<'de, T: DeserializeOwned, O: DeserializeOwned> serde::de::DeserializeSeed<'de>
    for Keyed<'_, T, O>
{
    type Value = (T, Option<O>);

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned, O: DeserializeOwned> serde::de::Visitor<'de> for Keyed<'_, T, O> {
    type Value = (T, Option<O>);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an object with `{}`", self.key)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut other = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.key {
                found = Some(map.next_value::<T>()?);
            } else if self.other == Some(&*key) {
                other = map.next_value::<Option<O>>()?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        let found = found.ok_or_else(|| {
            <A::Error as serde::de::Error>::custom(format!("missing field `{}`", self.key))
        })?;
        Ok((found, other))
    }
}

/// Decodes a list page: the array under `key`, `links` and `meta`.
pub(crate) fn decode_page<T: DeserializeOwned + Clone + 'static>(
    response: &http::Response<Bytes>,
    key: &str,
) -> Result<Page<T>, Error> {
    let page = || PageOf::<T> {
        key,
        items: std::marker::PhantomData,
    };
    crate::bodies::decoded(response.body(), key, || {
        crate::catalogue::remembering(|| dosim_base::json::decode_seed(response.body(), page()))
            .or_else(|_| dosim_base::json::decode_seed(response.body(), page()))
    })
    .map_err(|source| decode_error(response, source))
}

/// A list page as [`decode_page`] reads it, straight from the body: the array under `key`,
/// `links` and `meta` decoded, every other member checked as JSON and skipped; a `null` array,
/// `links` or `meta` reads as empty, and a repeated key is decoded each time, the last winning.
struct PageOf<'k, T> {
    key: &'k str,
    items: std::marker::PhantomData<T>,
}

impl<'de, T: DeserializeOwned> serde::de::DeserializeSeed<'de> for PageOf<'_, T> {
    type Value = Page<T>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Page<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for PageOf<'_, T> {
    type Value = Page<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a list page with `{}`", self.key)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Page<T>, A::Error> {
        let mut items: Option<Option<Vec<T>>> = None;
        let (mut links, mut meta) = (None, None);
        while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if name == self.key {
                items = Some(map.next_value()?);
            } else if name == "links" {
                links = map.next_value::<Option<Links>>()?;
            } else if name == "meta" {
                meta = map.next_value::<Option<Meta>>()?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        let items = items.ok_or_else(|| {
            <A::Error as serde::de::Error>::custom(format!("missing field `{}`", self.key))
        })?;
        Ok(Page {
            items: items.unwrap_or_default(),
            links: links.unwrap_or_default(),
            meta: meta.unwrap_or_default(),
        })
    }
}

/// Percent-encodes one path segment or query value (everything but RFC 3986's unreserved characters).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    encode_into(&mut out, value);
    out
}

/// [`encode`] appended to `out`.
fn encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

/// Appends `query` to `path`, each value percent-encoded.
pub(crate) fn with_query(path: &str, query: &[(&str, String)]) -> String {
    let length = query
        .iter()
        .map(|(name, value)| name.len() + value.len() + 2)
        .sum::<usize>();
    let mut out = String::with_capacity(path.len() + length);
    out.push_str(path);
    for (index, (name, value)) in query.iter().enumerate() {
        out.push(if index == 0 { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        encode_into(&mut out, value);
    }
    out
}

/// A list call: filters, then `.send()` for one page or `.all()` for every page.
#[must_use = "a list does nothing until `.send()` or `.all()`"]
pub struct List<'a, T> {
    pub(crate) client: &'a Client,
    pub(crate) path: String,
    pub(crate) key: &'static str,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) page: Option<u32>,
    pub(crate) per_page: Option<u32>,
    pub(crate) item: PhantomData<fn() -> T>,
}

impl<'a, T: DeserializeOwned + Clone + 'static> List<'a, T> {
    pub(crate) fn new(client: &'a Client, path: String, key: &'static str) -> Self {
        List {
            client,
            path,
            key,
            query: Vec::new(),
            page: None,
            per_page: None,
            item: PhantomData,
        }
    }

    /// Sets a query parameter, replacing an earlier value.
    pub(crate) fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.retain(|(k, _)| *k != name);
        self.query.push((name, value.into()));
        self
    }

    /// The page to read (1-based).
    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    /// Objects per page, 1 to 200 (DigitalOcean's default is 20).
    pub fn per_page(mut self, per_page: u32) -> Self {
        self.per_page = Some(per_page);
        self
    }

    fn path_for(&self, page: Option<u32>) -> Result<String, Error> {
        let mut query: Vec<(&str, String)> =
            self.query.iter().map(|(k, v)| (*k, v.clone())).collect();
        if let Some(page) = page {
            if page == 0 {
                return Err(Error::InvalidArgument("page starts at 1".to_owned()));
            }
            query.push(("page", page.to_string()));
        }
        if let Some(per_page) = self.per_page {
            if per_page == 0 || per_page > PER_PAGE_MAX {
                return Err(Error::InvalidArgument(format!(
                    "per_page must be 1 to {PER_PAGE_MAX}, not {per_page}"
                )));
            }
            query.push(("per_page", per_page.to_string()));
        }
        Ok(with_query(&self.path, &query))
    }

    /// Reads one page.
    pub async fn send(self) -> Result<Page<T>, Error> {
        let path = self.path_for(self.page)?;
        let response = self.client.execute(Method::GET, &path, None).await?;
        decode_page(&response, self.key)
    }

    /// Reads every page from `page` (default 1) on, following `links.pages.next`, at most
    /// [`LIST_PAGES_MAX`] pages.
    pub async fn all(self) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut page = self.page;
        for _ in 0..LIST_PAGES_MAX {
            let path = self.path_for(page)?;
            let response = self.client.execute(Method::GET, &path, None).await?;
            let current: Page<T> = decode_page(&response, self.key)?;
            items.extend(current.items);
            // A next page that does not move forward would loop forever; treat it as the end.
            match current.links.pages.next_page() {
                Some(next) if next > page.unwrap_or(1) => page = Some(next),
                _ => return Ok(items),
            }
        }
        Err(Error::InvalidArgument(format!(
            "{} has more than {LIST_PAGES_MAX} pages",
            self.path
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unreserved characters stay, every other byte is `%XX` in upper case; the first pair
    /// follows `?`, the others `&`.
    #[test]
    fn a_query_is_encoded_and_joined() {
        assert_eq!(with_query("/v2/volumes", &[]), "/v2/volumes");
        assert_eq!(
            with_query(
                "/v2/volumes",
                &[
                    ("name", "pg data/ü".to_owned()),
                    ("region", "nyc3".to_owned())
                ]
            ),
            "/v2/volumes?name=pg%20data%2F%C3%BC&region=nyc3"
        );
        assert_eq!(encode("a-b.c_d~e&=?#%"), "a-b.c_d~e%26%3D%3F%23%25");
    }
}
