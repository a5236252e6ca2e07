//! Each S3 operation: read the request, call the store, write S3's response.

use std::fmt::Write as _;

use axum::body::Body;
use axum::response::Response;
use http::{header, StatusCode};

use dosim_base::SimTime;

use crate::error::S3Error;
use crate::service::Spaces;
use parking_lot::MutexGuard;

use crate::store::{Acl, ListRequest, Store, Versioning, LIST_KEYS_MAX};
use crate::wire::{
    conditions, contents, copy_request, empty, new_object, object_headers, owner, value, xml_ok,
    Outcome, Principal, Req,
};
use crate::xml::{self, escape, iso8601};

const NS: &str = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"";

/// What every operation reads: the request and the names it addresses.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    req: &'a Req,
    bucket: &'a str,
    key: &'a str,
    owner_id: &'a str,
    now: SimTime,
    operation: &'a str,
}

type Res = Result<(Response, Outcome), S3Error>;

/// A response with nothing for the history.
fn plain(response: Response) -> Res {
    Ok((response, Outcome::default()))
}

/// Runs `operation` at `now`.
pub(crate) fn run(spaces: &Spaces, req: &Req, operation: &str, now: SimTime) -> Res {
    let owner_id = match &req.principal {
        Principal::Key { owner, .. } => owner.clone(),
        Principal::Anonymous => String::new(),
    };
    let c = Ctx {
        req,
        bucket: req.bucket.as_deref().unwrap_or(""),
        key: req.key.as_deref().unwrap_or(""),
        owner_id: &owner_id,
        now,
        operation,
    };
    let mut store = spaces.inner.store.lock();

    match operation {
        "ListBuckets" => list_buckets(&mut store, &c),
        "CreateBucket" => create_bucket(&mut store, &c),
        "HeadBucket" => head_bucket(&mut store, &c),
        "DeleteBucket" => delete_bucket(&mut store, &c),
        "GetBucketLocation" => get_bucket_location(&mut store, &c),
        "GetBucketVersioning" => get_bucket_versioning(&mut store, &c),
        "PutBucketVersioning" => put_bucket_versioning(&mut store, &c),
        "ListObjects" | "ListObjectsV2" => list_objects(&mut store, &c),
        "ListObjectVersions" => list_object_versions(&mut store, &c),
        "GetObject" | "HeadObject" => get_or_head_object(store, &c),
        "PutObject" => put_object(&mut store, &c),
        "CopyObject" => copy_object(&mut store, &c),
        "DeleteObject" => delete_object(&mut store, &c),
        "DeleteObjects" => delete_objects(&mut store, &c),
        "GetObjectTagging" => get_object_tagging(&mut store, &c),
        "PutObjectTagging" | "DeleteObjectTagging" => put_or_delete_object_tagging(&mut store, &c),
        "CreateMultipartUpload" => create_multipart_upload(&mut store, &c),
        "UploadPart" => upload_part(&mut store, &c),
        "ListParts" => list_parts(&mut store, &c),
        "ListMultipartUploads" => list_multipart_uploads(&mut store, &c),
        "AbortMultipartUpload" => abort_multipart_upload(&mut store, &c),
        "CompleteMultipartUpload" => complete_multipart_upload(&mut store, &c),
        _ => Err(S3Error::not_implemented()),
    }
}

/// ListBuckets.
fn list_buckets(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { req, owner_id, .. } = *c;
    let mut out = format!("<ListAllMyBucketsResult {NS}>{}<Buckets>", owner(owner_id));
    let key = match &req.principal {
        Principal::Key { key, .. } => Some(key),
        Principal::Anonymous => None,
    };
    for b in store.buckets().filter(|b| b.owner == owner_id) {
        if key.is_some_and(|k| k.permission_on(&b.name).is_none()) {
            continue;
        }
        let _ = write!(
            out,
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate></Bucket>",
            escape(&b.name),
            iso8601(b.created)
        );
    }
    out.push_str("</Buckets></ListAllMyBucketsResult>");
    plain(xml_ok(out))
}

