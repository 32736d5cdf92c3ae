//! S3 backend (MinIO, AWS) on aws-sdk-s3 with path-style addressing.
//!
//! Two clients share one HTTP stack: one for `endpoint` makes the calls, one
//! for `public_endpoint` only signs URLs, because the address clients use
//! (e.g. `http://localhost:9000`) differs from the one this process uses
//! (e.g. `http://minio:9000`) and the host is part of the signature.
//! Timeouts are short and retries few, so an outage surfaces within seconds
//! as `StorageError::Unavailable` rather than hanging requests and jobs.

mod staging;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use bytes::Bytes;

use super::presign_cache::PresignCache;
use super::{PresignWindow, S3Settings, StorageError, StorageKey};

/// Files at least this large go up in parts of this size (S3 needs >= 5 MiB).
const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// S3 allows at most this many parts; huge files get larger parts.
const MAX_PARTS: u64 = 10_000;
/// Presigned URLs kept per generation (two generations; ~500 bytes each):
/// the URLs of some 25 pages of 50 Premium images.
const PRESIGN_CACHE_ENTRIES: usize = 4096;
/// The most `get` reserves up front from an object's declared length.
const MAX_PREALLOCATION: usize = 1 << 30;
/// The longest validity S3 accepts for a presigned URL.
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// One try plus two retries, with short backoff: a dead store is reported in
/// about a second instead of blocking callers.
const MAX_ATTEMPTS: u32 = 3;
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    presign_client: Client,
    bucket: String,
    /// URLs already signed for their time bucket: a page of images asks for
    /// the same ones on every read.
    presigned: PresignCache,
}

