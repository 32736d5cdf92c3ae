//! The user life cycle: update, disable, enable, delete, reset and change
//! passwords, and who may do each.

use serde_json::json;

use super::*;
use crate::support::{Backend, PASSWORD, images, objects, setup};

#[tokio::test]
async fn account_operations_need_the_right_caller() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let user = t.user("ursula", "Basic").await;
    let uid = id_of(&t, &user).await;
    let admin_ops = [
        (
            UPDATE_USER,
            json!({ "id": uid, "input": { "isAdmin": true } }),
        ),
        (DISABLE, json!({ "id": uid })),
        (ENABLE, json!({ "id": uid })),
        (DELETE, json!({ "id": uid })),
        (RESET, json!({ "id": uid, "p": NEW_PASSWORD })),
        ("{ auditLog { edges { node { id } } } }", json!({})),
    ];
    for (query, vars) in &admin_ops {
        let body = t.gql(Some(&user), query, vars.clone()).await;
        assert_eq!(code(&body), "FORBIDDEN", "user: {query}: {body}");
        let body = t.gql(None, query, vars.clone()).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "anonymous: {query}: {body}");
    }
    let user_ops = [
        ("mutation { logout }", json!({})),
        ("{ sessions { id } }", json!({})),
        ("{ apiTokens { id } }", json!({})),
        (CREATE_TOKEN, json!({ "n": "ci" })),
        (
            "mutation($id: ID!) { revokeSession(id: $id) }",
            json!({ "id": uid }),
        ),
        (
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": uid }),
        ),
        (CHANGE, json!({ "c": PASSWORD, "n": NEW_PASSWORD })),
    ];
    for (query, vars) in &user_ops {
        let body = t.gql(None, query, vars.clone()).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "anonymous: {query}: {body}");
    }
    // The administrator may do them all; the user was untouched so far.
    assert!(accepted(&t, &user).await);
    t.gql_ok(Some(&admin), DISABLE, json!({ "id": uid })).await;
    t.gql_ok(Some(&admin), ENABLE, json!({ "id": uid })).await;
    t.gql_ok(Some(&admin), DELETE, json!({ "id": uid })).await;
}

