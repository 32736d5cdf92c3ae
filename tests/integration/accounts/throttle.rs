//! Login throttling shared through Postgres: decided before the hash, so
//! simultaneous guesses are throttled; shared by every server; per client
//! network; never a permanent lockout.

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::*;
use crate::support::PASSWORD;
use crate::support::process::{Process, ProcessEnv};

const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }";

async fn login_at(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    xff: Option<&str>,
) -> Value {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": LOGIN, "variables": { "u": user, "p": password } }));
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.expect("send").json().await.expect("json")
}

fn tally(answers: &[Value]) -> (usize, usize) {
    let count = |c: &str| answers.iter().filter(|a| code(a) == c).count();
    (count("UNAUTHENTICATED"), count("TOO_MANY_REQUESTS"))
}

#[tokio::test]
async fn forty_simultaneous_wrong_passwords_are_throttled_before_hashing() {
    let t = TestApp::builder()
        .var("LOGIN_FAILURES_PER_USER", "5")
        .var("LOGIN_WINDOW_SECONDS", "900")
        .build()
        .await;
    t.create_user("target", "Basic", false).await;
    let (http, base) = (&t.http, t.base.as_str());
    let answers = join_all((0..40).map(|i| async move {
        let guess = format!("guess {i}");
        login_at(http, base, "target", &guess, None).await
    }))
    .await;
    let (wrong, throttled) = tally(&answers);
    assert_eq!(wrong, 5, "only the free attempts were hashed: {answers:?}");
    assert_eq!(throttled, 35);
    // The owner is held up too, but not for good: the delay runs out.
    let body = login_at(&t.http, &t.base, "target", PASSWORD, None).await;
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("try again")
    );
    t.clock.advance(chrono::Duration::seconds(31));
    let body = login_at(&t.http, &t.base, "target", PASSWORD, None).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn each_further_failure_doubles_the_delay() {
    let t = TestApp::builder()
        .var("LOGIN_FAILURES_PER_USER", "2")
        .var("LOGIN_BASE_DELAY_SECONDS", "10")
        .build()
        .await;
    t.create_user("slow", "Basic", false).await;
    for _ in 0..2 {
        login_at(&t.http, &t.base, "slow", "wrong", None).await;
    }
    let wait = |body: &Value| -> i64 {
        let msg = body["errors"][0]["message"].as_str().unwrap_or_default();
        msg.split_whitespace()
            .find_map(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no wait in {body}"))
    };
    let body = login_at(&t.http, &t.base, "slow", "wrong", None).await;
    assert!((9..=10).contains(&wait(&body)), "{body}");
    t.clock.advance(chrono::Duration::seconds(11));
    let body = login_at(&t.http, &t.base, "slow", "wrong", None).await;
    assert_eq!(
        code(&body),
        "UNAUTHENTICATED",
        "one more try after the delay"
    );
    let body = login_at(&t.http, &t.base, "slow", PASSWORD, None).await;
    assert!((19..=20).contains(&wait(&body)), "{body}");
}

#[tokio::test]
async fn guesses_split_across_two_servers_share_one_budget() {
    let t = TestApp::builder()
        .var("LOGIN_FAILURES_PER_USER", "4")
        .build()
        .await;
    let env = ProcessEnv::new(&t.db.url).var("LOGIN_FAILURES_PER_USER", "4");
    let a = Process::serve(&env, "a", &["--no-workers"]).await;
    let b = Process::serve(&env, "b", &["--no-workers"]).await;
    t.create_user("shared", "Basic", false).await;
    let mut answers = Vec::new();
    for base in [&a.base, &b.base, &a.base, &b.base, &a.base, &b.base] {
        answers.push(login_at(&t.http, base, "shared", "wrong", None).await);
    }
    let (wrong, throttled) = tally(&answers);
    assert_eq!((wrong, throttled), (4, 2), "{answers:?}");
    // The in-process server counts with them too.
    let body = login_at(&t.http, &t.base, "shared", PASSWORD, None).await;
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
}

#[tokio::test]
async fn clients_behind_a_trusted_proxy_are_counted_per_network() {
    let t = TestApp::builder()
        .var("TRUSTED_PROXIES", "127.0.0.1")
        .var("LOGIN_ATTEMPTS_PER_IP", "3")
        .build()
        .await;
    t.create_user("nat", "Basic", false).await;
    // Three addresses of one IPv6 /64 use up its budget...
    for host in ["a", "b", "c"] {
        let xff = format!("2001:db8:1:2::{host}");
        let body = login_at(&t.http, &t.base, "nat", PASSWORD, Some(&xff)).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let body = login_at(&t.http, &t.base, "nat", PASSWORD, Some("2001:db8:1:2::d")).await;
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    // ...not the next /64's, nor an IPv4 client's; a forged left-most entry
    // does not move a client into another network.
    let body = login_at(&t.http, &t.base, "nat", PASSWORD, Some("2001:db8:1:3::1")).await;
    assert!(body.get("errors").is_none(), "{body}");
    let body = login_at(
        &t.http,
        &t.base,
        "nat",
        PASSWORD,
        Some("9.9.9.9, 2001:db8:1:2::e"),
    )
    .await;
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    let token = login_at(&t.http, &t.base, "nat", PASSWORD, Some("198.51.100.7")).await;
    let token = token["data"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let sessions = t
        .gql_ok(
            Some(&token),
            "{ sessions { clientAddress current } }",
            json!({}),
        )
        .await;
    let current = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["current"] == true)
        .expect("current")
        .clone();
    assert_eq!(current["clientAddress"], "198.51.100.7");
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let t = TestApp::builder()
        .var("LOGIN_ATTEMPTS_PER_IP", "2")
        .build()
        .await;
    t.create_user("direct", "Basic", false).await;
    for xff in ["203.0.113.1", "203.0.113.2"] {
        let body = login_at(&t.http, &t.base, "direct", PASSWORD, Some(xff)).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let body = login_at(&t.http, &t.base, "direct", PASSWORD, Some("203.0.113.3")).await;
    assert_eq!(
        code(&body),
        "TOO_MANY_REQUESTS",
        "all from 127.0.0.1: {body}"
    );
}
