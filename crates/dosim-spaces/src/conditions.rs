//! Conditional requests: `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`,
//! the `x-amz-copy-source-if-*` headers, and the switch for conditional PUTs.

use dosim_base::SimTime;

use crate::error::S3Error;

/// How Spaces answers `If-Match` and `If-None-Match` on PUT, CopyObject and CompleteMultipartUpload.
///
/// Field reports disagree (notes §4), so each reported behaviour is a setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionalPut {
    /// `If-None-Match: *` enforced; `If-Match` compares only an unquoted ETag, and a quoted one
    /// fails with 412 even when equal (slatedb#1818, June 2026, the most recent report with
    /// DigitalOcean engineering's word that conditional PUT is supported). The default.
    #[default]
    UnquotedOnly,
    /// Both enforced as RFC 7232 and AWS S3 do, quoted or not.
    Rfc,
    /// Both silently ignored: the write always happens (denoland/celld#137, sfo3).
    Ignored,
    /// Both refused with 501 `NotImplemented`, as DigitalOcean's documentation implies.
    NotImplemented,
}

impl ConditionalPut {
    /// Reads the setting's name: `unquoted_only`, `rfc`, `ignored`, `not_implemented`.
    pub fn parse(raw: &str) -> Option<ConditionalPut> {
        match raw {
            "unquoted_only" | "unquoted-only" => Some(ConditionalPut::UnquotedOnly),
            "rfc" => Some(ConditionalPut::Rfc),
            "ignored" => Some(ConditionalPut::Ignored),
            "not_implemented" | "not-implemented" => Some(ConditionalPut::NotImplemented),
            _ => None,
        }
    }
}

/// A request's preconditions, as sent; dates in seconds since the Unix epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<i64>,
    pub if_unmodified_since: Option<i64>,
}

/// An ETag without its quotes and weak prefix.
pub fn unquote(raw: &str) -> &str {
    let raw = raw.trim();
    let raw = raw.strip_prefix("W/").unwrap_or(raw);
    raw.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw)
}

/// Whether a header's list of ETags names `etag` (`*` names any).
fn names(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || unquote(candidate) == etag)
}

/// Reads an HTTP date as seconds since the Unix epoch; anything unparsable is ignored, as S3 does.
pub fn parse_http_date(raw: &str) -> Option<i64> {
    let time = httpdate::parse_http_date(raw.trim()).ok()?;
    let secs = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

fn unix(time: SimTime) -> i64 {
    i64::try_from(time.unix_secs()).unwrap_or(i64::MAX)
}

impl Conditions {
    /// Whether any precondition is set.
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }

    /// GET and HEAD, as RFC 7232 §6 orders them: 412 for a failed `If-Match` or `If-Unmodified-Since`,
    /// 304 for a failed `If-None-Match` or `If-Modified-Since`.
    pub fn check_read(&self, etag: &str, last_modified: SimTime) -> Result<(), S3Error> {
        let modified = unix(last_modified);
        match (&self.if_match, self.if_unmodified_since) {
            (Some(list), _) if !names(list, etag) => return Err(S3Error::precondition_failed()),
            (None, Some(since)) if modified > since => return Err(S3Error::precondition_failed()),
            _ => {}
        }
        match (&self.if_none_match, self.if_modified_since) {
            (Some(list), _) if names(list, etag) => Err(S3Error::not_modified()),
            (None, Some(since)) if modified <= since => Err(S3Error::not_modified()),
            _ => Ok(()),
        }
    }

    /// The `x-amz-copy-source-if-*` headers: any that fails is 412, as S3's CopyObject answers.
    pub fn check_copy_source(&self, etag: &str, last_modified: SimTime) -> Result<(), S3Error> {
        self.check_read(etag, last_modified).map_err(|error| {
            if error.code == "NotModified" {
                S3Error::precondition_failed()
            } else {
                error
            }
        })
    }

    /// A write's `If-Match` / `If-None-Match` against the key's current ETag (`None`: no object), under `mode`.
    pub fn check_write(&self, mode: ConditionalPut, current: Option<&str>) -> Result<(), S3Error> {
        if self.if_match.is_none() && self.if_none_match.is_none() {
            return Ok(());
        }
        match mode {
            ConditionalPut::Ignored => return Ok(()),
            ConditionalPut::NotImplemented => return Err(S3Error::not_implemented()),
            ConditionalPut::UnquotedOnly | ConditionalPut::Rfc => {}
        }
        if let Some(list) = &self.if_none_match {
            if list.trim() != "*" {
                return Err(S3Error::not_implemented());
            }
            if current.is_some() {
                return Err(S3Error::precondition_failed());
            }
        }
        if let Some(list) = &self.if_match {
            let Some(etag) = current else {
                return Err(S3Error::no_such_key());
            };
            let quoted = list.trim().starts_with('"') || list.trim().starts_with("W/");
            if mode == ConditionalPut::UnquotedOnly && quoted {
                return Err(S3Error::precondition_failed());
            }
            if !names(list, etag) {
                return Err(S3Error::precondition_failed());
            }
        }
        Ok(())
    }
}
