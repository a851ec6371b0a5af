//! The HTTP API (axum), a library: the server's configuration and start-up, identity, the
//! shared state, the routes, and the background tasks (knowledge reload, transcript
//! retention, the SLA sweep). The `banshi` binary is the `cli` crate's.
//!
//! Key design decision: only this crate knows HTTP and JSON wire shapes. The engine (corpus
//! plus index) sits behind an `ArcSwap`, so a changed guide folder is rebuilt off to the side
//! and swapped in atomically: requests in flight keep the old engine, new ones get the new
//! one, and there is never a moment without an index.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod channels;
pub mod clock;
pub mod config;
pub mod demo;
pub mod error;
pub mod logmask;
pub mod metrics;
pub mod pages;
pub mod routes;
pub mod server;
pub mod service;
pub mod state;
pub mod tasks;
pub mod wire;

pub use routes::app;
pub use state::AppState;
