//! Integration tests: one binary, real Postgres, the real HTTP server.

mod support;

mod abuse;
mod accounts;
mod admin;
mod auth;
mod by_hand;
mod cli;
mod console;
mod dedup;
mod direct;
mod faults;
mod formats;
mod handoff;
mod hardening;
mod health;
mod integrity;
mod jobs;
mod links;
mod metrics;
mod operations;
mod read_path;
mod schema;
mod secrets;
mod storage;
mod subscriptions;
mod upload;
