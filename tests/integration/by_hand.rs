//! `Image` is resolved by hand (`graphql::by_hand`); its derived twin
//! `ImageFields` is the reference. The same selections, through both, give
//! the same answers: fields, aliases, repeated keys, named and inline
//! fragments, `@skip` and `@include`, `__typename`, thumbnails preloaded or
//! batch-loaded, and every plan's grants.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptyMutation, EmptySubscription, Object, Request, Schema, Variables};
use image_vault::db::models::thumbnail::{Made, Shown};
use image_vault::db::models::{Image, Plan, Thumbnail};
use image_vault::graphql::cursor::Cursor;
use image_vault::graphql::loaders::ThumbnailLoader;
use image_vault::graphql::raw;
use image_vault::graphql::types::{Grants, ImageFields, ImageObject, ImagePage};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::TestApp;

/// The images to resolve, each with the grants and preloaded thumbnails
/// (or none: batch-loaded) it is shown with.
struct Cases(Vec<(Image, Arc<Grants>, Option<Vec<Shown>>)>);

impl Cases {
    fn objects(&self) -> Vec<ImageObject> {
        self.0
            .iter()
            .map(|(image, grants, thumbnails)| ImageObject {
                image: image.clone(),
                grants: grants.clone(),
                thumbnails: thumbnails.clone(),
            })
            .collect()
    }
}

struct TestQuery(Cases);

#[Object]
impl TestQuery {
    async fn derived(&self) -> Vec<ImageFields> {
        self.0.objects().into_iter().map(ImageFields).collect()
    }
    async fn by_hand(&self) -> Vec<ImageObject> {
        self.0.objects()
    }
    async fn one_derived(&self) -> Option<ImageFields> {
        self.0.objects().into_iter().next().map(ImageFields)
    }
    async fn one_by_hand(&self) -> Option<ImageObject> {
        self.0.objects().into_iter().next()
    }
    /// A page as `PageRequest::connection` builds the other connections.
    async fn derived_page(&self, empty: bool) -> Connection<String, ImageObject> {
        let mut page = Connection::new(true, false);
        if !empty {
            page.edges.extend(self.0.objects().into_iter().map(|o| {
                let cursor = Cursor {
                    created_at: o.image.created_at,
                    id: o.image.id,
                };
                Edge::new(cursor.encode(), o)
            }));
        }
        page
    }
    async fn by_hand_page(&self, empty: bool) -> ImagePage {
        ImagePage {
            images: if empty { Vec::new() } else { self.0.objects() },
            has_previous_page: true,
            has_next_page: false,
        }
    }
}

fn image(owner_id: Uuid, n: i64, blurhash: Option<&str>, frames: i32) -> Image {
    let id = Uuid::now_v7();
    Image {
        id,
        owner_id,
        filename: format!("photo \"{n}\".jpg"),
        content_type: "image/jpeg".into(),
        width: 800 + n as i32,
        height: 600,
        byte_size: if n % 2 == 1 { 5_000_000_000 } else { 1_000 },
        created_at: chrono::Utc::now() - chrono::Duration::seconds(n),
        expires_at: (n % 2 == 0).then(|| chrono::Utc::now() + chrono::Duration::hours(n)),
        sha256: None,
        source_id: id,
        blurhash: blurhash.map(str::to_owned),
        frame_count: frames,
    }
}

