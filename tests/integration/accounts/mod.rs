//! Accounts an operator can run (issue 11): the user life cycle, sessions,
//! API tokens, shared login throttling, the audit log, and what an open
//! WebSocket sees of all of it.

mod audit;
mod cli;
mod sessions;
mod throttle;
mod tokens;
mod users;
mod ws;

use serde_json::{Value, json};

use crate::support::TestApp;

pub const ME: &str = "{ me { id username isAdmin disabled plan { name expiringLinks } } }";
pub const UPDATE_USER: &str = "mutation($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id username isAdmin disabled plan { name } } }";
pub const DISABLE: &str = "mutation($id: ID!) { disableUser(id: $id) { id disabled } }";
pub const ENABLE: &str = "mutation($id: ID!) { enableUser(id: $id) { id disabled } }";
pub const DELETE: &str = "mutation($id: ID!) { deleteUser(id: $id) }";
pub const RESET: &str =
    "mutation($id: ID!, $p: String!) { resetPassword(userId: $id, newPassword: $p) }";
pub const CHANGE: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
pub const CREATE_TOKEN: &str = "mutation($n: String!, $e: Int) { createApiToken(name: $n, expiresIn: $e) { secret apiToken { id name prefix createdAt lastUsedAt expiresAt } } }";
pub const NEW_PASSWORD: &str = "a brand new password";

/// The viewer's id.
pub async fn id_of(t: &TestApp, token: &str) -> String {
    let me = t.gql_ok(Some(token), ME, json!({})).await;
    me["me"]["id"].as_str().expect("id").to_owned()
}

/// Makes an API token with a login session; returns (secret, id).
pub async fn api_token(t: &TestApp, session: &str, name: &str) -> (String, String) {
    let data = t
        .gql_ok(Some(session), CREATE_TOKEN, json!({ "n": name }))
        .await;
    let created = &data["createApiToken"];
    (
        created["secret"].as_str().expect("secret").to_owned(),
        created["apiToken"]["id"].as_str().expect("id").to_owned(),
    )
}

/// Whether `{ me }` works with this credential.
pub async fn accepted(t: &TestApp, token: &str) -> bool {
    let body = t.gql(Some(token), ME, json!({})).await;
    body.get("errors").is_none()
}

pub fn code(body: &Value) -> &str {
    crate::support::error_code(body)
}
