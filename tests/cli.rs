//! The one integration-test crate: every case drives the built binary.
mod cases;
mod support;
