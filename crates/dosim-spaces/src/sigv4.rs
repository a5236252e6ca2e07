//! AWS Signature Version 4, in the `Authorization` header and in presigned query strings,
//! verified against a secret and a clock the caller gives (simulated time, never the wall clock).

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use crate::error::S3Error;
use crate::store::hex;

type HmacSha256 = Hmac<Sha256>;

/// How far a header-signed request's time may be from the server's (S3: 15 minutes).
pub const SKEW_SECS_MAX: i64 = 15 * 60;
/// The longest a presigned URL may live (S3: 7 days).
pub const PRESIGNED_EXPIRES_SECS_MAX: i64 = 7 * 24 * 3600;

/// The parts of a request a signature covers.
pub struct Signable<'a> {
    pub method: &'a str,
    /// The path as sent, percent-encoded.
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
}

/// What a request claims about who signed it, before the secret is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub access_key: String,
    pub presigned: bool,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: String,
    /// `date/region/s3/aws4_request`.
    pub scope: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// Presigned: `X-Amz-Expires` seconds.
    pub expires: Option<i64>,
}

/// What a verified signature gives the rest of the request: the key to verify streaming chunks with.
#[derive(Clone, Debug)]
pub struct Verified {
    pub signing_key: [u8; 32],
    pub amz_date: String,
    pub scope: String,
    pub seed_signature: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Query pairs, percent-decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The first value of query parameter `name` among decoded `pairs`.
pub fn query_param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn decode(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// AWS's UriEncode: everything but `A-Za-z0-9-._~` as `%XX`, and `/` too unless `keep_slash`.
pub fn uri_encode(raw: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads the claim from the `Authorization` header or the query; `Ok(None)` for an anonymous request.
pub fn claim(request: &Signable<'_>) -> Result<Option<Claim>, S3Error> {
    if let Some(auth) = header(request.headers, "authorization") {
        // Signature Version 2 (`AWS key:signature`) is read by `sigv2::claim` first.
        let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else {
            return Err(S3Error::invalid_argument("Unsupported Authorization Type"));
        };
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature)
        else {
            return Err(S3Error::invalid_argument("Authorization header is invalid"));
        };
        let (access_key, scope) = credential
            .split_once('/')
            .ok_or_else(|| S3Error::invalid_argument("Authorization header is invalid"))?;
        let amz_date = header(request.headers, "x-amz-date")
            .ok_or_else(S3Error::access_denied)?
            .to_owned();
        return Ok(Some(Claim {
            access_key: access_key.to_owned(),
            presigned: false,
            amz_date,
            scope: scope.to_owned(),
            signed_headers: signed.split(';').map(str::to_owned).collect(),
            signature: signature.to_owned(),
            expires: None,
        }));
    }
    let pairs = query_pairs(request.query);
    let get = |name: &str| query_param(&pairs, name);
    let Some(algorithm) = get("X-Amz-Algorithm") else {
        return Ok(None);
    };
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(S3Error::invalid_argument("Unsupported algorithm"));
    }
    let missing = || {
        S3Error::new(
            http::StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        )
    };
    let credential = get("X-Amz-Credential").ok_or_else(missing)?;
    let (access_key, scope) = credential.split_once('/').ok_or_else(missing)?;
    let expires: i64 = get("X-Amz-Expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(missing)?;
    if !(0..=PRESIGNED_EXPIRES_SECS_MAX).contains(&expires) {
        return Err(S3Error::new(
            http::StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    Ok(Some(Claim {
        access_key: access_key.to_owned(),
        presigned: true,
        amz_date: get("X-Amz-Date").ok_or_else(missing)?.to_owned(),
        scope: scope.to_owned(),
        signed_headers: get("X-Amz-SignedHeaders")
            .ok_or_else(missing)?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: get("X-Amz-Signature").ok_or_else(missing)?.to_owned(),
        expires: Some(expires),
    }))
}

/// Seconds since the Unix epoch of an `x-amz-date` (`20260101T000000Z`).
pub fn parse_amz_date(raw: &str) -> Option<i64> {
    let b = raw.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| raw.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(dosim_base::days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The signing key for a scope `date/region/service/aws4_request`.
pub fn signing_key(secret: &str, scope: &str) -> Option<[u8; 32]> {
    let mut parts = scope.split('/');
    let (date, region, service, terminator) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || terminator != "aws4_request" {
        return None;
    }
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    Some(hmac(&k_service, terminator.as_bytes()))
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The canonical request S3 signs.
pub fn canonical_request(request: &Signable<'_>, claim: &Claim) -> String {
    let path_bytes: Vec<u8> = percent_decode_str(request.path).collect();
    let uri = uri_encode(&path_bytes, true);
    let mut pairs: Vec<(String, String)> = query_pairs(request.query)
        .into_iter()
        .filter(|(name, _)| !(claim.presigned && name == "X-Amz-Signature"))
        .map(|(n, v)| {
            (
                uri_encode(n.as_bytes(), false),
                uri_encode(v.as_bytes(), false),
            )
        })
        .collect();
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for name in &claim.signed_headers {
        let values: Vec<String> = request
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload = if claim.presigned {
        header(request.headers, "x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD")
    } else {
        header(request.headers, "x-amz-content-sha256").unwrap_or("")
    };
    format!(
        "{}\n{uri}\n{query}\n{headers}\n{}\n{payload}",
        request.method,
        claim.signed_headers.join(";")
    )
}

/// Verifies `claim` with `secret` at `now_unix` (seconds on the signing clock).
pub fn verify(
    request: &Signable<'_>,
    claim: &Claim,
    secret: &str,
    now_unix: i64,
) -> Result<Verified, S3Error> {
    let signed_at = parse_amz_date(&claim.amz_date).ok_or_else(|| {
        S3Error::invalid_argument(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    })?;
    if !claim.signed_headers.iter().any(|h| h == "host") {
        return Err(S3Error::access_denied());
    }
    match claim.expires {
        None if (now_unix - signed_at).abs() > SKEW_SECS_MAX => {
            return Err(S3Error::request_time_too_skewed())
        }
        Some(expires) if now_unix > signed_at + expires => {
            return Err(S3Error::new(
                http::StatusCode::FORBIDDEN,
                "AccessDenied",
                "Request has expired",
            ))
        }
        _ => {}
    }
    let key = signing_key(secret, &claim.scope)
        .ok_or_else(|| S3Error::invalid_argument("Error parsing the X-Amz-Credential parameter"))?;
    let canonical = canonical_request(request, claim);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        claim.amz_date,
        claim.scope,
        sha256_hex(canonical.as_bytes())
    );
    let expected = hex(&hmac(&key, to_sign.as_bytes()));
    if !constant_time_eq(expected.as_bytes(), claim.signature.as_bytes()) {
        return Err(S3Error::signature_does_not_match());
    }
    Ok(Verified {
        signing_key: key,
        amz_date: claim.amz_date.clone(),
        scope: claim.scope.clone(),
        seed_signature: claim.signature.clone(),
    })
}

/// The signature of one `aws-chunked` chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD).
pub fn chunk_signature(verified: &Verified, previous: &str, chunk: &[u8]) -> String {
    let to_sign = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{}\n{}",
        verified.amz_date,
        verified.scope,
        sha256_hex(b""),
        sha256_hex(chunk)
    );
    hex(&hmac(&verified.signing_key, to_sign.as_bytes()))
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