async fn cases(t: &TestApp) -> Cases {
    let mut conn = t.app.db.get().await.expect("conn");
    let owner = image_vault::db::models::User::find_by_username(&mut conn, "owner")
        .await
        .expect("query")
        .expect("user");
    // One 200 READY and 400 FAILED; one 200 READY and 400 PENDING; one with
    // both PENDING.
    let images = [
        image(owner.id, 1, Some("LEHV6nWB2yk8pyo0adR*.7kCMdnj"), 1),
        image(owner.id, 2, None, 7),
        image(owner.id, 3, None, 1),
    ];
    for (i, image) in images.iter().enumerate() {
        image.insert(&mut conn).await.expect("insert");
        Thumbnail::insert_pending(&mut conn, image.id, &[200, 400])
            .await
            .expect("pending");
        if i < 2 {
            let made = Made {
                height: 200,
                width: 267,
                pixel_height: 200,
                byte_size: 100,
                content_type: "image/jpeg",
            };
            Thumbnail::mark_made(&mut conn, image.id, image.source_id, &[made], None)
                .await
                .expect("ready");
        }
        if i == 0 {
            Thumbnail::mark_pending_failed(&mut conn, image.id, "test")
                .await
                .expect("failed");
        }
    }
    let ids: Vec<Uuid> = images.iter().map(|i| i.id).collect();
    let rows = Thumbnail::shown_for_images(&mut conn, &ids)
        .await
        .expect("rows");
    let plans = Plan::all(&mut conn).await.expect("plans");
    let plan = |name: &str| plans.iter().find(|p| p.name == name).cloned();
    let mut out = Vec::new();
    for grants in [
        Grants::of(plan("Premium").as_ref()),
        Grants::of(plan("Basic").as_ref()),
        Grants::of(None),
    ] {
        for image in &images {
            let preloaded: Vec<Shown> = rows
                .iter()
                .filter(|r| r.image_id == image.id)
                .cloned()
                .collect();
            out.push((image.clone(), grants.clone(), Some(preloaded)));
            out.push((image.clone(), grants.clone(), None));
        }
    }
    Cases(out)
}

const ALL: &str = "__typename id filename contentType animated frameCount width height byteSize \
    createdAt expiresAt blurhash originalUrl thumbnails { __typename height width status url }";

/// Runs `selection` on `derived`/`byHand` (and `oneDerived`/`oneByHand`)
/// and returns the by-hand answer after checking it equals the derived one.
async fn same(
    schema: &Schema<TestQuery, EmptyMutation, EmptySubscription>,
    selection: &str,
) -> Value {
    let query = "derived { S } byHand { S } oneDerived { S } oneByHand { S }";
    let data = run(schema, &query.replace('S', selection), selection, false).await;
    assert_eq!(data["byHand"], data["derived"], "{selection}");
    assert_eq!(data["oneByHand"], data["oneDerived"], "{selection}");
    data["byHand"].clone()
}

/// Runs `fields` (whose selections are `selection`) with the fragments and
/// variables that `selection` uses, and returns the data. With `splice`, as
/// the HTTP handler runs a request: with `raw::Splice` in its data and the
/// response written by `raw::to_json`.
async fn run(
    schema: &Schema<TestQuery, EmptyMutation, EmptySubscription>,
    fields: &str,
    selection: &str,
    splice: bool,
) -> Value {
    // Only the fragments the selection spreads (an unused one is refused).
    let mut fragments = String::new();
    if selection.contains("...T") {
        fragments.push_str("fragment T on Thumbnail { url __typename } ");
    }
    if selection.contains("...E") {
        fragments.push_str("fragment E on ImageEdge { cursor node { ...F } } ");
    }
    if selection.contains("...E") || selection.contains("...F") {
        fragments.push_str("fragment F on Image { originalUrl createdAt thumbnails { height } } ");
    }
    // Only the variables it uses (an unused one is refused too).
    let used: Vec<String> = ["yes", "no"]
        .iter()
        .filter(|v| selection.contains(&format!("${v}")))
        .map(|v| format!("${v}: Boolean!"))
        .collect();
    let variables = if used.is_empty() {
        String::new()
    } else {
        format!("({})", used.join(", "))
    };
    let query = format!("query{variables} {{ {fields} }} {fragments}");
    let values = Variables::from_json(json!({ "yes": true, "no": false }));
    let mut request = Request::new(query).variables(values);
    if splice {
        request = request.data(raw::Splice);
    }
    let response = schema.execute(request).await;
    assert!(
        response.errors.is_empty(),
        "{selection}: {:?}",
        response.errors
    );
    if splice {
        let json = raw::to_json(&response).expect("written");
        let mut answer: Value = serde_json::from_slice(&json).expect("JSON");
        answer["data"].take()
    } else {
        response.data.into_json().expect("json")
    }
}

