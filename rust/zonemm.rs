// SPDX-License-Identifier: GPL-2.0

//! zonemm: a second memory manager beside the kernel's.
//!
//! A zoned buddy pool over CMA-reserved pages, slab caches, virtually
//! contiguous regions and a same-page merger, each layer using only the one
//! below it. See `Documentation/design.rst`.

use core::ptr::NonNull;

use kernel::{
    debugfs::Scope,
    new_mutex,
    prelude::*,
    sync::Mutex, //
};

mod buddy;
mod debugfs;
mod helpers;
mod slab;
mod source;

// The `no_std` algorithm core, shared with the host crate in `core/`. The
// module uses a subset of it; the host crate's tests cover all of it.
#[path = "core/src/cmd.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod cmd;
#[path = "core/src/page_alloc.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod page_alloc;
#[path = "core/src/pcp.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod pcp;
#[path = "core/src/pfn.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod pfn;
#[path = "core/src/procfs.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod procfs;
#[path = "core/src/slub.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod slub;
#[path = "core/src/watermark.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod watermark;
#[path = "core/src/zone.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod zone;
#[path = "core/src/zonelist.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod zonelist;

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
        movable_mb: u64 {
            default: 0,
            description: "MiB at the top of each node's pool pages that form its Movable zone (multiple of 4)",
        },
    },
}

/// Everything the debugfs files reach, layer by layer.
#[pin_data]
pub(crate) struct State {
    pub(crate) pool: &'static buddy::Pool,
    #[pin]
    pub(crate) buddy_allocs: Mutex<debugfs::buddy::Allocations>,
}

/// The pool, owned by the module and lent out as `&'static` to the state.
///
/// # Invariants
///
/// `0` came from `KBox::into_raw`; every `&'static` borrow of it lives in
/// a [`State`] that is dropped before this is.
struct PoolBox(NonNull<buddy::Pool>);

// SAFETY: `Pool` is `Sync`; the box only hands out shared references.
unsafe impl Send for PoolBox {}

// SAFETY: As above.
unsafe impl Sync for PoolBox {}

impl PoolBox {
    fn new(pool: buddy::Pool) -> Result<Self> {
        let boxed = KBox::new(pool, GFP_KERNEL)?;
        // INVARIANT: from `KBox::into_raw`.
        Ok(Self(NonNull::from(KBox::leak(boxed))))
    }

    /// The pool, for a [`State`] (see the type invariant).
    fn get(&self) -> &'static buddy::Pool {
        // SAFETY: The pool lives until `self` is dropped, which happens only
        // after every state holding this reference is gone.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for PoolBox {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the pointer came from
        // `KBox::into_raw` and nothing borrows it any more.
        drop(unsafe { KBox::from_raw(self.0.as_ptr()) });
    }
}

struct ZoneMm {
    // Field order is drop order: the state (and its debugfs files) first.
    _state: Pin<KBox<Scope<State>>>,
    _pool: PoolBox,
}

impl kernel::Module for ZoneMm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let params = source::Params::new(
            module_parameters::pool_mb.value(),
            module_parameters::node_mb.value(),
        )?;
        let source = source::Source::new(params)?;
        let chunks = source.chunks();
        let pages: usize = chunks.iter().map(|c| c.range().nr_pages).sum();
        pr_info!("took {} pages in {} chunks\n", pages, chunks.len());
        let owner = PoolBox::new(buddy::Pool::new(source, module_parameters::movable_mb.value())?)?;
        let pool = owner.get();
        let state = try_pin_init!(State {
            pool,
            buddy_allocs <- new_mutex!(debugfs::buddy::Allocations::new(), "State::buddy_allocs"),
        }? Error);
        let state = KBox::pin_init(debugfs::init(state), GFP_KERNEL)?;
        Ok(Self { _state: state, _pool: owner })
    }
}