/// CreateBucket.
fn create_bucket(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        owner_id,
        now,
        ..
    } = *c;
    let acl = match req.h("x-amz-acl") {
        None => Acl::Private,
        Some(raw) => Acl::parse(raw).ok_or_else(S3Error::not_implemented)?,
    };
    store.create_bucket(now, owner_id, &req.region, bucket, acl)?;
    let mut response = empty(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::LOCATION, value(&format!("/{bucket}")));
    plain(response)
}

/// HeadBucket.
fn head_bucket(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { bucket, .. } = *c;
    store.bucket(bucket)?;
    plain(empty(StatusCode::OK))
}

/// DeleteBucket.
fn delete_bucket(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { bucket, .. } = *c;
    store.delete_bucket(bucket)?;
    plain(empty(StatusCode::NO_CONTENT))
}

/// GetBucketLocation.
fn get_bucket_location(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { bucket, .. } = *c;
    let b = store.bucket(bucket)?;
    plain(xml_ok(format!(
        "<LocationConstraint {NS}>{}</LocationConstraint>",
        escape(&b.region)
    )))
}

/// GetBucketVersioning.
fn get_bucket_versioning(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { bucket, .. } = *c;
    let b = store.bucket(bucket)?;
    let status = match b.versioning {
        Versioning::Unversioned => String::new(),
        Versioning::Enabled => "<Status>Enabled</Status>".to_owned(),
        Versioning::Suspended => "<Status>Suspended</Status>".to_owned(),
    };
    plain(xml_ok(format!(
        "<VersioningConfiguration {NS}>{status}</VersioningConfiguration>"
    )))
}

/// PutBucketVersioning.
fn put_bucket_versioning(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { req, bucket, .. } = *c;
    let text = std::str::from_utf8(&req.body).map_err(|_| S3Error::malformed_xml())?;
    let enabled = match xml::text(text, "Status")?.as_deref() {
        Some("Enabled") => true,
        Some("Suspended") => false,
        _ => return Err(S3Error::malformed_xml()),
    };
    store.set_versioning(bucket, enabled)?;
    plain(empty(StatusCode::OK))
}

/// ListObjects and ListObjectsV2.
fn list_objects(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        operation,
        ..
    } = *c;
    let v2 = operation == "ListObjectsV2";
    let max_keys = match req.q("max-keys") {
        None => LIST_KEYS_MAX,
        Some(raw) => raw.parse::<usize>().map_err(|_| {
            S3Error::invalid_argument("Provided max-keys not an integer or within integer range")
        })?,
    };
    let token = req.q("continuation-token").map(str::to_owned);
    let after = if v2 {
        match &token {
            Some(token) => Some(decode_token(token)?),
            None => req.q("start-after").map(str::to_owned),
        }
    } else {
        req.q("marker").map(str::to_owned)
    };
    let request = ListRequest {
        prefix: req.q("prefix").unwrap_or("").to_owned(),
        delimiter: req.q("delimiter").map(str::to_owned),
        after,
        max_keys,
    };
    let listing = store.list(bucket, &request)?;
    let owner_xml = owner(&store.bucket(bucket)?.owner);
    let mut out = String::new();
    let root = "ListBucketResult";
    let _ = write!(
        out,
        "<{root} {NS}><Name>{}</Name><Prefix>{}</Prefix><MaxKeys>{max_keys}</MaxKeys>",
        escape(bucket),
        escape(&request.prefix)
    );
    if let Some(d) = &request.delimiter {
        let _ = write!(out, "<Delimiter>{}</Delimiter>", escape(d));
    }
    let _ = write!(out, "<IsTruncated>{}</IsTruncated>", listing.truncated);
    if v2 {
        let count = listing.contents.len() + listing.common_prefixes.len();
        let _ = write!(out, "<KeyCount>{count}</KeyCount>");
        if let Some(token) = &token {
            let _ = write!(
                out,
                "<ContinuationToken>{}</ContinuationToken>",
                escape(token)
            );
        }
        if let Some(start) = req.q("start-after") {
            let _ = write!(out, "<StartAfter>{}</StartAfter>", escape(start));
        }
        if listing.truncated {
            if let Some(last) = &listing.last {
                let _ = write!(
                    out,
                    "<NextContinuationToken>{}</NextContinuationToken>",
                    encode_token(last)
                );
            }
        }
    } else {
        let _ = write!(
            out,
            "<Marker>{}</Marker>",
            escape(req.q("marker").unwrap_or(""))
        );
        if listing.truncated && request.delimiter.is_some() {
            if let Some(last) = &listing.last {
                let _ = write!(out, "<NextMarker>{}</NextMarker>", escape(last));
            }
        }
    }
    let with_owner = !v2 || req.q("fetch-owner") == Some("true");
    for (key, version) in &listing.contents {
        contents(
            &mut out,
            key,
            version,
            with_owner.then_some(owner_xml.as_str()),
        );
    }
    for prefix in &listing.common_prefixes {
        let _ = write!(
            out,
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            escape(prefix)
        );
    }
    let _ = write!(out, "</{root}>");
    plain(xml_ok(out))
}