#[tokio::test]
async fn images_resolved_by_hand_answer_as_the_derived_image_type() {
    let t = TestApp::new().await;
    t.user("owner", "Premium").await;
    let schema = Schema::build(TestQuery(cases(&t).await), EmptyMutation, EmptySubscription)
        .data(t.app.clone())
        .data(DataLoader::new(
            ThumbnailLoader::new(t.app.clone()),
            tokio::spawn,
        ))
        .finish();

    // Every field: the answer is not empty, and it has what each grant shows.
    let all = same(&schema, ALL).await;
    let list = all.as_array().expect("list");
    assert_eq!(list.len(), 18);
    let premium = &list[0];
    assert_eq!(premium["__typename"], "Image");
    assert!(premium["originalUrl"].is_string(), "{premium}");
    assert_eq!(premium["byteSize"], 2147483647);
    assert_eq!(premium["thumbnails"][0]["status"], "READY");
    assert!(premium["thumbnails"][0]["url"].is_string());
    assert_eq!(premium["thumbnails"][1]["status"], "FAILED");
    assert_eq!(list[1], list[0], "preloaded and batch-loaded thumbnails");
    assert_eq!(list[2]["animated"], true);
    assert_eq!(list[2]["thumbnails"][1]["status"], "PENDING");
    let basic = &list[6];
    assert!(basic["originalUrl"].is_null());
    assert_eq!(basic["thumbnails"].as_array().map(Vec::len), Some(1));
    assert_eq!(list[12]["thumbnails"], json!([]));

    for selection in [
        "id",
        "a: id b: id id",
        "thumbnails { height } thumbnails { url status }",
        "t: thumbnails { h: height w: width } t: thumbnails { u: url }",
        "... on Image { width } ... { height thumbnails { __typename } }",
        "...F thumbnails { ...T }",
        "id @skip(if: $yes) filename @skip(if: $no) width @include(if: $no) height @include(if: $yes)",
        "... @skip(if: $yes) { id } ...F @include(if: $no) blurhash",
        "thumbnails { url @skip(if: $yes) status }",
    ] {
        same(&schema, selection).await;
    }
    // Everything skipped: null, both ways.
    let none = same(&schema, "id @skip(if: $yes)").await;
    assert!(
        none.as_array().expect("list").iter().all(Value::is_null),
        "{none}"
    );

    // The page: edges, nodes and page info, full and empty; its JSON read
    // back into async-graphql's tree (a WebSocket's answer) and spliced into
    // the response as the HTTP handler writes it.
    for selection in [
        &format!(
            "__typename pageInfo {{ __typename hasPreviousPage hasNextPage startCursor endCursor }} \
          edges {{ __typename cursor node {{ {ALL} }} }} nodes {{ {ALL} }}"
        ),
        "edges { node { id } } edges { cursor node { width } } p: pageInfo { endCursor }",
        "...on ImageConnection { edges { ...E } } nodes { ...F id @skip(if: $yes) }",
        "pageInfo { startCursor @include(if: $no) endCursor } edges @skip(if: $yes) { cursor }",
    ] {
        for (empty, splice) in [(false, false), (true, false), (false, true), (true, true)] {
            let fields = format!(
                "derivedPage(empty: {empty}) {{ {selection} }} byHandPage(empty: {empty}) {{ {selection} }}"
            );
            let data = run(&schema, &fields, selection, splice).await;
            assert_eq!(data["byHandPage"], data["derivedPage"], "{selection}");
            if !empty && selection.starts_with("__typename") {
                let page = &data["byHandPage"];
                assert_eq!(page["edges"].as_array().map(Vec::len), Some(18));
                assert!(page["pageInfo"]["endCursor"].is_string(), "{page}");
                assert_eq!(page["edges"][0]["node"], page["nodes"][0]);
            }
        }
    }

    // A root field asked twice under one response key is merged by
    // async-graphql: the page is read back into its tree, not spliced.
    let selection = "edges { cursor }";
    let fields = |name: &str| {
        format!(
            "{name}(empty: false) {{ edges {{ cursor }} }} \
             {name}(empty: false) {{ pageInfo {{ endCursor }} edges {{ node {{ id }} }} }}"
        )
    };
    for splice in [false, true] {
        let derived = run(&schema, &fields("derivedPage"), selection, splice).await;
        let by_hand = run(&schema, &fields("byHandPage"), selection, splice).await;
        assert_eq!(by_hand["byHandPage"], derived["derivedPage"]);
        let page = &by_hand["byHandPage"];
        assert!(page["edges"][0]["cursor"].is_string(), "{page}");
        assert!(page["edges"][0]["node"]["id"].is_string(), "{page}");
        assert!(page["pageInfo"]["endCursor"].is_string(), "{page}");
    }
}
