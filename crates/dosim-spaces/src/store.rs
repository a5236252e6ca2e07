//! The object store: buckets, objects, versions and multipart uploads, as data and functions.
//!
//! No I/O and no clock: every entry point takes the current [`SimTime`], and version ids and
//! upload ids come from the store's `ChaCha8Rng`, seeded by the caller.
//! A refused call changes nothing, the RNG's position included.

use std::collections::BTreeMap;

use bytes::Bytes;
use md5::{Digest, Md5};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use dosim_base::SimTime;

use crate::conditions::{ConditionalPut, Conditions};
use crate::error::{S3Error, SELF_COPY};

/// Every limit and every choice where DigitalOcean is silent (see `docs/spaces.md`).
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Buckets per account (DigitalOcean's limits page: 100).
    pub buckets_per_account_max: usize,
    /// Largest single PUT (S3: 5 GiB); the wire's body limit may be lower.
    pub put_bytes_max: u64,
    /// User metadata, names and values (S3: 2 KB).
    pub metadata_bytes_max: usize,
    /// Key length in bytes (S3: 1,024).
    pub key_bytes_max: usize,
    /// Smallest part but the last (S3: 5 MiB).
    pub part_bytes_min: u64,
    /// Part numbers run 1..=parts_max (S3: 10,000).
    pub parts_max: u32,
    /// Keys per bucket: dosim's limit, so memory stays bounded.
    pub objects_per_bucket_max: usize,
    /// Versions (delete markers included) per key: dosim's limit.
    pub versions_per_key_max: usize,
    /// Multipart uploads in progress per bucket: dosim's limit.
    pub uploads_per_bucket_max: usize,
    /// How conditional PUTs behave (notes §4: reports disagree).
    pub conditional_put: ConditionalPut,
    /// Accounts whose conditional PUTs behave otherwise, by the owner a bucket records (the
    /// account's fingerprint, `acct-…`): a bucket's writes follow its owner's setting.
    pub conditional_put_by_account: BTreeMap<String, ConditionalPut>,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            buckets_per_account_max: 100,
            put_bytes_max: 5 * 1024 * 1024 * 1024,
            metadata_bytes_max: 2048,
            key_bytes_max: 1024,
            part_bytes_min: 5 * 1024 * 1024,
            parts_max: 10_000,
            objects_per_bucket_max: 1_000_000,
            versions_per_key_max: 10_000,
            uploads_per_bucket_max: 10_000,
            conditional_put: ConditionalPut::default(),
            conditional_put_by_account: BTreeMap::new(),
        }
    }
}

/// A bucket's versioning state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Versioning {
    /// Never enabled: versions are `null`, `x-amz-version-id` is not sent.
    Unversioned,
    Enabled,
    Suspended,
}

/// A canned ACL; Spaces offers these two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Acl {
    Private,
    PublicRead,
}

impl Acl {
    /// `x-amz-acl`'s value; anything but the two canned ACLs Spaces offers is `None`.
    pub fn parse(raw: &str) -> Option<Acl> {
        match raw {
            "private" => Some(Acl::Private),
            "public-read" => Some(Acl::PublicRead),
            _ => None,
        }
    }
}

/// One version of an object, or a delete marker.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectVersion {
    /// `null` for versions written while versioning was off or suspended.
    pub version_id: String,
    pub delete_marker: bool,
    #[serde(skip)]
    pub body: Bytes,
    pub size: u64,
    /// Hex MD5, or MD5 of the part MD5s plus `-N`; unquoted.
    pub etag: String,
    pub content_type: String,
    /// Other content headers kept with the object (`cache-control`, `content-disposition`, …).
    pub headers: BTreeMap<String, String>,
    /// `x-amz-meta-*` names (without the prefix, lowercased) and values.
    pub metadata: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub acl: Acl,
    pub last_modified: SimTime,
}

/// One key's versions, oldest first; the last is the current one.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Versions {
    pub versions: Vec<ObjectVersion>,
}

/// A part of a multipart upload.
#[derive(Clone, Debug, Serialize)]
pub struct Part {
    #[serde(skip)]
    pub body: Bytes,
    pub size: u64,
    pub etag: String,
    #[serde(skip)]
    pub md5: [u8; 16],
    pub last_modified: SimTime,
}

