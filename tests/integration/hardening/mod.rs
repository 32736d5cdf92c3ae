//! What an attacker tried against the running server (issue 10), each
//! reproduced here and refused.

mod requests;