/// ListObjectVersions.
fn list_object_versions(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { req, bucket, .. } = *c;
    let prefix = req.q("prefix").unwrap_or("");
    let max_keys = req
        .q("max-keys")
        .and_then(|m| m.parse().ok())
        .unwrap_or(LIST_KEYS_MAX);
    let (versions, truncated) = store.list_versions(bucket, prefix, max_keys)?;
    let owner_xml = owner(&store.bucket(bucket)?.owner);
    let mut out = format!(
        "<ListVersionsResult {NS}><Name>{}</Name><Prefix>{}</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(bucket),
        escape(prefix)
    );
    for (key, v, latest) in versions {
        if v.delete_marker {
            let _ = write!(
                out,
                "<DeleteMarker><Key>{}</Key><VersionId>{}</VersionId><IsLatest>{latest}</IsLatest><LastModified>{}</LastModified>{owner_xml}</DeleteMarker>",
                escape(&key),
                escape(&v.version_id),
                iso8601(v.last_modified)
            );
        } else {
            let _ = write!(
                out,
                "<Version><Key>{}</Key><VersionId>{}</VersionId><IsLatest>{latest}</IsLatest><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass>{owner_xml}</Version>",
                escape(&key),
                escape(&v.version_id),
                iso8601(v.last_modified),
                escape(&v.etag),
                v.size
            );
        }
    }
    out.push_str("</ListVersionsResult>");
    plain(xml_ok(out))
}

/// GetObject and HeadObject.
fn get_or_head_object(store: MutexGuard<'_, Store>, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        key,
        operation,
        ..
    } = *c;
    if req.has("partNumber") {
        return Err(S3Error::not_implemented());
    }
    let version = store.get_object(bucket, key, req.q("versionId"), &conditions(req, ""))?;
    let versioning = store.bucket(bucket)?.versioning;
    drop(store);
    let total = version.body.len() as u64;
    let range = match req.h("range") {
        Some(raw) => parse_range(raw, total)?,
        None => None,
    };
    let (status, body) = match range {
        Some((start, end)) => (
            StatusCode::PARTIAL_CONTENT,
            version.body.slice(start as usize..=end as usize),
        ),
        None => (StatusCode::OK, version.body.clone()),
    };
    let length = body.len();
    let mut response = if operation == "HeadObject" {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(body))
    };
    *response.status_mut() = status;
    object_headers(&mut response, &version, versioning);
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, value(&length.to_string()));
    if let Some((start, end)) = range {
        h.insert(
            header::CONTENT_RANGE,
            value(&format!("bytes {start}-{end}/{total}")),
        );
    }
    for (param, name) in [
        ("response-content-type", header::CONTENT_TYPE),
        ("response-content-disposition", header::CONTENT_DISPOSITION),
        ("response-cache-control", header::CACHE_CONTROL),
        ("response-content-encoding", header::CONTENT_ENCODING),
        ("response-content-language", header::CONTENT_LANGUAGE),
        ("response-expires", header::EXPIRES),
    ] {
        if let Some(v) = req.q(param) {
            h.insert(name, value(v));
        }
    }
    Ok((
        response,
        Outcome {
            etag: Some(version.etag.clone()),
            version_id: (versioning != Versioning::Unversioned).then(|| version.version_id.clone()),
        },
    ))
}

