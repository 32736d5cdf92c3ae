//! What an operator does at the command line when no administrator can log
//! in: reset a password (from stdin, never argv), disable, enable and
//! delete a user.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use super::*;
use crate::support::{PASSWORD, TEST_SECRET, images};

fn image_vault(t: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-vault"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &t.db.url)
        .env("JWT_SECRET", TEST_SECRET)
        .env("STORAGE_DIR", t.storage_dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn image-vault");
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for image-vault")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test]
async fn an_operator_resets_disables_enables_and_deletes_users_from_the_command_line() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let old = t.user("locked", "Basic").await;
    let out = image_vault(
        &t,
        &["reset-password", "--username", "Locked", "--password-stdin"],
        Some(&format!("{NEW_PASSWORD}\n")),
    );
    ok(&out);
    assert!(!accepted(&t, &old).await);
    let fresh = t.login("locked", NEW_PASSWORD).await;
    let short = image_vault(
        &t,
        &["reset-password", "--username", "locked", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!short.status.success());

    ok(&image_vault(
        &t,
        &["disable-user", "--username", "locked"],
        None,
    ));
    assert!(!accepted(&t, &fresh).await);
    ok(&image_vault(
        &t,
        &["enable-user", "--username", "locked"],
        None,
    ));
    let again = t.login("locked", NEW_PASSWORD).await;
    let image = t.upload(&again, "a.jpg", images::jpeg(64, 48)).await;
    t.run_jobs().await;
    assert!(!t.fs_objects().is_empty());

    let out = ok(&image_vault(
        &t,
        &["delete-user", "--username", "locked"],
        None,
    ));
    assert!(out.contains("deleted locked"), "{out}");
    assert!(!accepted(&t, &again).await);
    t.run_jobs().await;
    let id = image["id"].as_str().expect("id");
    assert!(
        t.fs_objects().iter().all(|k| !k.contains(id)),
        "{:?}",
        t.fs_objects()
    );

    // The last administrator is kept even from the command line.
    let last = image_vault(&t, &["delete-user", "--username", "root"], None);
    assert!(!last.status.success());
    assert!(String::from_utf8_lossy(&last.stderr).contains("last"));
    let missing = image_vault(&t, &["disable-user", "--username", "nobody"], None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user"));

    let log = t
        .gql_ok(
            Some(&admin),
            "{ auditLog(first: 10) { edges { node { actorName action } } } }",
            json!({}),
        )
        .await;
    let by_cli: Vec<&str> = log["auditLog"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["node"]["actorName"] == "cli")
        .map(|e| e["node"]["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        &by_cli[..4],
        [
            "user.delete",
            "user.enable",
            "user.disable",
            "user.password_reset"
        ]
    );
    let _ = PASSWORD;
}
