//! The binary itself: migrations, configuration errors, the admin command.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::support::db::{TestDb, drop_database, url_for};
use crate::support::{TEST_SECRET, TestApp};

fn image_vault(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-vault"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STORAGE_DIR", dir.path().join("data"))
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn image-vault");
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for image-vault")
}

#[tokio::test]
async fn migrate_creates_the_database_and_is_idempotent() {
    let name = TestDb::unique_name();
    let url = url_for(&name);
    let env = [("DATABASE_URL", url.as_str())];
    let first = image_vault(&["migrate"], &env, None);
    let second = image_vault(&["migrate"], &env, None);
    let ok = first.status.success() && second.status.success();
    let logs = String::from_utf8_lossy(&second.stderr).to_string();
    drop_database(&name);
    assert!(
        ok,
        "migrate failed: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(logs.contains("up to date"), "{logs}");
}

#[test]
fn bad_configuration_stops_the_program_naming_the_variable() {
    for (var, value) in [
        ("WORKERS", "lots"),
        ("STORAGE", "ftp"),
        ("BIND", "nowhere"),
        ("JWT_SECRET", "short"),
        ("MAX_UPLOAD_BYTES", "-5"),
    ] {
        let out = image_vault(&["serve"], &[(var, value)], None);
        assert!(!out.status.success(), "{var}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}

#[test]
fn print_schema_prints_the_sdl() {
    let out = image_vault(&["print-schema"], &[], None);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        image_vault::graphql::sdl()
    );
}

#[tokio::test]
async fn create_admin_reads_the_password_from_stdin_and_the_admin_can_log_in() {
    let t = TestApp::new().await;
    let env = [
        ("DATABASE_URL", t.db.url.as_str()),
        ("JWT_SECRET", TEST_SECRET),
    ];
    let out = image_vault(
        &["create-admin", "--username", "Admin", "--password-stdin"],
        &env,
        Some("s3cret-password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = t.login("admin", "s3cret-password").await;
    let me = t
        .gql_ok(Some(&token), "{ me { username isAdmin } }", json!({}))
        .await;
    assert_eq!(me["me"], json!({ "username": "admin", "isAdmin": true }));

    // A second admin with the same name is refused; a short password too.
    let again = image_vault(
        &["create-admin", "--username", "admin", "--password-stdin"],
        &env,
        Some("another-password\n"),
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let short = image_vault(
        &["create-admin", "--username", "other", "--password-stdin"],
        &env,
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least"));
}
