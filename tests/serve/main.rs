//! The authorization server (`portcullis serve`) end to end: real nginx and Caddy in front of
//! a backend, Envoy-shaped gRPC checks, and the command-line process (signals, logs,
//! health, metrics). Everything listens on loopback.

#![cfg(all(feature = "serve", feature = "cli"))]

mod equivalence;
mod forward_auth;
mod process;
mod proxies;
mod support;
