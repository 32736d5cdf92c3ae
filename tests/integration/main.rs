//! Integration tests: one binary, real Postgres, the real HTTP server.

mod support;

mod auth;
mod cli;
mod health;
mod jobs;
mod schema;
mod storage;
mod upload;
