//! Administration: plans, users, plan assignment and thumbnail backfill.

use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, error_code, images};

const CREATE_PLAN: &str = "mutation($input: PlanInput!) { createPlan(input: $input) { id name thumbnailHeights originalLink expiringLinks } }";
const CREATE_USER: &str = "mutation($input: CreateUserInput!) { createUser(input: $input) { id username isAdmin plan { name } } }";
const SET_PLAN: &str =
    "mutation($u: ID!, $p: ID) { setUserPlan(userId: $u, planId: $p) { id plan { name } } }";

async fn plan_id(t: &TestApp, admin: &str, name: &str) -> String {
    let data = t
        .gql_ok(Some(admin), "{ plans { id name } }", json!({}))
        .await;
    data["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["id"].as_str())
        .expect("plan")
        .to_owned()
}

fn heights_and_status(image: &Value) -> Vec<(i64, String)> {
    image["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .map(|t| {
            (
                t["height"].as_i64().expect("height"),
                t["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn admin_flow_custom_plan_then_premium_then_back_without_new_work() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let plan = t
        .gql_ok(
            Some(&admin),
            CREATE_PLAN,
            json!({ "input": { "name": "Custom", "thumbnailHeights": [300, 100], "originalLink": true } }),
        )
        .await;
    assert_eq!(plan["createPlan"]["thumbnailHeights"], json!([100, 300]));
    let custom_id = plan["createPlan"]["id"].as_str().expect("id").to_owned();
    let user = t
        .gql_ok(
            Some(&admin),
            CREATE_USER,
            json!({ "input": { "username": "Carla", "password": PASSWORD } }),
        )
        .await;
    assert_eq!(user["createUser"]["plan"]["name"], "Basic");
    let user_id = user["createUser"]["id"].as_str().expect("id").to_owned();
    let data = t
        .gql_ok(
            Some(&admin),
            SET_PLAN,
            json!({ "u": user_id, "p": custom_id }),
        )
        .await;
    assert_eq!(data["setUserPlan"]["plan"]["name"], "Custom");
    t.run_jobs().await;

    let token = t.login("carla", PASSWORD).await;
    let uploaded = t.upload(&token, "a.jpg", images::jpeg(900, 600)).await;
    let id = uploaded["id"].as_str().expect("id").to_owned();
    t.run_jobs().await;
    let image = t.image(&token, &id).await;
    assert_eq!(
        heights_and_status(&image),
        vec![(100, "READY".into()), (300, "READY".into())]
    );
    assert!(image["originalUrl"].is_string());
    for th in image["thumbnails"].as_array().expect("thumbnails") {
        let (status, bytes) = t.download(th["url"].as_str().expect("url")).await;
        assert_eq!(status, 200);
        assert_eq!(
            i64::from(images::dimensions(&bytes).2),
            th["height"].as_i64().expect("height")
        );
    }

    // Premium: 200 and 400 appear for the old image, made in the background.
    let premium = plan_id(&t, &admin, "Premium").await;
    t.gql_ok(
        Some(&admin),
        SET_PLAN,
        json!({ "u": user_id, "p": premium }),
    )
    .await;
    let image = t.image(&token, &id).await;
    assert_eq!(
        heights_and_status(&image),
        vec![(200, "PENDING".into()), (400, "PENDING".into())]
    );
    t.run_jobs().await;
    let image = t.image(&token, &id).await;
    assert_eq!(
        heights_and_status(&image),
        vec![(200, "READY".into()), (400, "READY".into())]
    );
    let objects_before = t.fs_objects().len();

    // Back to Custom: the kept 100 and 300 px thumbnails show again, and
    // nothing is made: the backfill finds every row already there.
    t.gql_ok(
        Some(&admin),
        SET_PLAN,
        json!({ "u": user_id, "p": custom_id }),
    )
    .await;
    let image = t.image(&token, &id).await;
    assert_eq!(
        heights_and_status(&image),
        vec![(100, "READY".into()), (300, "READY".into())]
    );
    assert_eq!(t.run_jobs().await, 1, "only the backfill itself runs");
    assert_eq!(t.count("jobs").await, 0);
    assert_eq!(t.fs_objects().len(), objects_before);
}

#[tokio::test]
async fn changing_a_plans_heights_backfills_its_holders() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let plan = t
        .gql_ok(
            Some(&admin),
            CREATE_PLAN,
            json!({ "input": { "name": "Small", "thumbnailHeights": [50] } }),
        )
        .await;
    let plan_id = plan["createPlan"]["id"].as_str().expect("id").to_owned();
    t.create_user("sam", "Small", false).await;
    let token = t.login("sam", PASSWORD).await;
    let uploaded = t
        .upload(&token, "a.png", images::png_with_alpha(400, 200))
        .await;
    t.run_jobs().await;
    t.gql_ok(
        Some(&admin),
        "mutation($id: ID!, $input: PlanInput!) { updatePlan(id: $id, input: $input) { thumbnailHeights } }",
        json!({ "id": plan_id, "input": { "name": "Small", "thumbnailHeights": [50, 120] } }),
    )
    .await;
    t.run_jobs().await;
    let image = t.image(&token, uploaded["id"].as_str().expect("id")).await;
    assert_eq!(
        heights_and_status(&image),
        vec![(50, "READY".into()), (120, "READY".into())]
    );
}

#[tokio::test]
async fn plan_input_is_validated() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    for (input, needle) in [
        (
            json!({ "name": "basic", "thumbnailHeights": [100] }),
            "already exists",
        ),
        (json!({ "name": "", "thumbnailHeights": [100] }), "name"),
        (json!({ "name": "X", "thumbnailHeights": [15] }), "outside"),
        (
            json!({ "name": "X", "thumbnailHeights": [4097] }),
            "outside",
        ),
        (
            json!({ "name": "X", "thumbnailHeights": [100, 100] }),
            "distinct",
        ),
        (
            json!({ "name": "X", "thumbnailHeights": [16, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110] }),
            "at most 10",
        ),
    ] {
        let body = t
            .gql(Some(&admin), CREATE_PLAN, json!({ "input": input }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{input}: {body}"
        );
    }
    // Deleting a plan that users hold is refused; an unused one goes.
    let basic = plan_id(&t, &admin, "Basic").await;
    t.create_user("holder", "Basic", false).await;
    let body = t
        .gql(
            Some(&admin),
            "mutation($id: ID!) { deletePlan(id: $id) }",
            json!({ "id": basic }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let unused = t
        .gql_ok(
            Some(&admin),
            CREATE_PLAN,
            json!({ "input": { "name": "Unused", "thumbnailHeights": [] } }),
        )
        .await["createPlan"]["id"]
        .clone();
    let data = t
        .gql_ok(
            Some(&admin),
            "mutation($id: ID!) { deletePlan(id: $id) }",
            json!({ "id": unused }),
        )
        .await;
    assert_eq!(data["deletePlan"], true);
}

#[tokio::test]
async fn admin_operations_are_refused_to_users_and_anonymous_callers() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let user = t.user("norm", "Enterprise").await;
    let basic = plan_id(&t, &admin, "Basic").await;
    let me: String = t.gql_ok(Some(&user), "{ me { id } }", json!({})).await["me"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let operations: Vec<(&str, Value)> = vec![
        ("{ plans { id } }", json!({})),
        ("{ users { edges { node { id } } } }", json!({})),
        (
            CREATE_PLAN,
            json!({ "input": { "name": "Evil", "thumbnailHeights": [100] } }),
        ),
        (
            "mutation($id: ID!) { updatePlan(id: $id, input: { name: \"Basic\", thumbnailHeights: [4000] }) { id } }",
            json!({ "id": basic }),
        ),
        (
            "mutation($id: ID!) { deletePlan(id: $id) }",
            json!({ "id": basic }),
        ),
        (
            CREATE_USER,
            json!({ "input": { "username": "evil", "password": PASSWORD, "isAdmin": true } }),
        ),
        (SET_PLAN, json!({ "u": me, "p": basic })),
    ];
    for (query, vars) in &operations {
        let body = t.gql(Some(&user), query, vars.clone()).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
        let body = t.gql(None, query, vars.clone()).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{query}: {body}");
    }
    // Nothing changed.
    assert_eq!(t.count("plans").await, 3);
    assert_eq!(t.count("users").await, 2);
    let plan = t
        .gql_ok(Some(&user), "{ me { plan { name } } }", json!({}))
        .await;
    assert_eq!(plan["me"]["plan"]["name"], "Enterprise");
}

#[tokio::test]
async fn users_are_listed_for_admins_in_pages() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    for name in ["u1", "u2", "u3"] {
        t.create_user(name, "Basic", false).await;
    }
    let q = "query($after: String) { users(first: 3, after: $after) { edges { node { username plan { name } } } pageInfo { hasNextPage endCursor } } }";
    let first = t.gql_ok(Some(&admin), q, json!({ "after": null })).await;
    let names: Vec<&str> = first["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["username"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["u3", "u2", "u1"]);
    assert_eq!(first["users"]["pageInfo"]["hasNextPage"], true);
    let second = t
        .gql_ok(
            Some(&admin),
            q,
            json!({ "after": first["users"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(second["users"]["edges"][0]["node"]["username"], "root");
    assert_eq!(
        second["users"]["edges"][0]["node"]["plan"]["name"],
        "Enterprise"
    );
}

fn usernames(data: &Value) -> Vec<&str> {
    data["users"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["username"].as_str().expect("username"))
        .collect()
}

#[tokio::test]
async fn users_can_be_searched_by_name_across_pages() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    for name in ["carol1", "a_b", "axb", "carla", "carol2", "mcarol"] {
        t.create_user(name, "Basic", false).await;
    }
    let q = "query($s: String, $first: Int!, $after: String) { users(first: $first, after: $after, search: $s) { nodes { username } pageInfo { hasNextPage endCursor } } }";
    // Case-insensitive substring, newest first, paged within the matches.
    let first = t
        .gql_ok(Some(&admin), q, json!({ "s": " CAROL ", "first": 2 }))
        .await;
    assert_eq!(usernames(&first), vec!["mcarol", "carol2"]);
    assert_eq!(first["users"]["pageInfo"]["hasNextPage"], true);
    let after = first["users"]["pageInfo"]["endCursor"].clone();
    let second = t
        .gql_ok(
            Some(&admin),
            q,
            json!({ "s": "carol", "first": 2, "after": after }),
        )
        .await;
    assert_eq!(usernames(&second), vec!["carol1"]);
    assert_eq!(second["users"]["pageInfo"]["hasNextPage"], false);
    // LIKE's wildcards are taken literally.
    let underscore = t
        .gql_ok(Some(&admin), q, json!({ "s": "_", "first": 20 }))
        .await;
    assert_eq!(usernames(&underscore), vec!["a_b"]);
    for literal in ["%", "\\", "a%b"] {
        let none = t
            .gql_ok(Some(&admin), q, json!({ "s": literal, "first": 20 }))
            .await;
        assert!(usernames(&none).is_empty(), "{literal}: {none}");
    }
    // Empty (or blank) means everyone.
    let all = t
        .gql_ok(Some(&admin), q, json!({ "s": "  ", "first": 20 }))
        .await;
    assert_eq!(usernames(&all).len(), 7);
    // Longer than any username: a clear error, not a scan.
    let long = t
        .gql(Some(&admin), q, json!({ "s": "x".repeat(65), "first": 20 }))
        .await;
    assert_eq!(error_code(&long), "BAD_USER_INPUT", "{long}");
    // Administrators only.
    let user = t.user("norm", "Basic").await;
    let body = t
        .gql(Some(&user), q, json!({ "s": "carol", "first": 20 }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = t.gql(None, q, json!({ "s": "carol", "first": 20 })).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test]
async fn a_plan_can_ask_for_webp_thumbnails() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let plan = t
        .gql_ok(
            Some(&admin),
            "mutation($input: PlanInput!) { createPlan(input: $input) { name thumbnailFormat } }",
            json!({ "input": { "name": "Web", "thumbnailHeights": [100], "thumbnailFormat": "WEBP" } }),
        )
        .await;
    assert_eq!(plan["createPlan"]["thumbnailFormat"], "WEBP");
    t.create_user("wendy", "Web", false).await;
    let token = t.login("wendy", PASSWORD).await;
    for (name, bytes) in [
        ("a.png", images::png_with_alpha(300, 200)),
        ("b.jpg", images::jpeg(300, 200)),
    ] {
        let uploaded = t.upload(&token, name, bytes).await;
        t.run_jobs().await;
        let image = t.image(&token, uploaded["id"].as_str().expect("id")).await;
        let th = &image["thumbnails"][0];
        assert_eq!(th["status"], "READY", "{image}");
        assert_eq!(th["width"], 150);
        let url = th["url"].as_str().expect("url");
        assert!(url.contains(".webp?"), "{url}");
        let (status, body) = t.download(url).await;
        assert_eq!(status, 200);
        assert_eq!(&body[..4], b"RIFF");
        assert_eq!(&body[8..12], b"WEBP");
    }
}
