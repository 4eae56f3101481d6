// SPDX-License-Identifier: GPL-2.0

//! zonemm's algorithm core: plain `no_std` Rust over `core` only.
//!
//! No kernel types, no locks, no allocation. The kernel module compiles
//! these same files into itself with `#[path]` modules (see
//! `rust/zonemm.rs`); this crate root exists so the host can run their
//! tests with `cargo test`.

#![no_std]

pub mod cmd;
pub mod compaction;
pub mod extfrag;
pub mod fault;
pub mod ksm;
pub mod page_alloc;
pub mod pcp;
pub mod pfn;
pub mod procfs;
pub mod slub;
pub mod vmap;
pub mod watermark;
pub mod zone;
pub mod zonelist;

#[cfg(test)]
mod fuzz;
