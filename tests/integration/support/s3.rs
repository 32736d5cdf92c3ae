//! S3 for tests, reached over real HTTP with SigV4 authentication, so tests
//! exercise the same aws-sdk-s3 requests and presigned URLs as production.
//!
//! By default an in-process server: s3s + s3s-fs on 127.0.0.1, which tests
//! can stop and restart to simulate an outage.
//!
//! With `TEST_S3_ENDPOINT` set (and `TEST_S3_ACCESS_KEY_ID`,
//! `TEST_S3_SECRET_ACCESS_KEY`, `TEST_S3_BUCKET`; `TEST_S3_REGION` defaults to
//! `us-east-1`) the same tests run against that external S3 (MinIO, Garage)
//! instead. Each [`TestS3`] then gets a bucket of its own,
//! `{TEST_S3_BUCKET}-{random hex}`, so that parallel tests do not see each
//! other's objects; dropping it deletes the objects and the bucket.
//! The endpoint must be `http://`: the tests' reqwest has no TLS.

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s_fs::FileSystem;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use image_vault::storage::S3Settings;

const REGION: &str = "us-east-1";
const ACCESS_KEY_ID: &str = "test-access-key";
const SECRET_ACCESS_KEY: &str = "test-secret-key";
const BUCKET: &str = "image-vault-test";
/// The longest bucket name S3 allows.
const MAX_BUCKET_NAME: usize = 63;

/// An S3 with one empty bucket for one test: a running (or stopped)
/// in-process server, or a bucket of its own on an external S3. Dropping it
/// stops the server and deletes its files, or deletes the external bucket.
pub struct TestS3 {
    /// `http://127.0.0.1:{port}` in process (the same across
    /// `stop`/`restart`), else `TEST_S3_ENDPOINT`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub bucket: String,
    /// Where s3s-fs keeps the objects: `{root}/{bucket}/{key}`; `None` with
    /// an external S3.
    pub root: Option<TempDir>,
    /// The in-process server; `None` with an external S3.
    local: Option<LocalServer>,
}

struct LocalServer {
    addr: SocketAddr,
    service: S3Service,
    server: Option<JoinHandle<()>>,
}

/// An S3 with a fresh, empty bucket: the external one if `TEST_S3_ENDPOINT`
/// is set, else an in-process server on a free port.
pub async fn start_s3_server() -> TestS3 {
    let s3 = match external_from_env() {
        Some(s3) => s3,
        None => start_local().await,
    };
    let mut create = s3.client().create_bucket().bucket(&s3.bucket);
    if s3.region != REGION {
        // Outside us-east-1 AWS wants the region named; MinIO and Garage
        // accept it when it is theirs.
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(s3.region.as_str()))
                .build(),
        );
    }
    create.send().await.unwrap_or_else(|e| {
        panic!(
            "create the test bucket {} at {}: {}",
            s3.bucket,
            s3.endpoint,
            aws_sdk_s3::error::DisplayErrorContext(e)
        )
    });
    s3
}

/// The external S3 from `TEST_S3_*`, with a new bucket name (not created
/// yet); `None` when `TEST_S3_ENDPOINT` is unset or empty.
fn external_from_env() -> Option<TestS3> {
    let endpoint = std::env::var("TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())?;
    let required = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("TEST_S3_ENDPOINT is set, so {name} must be set too"))
    };
    let region = std::env::var("TEST_S3_REGION")
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| REGION.to_owned());
    Some(TestS3 {
        endpoint: endpoint.trim().trim_end_matches('/').to_owned(),
        region,
        access_key_id: required("TEST_S3_ACCESS_KEY_ID"),
        secret_access_key: required("TEST_S3_SECRET_ACCESS_KEY"),
        bucket: unique_bucket_name(&required("TEST_S3_BUCKET")),
        root: None,
        local: None,
    })
}

/// `{prefix}-{16 random hex digits}`, lower-case and at most 63 characters
/// (a long prefix is shortened).
fn unique_bucket_name(prefix: &str) -> String {
    let suffix = format!("{:016x}", rand::random::<u64>());
    let prefix = prefix.to_ascii_lowercase();
    let max_prefix = MAX_BUCKET_NAME - suffix.len() - 1;
    let prefix: String = prefix.chars().take(max_prefix).collect();
    // A name must start and end with a letter or a digit.
    let prefix = prefix.trim_end_matches(['-', '.']);
    let name = format!("{prefix}-{suffix}");
    assert!(name.len() <= MAX_BUCKET_NAME, "{name}");
    name
}

async fn start_local() -> TestS3 {
    let root = tempfile::tempdir().expect("temp dir for the S3 server");
    let file_system = FileSystem::new(root.path()).expect("s3s-fs root");
    let mut builder = S3ServiceBuilder::new(file_system);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    let service = builder.build();

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the S3 server");
    let addr = listener.local_addr().expect("S3 server address");
    let server = tokio::spawn(serve(listener, service.clone()));
    TestS3 {
        endpoint: format!("http://{addr}"),
        region: REGION.to_owned(),
        access_key_id: ACCESS_KEY_ID.to_owned(),
        secret_access_key: SECRET_ACCESS_KEY.to_owned(),
        bucket: BUCKET.to_owned(),
        root: Some(root),
        local: Some(LocalServer {
            addr,
            service,
            server: Some(server),
        }),
    }
}

