//! End-to-end tests, built into one binary: the HTTP API driven in process over SQLite and
//! PostgreSQL, and the sample corpus as citizens search it.

mod access;
mod api;
mod browser;
mod channels;
mod common;
mod corpus;
mod dashboard;
mod desk;
mod forms;
mod fuzz;
mod gaps;
mod handoffs;
mod hardening;
mod reload;
mod tickets;
mod transactions;
mod wire;
