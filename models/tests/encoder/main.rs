//! Integration tests of the `models` crate, built into one binary.

mod common;
mod e5s1_file;
mod errors;
mod reference;
mod tiny_bert;
