//! The S3 backend's side of direct uploads: presigned PutObject URLs bound
//! to a size and a content type, streaming an object into a temporary file,
//! and CopyObject conditional on the ETag that was read.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::MetadataDirective;
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::io::AsyncWriteExt as _;

use super::{CONNECT_TIMEOUT, MAX_PRESIGN, S3Store, classify, object_name};
use crate::storage::staging::{Fetched, ObjectVersion, PresignedPut, Version};
use crate::storage::{StorageError, StorageKey};

/// A server-side copy of a large object takes longer than ordinary calls.
const COPY_TIMEOUT: Duration = Duration::from_secs(300);

impl S3Store {
    /// Content-Length, Content-Type and `If-None-Match: *` are signed
    /// headers of the URL: the store refuses a body of any other length or
    /// type (403), and any PUT once an object is at the key (412). Only the
    /// headers a client must set itself are handed out; Content-Length is
    /// set by every HTTP client from the body (browsers forbid setting it).
    pub(in crate::storage) async fn presign_put(
        &self,
        key: &StorageKey,
        size: u64,
        content_type: &str,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<PresignedPut, StorageError> {
        let length = i64::try_from(size)
            .map_err(|_| StorageError::Other(format!("size {size} out of range")))?;
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(lifetime.min(MAX_PRESIGN))
            .build()
            .map_err(|e| StorageError::Other(format!("presigning config: {e}")))?;
        let request = self
            .inner
            .presign_client
            .put_object()
            .bucket(&self.inner.bucket)
            .key(object_name(key)?)
            .content_length(length)
            .content_type(content_type)
            // One successful PUT per URL: the store refuses another while
            // an object (or, once completed, the tombstone) is at the key.
            .if_none_match("*")
            .presigned(config)
            .await
            .map_err(classify)?;
        let headers = request
            .headers()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("host")
            })
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok(PresignedPut {
            url: request.uri().to_owned(),
            method: "PUT",
            headers,
        })
    }

    /// Streams the object into an unnamed temporary file, stopping once more
    /// than `limit` bytes arrived.
    pub(in crate::storage) async fn fetch(
        &self,
        key: &StorageKey,
        limit: u64,
    ) -> Result<Fetched, StorageError> {
        let output = self
            .inner
            .client
            .get_object()
            .bucket(&self.inner.bucket)
            .key(object_name(key)?)
            .send()
            .await
            .map_err(classify)?;
        let etag = output.e_tag().map(str::to_owned);
        let mut body = output.body;
        let file = tokio::task::spawn_blocking(tempfile::tempfile)
            .await
            .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?
            .map_err(|e| StorageError::Other(format!("creating a temporary file: {e}")))?;
        let mut file = tokio::fs::File::from_std(file);
        let local =
            |e: std::io::Error| StorageError::Other(format!("writing a temporary file: {e}"));
        let mut size = 0u64;
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            StorageError::Unavailable(format!("reading object body: {}", DisplayErrorContext(e)))
        })? {
            size += chunk.len() as u64;
            if size > limit {
                break;
            }
            file.write_all(&chunk).await.map_err(local)?;
        }
        file.flush().await.map_err(local)?;
        Ok(Fetched {
            file: file.into_std().await,
            size,
            version: ObjectVersion(Version::ETag(etag)),
        })
    }

    /// CopyObject with `x-amz-copy-source-if-match`; the copy gets the
    /// checked content type, not the one the client sent.
    pub(in crate::storage) async fn copy_if_unchanged(
        &self,
        from: &StorageKey,
        version: &ObjectVersion,
        to: &StorageKey,
        content_type: &str,
    ) -> Result<bool, StorageError> {
        let Version::ETag(etag) = &version.0 else {
            return Err(StorageError::Other(
                "an fs object version given to the S3 backend".into(),
            ));
        };
        let source = format!("{}/{}", self.inner.bucket, object_name(from)?);
        let result = self
            .inner
            .client
            .copy_object()
            .bucket(&self.inner.bucket)
            .key(object_name(to)?)
            .copy_source(source)
            .set_copy_source_if_match(etag.clone())
            .content_type(content_type)
            .metadata_directive(MetadataDirective::Replace)
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::new().timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(CONNECT_TIMEOUT)
                        .operation_timeout(COPY_TIMEOUT)
                        .build(),
                ),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 412 => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }
}
