//! S3's errors: the code, the message and the status, rendered as S3's XML by the wire.

use http::StatusCode;

/// A request Spaces refuses; refusing never changes the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Error {
    pub status: StatusCode,
    /// S3's error code: `NoSuchKey`, `PreconditionFailed`, …
    pub code: &'static str,
    pub message: String,
    /// Set for 304 `NotModified`, which is not an error to clients but takes the same path.
    pub resource: Option<String>,
}

impl S3Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> S3Error {
        S3Error {
            status,
            code,
            message: message.into(),
            resource: None,
        }
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for S3Error {}

macro_rules! errors {
    ($($(#[$doc:meta])* $name:ident => ($status:ident, $code:literal, $message:literal);)*) => {
        impl S3Error {
            $(
                $(#[$doc])*
                pub fn $name() -> S3Error {
                    S3Error::new(StatusCode::$status, $code, $message)
                }
            )*
        }
    };
}

// Messages are AWS's (ErrorResponses) unless noted; Ceph RGW, which serves Spaces, uses the same codes.
errors! {
    no_such_bucket => (NOT_FOUND, "NoSuchBucket", "The specified bucket does not exist.");
    no_such_key => (NOT_FOUND, "NoSuchKey", "The specified key does not exist.");
    no_such_upload => (NOT_FOUND, "NoSuchUpload", "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.");
    no_such_version => (NOT_FOUND, "NoSuchVersion", "The specified version does not exist.");
    bucket_already_exists => (CONFLICT, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.");
    bucket_already_owned_by_you => (CONFLICT, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.");
    bucket_not_empty => (CONFLICT, "BucketNotEmpty", "The bucket you tried to delete is not empty.");
    too_many_buckets => (BAD_REQUEST, "TooManyBuckets", "You have attempted to create more buckets than allowed.");
    invalid_bucket_name => (BAD_REQUEST, "InvalidBucketName", "The specified bucket is not valid.");
    precondition_failed => (PRECONDITION_FAILED, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold");
    not_modified => (NOT_MODIFIED, "NotModified", "Not Modified");
    invalid_range => (RANGE_NOT_SATISFIABLE, "InvalidRange", "The requested range is not satisfiable");
    entity_too_small => (BAD_REQUEST, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.");
    entity_too_large => (BAD_REQUEST, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.");
    metadata_too_large => (BAD_REQUEST, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.");
    key_too_long => (BAD_REQUEST, "KeyTooLongError", "Your key is too long.");
    invalid_part => (BAD_REQUEST, "InvalidPart", "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.");
    invalid_part_order => (BAD_REQUEST, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.");
    malformed_xml => (BAD_REQUEST, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
    bad_digest => (BAD_REQUEST, "BadDigest", "The Content-MD5 you specified did not match what we received.");
    invalid_digest => (BAD_REQUEST, "InvalidDigest", "The Content-MD5 you specified is not valid.");
    content_sha256_mismatch => (BAD_REQUEST, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
    access_denied => (FORBIDDEN, "AccessDenied", "Access Denied");
    invalid_access_key_id => (FORBIDDEN, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
    signature_does_not_match => (FORBIDDEN, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.");
    request_time_too_skewed => (FORBIDDEN, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
    missing_content_length => (LENGTH_REQUIRED, "MissingContentLength", "You must provide the Content-Length HTTP header.");
    method_not_allowed => (METHOD_NOT_ALLOWED, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    not_implemented => (NOT_IMPLEMENTED, "NotImplemented", "A header you provided implies functionality that is not implemented.");
    slow_down => (SERVICE_UNAVAILABLE, "SlowDown", "Please reduce your request rate.");
    internal_error => (INTERNAL_SERVER_ERROR, "InternalError", "We encountered an internal error. Please try again.");
}

impl S3Error {
    /// 400 `InvalidArgument` with a message naming the argument.
    pub fn invalid_argument(message: impl Into<String>) -> S3Error {
        S3Error::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    /// 400 `InvalidRequest` with its message.
    pub fn invalid_request(message: impl Into<String>) -> S3Error {
        S3Error::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }
}

/// The self-copy refusal, in S3's words.
pub const SELF_COPY: &str = "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.";
