//! Reading a GraphQL request body, bounded before anything is parsed.
//!
//! A JSON body, and the `operations` and `map` fields of a multipart one,
//! are read into memory only up to `MAX_JSON_BYTES`: a parsed JSON value
//! costs tens of bytes per byte of input, so nothing larger may reach the
//! parser. Multipart bodies are read by one parser (multer), which decides
//! the boundary, the fields and their sizes: the file-count limit is
//! applied to the fields that parser yields, before a temporary file exists
//! for the first one too many, so no header trick can make the counting and
//! the reading disagree.
//!
//! Whatever is refused, the rest of the body is read and discarded up to a
//! bound (see [`drain`]), so that a client that sends its whole body before
//! reading (Python's `requests`, `urllib`) sees our answer rather than a
//! reset connection.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::{BatchRequest, Request, UploadValue};
use axum::body::{Body, BodyDataStream};
use futures_util::StreamExt as _;
use multer::{Constraints, Multipart, SizeLimit};
use tokio::io::AsyncWriteExt as _;

use crate::error::AppError;

/// At least this much of a refused body is read (and thrown away) before
/// answering (see [`drain_bound`]), and for at most `DRAIN_TIME`.
const DRAIN_MIN_BYTES: u64 = 16 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(10);
/// Bytes of a file part gathered before they are written to its spool file.
/// Each write of a `tokio::fs::File` is a trip to the blocking pool (and a
/// thread wake-up): a 430 KB photo arrived in 8 chunks of 15-177 KB, 8
/// writes; with this buffer, 2 (strace of one upload).
const SPOOL_BUFFER: usize = 256 << 10;

/// How much of a refused body is read before answering: twice what an
/// accepted upload may be (a client that sent too much sees why), and at
/// least 16 MiB. Beyond that the connection is cut.
pub(super) fn drain_bound(max_upload_bytes: u64) -> u64 {
    max_upload_bytes.saturating_mul(2).max(DRAIN_MIN_BYTES)
}

/// The limits a request body is read under.
#[derive(Clone, Copy, Debug)]
pub(super) struct BodyLimits {
    /// A JSON body, or the `operations` or `map` field of a multipart one.
    pub json: usize,
    /// A whole multipart body.
    pub upload: u64,
    /// File fields of a multipart body.
    pub files: usize,
}

/// Reads a GraphQL request, JSON or multipart (the GraphQL multipart
/// request spec). On an error, the rest of the body has been drained.
pub(super) async fn receive(
    content_type: Option<&str>,
    body: Body,
    limits: BodyLimits,
) -> Result<Request, AppError> {
    let mut stream = body.into_data_stream();
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let result = if essence.starts_with("multipart/") {
        match content_type.map(multer::parse_boundary) {
            Some(Ok(boundary)) => receive_multipart(&mut stream, boundary, limits).await,
            _ => Err(AppError::BadUserInput(
                "invalid multipart body: no boundary in the content type".into(),
            )),
        }
    } else {
        receive_json(&mut stream, limits.json).await
    };
    if result.is_err() {
        drain(stream, drain_bound(limits.upload)).await;
    }
    result
}

async fn receive_json(stream: &mut BodyDataStream, limit: usize) -> Result<Request, AppError> {
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| read_error(&e))?;
        if buf.len() + chunk.len() > limit {
            return Err(json_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    parse_operations(&buf)
}

fn parse_operations(bytes: &[u8]) -> Result<Request, AppError> {
    let batch: BatchRequest = serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadUserInput(format!("invalid request: {e}")))?;
    batch
        .into_single()
        .map_err(|_| AppError::BadUserInput("batched requests are not supported".into()))
}