impl S3Store {
    pub fn new(settings: S3Settings) -> Result<Self, StorageError> {
        for (name, value) in [
            ("endpoint", &settings.endpoint),
            ("public endpoint", &settings.public_endpoint),
        ] {
            if !(value.starts_with("http://") || value.starts_with("https://")) {
                return Err(StorageError::Other(format!(
                    "S3 {name} must be an http:// or https:// URL, got {value:?}"
                )));
            }
        }
        if settings.bucket.is_empty() {
            return Err(StorageError::Other("S3 bucket is empty".into()));
        }
        // rustls with ring: the SDK's default TLS stack would build aws-lc.
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let credentials = Credentials::new(
            settings.access_key_id,
            settings.secret_access_key,
            None,
            None,
            "image-vault-settings",
        );
        let client_for = |endpoint: &str| {
            let config = aws_sdk_s3::config::Builder::new()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(settings.region.clone()))
                .credentials_provider(credentials.clone())
                .endpoint_url(endpoint.trim_end_matches('/'))
                .force_path_style(true)
                .http_client(http_client.clone())
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(CONNECT_TIMEOUT)
                        .operation_timeout(OPERATION_TIMEOUT)
                        .build(),
                )
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(MAX_ATTEMPTS)
                        .with_initial_backoff(INITIAL_BACKOFF)
                        .with_max_backoff(MAX_BACKOFF),
                )
                // Plain Content-Length bodies: S3-compatible servers differ in
                // their support for aws-chunked checksum trailers.
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
                .build();
            Client::from_conf(config)
        };
        Ok(S3Store {
            inner: Arc::new(Inner {
                client: client_for(&settings.endpoint),
                presign_client: client_for(&settings.public_endpoint),
                bucket: settings.bucket,
                presigned: PresignCache::new(PRESIGN_CACHE_ENTRIES),
            }),
        })
    }

    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    pub(super) async fn put_file(
        &self,
        key: &StorageKey,
        path: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let key = object_name(key)?;
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| StorageError::Other(format!("reading {}: {e}", path.display())))?
            .len();
        if size < MULTIPART_THRESHOLD {
            let body = file_part(path, 0, size).await?;
            self.put_object(&key, body, content_type).await
        } else {
            self.put_multipart(&key, path, size, content_type).await
        }
    }

    pub(super) async fn put_bytes(
        &self,
        key: &StorageKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let key = object_name(key)?;
        self.put_object(&key, ByteStream::from(bytes), content_type)
            .await
    }

    pub(super) async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        let output = self
            .inner
            .client
            .get_object()
            .bucket(&self.inner.bucket)
            .key(object_name(key)?)
            .send()
            .await
            .map_err(classify)?;
        // Into one buffer of the object's size: `collect` would keep every
        // chunk and then copy them all into a second buffer, twice the
        // object in memory (a thumbnail job's largest allocation).
        let size = output
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut bytes = Vec::with_capacity(size.min(MAX_PREALLOCATION));
        let mut body = output.body;
        let unavailable = |e| {
            StorageError::Unavailable(format!("reading object body: {}", DisplayErrorContext(e)))
        };
        while let Some(chunk) = body.try_next().await.map_err(unavailable)? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    }

    pub(super) async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        let result = self
            .inner
            .client
            .delete_object()
            .bucket(&self.inner.bucket)
            .key(object_name(key)?)
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) | Err(StorageError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        let result = self
            .inner
            .client
            .head_object()
            .bucket(&self.inner.bucket)
            .key(object_name(key)?)
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) => Ok(true),
            Err(StorageError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Keys of objects last modified before `cutoff` (unknown names skipped).
    pub(super) async fn list_older_than(
        &self,
        cutoff: std::time::SystemTime,
    ) -> Result<Vec<StorageKey>, StorageError> {
        let mut keys = Vec::new();
        let mut pages = self
            .inner
            .client
            .list_objects_v2()
            .bucket(&self.inner.bucket)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            for object in page.contents() {
                let old = object
                    .last_modified()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                    .is_some_and(|t| t < cutoff);
                if let (true, Some(key)) = (old, object.key().and_then(StorageKey::parse)) {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    /// Signs with the start of the window's time bucket as the signing time,
    /// so the URL (signature included) is identical for the whole bucket.
    pub(super) async fn presign_get(
        &self,
        key: &StorageKey,
        window: PresignWindow,
    ) -> Result<Arc<str>, StorageError> {
        // Only keys that passed `object_name` are ever cached.
        if let Some(url) = self.inner.presigned.get(key, window) {
            return Ok(url);
        }
        let name = object_name(key)?;
        let expires_in = Duration::from_secs(window.expires_at - window.signed_at).min(MAX_PRESIGN);
        let config = PresigningConfig::builder()
            .start_time(UNIX_EPOCH + Duration::from_secs(window.signed_at))
            .expires_in(expires_in)
            .build()
            .map_err(|e| StorageError::Other(format!("presigning config: {e}")))?;
        let request = self
            .inner
            .presign_client
            .get_object()
            .bucket(&self.inner.bucket)
            .key(&name)
            .presigned(config)
            .await
            .map_err(classify)?;
        let url: Arc<str> = request.uri().into();
        self.inner.presigned.insert(*key, window, url.clone());
        Ok(url)
    }

    /// Bounded by [`CHECK_TIMEOUT`]: readiness probes give up quickly, so a
    /// store that accepts connections but never answers must fail fast too.
    pub(super) async fn check(&self) -> Result<(), StorageError> {
        let head_bucket = self
            .inner
            .client
            .head_bucket()
            .bucket(&self.inner.bucket)
            .send();
        let result = tokio::time::timeout(CHECK_TIMEOUT, head_bucket)
            .await
            .map_err(|_| {
                StorageError::Unavailable(format!("no answer within {CHECK_TIMEOUT:?}"))
            })?;
        match result.map_err(classify) {
            Ok(_) => Ok(()),
            Err(StorageError::NotFound) => Err(StorageError::Other(format!(
                "bucket {} does not exist",
                self.inner.bucket
            ))),
            Err(e) => Err(e),
        }
    }

    async fn put_object(
        &self,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<(), StorageError> {
        self.inner
            .client
            .put_object()
            .bucket(&self.inner.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Uploads the parts one after another, each streamed from disk, and
    /// aborts the upload on any failure so the store frees the parts.
    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let created = self
            .inner
            .client
            .create_multipart_upload()
            .bucket(&self.inner.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(classify)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| StorageError::Other("CreateMultipartUpload gave no upload id".into()))?;
        let result = self.upload_parts(key, upload_id, path, size).await;
        if result.is_err() {
            let aborted = self
                .inner
                .client
                .abort_multipart_upload()
                .bucket(&self.inner.bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
                .await;
            if let Err(e) = aborted {
                tracing::warn!(
                    key,
                    upload_id,
                    error = %DisplayErrorContext(&e),
                    "could not abort multipart upload"
                );
            }
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        path: &Path,
        size: u64,
    ) -> Result<(), StorageError> {
        let part_size = MULTIPART_THRESHOLD.max(size.div_ceil(MAX_PARTS));
        let mut parts = Vec::new();
        let mut offset = 0;
        let mut part_number = 1;
        while offset < size {
            let length = part_size.min(size - offset);
            let uploaded = self
                .inner
                .client
                .upload_part()
                .bucket(&self.inner.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(part_number)
                .body(file_part(path, offset, length).await?)
                .send()
                .await
                .map_err(classify)?;
            parts.push(
                CompletedPart::builder()
                    .part_number(part_number)
                    .set_e_tag(uploaded.e_tag().map(str::to_owned))
                    .build(),
            );
            offset += length;
            part_number += 1;
        }
        self.inner
            .client
            .complete_multipart_upload()
            .bucket(&self.inner.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

fn object_name(key: &StorageKey) -> Result<String, StorageError> {
    if key.is_canonical() {
        Ok(key.as_path())
    } else {
        Err(StorageError::Other(format!("invalid storage key {key:?}")))
    }
}

/// A body that streams `length` bytes at `offset` of the file; retries
/// reopen the file, so they resend the same bytes.
async fn file_part(path: &Path, offset: u64, length: u64) -> Result<ByteStream, StorageError> {
    ByteStream::read_from()
        .path(path)
        .offset(offset)
        .length(Length::Exact(length))
        .build()
        .await
        .map_err(|e| StorageError::Other(format!("reading {}: {e}", path.display())))
}

/// Sorts SDK failures into the kinds callers act on.
fn classify<E>(err: SdkError<E>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StorageError::Unavailable(message)
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            match service.err().code() {
                Some("NoSuchBucket") => StorageError::Other(message),
                Some("NoSuchKey" | "NotFound") => StorageError::NotFound,
                Some("SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout") => {
                    StorageError::Unavailable(message)
                }
                _ if status == 404 => StorageError::NotFound,
                _ if status >= 500 || status == 429 => StorageError::Unavailable(message),
                _ => StorageError::Other(message),
            }
        }
        _ => StorageError::Other(message),
    }
}
