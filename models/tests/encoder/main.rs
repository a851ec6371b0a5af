//! Integration tests of the `models` crate, built into one binary.

mod common;
mod errors;
mod reference;
mod tiny_bert;
