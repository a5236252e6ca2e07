//! Each S3 operation: read the request, call the store, write S3's response.

use axum::body::Body;
use axum::response::Response;
use http::{header, StatusCode};

use dosim_base::SimTime;

use crate::error::S3Error;
use crate::service::Spaces;
use parking_lot::MutexGuard;

use crate::store::{Acl, ListRequest, ObjectVersion, Store, Versioning, Written, LIST_KEYS_MAX};
use crate::wire::{
    conditions, copy_request, empty, new_object, object_headers, value, xml_ok, Outcome, Principal,
    Req,
};
use crate::xml::{self, iso8601, Document};

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

/// A `200` with the document as its XML body, and nothing for the history.
fn document(doc: Document) -> Res {
    plain(xml_ok(doc.finish()))
}

/// A response to a write: the version it made, if versioning made one, in `x-amz-version-id`,
/// and its ETag and version for the history.
fn written(mut response: Response, written: Written) -> Res {
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

/// Echoes the checksums the client sent with a body, as S3 does on PutObject and UploadPart.
fn echo_checksums(req: &Req, response: &mut Response) {
    for name in [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-sha256",
    ] {
        if let Some(v) = req.h(name) {
            response.headers_mut().insert(name, value(v));
        }
    }
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
    let key = match &c.req.principal {
        Principal::Key { key, .. } => Some(key),
        Principal::Anonymous => None,
    };
    let mut doc = Document::new("ListAllMyBucketsResult");
    doc.owner(c.owner_id).open("Buckets");
    for b in store.buckets().filter(|b| b.owner == c.owner_id) {
        if key.is_some_and(|k| k.permission_on(&b.name).is_none()) {
            continue;
        }
        doc.open("Bucket")
            .text("Name", &b.name)
            .value("CreationDate", iso8601(b.created))
            .close("Bucket");
    }
    doc.close("Buckets");
    document(doc)
}

/// CreateBucket.
fn create_bucket(store: &mut Store, c: &Ctx) -> Res {
    let acl = match c.req.h("x-amz-acl") {
        None => Acl::Private,
        Some(raw) => Acl::parse(raw).ok_or_else(S3Error::not_implemented)?,
    };
    store.create_bucket(c.now, c.owner_id, &c.req.region, c.bucket, acl)?;
    let mut response = empty(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::LOCATION, value(&format!("/{}", c.bucket)));
    plain(response)
}

/// HeadBucket.
fn head_bucket(store: &mut Store, c: &Ctx) -> Res {
    store.bucket(c.bucket)?;
    plain(empty(StatusCode::OK))
}

/// DeleteBucket.
fn delete_bucket(store: &mut Store, c: &Ctx) -> Res {
    store.delete_bucket(c.bucket)?;
    plain(empty(StatusCode::NO_CONTENT))
}

/// GetBucketLocation: the region is the root element's text.
fn get_bucket_location(store: &mut Store, c: &Ctx) -> Res {
    let b = store.bucket(c.bucket)?;
    plain(xml_ok(format!(
        "<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
        xml::NS,
        xml::escape(&b.region)
    )))
}

/// GetBucketVersioning.
fn get_bucket_versioning(store: &mut Store, c: &Ctx) -> Res {
    let b = store.bucket(c.bucket)?;
    let status = match b.versioning {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some("Enabled"),
        Versioning::Suspended => Some("Suspended"),
    };
    let mut doc = Document::new("VersioningConfiguration");
    if let Some(status) = status {
        doc.value("Status", status);
    }
    document(doc)
}

/// PutBucketVersioning.
fn put_bucket_versioning(store: &mut Store, c: &Ctx) -> Res {
    let text = std::str::from_utf8(&c.req.body).map_err(|_| S3Error::malformed_xml())?;
    let enabled = match xml::text(text, "Status")?.as_deref() {
        Some("Enabled") => true,
        Some("Suspended") => false,
        _ => return Err(S3Error::malformed_xml()),
    };
    store.set_versioning(c.bucket, enabled)?;
    plain(empty(StatusCode::OK))
}

/// ListObjects and ListObjectsV2.
fn list_objects(store: &mut Store, c: &Ctx) -> Res {
    let (req, bucket) = (c.req, c.bucket);
    let v2 = c.operation == "ListObjectsV2";
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
    let owner = &store.bucket(bucket)?.owner;
    let mut doc = Document::new("ListBucketResult");
    doc.text("Name", bucket)
        .text("Prefix", &request.prefix)
        .value("MaxKeys", max_keys);
    if let Some(d) = &request.delimiter {
        doc.text("Delimiter", d);
    }
    doc.value("IsTruncated", listing.truncated);
    let next = listing.last.as_ref().filter(|_| listing.truncated);
    if v2 {
        let count = listing.contents.len() + listing.common_prefixes.len();
        doc.value("KeyCount", count);
        if let Some(token) = &token {
            doc.text("ContinuationToken", token);
        }
        if let Some(start) = req.q("start-after") {
            doc.text("StartAfter", start);
        }
        if let Some(last) = next {
            doc.value("NextContinuationToken", encode_token(last));
        }
    } else {
        doc.text("Marker", req.q("marker").unwrap_or(""));
        if let Some(last) = next.filter(|_| request.delimiter.is_some()) {
            doc.text("NextMarker", last);
        }
    }
    let with_owner = !v2 || req.q("fetch-owner") == Some("true");
    for (key, version) in &listing.contents {
        doc.open("Contents");
        version_fields(&mut doc, key, version);
        if with_owner {
            doc.owner(owner);
        }
        doc.close("Contents");
    }
    for prefix in &listing.common_prefixes {
        doc.open("CommonPrefixes")
            .text("Prefix", prefix)
            .close("CommonPrefixes");
    }
    document(doc)
}

/// A version's key, modification time, ETag, size and storage class, as a listing shows them.
fn version_fields(doc: &mut Document, key: &str, version: &ObjectVersion) {
    doc.text("Key", key)
        .value("LastModified", iso8601(version.last_modified))
        .etag(&version.etag)
        .value("Size", version.size)
        .value("StorageClass", "STANDARD");
}

/// ListObjectVersions.
fn list_object_versions(store: &mut Store, c: &Ctx) -> Res {
    let prefix = c.req.q("prefix").unwrap_or("");
    let max_keys = c
        .req
        .q("max-keys")
        .and_then(|m| m.parse().ok())
        .unwrap_or(LIST_KEYS_MAX);
    let (versions, truncated) = store.list_versions(c.bucket, prefix, max_keys)?;
    let owner = &store.bucket(c.bucket)?.owner;
    let mut doc = Document::new("ListVersionsResult");
    doc.text("Name", c.bucket)
        .text("Prefix", prefix)
        .text("KeyMarker", "")
        .text("VersionIdMarker", "")
        .value("MaxKeys", max_keys)
        .value("IsTruncated", truncated);
    for (key, v, latest) in versions {
        let element = if v.delete_marker {
            "DeleteMarker"
        } else {
            "Version"
        };
        doc.open(element)
            .text("Key", &key)
            .text("VersionId", &v.version_id)
            .value("IsLatest", latest)
            .value("LastModified", iso8601(v.last_modified));
        if !v.delete_marker {
            doc.etag(&v.etag)
                .value("Size", v.size)
                .value("StorageClass", "STANDARD");
        }
        doc.owner(owner).close(element);
    }
    document(doc)
}

/// GetObject and HeadObject.
fn get_or_head_object(store: MutexGuard<'_, Store>, c: &Ctx) -> Res {
    let (req, bucket) = (c.req, c.bucket);
    if req.has("partNumber") {
        return Err(S3Error::not_implemented());
    }
    let version = store.get_object(bucket, c.key, req.q("versionId"), &conditions(req, ""))?;
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
    let mut response = if c.operation == "HeadObject" {
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
    let object = new_object(c.req)?;
    let done = store.put_object(c.now, c.bucket, c.key, object, &conditions(c.req, ""))?;
    let mut response = empty(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::ETAG, value(&format!("\"{}\"", done.etag)));
    let (mut response, outcome) = written(response, done)?;
    echo_checksums(c.req, &mut response);
    Ok((response, outcome))
}

/// CopyObject.
fn copy_object(store: &mut Store, c: &Ctx) -> Res {
    let request = copy_request(c.req)?;
    if let Principal::Key { key: k, .. } = &c.req.principal {
        let readable = k.permission_on(&request.source_bucket).is_some();
        let owned = store
            .bucket(&request.source_bucket)
            .is_ok_and(|b| b.owner == c.owner_id);
        if !(readable && owned) && store.bucket(&request.source_bucket).is_ok() {
            return Err(S3Error::access_denied());
        }
    }
    let done = store.copy_object(c.now, request)?;
    let mut doc = Document::new("CopyObjectResult");
    doc.value("LastModified", iso8601(done.last_modified))
        .etag(&done.etag);
    written(xml_ok(doc.finish()), done)
}

/// DeleteObject.
fn delete_object(store: &mut Store, c: &Ctx) -> Res {
    let deleted = store.delete_object(c.now, c.bucket, c.key, c.req.q("versionId"))?;
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
    let req = c.req;
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
    let mut doc = Document::new("DeleteResult");
    store.bucket(c.bucket)?;
    for object in objects {
        let key = xml::text(object, "Key")?.ok_or_else(S3Error::malformed_xml)?;
        let version = xml::text(object, "VersionId")?;
        match store.delete_object(c.now, c.bucket, &key, version.as_deref()) {
            Ok(_) if quiet => {}
            Ok(deleted) => {
                doc.open("Deleted").text("Key", &key);
                if let Some(v) = &version {
                    doc.text("VersionId", v);
                }
                if deleted.delete_marker && version.is_none() {
                    doc.value("DeleteMarker", true).text(
                        "DeleteMarkerVersionId",
                        deleted.version_id.as_deref().unwrap_or(""),
                    );
                }
                doc.close("Deleted");
            }
            Err(error) => {
                doc.open("Error")
                    .text("Key", &key)
                    .value("Code", error.code)
                    .text("Message", &error.message)
                    .close("Error");
            }
        }
    }
    document(doc)
}

/// GetObjectTagging.
fn get_object_tagging(store: &mut Store, c: &Ctx) -> Res {
    let version = store.get_object(c.bucket, c.key, c.req.q("versionId"), &Default::default())?;
    let mut doc = Document::new("Tagging");
    doc.open("TagSet");
    for (k, v) in &version.tags {
        doc.open("Tag").text("Key", k).text("Value", v).close("Tag");
    }
    doc.close("TagSet");
    document(doc)
}

/// PutObjectTagging and DeleteObjectTagging.
fn put_or_delete_object_tagging(store: &mut Store, c: &Ctx) -> Res {
    let mut tags = std::collections::BTreeMap::new();
    let put = c.operation == "PutObjectTagging";
    if put {
        let text = std::str::from_utf8(&c.req.body).map_err(|_| S3Error::malformed_xml())?;
        for tag in xml::elements(text, "Tag")? {
            let k = xml::text(tag, "Key")?.ok_or_else(S3Error::malformed_xml)?;
            let v = xml::text(tag, "Value")?.unwrap_or_default();
            tags.insert(k, v);
        }
    }
    store.set_tags(c.bucket, c.key, tags)?;
    let status = if put {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    plain(empty(status))
}

/// CreateMultipartUpload.
fn create_multipart_upload(store: &mut Store, c: &Ctx) -> Res {
    let object = new_object(c.req)?;
    let upload_id = store.create_upload(c.now, c.bucket, c.key, object)?;
    let mut doc = Document::new("InitiateMultipartUploadResult");
    doc.text("Bucket", c.bucket)
        .text("Key", c.key)
        .text("UploadId", &upload_id);
    document(doc)
}

/// UploadPart.
fn upload_part(store: &mut Store, c: &Ctx) -> Res {
    let number: u32 = c
        .req
        .q("partNumber")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })?;
    let upload_id = c.req.q("uploadId").unwrap_or("");
    let body = c.req.body.clone();
    let etag = store.upload_part(c.now, c.bucket, c.key, upload_id, number, body)?;
    let mut response = empty(StatusCode::OK);
    response
        .headers_mut()
        .insert(header::ETAG, value(&format!("\"{etag}\"")));
    echo_checksums(c.req, &mut response);
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
    let upload_id = c.req.q("uploadId").unwrap_or("");
    let upload = store.upload(c.bucket, c.key, upload_id)?;
    let mut doc = Document::new("ListPartsResult");
    doc.text("Bucket", c.bucket)
        .text("Key", c.key)
        .text("UploadId", upload_id)
        .value("IsTruncated", false);
    for (number, part) in &upload.parts {
        doc.open("Part")
            .value("PartNumber", number)
            .value("LastModified", iso8601(part.last_modified))
            .etag(&part.etag)
            .value("Size", part.size)
            .close("Part");
    }
    document(doc)
}

/// ListMultipartUploads.
fn list_multipart_uploads(store: &mut Store, c: &Ctx) -> Res {
    let b = store.bucket(c.bucket)?;
    let mut doc = Document::new("ListMultipartUploadsResult");
    doc.text("Bucket", c.bucket).value("IsTruncated", false);
    for upload in b.uploads.values() {
        doc.open("Upload")
            .text("Key", &upload.key)
            .text("UploadId", &upload.upload_id)
            .value("Initiated", iso8601(upload.initiated))
            .value("StorageClass", "STANDARD")
            .close("Upload");
    }
    document(doc)
}

/// AbortMultipartUpload.
fn abort_multipart_upload(store: &mut Store, c: &Ctx) -> Res {
    store.abort_upload(c.bucket, c.key, c.req.q("uploadId").unwrap_or(""))?;
    plain(empty(StatusCode::NO_CONTENT))
}

/// CompleteMultipartUpload.
fn complete_multipart_upload(store: &mut Store, c: &Ctx) -> Res {
    let (bucket, key) = (c.bucket, c.key);
    let text = std::str::from_utf8(&c.req.body).map_err(|_| S3Error::malformed_xml())?;
    let mut parts = Vec::new();
    for part in xml::elements(text, "Part")? {
        let number = xml::text(part, "PartNumber")?
            .and_then(|n| n.trim().parse::<u32>().ok())
            .ok_or_else(S3Error::malformed_xml)?;
        let etag = xml::text(part, "ETag")?.ok_or_else(S3Error::malformed_xml)?;
        parts.push((number, etag));
    }
    let upload_id = c.req.q("uploadId").unwrap_or("");
    let conditions = conditions(c.req, "");
    let done = store.complete_upload(c.now, bucket, key, upload_id, &parts, &conditions)?;
    let mut doc = Document::new("CompleteMultipartUploadResult");
    doc.text("Location", &format!("/{bucket}/{key}"))
        .text("Bucket", bucket)
        .text("Key", key)
        .etag(&done.etag);
    written(xml_ok(doc.finish()), done)
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