async fn receive_multipart(
    stream: &mut BodyDataStream,
    boundary: String,
    limits: BodyLimits,
) -> Result<Request, AppError> {
    let json = u64::try_from(limits.json).unwrap_or(u64::MAX);
    let constraints = Constraints::new().size_limit(
        SizeLimit::new()
            .whole_stream(limits.upload)
            .per_field(limits.upload)
            .for_field("operations", json)
            .for_field("map", json),
    );
    let mut multipart = Multipart::with_constraints(stream, boundary, constraints);
    let mut operations = None;
    let mut map = None;
    let mut files: Vec<(String, UploadValue)> = Vec::new();
    // Fields that are neither files nor ours are skipped, but counted: a
    // body of a million empty fields is refused as early as one of files.
    let mut fields = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        fields += 1;
        if fields > limits.files + 2 {
            return Err(too_many_files(limits.files));
        }
        match field.name() {
            Some("operations") => {
                operations = Some(field.bytes().await.map_err(multipart_error)?);
            }
            Some("map") => {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                map = Some(
                    serde_json::from_slice::<HashMap<String, Vec<String>>>(&bytes).map_err(
                        |e| AppError::BadUserInput(format!("invalid multipart map: {e}")),
                    )?,
                );
            }
            Some(name) => {
                let Some(filename) = field.file_name().map(str::to_owned) else {
                    continue;
                };
                if files.len() == limits.files {
                    return Err(too_many_files(limits.files));
                }
                let name = name.to_owned();
                let content_type = field.content_type().map(ToString::to_string);
                let file = tempfile::tempfile().map_err(AppError::internal)?;
                let mut out = tokio::io::BufWriter::with_capacity(
                    SPOOL_BUFFER,
                    tokio::fs::File::from_std(file),
                );
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    out.write_all(&chunk).await.map_err(AppError::internal)?;
                }
                out.flush().await.map_err(AppError::internal)?;
                let mut content = out.into_inner().into_std().await;
                std::io::Seek::rewind(&mut content).map_err(AppError::internal)?;
                files.push((
                    name,
                    UploadValue {
                        filename,
                        content_type,
                        content,
                    },
                ));
            }
            None => {}
        }
    }
    let operations = operations
        .ok_or_else(|| AppError::BadUserInput("multipart body has no operations part".into()))?;
    let mut request = parse_operations(&operations)?;
    let mut map =
        map.ok_or_else(|| AppError::BadUserInput("multipart body has no map part".into()))?;
    // The first part of a name is the one the map means; later ones with
    // the same name are ignored.
    for (name, upload) in files {
        if let Some(paths) = map.remove(&name) {
            for path in paths {
                request.set_upload(&path, upload.try_clone().map_err(AppError::internal)?);
            }
        }
    }
    if !map.is_empty() {
        return Err(AppError::BadUserInput(
            "multipart map refers to missing files".into(),
        ));
    }
    Ok(request)
}

/// Reads and discards what is left of a body, up to `limit` bytes and
/// `DRAIN_TIME`, so that a client that writes before it reads gets to read
/// the answer. What is left after that is cut off.
pub(super) async fn drain(mut stream: BodyDataStream, limit: u64) {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen: u64 = 0;
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len() as u64;
            if seen > limit {
                break;
            }
        }
    })
    .await;
}

fn multipart_error(e: multer::Error) -> AppError {
    match e {
        multer::Error::StreamSizeExceeded { limit } => too_large(limit),
        multer::Error::FieldSizeExceeded { limit, field_name } => match field_name.as_deref() {
            Some("operations" | "map") => {
                json_too_large(usize::try_from(limit).unwrap_or(usize::MAX))
            }
            _ => too_large(limit),
        },
        multer::Error::StreamReadFailed(e) => {
            AppError::BadUserInput(format!("cannot read request body: {e}"))
        }
        other => AppError::BadUserInput(format!("invalid multipart body: {other}")),
    }
}

fn read_error(e: &axum::Error) -> AppError {
    AppError::BadUserInput(format!("cannot read request body: {e}"))
}

pub(super) fn too_large(limit: u64) -> AppError {
    AppError::PayloadTooLarge(format!("request body exceeds the limit of {limit} bytes"))
}

fn json_too_large(limit: usize) -> AppError {
    AppError::PayloadTooLarge(format!(
        "the GraphQL request (query and variables) exceeds the limit of {limit} bytes"
    ))
}

pub(super) fn too_many_files(max: usize) -> AppError {
    AppError::PayloadTooLarge(format!("too many files: at most {max} files per request"))
}
