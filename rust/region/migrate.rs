// SPDX-License-Identifier: GPL-2.0

//! Mergeable regions as movable page owners: `mm/zsmalloc.c`'s
//! `zs_page_migrate()` for zonemm's compaction.
//!
//! A mergeable region's own pages carry no kernel address that anyone
//! keeps: they are reached through the region's slots, under its mutex,
//! and mapped only for as long as a [`PageMap`](super::PageMap) lives. So
//! compaction can move one: each own page's owner word names its region
//! and slot ([`owner_payload`]), and [`Regions`] registered as the pool's
//! movable owner copies the page to the new frame and repoints the slot,
//! under the region's mutex taken with a trylock (a region busy now is
//! skipped, as `isolate_movable_page()` skips a page whose lock it cannot
//! take). A page mapped right now is skipped too: its mapping holds its
//! address. A user region's page in user PTEs moves only in
//! [`MigrateMode::Sync`], its PTEs taken down first (`try_to_migrate()`'s
//! unmap; the next touch faults the new frame in).
//!
//! Shared pages (the merger's stable pages) are not moved: each is
//! reached from every slot sharing it and from the merger's stable tree,
//! and repointing them all at once is `rmap_walk_ksm()`'s job, which
//! zonemm does not have. Mapped (`vmalloc`-like) regions are not movable
//! either: their pages are in a kernel mapping, as `vmalloc()`'s are.
//!
//! Owner words go stale when a page leaves its slot (freed, shared):
//! harmless, as every move checks the slot again under its mutex, and the
//! word's tag is one neither the slab layer nor `free_pages()` accept.

use kernel::prelude::*;

use super::Regions;
use crate::{
    buddy::{
        movable_word,
        MigrateMode,
        MovableOwner,
        MovableRegistration, //
    },
    page_alloc::MigrateType,
    pfn::{
        Order,
        Pfn, //
    },
};

/// Bits of the payload for the slot index; the region's identity above.
const INDEX_BITS: u32 = 28;

/// The owner-word payload of page `index` of region `id`, if both fit
/// (identities and indices below 2^28; beyond, the page does not move).
pub(super) fn owner_payload(id: u64, index: usize) -> Option<u64> {
    let index = u64::try_from(index).ok().filter(|&i| i < 1 << INDEX_BITS)?;
    (id < 1 << INDEX_BITS).then_some(id << INDEX_BITS | index)
}

/// The owner word for page `index` of region `id`, or 0 (no owner).
pub(super) fn owner_word(id: u64, index: usize) -> usize {
    owner_payload(id, index).and_then(movable_word).unwrap_or(0)
}

impl<'a> Regions<'a> {
    /// Registers the regions as the pool's movable owner until the result
    /// is dropped. Sleeps.
    ///
    /// # Safety
    ///
    /// `self` must not move, and must live until the result is dropped.
    pub(crate) unsafe fn register_movable(&self) -> Result<MovableRegistration<'a>> {
        // SAFETY: The caller's guarantee.
        unsafe { self.pool.register_movable(core::ptr::from_ref(self)) }
    }
}

impl MovableOwner for Regions<'_> {
    unsafe fn migrate_page(&self, payload: u64, src: Pfn, dst_zone: usize, dst: Pfn, mode: MigrateMode) -> bool {
        let (id, index) = (payload >> INDEX_BITS, (payload & ((1 << INDEX_BITS) - 1)) as usize);
        let Some(region) = self.get(id) else { return false };
        let pool = self.pool;
        region.migrate_page(index, src, pool, mode, || {
            // SAFETY: By our caller's guarantee `dst` is an allocated
            // single movable page of that zone of our pool, its to give;
            // this closure runs only once the move is certain.
            unsafe { pool.block_at(dst_zone, dst, Order::ZERO, MigrateType::Movable) }
        })
    }
}

mod tests;
