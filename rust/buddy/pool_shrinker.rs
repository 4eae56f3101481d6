// SPDX-License-Identifier: GPL-2.0

//! The pool's shrinker for the kernel: how the kernel's own reclaim
//! (`shrink_slab()` from kswapd and direct reclaim, `drop_slab()` from
//! `/proc/sys/vm/drop_caches`) takes memory back from zonemm, registered
//! with `shrinker_alloc()` / `shrinker_register()` as
//! `drivers/android/binder/page_range.rs` registers its own (through a
//! C shim: the kernel crate has no binding of `<linux/shrinker.h>`).
//!
//! `count_objects()` reports the pages of grown blocks that are wholly
//! free and that their zone can spare above its high watermark, and,
//! while the pool holds grown blocks, the pages zonemm's own shrinkers
//! keep idle; `scan_objects()` offlines such blocks (whole blocks: it may
//! give a little more than asked) and gives them back to their CMA area
//! or the page allocator, then the idle pages to the pool and the blocks
//! that came wholly free by it (see `Pool::shrinker_scan`). Neither waits
//! for a lock: a busy lock makes the count 0 or the scan `SHRINK_STOP`, as
//! reclaim must never block on zonemm (the kernel may call in while
//! zonemm itself is growing, from `cma_alloc()`'s own reclaim); the scan
//! may sleep only as unmapping an idle region does.

use core::ffi::c_void;

use kernel::prelude::*;

use super::Pool;
use crate::helpers::{
    zonemm_shrinker_free,
    zonemm_shrinker_register,
    ZonemmShrinker, //
};

/// `SHRINK_STOP`: no progress can be made now.
const SHRINK_STOP: c_ulong = !0;

/// The registered shrinker, freed on drop (which waits for a scan in
/// flight).
///
/// # Invariants
///
/// `shrinker` is registered, with a `Pool` that outlives this as its data.
pub(crate) struct PoolShrinker {
    shrinker: *mut ZonemmShrinker,
}

// SAFETY: The shrinker is only freed, from any thread, once.
unsafe impl Send for PoolShrinker {}

// SAFETY: Shared references do nothing with it.
unsafe impl Sync for PoolShrinker {}

/// `count_objects()`.
unsafe extern "C" fn count(data: *mut c_void) -> c_ulong {
    // SAFETY: `data` is the pool `PoolShrinker::new` registered, which
    // outlives the shrinker.
    let pool = unsafe { &*data.cast::<Pool>() };
    pool.shrinker_count() as c_ulong
}

/// `scan_objects()`.
unsafe extern "C" fn scan(data: *mut c_void, nr: c_ulong) -> c_ulong {
    // SAFETY: As in `count`.
    let pool = unsafe { &*data.cast::<Pool>() };
    match pool.shrinker_scan(nr as usize) {
        Some(freed) => freed as c_ulong,
        None => SHRINK_STOP,
    }
}

impl PoolShrinker {
    /// Registers `pool`'s shrinker with the kernel. Sleeps.
    pub(crate) fn new(pool: &'static Pool) -> Result<Self> {
        let data = core::ptr::from_ref(pool).cast_mut().cast::<c_void>();
        // SAFETY: `count` and `scan` take this `data`, a pool that lives
        // until `drop` frees the shrinker.
        let shrinker = unsafe { zonemm_shrinker_register(c"zonemm-pool".as_ptr().cast(), count, scan, data) };
        if shrinker.is_null() {
            pr_err!("cannot allocate the pool's shrinker\n");
            return Err(ENOMEM);
        }
        // INVARIANT: registered with `pool`.
        Ok(Self { shrinker })
    }
}

impl Drop for PoolShrinker {
    fn drop(&mut self) {
        // SAFETY: Registered by `new` and freed only here.
        unsafe { zonemm_shrinker_free(self.shrinker) };
    }
}
