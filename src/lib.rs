//! The Rust core of VPO: parallel discovery of video files and their partial content hashes.
//!
//! `walk`, `hash` and `supervisor` are plain Rust (tested by `cargo test` without Python); the
//! `python` module turns them into the `vpo._core` extension module.

pub mod hash;
pub mod supervisor;
pub mod walk;

#[cfg(feature = "python")]
mod python;

#[cfg(test)]
mod hash_tests;
#[cfg(test)]
mod walk_tests;
