//! AWS Signature Version 2, which Spaces still accepts: `Authorization: AWS {key}:{signature}`
//! and presigned query strings (`AWSAccessKeyId`, `Expires`, `Signature`), the form of the
//! control panel's share links. Verified against a secret and a clock the caller gives.
//!
//! The string to sign is S3's: the method, `Content-MD5`, `Content-Type`, the date (the `Date`
//! header, empty when `x-amz-date` is sent, or the presigned URL's `Expires`), the `x-amz-*`
//! headers, and the resource: `/{bucket}{path}` (a bucket alone as `/{bucket}/`) with the
//! subresources S3 names, sorted.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha1::Sha1;

use crate::error::S3Error;
use crate::sigv4::{query_pairs, query_param, Signable, SKEW_SECS_MAX};

/// The query parameters that are part of the resource S3 signs (the rest are not signed).
const SUBRESOURCES: &[&str] = &[
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// What a Signature Version 2 request claims, before the secret is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimV2 {
    pub access_key: String,
    /// Base64 HMAC-SHA1.
    pub signature: String,
    /// Presigned: the Unix second the URL expires at.
    pub expires: Option<i64>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads a Signature Version 2 claim from the `Authorization` header or the query; `Ok(None)`
/// when the request is not signed that way.
pub fn claim(request: &Signable<'_>) -> Result<Option<ClaimV2>, S3Error> {
    if let Some(auth) = header(request.headers, "authorization") {
        let Some(rest) = auth.strip_prefix("AWS ") else {
            return Ok(None);
        };
        let (access_key, signature) = rest
            .split_once(':')
            .filter(|(key, signature)| !key.is_empty() && !signature.is_empty())
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                )
            })?;
        return Ok(Some(ClaimV2 {
            access_key: access_key.trim().to_owned(),
            signature: signature.trim().to_owned(),
            expires: None,
        }));
    }
    let pairs = query_pairs(request.query);
    let get = |name: &str| query_param(&pairs, name);
    let (Some(access_key), Some(signature)) = (get("AWSAccessKeyId"), get("Signature")) else {
        return Ok(None);
    };
    let expires = get("Expires")
        .and_then(|e| e.parse::<i64>().ok())
        .ok_or_else(|| {
            S3Error::new(
                http::StatusCode::FORBIDDEN,
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
            )
        })?;
    Ok(Some(ClaimV2 {
        access_key: access_key.to_owned(),
        signature: signature.to_owned(),
        expires: Some(expires),
    }))
}

/// The string S3 signs for `request`, whose bucket (if it is addressed in the host rather than
/// the path) is `virtual_bucket`.
pub fn string_to_sign(
    request: &Signable<'_>,
    claim: &ClaimV2,
    virtual_bucket: Option<&str>,
) -> String {
    let date = match claim.expires {
        Some(expires) => expires.to_string(),
        None if request.headers.contains_key("x-amz-date") => String::new(),
        None => header(request.headers, "date").unwrap_or("").to_owned(),
    };
    let mut amz: Vec<(String, String)> = Vec::new();
    for (name, value) in request.headers {
        let name = name.as_str();
        if !name.starts_with("x-amz-") {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
        match amz.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => {
                values.push(',');
                values.push_str(&value);
            }
            None => amz.push((name.to_owned(), value)),
        }
    }
    amz.sort();
    let mut text = format!(
        "{}\n{}\n{}\n{date}\n",
        request.method,
        header(request.headers, "content-md5").unwrap_or(""),
        header(request.headers, "content-type").unwrap_or(""),
    );
    for (name, value) in amz {
        text.push_str(&format!("{name}:{value}\n"));
    }
    let mut resource = String::new();
    if let Some(bucket) = virtual_bucket {
        resource.push('/');
        resource.push_str(bucket);
    }
    resource.push_str(request.path);
    // A bucket is signed as `/{bucket}/`, however its path was sent.
    if resource.len() > 1 && !resource[1..].contains('/') {
        resource.push('/');
    }
    text.push_str(&resource);
    let mut subresources: Vec<(String, String)> = query_pairs(request.query)
        .into_iter()
        .filter(|(name, _)| SUBRESOURCES.contains(&name.as_str()))
        .collect();
    subresources.sort();
    for (index, (name, value)) in subresources.iter().enumerate() {
        text.push(if index == 0 { '?' } else { '&' });
        text.push_str(name);
        if !value.is_empty() {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

/// The signature of `string_to_sign` with `secret`: base64 HMAC-SHA1.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Verifies `claim` with `secret` at `now_unix` (seconds on the signing clock): a presigned URL
/// until its `Expires`, a header signature within 15 minutes of its date.
pub fn verify(
    request: &Signable<'_>,
    claim: &ClaimV2,
    secret: &str,
    now_unix: i64,
    virtual_bucket: Option<&str>,
) -> Result<(), S3Error> {
    match claim.expires {
        Some(expires) if now_unix > expires => {
            return Err(S3Error::new(
                http::StatusCode::FORBIDDEN,
                "AccessDenied",
                "Request has expired",
            ));
        }
        Some(_) => {}
        None => {
            let date = header(request.headers, "x-amz-date")
                .or_else(|| header(request.headers, "date"))
                .ok_or_else(S3Error::access_denied)?;
            let signed_at = httpdate::parse_http_date(date)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .ok_or_else(S3Error::access_denied)?;
            if (now_unix - signed_at).abs() > SKEW_SECS_MAX {
                return Err(S3Error::request_time_too_skewed());
            }
        }
    }
    let expected = sign(secret, &string_to_sign(request, claim, virtual_bucket));
    if !crate::sigv4::constant_time_eq(expected.as_bytes(), claim.signature.as_bytes()) {
        return Err(S3Error::signature_does_not_match());
    }
    Ok(())
}