impl TestS3 {
    /// Settings for `Storage::s3`; clients reach the server at the same
    /// address as the app does.
    pub fn s3_settings(&self) -> S3Settings {
        S3Settings {
            endpoint: self.endpoint.clone(),
            public_endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }

    /// A plain SDK client for looking at the bucket behind the app's back.
    pub fn client(&self) -> Client {
        sdk_client(
            &self.endpoint,
            &self.region,
            &self.access_key_id,
            &self.secret_access_key,
        )
    }

    /// Every key in the bucket, sorted (to prove nothing was left behind).
    pub async fn object_keys(&self) -> Vec<String> {
        let mut pages = self
            .client()
            .list_objects_v2()
            .bucket(&self.bucket)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.unwrap_or_else(|e| {
                panic!(
                    "list the objects in {}: {}",
                    self.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            });
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(str::to_owned),
            );
        }
        keys.sort();
        keys
    }

    /// Multipart uploads neither completed nor aborted, whose parts the
    /// store still keeps: s3s-fs's `.upload_id-*` files in process (s3s-fs
    /// cannot list uploads), else ListMultipartUploads as `{key} {upload id}`.
    pub async fn pending_uploads(&self) -> Vec<String> {
        if let Some(root) = &self.root {
            let mut names: Vec<String> = std::fs::read_dir(root.path())
                .expect("read the S3 server's root")
                .map(|entry| {
                    let entry = entry.expect("S3 server root entry");
                    entry.file_name().to_string_lossy().into_owned()
                })
                .filter(|name| name.starts_with(".upload_id-"))
                .collect();
            names.sort();
            return names;
        }
        let listed = self
            .client()
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "list the multipart uploads in {}: {}",
                    self.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            });
        listed
            .uploads()
            .iter()
            .map(|u| {
                format!(
                    "{} {}",
                    u.key().unwrap_or_default(),
                    u.upload_id().unwrap_or_default()
                )
            })
            .collect()
    }

    /// Whether [`stop`](Self::stop) and [`restart`](Self::restart) work: only
    /// the in-process server can be taken down. Outage tests return early
    /// when this is false.
    pub fn can_stop(&self) -> bool {
        self.local.is_some()
    }

    /// Stops accepting connections and drops the open ones, as an outage
    /// would: clients get "connection refused" until [`restart`](Self::restart).
    /// Panics with an external S3; see [`can_stop`](Self::can_stop).
    pub async fn stop(&mut self) {
        let local = self.local_mut("stop");
        if let Some(server) = local.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Serves again on the same port, with the objects stored before `stop`.
    /// Panics with an external S3; see [`can_stop`](Self::can_stop).
    pub async fn restart(&mut self) {
        self.stop().await;
        let local = self.local_mut("restart");
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(local.addr).await {
                Ok(listener) => break listener,
                Err(e) if attempts < 100 => {
                    attempts += 1;
                    tracing::debug!(error = %e, "S3 test port busy; retrying");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot rebind the S3 test server to {}: {e}", local.addr),
            }
        };
        local.server = Some(tokio::spawn(serve(listener, local.service.clone())));
    }

    /// Whether the in-process server serves; an external S3 always counts
    /// as running.
    pub fn is_running(&self) -> bool {
        self.local
            .as_ref()
            .is_none_or(|local| local.server.is_some())
    }

    fn local_mut(&mut self, what: &str) -> &mut LocalServer {
        self.local.as_mut().unwrap_or_else(|| {
            panic!("cannot {what} an external S3 (TEST_S3_ENDPOINT); check can_stop() first")
        })
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        match &mut self.local {
            Some(local) => {
                if let Some(server) = local.server.take() {
                    server.abort();
                }
            }
            None => delete_bucket(self.s3_settings()),
        }
    }
}

/// Best effort: empties the bucket (objects and unfinished uploads) and
/// deletes it. Drop runs outside any runtime, so this uses a small one of its
/// own on another thread, and gives up after a while rather than hang.
fn delete_bucket(settings: S3Settings) {
    let _ = std::thread::spawn(move || {
        let client = sdk_client(
            &settings.endpoint,
            &settings.region,
            &settings.access_key_id,
            &settings.secret_access_key,
        );
        let bucket = settings.bucket;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let cleanup = async {
                let mut pages = client
                    .list_objects_v2()
                    .bucket(&bucket)
                    .into_paginator()
                    .send();
                let mut keys = Vec::new();
                while let Some(Ok(page)) = pages.next().await {
                    keys.extend(
                        page.contents()
                            .iter()
                            .filter_map(|o| o.key())
                            .map(str::to_owned),
                    );
                }
                for key in keys {
                    let _ = client.delete_object().bucket(&bucket).key(key).send().await;
                }
                if let Ok(listed) = client.list_multipart_uploads().bucket(&bucket).send().await {
                    for upload in listed.uploads() {
                        let _ = client
                            .abort_multipart_upload()
                            .bucket(&bucket)
                            .set_key(upload.key().map(str::to_owned))
                            .set_upload_id(upload.upload_id().map(str::to_owned))
                            .send()
                            .await;
                    }
                }
                if let Err(e) = client.delete_bucket().bucket(&bucket).send().await {
                    eprintln!(
                        "could not delete the test bucket {bucket}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    );
                }
            };
            if tokio::time::timeout(Duration::from_secs(60), cleanup)
                .await
                .is_err()
            {
                eprintln!("gave up deleting the test bucket {bucket}");
            }
        });
    })
    .join();
}

fn sdk_client(endpoint: &str, region: &str, access_key_id: &str, secret: &str) -> Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(http_client)
        .build();
    Client::from_conf(config)
}

/// Accepts connections until aborted; aborting drops the listener and the
/// `JoinSet`, which aborts every connection task.
async fn serve(listener: TcpListener, service: S3Service) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let service = service.clone();
                connections.spawn(async move {
                    let _ = ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
