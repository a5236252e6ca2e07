//! Request bodies as SDKs send them: plain, or `aws-chunked` with chunk signatures or trailers,
//! and the checksums (`Content-MD5`, `x-amz-checksum-*`, `x-amz-content-sha256`) verified.

use base64::Engine;
use bytes::Bytes;
use http::HeaderMap;
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::error::S3Error;
use crate::sigv4::{chunk_signature, sha256_hex, Verified};

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The decoded body of a request, with its checksums verified.
pub fn decode(
    headers: &HeaderMap,
    raw: Bytes,
    verified: Option<&Verified>,
) -> Result<Bytes, S3Error> {
    let declared = header(headers, "x-amz-content-sha256").unwrap_or("UNSIGNED-PAYLOAD");
    let (body, trailers) = match declared {
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => dechunk(&raw, None)?,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            let verified = verified.ok_or_else(S3Error::access_denied)?;
            dechunk(&raw, Some(verified))?
        }
        "UNSIGNED-PAYLOAD" => (raw, Vec::new()),
        hash => {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(S3Error::invalid_argument(
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a SHA-256 digest",
                ));
            }
            if sha256_hex(&raw) != hash.to_ascii_lowercase() {
                return Err(S3Error::content_sha256_mismatch());
            }
            (raw, Vec::new())
        }
    };
    if let Some(length) = header(headers, "x-amz-decoded-content-length") {
        if length.trim().parse::<usize>().ok() != Some(body.len()) {
            return Err(S3Error::new(
                http::StatusCode::BAD_REQUEST,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header",
            ));
        }
    }
    if let Some(md5) = header(headers, "content-md5") {
        let expected = base64::engine::general_purpose::STANDARD
            .decode(md5.trim())
            .ok()
            .filter(|d| d.len() == 16)
            .ok_or_else(S3Error::invalid_digest)?;
        if Md5::digest(&body).as_slice() != expected.as_slice() {
            return Err(S3Error::bad_digest());
        }
    }
    let mut checksums: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| {
            name.as_str().starts_with("x-amz-checksum-")
                && !matches!(
                    name.as_str(),
                    "x-amz-checksum-algorithm" | "x-amz-checksum-type" | "x-amz-checksum-mode"
                )
        })
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    checksums.extend(trailers);
    for (name, value) in checksums {
        check_checksum(&name, value.trim(), &body)?;
    }
    Ok(body)
}

/// Verifies one `x-amz-checksum-<algorithm>` value.
pub fn check_checksum(name: &str, value: &str, body: &[u8]) -> Result<(), S3Error> {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let computed = match name {
        "x-amz-checksum-crc32" => b64(&crc32fast::hash(body).to_be_bytes()),
        "x-amz-checksum-crc32c" => b64(&crc32c::crc32c(body).to_be_bytes()),
        "x-amz-checksum-sha256" => b64(&Sha256::digest(body)),
        // SHA-1 and CRC-64/NVME are accepted without verification (see docs/spaces.md).
        "x-amz-checksum-sha1" | "x-amz-checksum-crc64nvme" => return Ok(()),
        _ => {
            return Err(S3Error::invalid_request(
                "The algorithm type you specified in x-amz-checksum- header is invalid.",
            ))
        }
    };
    if computed != value {
        let algorithm = name
            .trim_start_matches("x-amz-checksum-")
            .to_ascii_uppercase();
        return Err(S3Error::new(
            http::StatusCode::BAD_REQUEST,
            "BadDigest",
            format!("The {algorithm} you specified did not match the calculated checksum."),
        ));
    }
    Ok(())
}

/// Decodes an `aws-chunked` body: `size[;chunk-signature=sig]\r\n data \r\n` … `0…\r\n`, then trailers.
fn dechunk(
    raw: &[u8],
    verified: Option<&Verified>,
) -> Result<(Bytes, Vec<(String, String)>), S3Error> {
    let bad = || {
        S3Error::new(
            http::StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "The request body is not valid aws-chunked encoding.",
        )
    };
    let mut body = Vec::with_capacity(raw.len());
    let mut at = 0;
    let mut previous = verified.map(|v| v.seed_signature.clone());
    loop {
        let line_end = find_crlf(raw, at).ok_or_else(bad)?;
        let line = std::str::from_utf8(&raw[at..line_end]).map_err(|_| bad())?;
        let (size, extension) = line.split_once(';').unwrap_or((line, ""));
        let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad())?;
        let data_start = line_end + 2;
        let data_end = data_start
            .checked_add(size)
            .filter(|&e| e <= raw.len())
            .ok_or_else(bad)?;
        let chunk = &raw[data_start..data_end];
        if let (Some(verified), Some(prev)) = (verified, previous.as_mut()) {
            let signature = extension
                .strip_prefix("chunk-signature=")
                .ok_or_else(S3Error::signature_does_not_match)?;
            let expected = chunk_signature(verified, prev, chunk);
            if expected != signature {
                return Err(S3Error::signature_does_not_match());
            }
            *prev = expected;
        }
        body.extend_from_slice(chunk);
        if size == 0 {
            at = data_start;
            break;
        }
        if raw.get(data_end..data_end + 2) != Some(b"\r\n") {
            return Err(bad());
        }
        at = data_end + 2;
    }
    let mut trailers = Vec::new();
    while at < raw.len() {
        let line_end = find_crlf(raw, at).unwrap_or(raw.len());
        let line = std::str::from_utf8(&raw[at..line_end]).map_err(|_| bad())?;
        at = line_end + 2;
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        let name = name.trim().to_ascii_lowercase();
        if name == "x-amz-trailer-signature" {
            continue;
        }
        trailers.push((name, value.trim().to_owned()));
    }
    Ok((Bytes::from(body), trailers))
}

fn find_crlf(raw: &[u8], from: usize) -> Option<usize> {
    raw.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| p + from)
}