/// PutObject.
fn put_object(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        key,
        now,
        ..
    } = *c;
    let object = new_object(req)?;
    let written = store.put_object(now, bucket, key, object, &conditions(req, ""))?;
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    h.insert(header::ETAG, value(&format!("\"{}\"", written.etag)));
    if let Some(v) = &written.version_id {
        h.insert("x-amz-version-id", value(v));
    }
    for name in [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-sha256",
    ] {
        if let Some(v) = req.h(name) {
            h.insert(name, value(v));
        }
    }
    Ok((
        response,
        Outcome {
            etag: Some(written.etag),
            version_id: written.version_id,
        },
    ))
}

/// CopyObject.
fn copy_object(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req, owner_id, now, ..
    } = *c;
    let request = copy_request(req)?;
    if let Principal::Key { key: k, .. } = &req.principal {
        let readable = k.permission_on(&request.source_bucket).is_some();
        let owned = store
            .bucket(&request.source_bucket)
            .is_ok_and(|b| b.owner == owner_id);
        if !(readable && owned) && store.bucket(&request.source_bucket).is_ok() {
            return Err(S3Error::access_denied());
        }
    }
    let written = store.copy_object(now, request)?;
    let mut response = xml_ok(format!(
        "<CopyObjectResult {NS}><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag></CopyObjectResult>",
        iso8601(written.last_modified),
        escape(&written.etag)
    ));
    if let Some(v) = &written.version_id {
        response.headers_mut().insert("x-amz-version-id", value(v));
    }
    Ok((
        response,
        Outcome {
            etag: Some(written.etag),
            version_id: written.version_id,
        },
    ))
}

/// DeleteObject.
fn delete_object(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        key,
        now,
        ..
    } = *c;
    let deleted = store.delete_object(now, bucket, key, req.q("versionId"))?;
    let mut response = empty(StatusCode::NO_CONTENT);
    let h = response.headers_mut();
    if let Some(v) = &deleted.version_id {
        h.insert("x-amz-version-id", value(v));
    }
    if deleted.delete_marker {
        h.insert("x-amz-delete-marker", value("true"));
    }
    Ok((
        response,
        Outcome {
            etag: None,
            version_id: deleted.version_id,
        },
    ))
}