#[tokio::test]
async fn an_admin_changes_a_users_name_role_and_plan() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let user = t.user("vera", "Enterprise").await;
    t.create_user("taken", "Basic", false).await;
    let uid = id_of(&t, &user).await;
    let premium = t
        .gql_ok(Some(&admin), "{ plans { id name } }", json!({}))
        .await["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["name"] == "Premium")
        .expect("premium")["id"]
        .clone();
    let data = t
        .gql_ok(
            Some(&admin),
            UPDATE_USER,
            json!({ "id": uid, "input": { "username": "Veronica", "isAdmin": true, "planId": premium } }),
        )
        .await;
    assert_eq!(
        data["updateUser"],
        json!({ "id": uid, "username": "veronica", "isAdmin": true, "disabled": false, "plan": { "name": "Premium" } })
    );
    // The new plan's thumbnails are made for the images already there.
    assert_eq!(t.count("jobs WHERE kind = 'backfill_thumbnails'").await, 1);
    // The user's own token sees it on the next request.
    let me = t.gql_ok(Some(&user), ME, json!({})).await;
    assert_eq!(me["me"]["isAdmin"], true);
    assert_eq!(me["me"]["plan"]["name"], "Premium");
    // Fields left out stay; null plan means none.
    let data = t
        .gql_ok(
            Some(&admin),
            UPDATE_USER,
            json!({ "id": uid, "input": { "planId": null } }),
        )
        .await;
    assert_eq!(data["updateUser"]["username"], "veronica");
    assert_eq!(data["updateUser"]["plan"], json!(null));
    for (input, expected) in [
        (json!({ "username": "taken" }), "BAD_USER_INPUT"),
        (json!({ "username": "no spaces" }), "BAD_USER_INPUT"),
        (json!({ "planId": uid }), "BAD_USER_INPUT"),
    ] {
        let body = t
            .gql(
                Some(&admin),
                UPDATE_USER,
                json!({ "id": uid, "input": input }),
            )
            .await;
        assert_eq!(code(&body), expected, "{input}: {body}");
    }
    let body = t
        .gql(
            Some(&admin),
            UPDATE_USER,
            json!({ "id": uuid::Uuid::now_v7().to_string(), "input": {} }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn the_last_administrator_stays_and_nobody_disables_or_deletes_themselves() {
    let t = TestApp::new().await;
    let root = t.admin("root").await;
    let root_id = id_of(&t, &root).await;
    for (query, vars) in [
        (
            UPDATE_USER,
            json!({ "id": root_id, "input": { "isAdmin": false } }),
        ),
        (DISABLE, json!({ "id": root_id })),
        (DELETE, json!({ "id": root_id })),
    ] {
        let body = t.gql(Some(&root), query, vars).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{query}: {body}");
    }
    let ops = t.admin("ops").await;
    let ops_id = id_of(&t, &ops).await;
    // A disabled administrator does not count: root is the last enabled one.
    t.gql_ok(Some(&root), DISABLE, json!({ "id": ops_id }))
        .await;
    let body = t
        .gql(
            Some(&root),
            UPDATE_USER,
            json!({ "id": root_id, "input": { "isAdmin": false } }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("last")
    );
    // With another enabled administrator, one may demote the other.
    t.gql_ok(Some(&root), ENABLE, json!({ "id": ops_id })).await;
    let ops = t.login("ops", PASSWORD).await;
    t.gql_ok(
        Some(&ops),
        UPDATE_USER,
        json!({ "id": root_id, "input": { "isAdmin": false } }),
    )
    .await;
    let body = t.gql(Some(&ops), DELETE, json!({ "id": ops_id })).await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(t.count("users WHERE is_admin").await, 1);
}

#[tokio::test]
async fn two_admins_deleting_each_other_at_once_leave_one() {
    let t = TestApp::new().await;
    let a = t.admin("alpha").await;
    let b = t.admin("bravo").await;
    let (a_id, b_id) = (id_of(&t, &a).await, id_of(&t, &b).await);
    let (ra, rb) = tokio::join!(
        t.gql(Some(&a), DELETE, json!({ "id": b_id })),
        t.gql(Some(&b), DELETE, json!({ "id": a_id })),
    );
    let ok = [&ra, &rb]
        .iter()
        .filter(|r| r.get("errors").is_none())
        .count();
    assert_eq!(ok, 1, "exactly one delete wins: {ra} {rb}");
    assert_eq!(t.count("users WHERE is_admin").await, 1);
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_and_their_tokens_stop_until_enabled() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let session = t.user("dora", "Basic").await;
    let (secret, _) = api_token(&t, &session, "script").await;
    let uid = id_of(&t, &session).await;
    let data = t.gql_ok(Some(&admin), DISABLE, json!({ "id": uid })).await;
    assert_eq!(data["disableUser"]["disabled"], true);
    assert!(!accepted(&t, &session).await);
    assert!(!accepted(&t, &secret).await);
    let body = t
        .gql(
            None,
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            json!({ "u": "dora", "p": PASSWORD }),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    let users = t
        .gql_ok(
            Some(&admin),
            "{ users { edges { node { username disabled disabledAt } } } }",
            json!({}),
        )
        .await;
    let dora = users["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["username"] == "dora")
        .expect("dora")
        .clone();
    assert_eq!(dora["node"]["disabled"], true);
    assert!(dora["node"]["disabledAt"].is_string());

    t.gql_ok(Some(&admin), ENABLE, json!({ "id": uid })).await;
    let fresh = t.login("dora", PASSWORD).await;
    assert!(accepted(&t, &fresh).await);
    // What was revoked stays revoked.
    assert!(!accepted(&t, &session).await);
    assert!(!accepted(&t, &secret).await);
}

async fn deleting_a_user_removes_their_rows_and_objects(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let admin = t.admin("root").await;
    let keeper = t.user("keeper", "Basic").await;
    let kept = t.upload(&keeper, "k.jpg", images::jpeg(300, 200)).await;
    let leaver = t.user("leaver", "Enterprise").await;
    let uid = id_of(&t, &leaver).await;
    let jpeg = images::jpeg(640, 480);
    let first = t.upload(&leaver, "a.jpg", jpeg.clone()).await;
    // The same bytes again share the first one's objects.
    t.upload(&leaver, "again.jpg", jpeg).await;
    t.upload(&leaver, "b.png", images::png_with_alpha(500, 300))
        .await;
    t.run_jobs().await;
    t.gql_ok(
        Some(&leaver),
        "mutation($id: ID!) { createExpiringLink(imageId: $id, expiresIn: 600) { id } }",
        json!({ "id": first["id"] }),
    )
    .await;
    // A direct upload in progress, its bytes staged.
    let jpeg = images::jpeg(120, 80);
    let target = t
        .gql_ok(
            Some(&leaver),
            "mutation($n: Int!) { createUploadUrl(filename: \"x.jpg\", byteSize: $n, contentType: \"image/jpeg\") { url method headers { name value } } }",
            json!({ "n": jpeg.len() }),
        )
        .await["createUploadUrl"]
        .clone();
    let mut put = t.http.put(target["url"].as_str().expect("url")).body(jpeg);
    for h in target["headers"].as_array().expect("headers") {
        put = put.header(
            h["name"].as_str().expect("name"),
            h["value"].as_str().expect("value"),
        );
    }
    assert!(put.send().await.expect("PUT").status().is_success());
    let kept_id = kept["id"].as_str().expect("id");
    let before = objects(&t, &s3).await;
    let others = |keys: &[String]| -> Vec<String> {
        keys.iter()
            .filter(|k| !k.contains(kept_id))
            .cloned()
            .collect()
    };
    // Two sources (original, 200 and 400 px each) and the staged upload.
    assert!(others(&before).len() >= 6, "{before:?}");

    t.gql_ok(Some(&admin), DELETE, json!({ "id": uid })).await;
    for table in [
        "images",
        "expiring_links",
        "upload_slots",
        "sessions",
        "api_tokens",
    ] {
        let owner = if table == "sessions" || table == "api_tokens" {
            "user_id"
        } else {
            "owner_id"
        };
        assert_eq!(
            t.count(&format!("{table} WHERE {owner} = '{uid}'")).await,
            0,
            "{table}"
        );
    }
    assert!(!accepted(&t, &leaver).await);
    t.run_jobs().await;
    let after = objects(&t, &s3).await;
    assert_eq!(
        others(&after),
        Vec::<String>::new(),
        "objects left: {after:?}"
    );
    // The other user's image is untouched.
    assert_eq!(after.len(), before.len() - others(&before).len());
    let (status, _) = t
        .download(
            t.image(&keeper, kept_id).await["thumbnails"][0]["url"]
                .as_str()
                .expect("url"),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn deleting_a_user_removes_their_rows_and_objects_fs() {
    deleting_a_user_removes_their_rows_and_objects(Backend::Fs).await;
}

#[tokio::test]
async fn deleting_a_user_removes_their_rows_and_objects_s3() {
    deleting_a_user_removes_their_rows_and_objects(Backend::S3).await;
}

#[tokio::test]
async fn a_reset_password_works_and_ends_every_session_and_token() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let session = t.user("forgetful", "Basic").await;
    let other = t.login("forgetful", PASSWORD).await;
    let (secret, _) = api_token(&t, &session, "ci").await;
    let uid = id_of(&t, &session).await;
    let body = t
        .gql(Some(&admin), RESET, json!({ "id": uid, "p": "short" }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    t.gql_ok(Some(&admin), RESET, json!({ "id": uid, "p": NEW_PASSWORD }))
        .await;
    for token in [&session, &other, &secret] {
        assert!(!accepted(&t, token).await);
    }
    let body = t
        .gql(
            None,
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            json!({ "u": "forgetful", "p": PASSWORD }),
        )
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    let fresh = t.login("forgetful", NEW_PASSWORD).await;
    assert!(accepted(&t, &fresh).await);
}

#[tokio::test]
async fn changing_your_password_keeps_this_session_and_ends_the_others() {
    let t = TestApp::new().await;
    let here = t.user("mover", "Basic").await;
    let elsewhere = t.login("mover", PASSWORD).await;
    let (secret, _) = api_token(&t, &here, "ci").await;
    let body = t
        .gql(
            Some(&here),
            CHANGE,
            json!({ "c": "not my password", "n": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        accepted(&t, &elsewhere).await,
        "a wrong current password changes nothing"
    );
    let body = t
        .gql(Some(&here), CHANGE, json!({ "c": PASSWORD, "n": "short" }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    t.gql_ok(
        Some(&here),
        CHANGE,
        json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
    )
    .await;
    assert!(accepted(&t, &here).await);
    assert!(!accepted(&t, &elsewhere).await);
    assert!(!accepted(&t, &secret).await);
    t.login("mover", NEW_PASSWORD).await;
}
