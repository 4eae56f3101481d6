// SPDX-License-Identifier: GPL-2.0

//! A lock-free map from the `MAX_PAGE_ORDER` blocks of a fixed frame range
//! to small numbers (the slots of grown blocks): what the kernel's
//! `mem_section` array is to memory hotplug, a direct-mapped table, so
//! that finding the slot of a grown block costs one load, however many
//! slots there are.
//!
//! Writers serialise among themselves (the caller's lock); readers load
//! an entry with acquire ordering, matching the writer's release store,
//! and then check the slot they found against the slot's own frame (an
//! entry may change under a reader that does not hold the block's pages).

use kernel::prelude::*;

use crate::{
    once::OnceU32,
    pfn::MAX_ORDER_NR_PAGES, //
};

/// Block number minus `base`, to slot plus one (0: none).
///
/// # Invariants
///
/// `entries[i]` is 0 or one more than a slot number.
pub(crate) struct BlockMap {
    base: usize,
    entries: KVec<OnceU32>,
}

impl BlockMap {
    /// A map of nothing: every lookup finds no slot.
    pub(crate) const fn empty() -> Self {
        Self { base: 0, entries: KVec::new() }
    }

    /// A map of the blocks of frames `[start, end)`, every one without a
    /// slot. Process context: it allocates (4 bytes a block, 1 KiB per
    /// GiB of the range).
    pub(crate) fn new(start: usize, end: usize) -> Result<Self> {
        let base = start / MAX_ORDER_NR_PAGES;
        let len = end.div_ceil(MAX_ORDER_NR_PAGES).saturating_sub(base);
        let mut entries = KVec::with_capacity(len, GFP_KERNEL)?;
        for _ in 0..len {
            entries.push(OnceU32::new(0), GFP_KERNEL)?;
        }
        // INVARIANT: every entry 0.
        Ok(Self { base, entries })
    }

    fn entry(&self, pfn: usize) -> Option<&OnceU32> {
        self.entries.get((pfn / MAX_ORDER_NR_PAGES).checked_sub(self.base)?)
    }

    /// The slot the block holding frame `pfn` was given, if any.
    /// Lock-free.
    #[inline]
    pub(crate) fn get(&self, pfn: usize) -> Option<usize> {
        (self.entry(pfn)?.load_acquire() as usize).checked_sub(1)
    }

    /// Gives the block holding frame `pfn` the slot `slot` (`None`: no
    /// slot). `false`, changing nothing, if the block lies outside the
    /// map or the slot does not fit. Callers serialise writers.
    pub(crate) fn set(&self, pfn: usize, slot: Option<usize>) -> bool {
        let value = match slot {
            None => 0,
            Some(s) => match u32::try_from(s).ok().and_then(|s| s.checked_add(1)) {
                Some(v) => v,
                None => return false,
            },
        };
        let Some(e) = self.entry(pfn) else { return false };
        // INVARIANT: 0 or a slot plus one.
        e.store_release(value);
        true
    }

    /// Bytes of the table.
    pub(crate) fn bytes(&self) -> usize {
        self.entries.capacity() * size_of::<OnceU32>()
    }
}