/// A multipart upload in progress.
#[derive(Clone, Debug, Serialize)]
pub struct Upload {
    pub upload_id: String,
    pub key: String,
    pub initiated: SimTime,
    pub content_type: String,
    pub headers: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub acl: Acl,
    pub parts: BTreeMap<u32, Part>,
}

/// A bucket.
#[derive(Clone, Debug, Serialize)]
pub struct Bucket {
    pub name: String,
    /// The owning account's fingerprint.
    pub owner: String,
    pub region: String,
    pub created: SimTime,
    pub acl: Acl,
    pub versioning: Versioning,
    pub objects: BTreeMap<String, Versions>,
    pub uploads: BTreeMap<String, Upload>,
}

impl Bucket {
    /// The current version of `key`, delete markers included.
    pub fn current(&self, key: &str) -> Option<&ObjectVersion> {
        self.objects.get(key).and_then(|v| v.versions.last())
    }
}

/// What a PUT (or a completed upload, or a copy) writes.
#[derive(Clone, Debug, Default)]
pub struct NewObject {
    pub body: Bytes,
    pub content_type: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub acl: Option<Acl>,
}

/// What a write answers: the ETag and, on a bucket that has had versioning, the version id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub etag: String,
    pub version_id: Option<String>,
    pub last_modified: SimTime,
}

/// What a delete answers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Deleted {
    pub version_id: Option<String>,
    pub delete_marker: bool,
}

/// `x-amz-metadata-directive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Copy,
    Replace,
}

/// A CopyObject request.
#[derive(Clone, Debug)]
pub struct CopyRequest {
    pub source_bucket: String,
    pub source_key: String,
    pub source_version: Option<String>,
    /// `x-amz-copy-source-if-*`.
    pub source_conditions: Conditions,
    pub bucket: String,
    pub key: String,
    pub directive: Directive,
    /// With `Replace`: the new content headers and metadata.
    pub replacement: NewObject,
    /// The destination's conditions (`If-Match`, `If-None-Match`), under the conditional-PUT switch.
    pub conditions: Conditions,
}

/// A listing request (ListObjects v1 and v2 alike).
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Keys after this one only (v1 `marker`, v2 `start-after` or the continuation token).
    pub after: Option<String>,
    pub max_keys: usize,
}

/// A listing page.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub contents: Vec<(String, ObjectVersion)>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or prefix returned, from which the next page continues.
    pub last: Option<String>,
}

/// Every bucket of every account in one region-less namespace, as Spaces' bucket names are global.
#[derive(Clone, Debug, Serialize)]
pub struct Store {
    #[serde(skip)]
    config: StoreConfig,
    #[serde(skip)]
    rng: ChaCha8Rng,
    buckets: BTreeMap<String, Bucket>,
}

/// Versions listed: key, version, whether it is the latest; and whether the list was cut.
pub type VersionListing = (Vec<(String, ObjectVersion, bool)>, bool);

/// The largest `max-keys` honoured, as S3.
pub const LIST_KEYS_MAX: usize = 1000;

