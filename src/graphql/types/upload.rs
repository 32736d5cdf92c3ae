use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::direct_upload::UploadTarget;

/// Where and how to send a file for a direct upload: `method` to `url`,
/// with `headers`, and the file as the whole request body. Its
/// Content-Length (which HTTP clients set from the body) must equal the
/// announced `byteSize`. Then call `completeUpload(id)`.
#[derive(SimpleObject)]
#[graphql(name = "UploadTarget")]
pub struct UploadTargetObject {
    /// The upload's id, for `completeUpload`.
    pub id: ID,
    pub url: String,
    /// Always `PUT`.
    pub method: String,
    /// Headers to send as given (e.g. `Content-Type`).
    pub headers: Vec<UploadHeader>,
    /// The URL works until then; complete the upload before it, too.
    pub expires_at: DateTime<Utc>,
}

/// One HTTP header of an upload request.
#[derive(SimpleObject)]
pub struct UploadHeader {
    pub name: String,
    pub value: String,
}

impl From<UploadTarget> for UploadTargetObject {
    fn from(t: UploadTarget) -> Self {
        UploadTargetObject {
            id: ID(t.slot.id.to_string()),
            url: t.url,
            method: t.method.to_owned(),
            headers: t
                .headers
                .into_iter()
                .map(|(name, value)| UploadHeader { name, value })
                .collect(),
            expires_at: t.slot.expires_at,
        }
    }
}
