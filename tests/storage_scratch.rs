#[path = "integration/support/s3.rs"]
mod s3;

#[tokio::test]
async fn integration_copy_of_the_s3_server_works() {
    let mut server = s3::start_s3_server().await;
    let storage = image_vault::storage::Storage::s3(server.s3_settings()).await.expect("s3");
    storage.check().await.expect("check");
    server.stop().await;
    assert!(storage.check().await.is_err());
    server.restart().await;
    storage.check().await.expect("check after restart");
}
