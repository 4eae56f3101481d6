// SPDX-License-Identifier: GPL-2.0

//! zonemm: a second memory manager beside the kernel's.
//!
//! A zoned buddy pool over CMA-reserved pages, slab caches, virtually
//! contiguous regions and a same-page merger, each layer using only the one
//! below it. See `Documentation/design.rst`.

use kernel::{
    debugfs::Scope,
    prelude::*, //
};

mod debugfs;
mod helpers;
mod source;

// The `no_std` algorithm core, shared with the host crate in `core/`. The
// module uses a subset of it; the host crate's tests cover all of it.
#[path = "core/src/pfn.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod pfn;
#[path = "core/src/zone.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod zone;

module! {
    type: ZoneMm,
    name: "zonemm",
    authors: ["zonemm developers"],
    description: "A zoned buddy pool, slab caches, regions and a page merger over CMA",
    license: "GPL",
    params: {
        pool_mb: u64 {
            default: 32,
            description: "MiB to take from every reachable CMA area",
        },
        node_mb: u64 {
            default: 16,
            description: "MiB to take from the page allocator on each node without CMA (multiple of 4)",
        },
    },
}

/// Everything zonemm owns, layer by layer.
pub(crate) struct State {
    pub(crate) source: source::Source,
}

struct ZoneMm {
    _state: Pin<KBox<Scope<State>>>,
}

impl kernel::Module for ZoneMm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let params = source::Params::new(
            module_parameters::pool_mb.value(),
            module_parameters::node_mb.value(),
        )?;
        let state = State { source: source::Source::new(params)? };
        let chunks = state.source.chunks();
        let pages: usize = chunks.iter().map(|c| c.range().nr_pages).sum();
        pr_info!("took {} pages in {} chunks\n", pages, chunks.len());
        Ok(Self { _state: KBox::pin_init(debugfs::init(Ok(state)), GFP_KERNEL)? })
    }
}
