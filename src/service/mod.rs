//! Use cases that GraphQL, the CLI and jobs share, one file each.

pub mod quota;