impl Store {
    pub fn new(config: StoreConfig, seed: u64) -> Store {
        Store {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            buckets: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Changes how conditional PUTs behave from now on.
    pub fn set_conditional_put(&mut self, mode: ConditionalPut) {
        self.config.conditional_put = mode;
    }

    /// How conditional writes behave in `bucket`: as its owner's account is set, else as the
    /// store's default.
    pub fn conditional_put_for(&self, bucket: &Bucket) -> ConditionalPut {
        self.config
            .conditional_put_by_account
            .get(&bucket.owner)
            .copied()
            .unwrap_or(self.config.conditional_put)
    }

    /// Every bucket, by name.
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets.values()
    }

    pub fn bucket(&self, name: &str) -> Result<&Bucket, S3Error> {
        self.buckets.get(name).ok_or_else(S3Error::no_such_bucket)
    }

    fn bucket_mut(&mut self, name: &str) -> Result<&mut Bucket, S3Error> {
        self.buckets
            .get_mut(name)
            .ok_or_else(S3Error::no_such_bucket)
    }

    pub fn create_bucket(
        &mut self,
        now: SimTime,
        owner: &str,
        region: &str,
        name: &str,
        acl: Acl,
    ) -> Result<(), S3Error> {
        check_bucket_name(name)?;
        if let Some(bucket) = self.buckets.get(name) {
            return Err(if bucket.owner == owner {
                S3Error::bucket_already_owned_by_you()
            } else {
                S3Error::bucket_already_exists()
            });
        }
        let owned = self.buckets.values().filter(|b| b.owner == owner).count();
        if owned >= self.config.buckets_per_account_max {
            return Err(S3Error::too_many_buckets());
        }
        self.buckets.insert(
            name.to_owned(),
            Bucket {
                name: name.to_owned(),
                owner: owner.to_owned(),
                region: region.to_owned(),
                created: now,
                acl,
                versioning: Versioning::Unversioned,
                objects: BTreeMap::new(),
                uploads: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// Deletes an empty bucket; versions and delete markers count, as in S3.
    pub fn delete_bucket(&mut self, name: &str) -> Result<(), S3Error> {
        let bucket = self.bucket(name)?;
        if !bucket.objects.is_empty() || !bucket.uploads.is_empty() {
            return Err(S3Error::bucket_not_empty());
        }
        self.buckets.remove(name);
        Ok(())
    }

    pub fn set_versioning(&mut self, name: &str, enabled: bool) -> Result<(), S3Error> {
        let bucket = self.bucket_mut(name)?;
        bucket.versioning = if enabled {
            Versioning::Enabled
        } else {
            Versioning::Suspended
        };
        Ok(())
    }

    /// The object version a GET or HEAD reads, after its conditions.
    pub fn get_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        conditions: &Conditions,
    ) -> Result<ObjectVersion, S3Error> {
        let bucket = self.bucket(bucket)?;
        let version = match version_id {
            Some(id) => {
                let versions = bucket
                    .objects
                    .get(key)
                    .ok_or_else(S3Error::no_such_version)?;
                let found = versions
                    .versions
                    .iter()
                    .find(|v| v.version_id == id)
                    .ok_or_else(S3Error::no_such_version)?;
                if found.delete_marker {
                    return Err(S3Error::method_not_allowed());
                }
                found
            }
            None => match bucket.current(key) {
                Some(v) if !v.delete_marker => v,
                _ => return Err(S3Error::no_such_key()),
            },
        };
        conditions.check_read(&version.etag, version.last_modified)?;
        Ok(version.clone())
    }

    /// PutObject, after the conditional-PUT switch and the limits.
    pub fn put_object(
        &mut self,
        now: SimTime,
        bucket: &str,
        key: &str,
        object: NewObject,
        conditions: &Conditions,
    ) -> Result<Written, S3Error> {
        self.check_key(key)?;
        check_metadata(&self.config, &object.metadata)?;
        if object.body.len() as u64 > self.config.put_bytes_max {
            return Err(S3Error::entity_too_large());
        }
        self.check_write(bucket, key, conditions)?;
        let etag = hex(&Md5::digest(&object.body));
        self.write(now, bucket, key, object, etag)
    }

    /// Writes a new current version of `key`; the caller has checked everything else.
    fn write(
        &mut self,
        now: SimTime,
        bucket: &str,
        key: &str,
        object: NewObject,
        etag: String,
    ) -> Result<Written, S3Error> {
        let objects_max = self.config.objects_per_bucket_max;
        let versions_max = self.config.versions_per_key_max;
        let b = self.bucket(bucket)?;
        let versioning = b.versioning;
        let full = match b.objects.get(key) {
            None => b.objects.len() >= objects_max,
            Some(versions) => {
                versioning == Versioning::Enabled && versions.versions.len() >= versions_max
            }
        };
        if full {
            return Err(S3Error::new(
                http::StatusCode::FORBIDDEN,
                "QuotaExceeded",
                "The bucket holds as many objects as this server allows.",
            ));
        }
        let version_id = match versioning {
            Versioning::Enabled => self.new_version_id(),
            _ => "null".to_owned(),
        };
        let b = self.bucket_mut(bucket)?;
        let size = object.body.len() as u64;
        let version = ObjectVersion {
            version_id: version_id.clone(),
            delete_marker: false,
            body: object.body,
            size,
            etag: etag.clone(),
            content_type: object
                .content_type
                .unwrap_or_else(|| "binary/octet-stream".to_owned()),
            headers: object.headers,
            metadata: object.metadata,
            tags: object.tags,
            acl: object.acl.unwrap_or(Acl::Private),
            last_modified: SimTime(now.0 / 1000 * 1000),
        };
        let versions = b.objects.entry(key.to_owned()).or_default();
        if version_id == "null" {
            versions.versions.retain(|v| v.version_id != "null");
        }
        versions.versions.push(version);
        Ok(Written {
            etag,
            version_id: (versioning != Versioning::Unversioned).then_some(version_id),
            last_modified: SimTime(now.0 / 1000 * 1000),
        })
    }

    /// DeleteObject: a missing key is a success; with versioning, a delete marker.
    pub fn delete_object(
        &mut self,
        now: SimTime,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deleted, S3Error> {
        let b = self.bucket(bucket)?;
        let versioning = b.versioning;
        if let Some(id) = version_id {
            let b = self.bucket_mut(bucket)?;
            let Some(versions) = b.objects.get_mut(key) else {
                return Ok(Deleted {
                    version_id: Some(id.to_owned()),
                    delete_marker: false,
                });
            };
            let Some(index) = versions.versions.iter().position(|v| v.version_id == id) else {
                return Ok(Deleted {
                    version_id: Some(id.to_owned()),
                    delete_marker: false,
                });
            };
            let removed = versions.versions.remove(index);
            if versions.versions.is_empty() {
                b.objects.remove(key);
            }
            return Ok(Deleted {
                version_id: Some(id.to_owned()),
                delete_marker: removed.delete_marker,
            });
        }
        match versioning {
            Versioning::Unversioned => {
                self.bucket_mut(bucket)?.objects.remove(key);
                Ok(Deleted::default())
            }
            Versioning::Enabled | Versioning::Suspended => {
                let version_id = if versioning == Versioning::Enabled {
                    self.new_version_id()
                } else {
                    "null".to_owned()
                };
                let b = self.bucket_mut(bucket)?;
                let versions = b.objects.entry(key.to_owned()).or_default();
                if version_id == "null" {
                    versions.versions.retain(|v| v.version_id != "null");
                }
                versions.versions.push(ObjectVersion {
                    version_id: version_id.clone(),
                    delete_marker: true,
                    body: Bytes::new(),
                    size: 0,
                    etag: String::new(),
                    content_type: String::new(),
                    headers: BTreeMap::new(),
                    metadata: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    acl: Acl::Private,
                    last_modified: SimTime(now.0 / 1000 * 1000),
                });
                Ok(Deleted {
                    version_id: Some(version_id),
                    delete_marker: true,
                })
            }
        }
    }

    /// CopyObject: COPY keeps the source's metadata, REPLACE takes the request's; a self-copy must change something.
    pub fn copy_object(&mut self, now: SimTime, request: CopyRequest) -> Result<Written, S3Error> {
        self.check_key(&request.key)?;
        let source = self.get_object(
            &request.source_bucket,
            &request.source_key,
            request.source_version.as_deref(),
            &Conditions::default(),
        )?;
        request
            .source_conditions
            .check_copy_source(&source.etag, source.last_modified)?;
        let same = request.source_bucket == request.bucket && request.source_key == request.key;
        if same && request.directive == Directive::Copy && request.source_version.is_none() {
            return Err(S3Error::invalid_request(SELF_COPY));
        }
        let object = match request.directive {
            Directive::Copy => NewObject {
                body: source.body.clone(),
                content_type: Some(source.content_type.clone()),
                headers: source.headers.clone(),
                metadata: source.metadata.clone(),
                tags: source.tags.clone(),
                acl: request.replacement.acl,
            },
            Directive::Replace => NewObject {
                body: source.body.clone(),
                tags: source.tags.clone(),
                ..request.replacement
            },
        };
        check_metadata(&self.config, &object.metadata)?;
        self.check_write(&request.bucket, &request.key, &request.conditions)?;
        // A copy keeps the content's ETag: a metadata-only self-copy does not change it.
        self.write(now, &request.bucket, &request.key, object, source.etag)
    }

    /// One page of keys in order; with a delimiter, keys sharing a prefix up to it roll up into one common prefix.
    pub fn list(&self, bucket: &str, request: &ListRequest) -> Result<Listing, S3Error> {
        let b = self.bucket(bucket)?;
        let mut listing = Listing::default();
        let max = request.max_keys.min(LIST_KEYS_MAX);
        let after = request.after.clone().unwrap_or_default();
        // Keys under the prefix start at the prefix itself: start there unless `after` is beyond it.
        let start = if request.prefix.as_str() > after.as_str() {
            std::ops::Bound::Included(request.prefix.as_str())
        } else {
            std::ops::Bound::Excluded(after.as_str())
        };
        let range = b
            .objects
            .range::<str, _>((start, std::ops::Bound::Unbounded));
        for (key, versions) in range {
            if !key.starts_with(&request.prefix) {
                if key.as_str() > request.prefix.as_str() && !request.prefix.is_empty() {
                    break;
                }
                continue;
            }
            let Some(current) = versions.versions.last() else {
                continue;
            };
            if current.delete_marker {
                continue;
            }
            let rolled = request
                .delimiter
                .as_deref()
                .filter(|d| !d.is_empty())
                .and_then(|d| {
                    key[request.prefix.len()..]
                        .find(d)
                        .map(|at| key[..request.prefix.len() + at + d.len()].to_owned())
                });
            if let Some(prefix) = &rolled {
                if listing.common_prefixes.last() == Some(prefix) {
                    continue;
                }
                if let Some(after) = &request.after {
                    if prefix.as_str() <= after.as_str() || after.starts_with(prefix.as_str()) {
                        continue;
                    }
                }
            }
            if listing.contents.len() + listing.common_prefixes.len() >= max {
                listing.truncated = true;
                break;
            }
            match rolled {
                Some(prefix) => {
                    listing.last = Some(prefix.clone());
                    listing.common_prefixes.push(prefix);
                }
                None => {
                    listing.last = Some(key.clone());
                    listing.contents.push((key.clone(), current.clone()));
                }
            }
        }
        Ok(listing)
    }

    /// Every version and delete marker under `prefix`, keys in order and each key's newest first.
    pub fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        max_keys: usize,
    ) -> Result<VersionListing, S3Error> {
        let b = self.bucket(bucket)?;
        let max = max_keys.min(LIST_KEYS_MAX);
        let mut out = Vec::new();
        for (key, versions) in &b.objects {
            if !key.starts_with(prefix) {
                continue;
            }
            let n = versions.versions.len();
            for (i, v) in versions.versions.iter().enumerate().rev() {
                if out.len() >= max {
                    return Ok((out, true));
                }
                out.push((key.clone(), v.clone(), i + 1 == n));
            }
        }
        Ok((out, false))
    }

    pub fn set_tags(
        &mut self,
        bucket: &str,
        key: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<(), S3Error> {
        if tags.len() > 10 {
            return Err(S3Error::invalid_argument(
                "Object tags cannot be greater than 10",
            ));
        }
        let b = self.bucket_mut(bucket)?;
        match b.objects.get_mut(key).and_then(|v| v.versions.last_mut()) {
            Some(v) if !v.delete_marker => {
                v.tags = tags;
                Ok(())
            }
            _ => Err(S3Error::no_such_key()),
        }
    }

    pub fn create_upload(
        &mut self,
        now: SimTime,
        bucket: &str,
        key: &str,
        object: NewObject,
    ) -> Result<String, S3Error> {
        self.check_key(key)?;
        check_metadata(&self.config, &object.metadata)?;
        let max = self.config.uploads_per_bucket_max;
        if self.bucket(bucket)?.uploads.len() >= max {
            return Err(S3Error::new(
                http::StatusCode::FORBIDDEN,
                "QuotaExceeded",
                "The bucket has as many multipart uploads in progress as this server allows.",
            ));
        }
        let upload_id = format!("2~{}", self.random_text(32));
        let b = self.bucket_mut(bucket)?;
        b.uploads.insert(
            upload_id.clone(),
            Upload {
                upload_id: upload_id.clone(),
                key: key.to_owned(),
                initiated: SimTime(now.0 / 1000 * 1000),
                content_type: object
                    .content_type
                    .unwrap_or_else(|| "binary/octet-stream".to_owned()),
                headers: object.headers,
                metadata: object.metadata,
                acl: object.acl.unwrap_or(Acl::Private),
                parts: BTreeMap::new(),
            },
        );
        Ok(upload_id)
    }

    fn upload_mut(
        &mut self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<&mut Upload, S3Error> {
        let b = self.bucket_mut(bucket)?;
        match b.uploads.get_mut(upload_id) {
            Some(upload) if upload.key == key => Ok(upload),
            _ => Err(S3Error::no_such_upload()),
        }
    }

    pub fn upload_part(
        &mut self,
        now: SimTime,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part_number: u32,
        body: Bytes,
    ) -> Result<String, S3Error> {
        if part_number == 0 || part_number > self.config.parts_max {
            return Err(S3Error::invalid_argument(format!(
                "Part number must be an integer between 1 and {}, inclusive",
                self.config.parts_max
            )));
        }
        if body.len() as u64 > self.config.put_bytes_max {
            return Err(S3Error::entity_too_large());
        }
        let upload = self.upload_mut(bucket, key, upload_id)?;
        let md5: [u8; 16] = Md5::digest(&body).into();
        let etag = hex(&md5);
        upload.parts.insert(
            part_number,
            Part {
                size: body.len() as u64,
                body,
                etag: etag.clone(),
                md5,
                last_modified: SimTime(now.0 / 1000 * 1000),
            },
        );
        Ok(etag)
    }

    pub fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<&Upload, S3Error> {
        let b = self.bucket(bucket)?;
        match b.uploads.get(upload_id) {
            Some(upload) if upload.key == key => Ok(upload),
            _ => Err(S3Error::no_such_upload()),
        }
    }

    pub fn abort_upload(
        &mut self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), S3Error> {
        self.upload_mut(bucket, key, upload_id)?;
        self.bucket_mut(bucket)?.uploads.remove(upload_id);
        Ok(())
    }

    /// CompleteMultipartUpload with the client's list of (part number, ETag).
    pub fn complete_upload(
        &mut self,
        now: SimTime,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        conditions: &Conditions,
    ) -> Result<Written, S3Error> {
        let min = self.config.part_bytes_min;
        let upload = self.upload(bucket, key, upload_id)?;
        if parts.is_empty() {
            return Err(S3Error::malformed_xml());
        }
        if parts.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(S3Error::invalid_part_order());
        }
        let mut chosen = Vec::with_capacity(parts.len());
        for (number, etag) in parts {
            let part = upload.parts.get(number).ok_or_else(S3Error::invalid_part)?;
            if crate::conditions::unquote(etag) != part.etag {
                return Err(S3Error::invalid_part());
            }
            chosen.push(part);
        }
        if chosen[..chosen.len() - 1].iter().any(|p| p.size < min) {
            return Err(S3Error::entity_too_small());
        }
        self.check_write(bucket, key, conditions)?;
        let mut digests = Md5::new();
        let mut body = Vec::with_capacity(chosen.iter().map(|p| p.size as usize).sum());
        for part in &chosen {
            digests.update(part.md5);
            body.extend_from_slice(&part.body);
        }
        let etag = format!("{}-{}", hex(&digests.finalize()), chosen.len());
        let object = NewObject {
            body: Bytes::from(body),
            content_type: Some(upload.content_type.clone()),
            headers: upload.headers.clone(),
            metadata: upload.metadata.clone(),
            tags: BTreeMap::new(),
            acl: Some(upload.acl),
        };
        let written = self.write(now, bucket, key, object, etag)?;
        self.bucket_mut(bucket)?.uploads.remove(upload_id);
        Ok(written)
    }

    /// Checks a write's preconditions under the bucket's conditional-PUT switch, against the
    /// object it would replace (a delete marker is none).
    fn check_write(&self, bucket: &str, key: &str, conditions: &Conditions) -> Result<(), S3Error> {
        let b = self.bucket(bucket)?;
        let current = b
            .current(key)
            .filter(|v| !v.delete_marker)
            .map(|v| v.etag.as_str());
        conditions.check_write(self.conditional_put_for(b), current)
    }

    fn check_key(&self, key: &str) -> Result<(), S3Error> {
        if key.is_empty() {
            return Err(S3Error::invalid_argument("Object key must not be empty"));
        }
        if key.len() > self.config.key_bytes_max {
            return Err(S3Error::key_too_long());
        }
        Ok(())
    }

    fn new_version_id(&mut self) -> String {
        self.random_text(32)
    }

    fn random_text(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_";
        (0..len)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect()
    }
}

/// S3's bucket naming rules: 3–63 characters, lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, not an IP address.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let bytes = name.as_bytes();
    let ok = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(S3Error::invalid_bucket_name())
    }
}

fn check_metadata(
    config: &StoreConfig,
    metadata: &BTreeMap<String, String>,
) -> Result<(), S3Error> {
    let size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > config.metadata_bytes_max {
        return Err(S3Error::metadata_too_large());
    }
    Ok(())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
