//! image-vault: a GraphQL server for images, with object storage and a
//! Postgres-backed thumbnail worker pool.

pub mod admin;
pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod direct_upload;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod imaging;
pub mod jobs;
pub mod links;
pub mod service;
pub mod storage;
pub mod telemetry;
pub mod thumbnail_cli;
pub mod upload;