/// DeleteObjects.
fn delete_objects(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req, bucket, now, ..
    } = *c;
    if req.h("content-md5").is_none()
        && !req.headers.keys().any(|n| {
            n.as_str().starts_with("x-amz-checksum-") && n.as_str() != "x-amz-checksum-algorithm"
        })
        && req.h("x-amz-sdk-checksum-algorithm").is_none()
    {
        return Err(S3Error::invalid_request(
            "Missing required header for this request: Content-MD5",
        ));
    }
    let text = std::str::from_utf8(&req.body).map_err(|_| S3Error::malformed_xml())?;
    let quiet = xml::text(text, "Quiet")?.as_deref() == Some("true");
    let objects = xml::elements(text, "Object")?;
    if objects.is_empty() || objects.len() > 1000 {
        return Err(S3Error::malformed_xml());
    }
    let mut out = format!("<DeleteResult {NS}>");
    store.bucket(bucket)?;
    for object in objects {
        let key = xml::text(object, "Key")?.ok_or_else(S3Error::malformed_xml)?;
        let version = xml::text(object, "VersionId")?;
        match store.delete_object(now, bucket, &key, version.as_deref()) {
            Ok(deleted) => {
                if !quiet {
                    let _ = write!(out, "<Deleted><Key>{}</Key>", escape(&key));
                    if let Some(v) = &version {
                        let _ = write!(out, "<VersionId>{}</VersionId>", escape(v));
                    }
                    if deleted.delete_marker && version.is_none() {
                        let _ = write!(
                            out,
                            "<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>{}</DeleteMarkerVersionId>",
                            escape(deleted.version_id.as_deref().unwrap_or(""))
                        );
                    }
                    out.push_str("</Deleted>");
                }
            }
            Err(error) => {
                let _ = write!(
                    out,
                    "<Error><Key>{}</Key><Code>{}</Code><Message>{}</Message></Error>",
                    escape(&key),
                    error.code,
                    escape(&error.message)
                );
            }
        }
    }
    out.push_str("</DeleteResult>");
    plain(xml_ok(out))
}

/// GetObjectTagging.
fn get_object_tagging(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req, bucket, key, ..
    } = *c;
    let version = store.get_object(bucket, key, req.q("versionId"), &Default::default())?;
    let mut out = format!("<Tagging {NS}><TagSet>");
    for (k, v) in &version.tags {
        let _ = write!(
            out,
            "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
            escape(k),
            escape(v)
        );
    }
    out.push_str("</TagSet></Tagging>");
    plain(xml_ok(out))
}

/// PutObjectTagging and DeleteObjectTagging.
fn put_or_delete_object_tagging(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        key,
        operation,
        ..
    } = *c;
    let mut tags = std::collections::BTreeMap::new();
    if operation == "PutObjectTagging" {
        let text = std::str::from_utf8(&req.body).map_err(|_| S3Error::malformed_xml())?;
        for tag in xml::elements(text, "Tag")? {
            let k = xml::text(tag, "Key")?.ok_or_else(S3Error::malformed_xml)?;
            let v = xml::text(tag, "Value")?.unwrap_or_default();
            tags.insert(k, v);
        }
    }
    store.set_tags(bucket, key, tags)?;
    let status = if operation == "PutObjectTagging" {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    plain(empty(status))
}

/// CreateMultipartUpload.
fn create_multipart_upload(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        key,
        now,
        ..
    } = *c;
    let object = new_object(req)?;
    let upload_id = store.create_upload(now, bucket, key, object)?;
    plain(xml_ok(format!(
        "<InitiateMultipartUploadResult {NS}><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>",
        escape(bucket),
        escape(key),
        escape(&upload_id)
    )))
}

/// UploadPart.
fn upload_part(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        key,
        now,
        ..
    } = *c;
    let number: u32 = req
        .q("partNumber")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })?;
    let upload_id = req.q("uploadId").unwrap_or("");
    let etag = store.upload_part(now, bucket, key, upload_id, number, req.body.clone())?;
    let mut response = empty(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::ETAG, value(&format!("\"{etag}\"")));
    for name in [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-sha256",
    ] {
        if let Some(v) = req.h(name) {
            response.headers_mut().insert(name, value(v));
        }
    }
    Ok((
        response,
        Outcome {
            etag: Some(etag),
            version_id: None,
        },
    ))
}

/// ListParts.
fn list_parts(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req, bucket, key, ..
    } = *c;
    let upload_id = req.q("uploadId").unwrap_or("");
    let upload = store.upload(bucket, key, upload_id)?;
    let mut out = format!(
        "<ListPartsResult {NS}><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId><IsTruncated>false</IsTruncated>",
        escape(bucket),
        escape(key),
        escape(upload_id)
    );
    for (number, part) in &upload.parts {
        let _ = write!(
            out,
            "<Part><PartNumber>{number}</PartNumber><LastModified>{}</LastModified><ETag>&quot;{}&quot;</ETag><Size>{}</Size></Part>",
            iso8601(part.last_modified),
            part.etag,
            part.size
        );
    }
    out.push_str("</ListPartsResult>");
    plain(xml_ok(out))
}

