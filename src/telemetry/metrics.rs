//! Prometheus metrics: a process-wide recorder, the names we record, and the
//! `/metrics` text. Gauges that describe shared state (queue depth, oldest
//! job, pool usage) are read when scraped.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub const GRAPHQL_REQUESTS: &str = "image_vault_graphql_requests_total";
pub const GRAPHQL_SECONDS: &str = "image_vault_graphql_request_duration_seconds";
pub const UPLOAD_BYTES: &str = "image_vault_upload_bytes_total";
pub const UPLOADS: &str = "image_vault_uploads_total";
pub const JOBS_ENQUEUED: &str = "image_vault_jobs_enqueued_total";
pub const JOBS_RUNNING: &str = "image_vault_jobs_running";
pub const JOBS_FINISHED: &str = "image_vault_jobs_finished_total";
pub const JOBS_RETRIED: &str = "image_vault_jobs_retried_total";
pub const JOBS_FAILED: &str = "image_vault_jobs_failed_total";
pub const JOB_SECONDS: &str = "image_vault_job_duration_seconds";
pub const QUEUE_DEPTH: &str = "image_vault_queue_depth";
pub const QUEUE_OLDEST_SECONDS: &str = "image_vault_queue_oldest_job_age_seconds";
pub const THUMBNAIL_SECONDS: &str = "image_vault_thumbnail_render_duration_seconds";
pub const STORAGE_SECONDS: &str = "image_vault_storage_request_duration_seconds";
pub const STORAGE_ERRORS: &str = "image_vault_storage_errors_total";
pub const DB_POOL_SIZE: &str = "image_vault_db_pool_connections";
pub const DB_POOL_AVAILABLE: &str = "image_vault_db_pool_available";
pub const DB_POOL_WAITING: &str = "image_vault_db_pool_waiting";
pub const DB_QUERIES: &str = "image_vault_db_queries_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use. `None` if another recorder was
/// installed first (metrics are then not exported by us).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let handle = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(PrometheusBuilder::install_recorder);
            match handle {
                Ok(h) => {
                    describe();
                    Some(h)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        GRAPHQL_REQUESTS,
        "GraphQL requests by operation and outcome"
    );
    describe_histogram!(
        GRAPHQL_SECONDS,
        metrics::Unit::Seconds,
        "GraphQL request latency"
    );
    describe_counter!(
        UPLOAD_BYTES,
        metrics::Unit::Bytes,
        "Bytes of images stored by uploads"
    );
    describe_counter!(UPLOADS, "Images stored by uploads");
    describe_counter!(JOBS_ENQUEUED, "Jobs enqueued by kind");
    describe_gauge!(JOBS_RUNNING, "Jobs running in this process");
    describe_counter!(JOBS_FINISHED, "Jobs finished successfully by kind");
    describe_counter!(JOBS_RETRIED, "Job attempts that failed and will be retried");
    describe_counter!(JOBS_FAILED, "Jobs that failed for good");
    describe_histogram!(JOB_SECONDS, metrics::Unit::Seconds, "Job run time by kind");
    describe_gauge!(QUEUE_DEPTH, "Jobs waiting or running, by status");
    describe_gauge!(
        QUEUE_OLDEST_SECONDS,
        metrics::Unit::Seconds,
        "Age of the oldest due job"
    );
    describe_histogram!(
        THUMBNAIL_SECONDS,
        metrics::Unit::Seconds,
        "Decode, resize and encode time, by original size class"
    );
    describe_histogram!(
        STORAGE_SECONDS,
        metrics::Unit::Seconds,
        "Object storage call latency"
    );
    describe_counter!(STORAGE_ERRORS, "Object storage call errors");
    describe_gauge!(DB_POOL_SIZE, "Open database connections in the pool");
    describe_gauge!(DB_POOL_AVAILABLE, "Idle database connections in the pool");
    describe_gauge!(DB_POOL_WAITING, "Tasks waiting for a database connection");
    describe_counter!(DB_QUERIES, "SQL statements sent");
}

/// A bounded label for an original's size (keeps label cardinality small).
pub fn size_class(width: u32, height: u32) -> &'static str {
    match u64::from(width) * u64::from(height) {
        0..1_000_000 => "lt_1mp",
        1_000_000..4_000_000 => "1_4mp",
        4_000_000..16_000_000 => "4_16mp",
        _ => "ge_16mp",
    }
}
