//! The audit log: every administrative change, who made it, before and
//! after, newest first, never a secret.

use serde_json::json;

use super::*;
use crate::support::PASSWORD;

const AUDIT: &str = "query($n: Int!, $a: String) { auditLog(first: $n, after: $a) { edges { node { id createdAt actorId actorName action targetType targetId targetName before after } } pageInfo { hasNextPage endCursor } } }";

#[tokio::test]
async fn administrative_changes_are_logged_newest_first_without_secrets() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let admin_id = id_of(&t, &admin).await;
    let user = t.user("audited", "Basic").await;
    let uid = id_of(&t, &user).await;
    t.gql_ok(
        Some(&admin),
        UPDATE_USER,
        json!({ "id": uid, "input": { "username": "renamed" } }),
    )
    .await;
    t.gql_ok(Some(&admin), RESET, json!({ "id": uid, "p": NEW_PASSWORD }))
        .await;
    let user = t.login("renamed", NEW_PASSWORD).await;
    let sid = t
        .app
        .tokens
        .verify(&user, t.clock.now())
        .expect("valid")
        .session_id;
    t.gql_ok(
        Some(&admin),
        "mutation($id: ID!) { revokeSession(id: $id) }",
        json!({ "id": sid.to_string() }),
    )
    .await;
    t.gql_ok(Some(&admin), DISABLE, json!({ "id": uid })).await;

    let page = t.gql_ok(Some(&admin), AUDIT, json!({ "n": 3 })).await;
    let edges = page["auditLog"]["edges"].as_array().expect("edges").clone();
    let actions: Vec<&str> = edges
        .iter()
        .map(|e| e["node"]["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["user.disable", "session.revoke", "user.password_reset"]
    );
    let disable = &edges[0]["node"];
    assert_eq!(disable["actorId"], admin_id.as_str());
    assert_eq!(disable["actorName"], "root");
    assert_eq!(disable["targetId"], uid.as_str());
    assert_eq!(disable["targetName"], "renamed");
    assert_eq!(disable["before"]["disabled"], false);
    assert_eq!(disable["after"]["disabled"], true);
    assert_eq!(page["auditLog"]["pageInfo"]["hasNextPage"], true);

    let cursor = page["auditLog"]["pageInfo"]["endCursor"].clone();
    let rest = t
        .gql_ok(Some(&admin), AUDIT, json!({ "n": 100, "a": cursor }))
        .await;
    let rest: Vec<_> = rest["auditLog"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let actions: Vec<&str> = rest
        .iter()
        .map(|n| n["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["user.update", "user.create", "user.create"]);
    assert_eq!(rest[0]["before"]["username"], "audited");
    assert_eq!(rest[0]["after"]["username"], "renamed");
    // Users made at the command line (as the harness does) name the CLI.
    assert_eq!(rest[1]["actorName"], "cli");
    assert_eq!(rest[1]["actorId"], json!(null));

    let everything = t.count("audit_log").await;
    assert_eq!(everything, 6);

    // Plans too.
    let plan = t
        .gql_ok(
            Some(&admin),
            "mutation { createPlan(input: { name: \"Gold\", thumbnailHeights: [100] }) { id } }",
            json!({}),
        )
        .await["createPlan"]["id"]
        .clone();
    t.gql_ok(
        Some(&admin),
        "mutation($id: ID!) { updatePlan(id: $id, input: { name: \"Gold\", thumbnailHeights: [100, 300] }) { id } }",
        json!({ "id": plan }),
    )
    .await;
    t.gql_ok(
        Some(&admin),
        "mutation($id: ID!) { deletePlan(id: $id) }",
        json!({ "id": plan }),
    )
    .await;
    let page = t.gql_ok(Some(&admin), AUDIT, json!({ "n": 3 })).await;
    let nodes: Vec<_> = page["auditLog"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let actions: Vec<&str> = nodes
        .iter()
        .map(|n| n["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["plan.delete", "plan.update", "plan.create"]);
    assert_eq!(nodes[1]["before"]["thumbnailHeights"], json!([100]));
    assert_eq!(nodes[1]["after"]["thumbnailHeights"], json!([100, 300]));
    let all = t
        .gql_ok(Some(&admin), AUDIT, json!({ "n": 100 }))
        .await
        .to_string();
    for secret in [PASSWORD, NEW_PASSWORD, "argon2"] {
        assert!(!all.contains(secret), "{secret} in the audit log");
    }
}
