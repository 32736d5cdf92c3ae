//! An in-process S3 server for tests: s3s + s3s-fs over real HTTP on
//! 127.0.0.1, with SigV4 authentication on, so tests exercise the same
//! aws-sdk-s3 requests and presigned URLs as production does against MinIO.
//!
//! A copy of `src/storage/test_server.rs` (the storage unit tests' server);
//! only the `S3Settings` import and the `dead_code` allowance differ. Change
//! both together.
#![allow(
    dead_code,
    reason = "each test uses only some of the helpers (stop/restart for outages)"
)]

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
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

/// A running (or stopped) test S3 server with one empty bucket. Dropping it
/// stops the server and deletes its files.
pub struct TestS3 {
    /// `http://127.0.0.1:{port}`; stays the same across `stop`/`restart`.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub bucket: String,
    addr: SocketAddr,
    service: S3Service,
    server: Option<JoinHandle<()>>,
    /// Where s3s-fs keeps the objects: `{root}/{bucket}/{key}`.
    pub root: TempDir,
}

/// Starts a server on a free port and creates the bucket through the S3 API.
pub async fn start_s3_server() -> TestS3 {
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
    let s3 = TestS3 {
        endpoint: format!("http://{addr}"),
        region: REGION.to_owned(),
        access_key_id: ACCESS_KEY_ID.to_owned(),
        secret_access_key: SECRET_ACCESS_KEY.to_owned(),
        bucket: BUCKET.to_owned(),
        addr,
        service,
        server: Some(server),
        root,
    };
    s3.client()
        .create_bucket()
        .bucket(&s3.bucket)
        .send()
        .await
        .expect("create the test bucket");
    s3
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
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(
                &self.access_key_id,
                &self.secret_access_key,
                None,
                None,
                "test",
            ))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .http_client(http_client)
            .build();
        Client::from_conf(config)
    }

    /// Stops accepting connections and drops the open ones, as an outage
    /// would: clients get "connection refused" until [`restart`](Self::restart).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Serves again on the same port, with the objects stored before `stop`.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if attempts < 100 => {
                    attempts += 1;
                    tracing::debug!(error = %e, "S3 test port busy; retrying");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot rebind the S3 test server to {}: {e}", self.addr),
            }
        };
        self.server = Some(tokio::spawn(serve(listener, self.service.clone())));
    }

    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
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
