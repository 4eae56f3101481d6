// SPDX-License-Identifier: GPL-2.0

//! Fault injection at zonemm's allocation points, like the kernel's
//! `failslab` and `fail_page_alloc` (`lib/fault-inject.c`): one set of
//! knobs (`probability`, `interval`, `times`, `space`) and a choice of
//! sites (`where`). The decision is the core's `FaultAttr::should_fail`.
//!
//! A site's chances are taken at its layer's entry (as `failslab` takes
//! them in `slab_pre_alloc_hook()`) and at chosen internal points where
//! the layer can fail after it has changed state ([`inject`]): a new slab
//! once its pages are taken, a large block's tag, the pages, array,
//! mapping, record and tree node of a region, a shared page, each block of
//! a per-CPU refill, the split of a block, each chunk taken at load
//! (`Documentation/testing.rst` lists them all, and what is not injected).
//! Those exercise the unwinding, which a failure at entry never does.
//!
//! Disabled (no site chosen), a check is one relaxed load. The knobs are
//! atomics read and updated without a lock, as the kernel's are: racing
//! chances may both see the same state, which only blurs the counts.

use crate::once::OnceWord;

use kernel::sync::atomic::{
    Atomic,
    Relaxed, //
};

pub(crate) use crate::fault_core::FaultAttr;
use crate::fault_core::xorshift;

/// Where a failure may be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Site {
    /// Taking chunks (`Source::new`).
    Source = 1,
    /// Buddy allocations.
    Buddy = 2,
    /// Slab objects and slab growth.
    Slab = 4,
    /// Region allocations.
    Region = 8,
    /// The merger's metadata.
    Merge = 16,
}

/// The sites by name, for `fault/where`.
pub(crate) const SITES: [(&str, Site); 5] = [
    ("source", Site::Source),
    ("buddy", Site::Buddy),
    ("slab", Site::Slab),
    ("region", Site::Region),
    ("merge", Site::Merge),
];

/// Read on every allocation: a [`OnceWord`], no out-of-line call.
static WHERE: OnceWord = OnceWord::new(0);
static PROBABILITY: Atomic<u32> = Atomic::new(0);
static INTERVAL: Atomic<u64> = Atomic::new(1);
static TIMES: Atomic<i64> = Atomic::new(-1);
static SPACE: Atomic<u64> = Atomic::new(0);
static COUNT: Atomic<u64> = Atomic::new(0);
static SEED: Atomic<u64> = Atomic::new(0x2545_f491_4f6c_dd1d);
static INJECTED: Atomic<u64> = Atomic::new(0);
/// [`INJECTED`] by site, in the order of the sites' bits.
static INJECTED_AT: [Atomic<u64>; SITES.len()] = [const { Atomic::new(0) }; SITES.len()];

/// Whether faults are injected at `site`: a hit path that would take a
/// chance there leaves it to its slow path when they are.
#[inline(always)]
pub(crate) fn armed(site: Site) -> bool {
    WHERE.read() & site as usize != 0
}

/// Whether this chance at `site`, for `size` bytes, should fail.
#[inline(always)]
pub(crate) fn should_fail(site: Site, size: usize) -> bool {
    armed(site) && should_fail_armed(site, size)
}

/// [`should_fail`] at an armed site: the decision, out of the hit paths.
#[cold]
#[inline(never)]
fn should_fail_armed(site: Site, size: usize) -> bool {
    let mut attr = attr();
    let mut seed = SEED.load(Relaxed);
    let fail = attr.should_fail(size, xorshift(&mut seed));
    SEED.store(seed, Relaxed);
    TIMES.store(attr.times, Relaxed);
    SPACE.store(attr.space, Relaxed);
    COUNT.store(attr.count, Relaxed);
    if fail {
        INJECTED.add(1, Relaxed);
        if let Some(n) = INJECTED_AT.get((site as u32).trailing_zeros() as usize) {
            n.add(1, Relaxed);
        }
    }
    fail
}

/// [`should_fail`] as a `Result`, for an internal failure point:
/// `inject(site, size)?` before the step that may fail there.
#[inline]
pub(crate) fn inject(site: Site, size: usize) -> Result<(), kernel::error::Error> {
    if should_fail(site, size) {
        Err(kernel::error::code::ENOMEM)
    } else {
        Ok(())
    }
}

/// The knobs now.
pub(crate) fn attr() -> FaultAttr {
    FaultAttr {
        probability: PROBABILITY.load(Relaxed),
        interval: INTERVAL.load(Relaxed),
        times: TIMES.load(Relaxed),
        space: SPACE.load(Relaxed),
        count: COUNT.load(Relaxed),
    }
}

/// Sets the knobs (checked by the caller).
pub(crate) fn set(attr: FaultAttr) {
    PROBABILITY.store(attr.probability, Relaxed);
    INTERVAL.store(attr.interval, Relaxed);
    TIMES.store(attr.times, Relaxed);
    SPACE.store(attr.space, Relaxed);
    COUNT.store(attr.count, Relaxed);
}

/// The chosen sites, as a mask of [`Site`]s.
pub(crate) fn sites() -> u32 {
    WHERE.read() as u32
}

/// Chooses the sites.
pub(crate) fn set_sites(mask: u32) {
    WHERE.write(mask as usize);
}

/// Failures injected so far.
pub(crate) fn injected() -> u64 {
    INJECTED.load(Relaxed)
}

/// Failures injected so far at `site`.
pub(crate) fn injected_at(site: Site) -> u64 {
    INJECTED_AT.get((site as u32).trailing_zeros() as usize).map_or(0, |n| n.load(Relaxed))
}