/// ListMultipartUploads.
fn list_multipart_uploads(store: &mut Store, c: &Ctx) -> Res {
    let Ctx { bucket, .. } = *c;
    let b = store.bucket(bucket)?;
    let mut out = format!(
        "<ListMultipartUploadsResult {NS}><Bucket>{}</Bucket><IsTruncated>false</IsTruncated>",
        escape(bucket)
    );
    for upload in b.uploads.values() {
        let _ = write!(
            out,
            "<Upload><Key>{}</Key><UploadId>{}</UploadId><Initiated>{}</Initiated><StorageClass>STANDARD</StorageClass></Upload>",
            escape(&upload.key),
            escape(&upload.upload_id),
            iso8601(upload.initiated)
        );
    }
    out.push_str("</ListMultipartUploadsResult>");
    plain(xml_ok(out))
}

/// AbortMultipartUpload.
fn abort_multipart_upload(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req, bucket, key, ..
    } = *c;
    store.abort_upload(bucket, key, req.q("uploadId").unwrap_or(""))?;
    plain(empty(StatusCode::NO_CONTENT))
}

/// CompleteMultipartUpload.
fn complete_multipart_upload(store: &mut Store, c: &Ctx) -> Res {
    let Ctx {
        req,
        bucket,
        key,
        now,
        ..
    } = *c;
    let text = std::str::from_utf8(&req.body).map_err(|_| S3Error::malformed_xml())?;
    let mut parts = Vec::new();
    for part in xml::elements(text, "Part")? {
        let number = xml::text(part, "PartNumber")?
            .and_then(|n| n.trim().parse::<u32>().ok())
            .ok_or_else(S3Error::malformed_xml)?;
        let etag = xml::text(part, "ETag")?.ok_or_else(S3Error::malformed_xml)?;
        parts.push((number, etag));
    }
    let upload_id = req.q("uploadId").unwrap_or("");
    let written =
        store.complete_upload(now, bucket, key, upload_id, &parts, &conditions(req, ""))?;
    let mut response = xml_ok(format!(
        "<CompleteMultipartUploadResult {NS}><Location>/{}/{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>&quot;{}&quot;</ETag></CompleteMultipartUploadResult>",
        escape(bucket),
        escape(key),
        escape(bucket),
        escape(key),
        escape(&written.etag)
    ));
    if let Some(v) = &written.version_id {
        response.headers_mut().insert("x-amz-version-id", value(v));
    }
    Ok((
        response,
        Outcome {
            etag: Some(written.etag),
            version_id: written.version_id,
        },
    ))
}

/// One `bytes=` range against an object of `total` bytes; `None` when the header does not apply.
pub fn parse_range(raw: &str, total: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Multiple ranges: S3 ignores the header and sends the whole object.
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| S3Error::invalid_range())?;
            if n == 0 || total == 0 {
                return Err(S3Error::invalid_range());
            }
            (total.saturating_sub(n), total - 1)
        }
        (start, "") => (
            start.parse().map_err(|_| S3Error::invalid_range())?,
            total.saturating_sub(1),
        ),
        (start, end) => {
            let start: u64 = start.parse().map_err(|_| S3Error::invalid_range())?;
            let end: u64 = end.parse().map_err(|_| S3Error::invalid_range())?;
            if end < start {
                return Ok(None);
            }
            (start, end.min(total.saturating_sub(1)))
        }
    };
    if start >= total {
        return Err(S3Error::invalid_range());
    }
    Ok(Some((start, end)))
}

/// Continuation tokens are opaque to clients; dosim's is the last key returned, base64-encoded.
fn encode_token(last: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(last.as_bytes())
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| S3Error::invalid_argument("The continuation token provided is incorrect"))
}
