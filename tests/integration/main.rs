//! Integration tests: one binary, real Postgres, the real HTTP server.

mod support;

mod admin;
mod auth;
mod cli;
mod health;
mod jobs;
mod links;
mod schema;
mod storage;
mod upload;
