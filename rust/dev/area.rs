// SPDX-License-Identifier: GPL-2.0

//! What one `mmap(2)` of `/dev/zonemm` holds: a user region (see
//! `region/user.rs`) whose pages are filled from the pool on first fault,
//! as `shmem_fault()` fills a shmem file's page cache (`mm/shmem.c`),
//! scanned by the merger once marked mergeable, and given back when the
//! last VMA that maps it goes (`shmem_evict_inode()`'s place).
//!
//! An [`Area`] is shared by every VMA made from that `mmap(2)` call: the
//! first, its splits, its `fork(2)` copies and `mremap(2)` moves, each
//! holding one reference of the area's `Arc` (the VMA's `vm_private_data`;
//! `vm_ops->open` takes one, `vm_ops->close` drops it). Its pages sit at
//! file offsets of their own (`vm_pgoff` is the area's base, not the 0
//! the caller passed), so that taking one page's PTEs down reaches exactly
//! this area's VMAs. The core calls the last `->close` only after it
//! zapped the PTEs and flushed the TLB (`munmap`, `exit_mmap()`): the
//! region is freed then, its pages going back once the merger, if it is
//! looking at the region right now, lets go of it too.
//!
//! Locking: the region's slots mutex (see `region/user.rs`).

use kernel::{
    fs::File,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
    },
};

use crate::{
    region::{
        Region,
        Regions,
        UserCounts,
        UserPages,
        UserPte, //
    },
    pfn::PAGE_SHIFT,
};

/// Every live area's figures (`zonemm/dev/stat`): areas and bytes of
/// their slots (their touched pages are counted when read: no shared
/// counter on the fault path).
static AREAS: Atomic<usize> = Atomic::new(0);
static SLOT_BYTES: Atomic<usize> = Atomic::new(0);

/// The file page the next area starts at. Offsets are never reused; an
/// area's must stay below `MAX_LFS_FILESIZE` in bytes.
static NEXT_PGOFF: Atomic<usize> = Atomic::new(0);
const PGOFF_LIMIT: usize = 1 << (63 - PAGE_SHIFT);

/// What [`totals`] reports.
pub(crate) struct Totals {
    /// Live areas.
    pub(crate) areas: usize,
    /// Their pages that were touched (own pages, or using a merged one).
    pub(crate) pages: usize,
    /// Bytes of their slot arrays.
    pub(crate) slot_bytes: usize,
}

/// Every live area's figures, the areas being user regions of `regions`.
/// Process context; sleeps (each region's lock).
pub(crate) fn totals(regions: &Regions<'_>) -> Result<Totals> {
    Ok(Totals { areas: AREAS.load(Relaxed), pages: regions.user_pages()?, slot_bytes: SLOT_BYTES.load(Relaxed) })
}

/// The pages of one `mmap(2)` of the device.
///
/// # Invariants
///
/// `region` is a user region of `regions` of `nr_pages` pages at file
/// pages `base..base + nr_pages`, mapped only by VMAs that hold a
/// reference to this area.
pub(crate) struct Area<'r, 'a> {
    regions: &'r Regions<'a>,
    region: Arc<Region<'a>>,
    base: usize,
    nr_pages: usize,
}

impl<'r, 'a> Area<'r, 'a> {
    /// A new area of `nr_pages` untouched pages mapped through `file`.
    /// Process context; sleeps (allocates the slots, charged to the
    /// mapping process's memory cgroup).
    pub(crate) fn new(regions: &'r Regions<'a>, file: ARef<File>, nr_pages: usize) -> Result<Arc<Self>> {
        let mut base = NEXT_PGOFF.load(Relaxed);
        loop {
            let end = base.checked_add(nr_pages).filter(|&e| e <= PGOFF_LIMIT).ok_or(ENOSPC)?;
            match NEXT_PGOFF.cmpxchg(base, end, Relaxed) {
                Ok(_) => break,
                Err(now) => base = now,
            }
        }
        let region = regions.alloc_user(nr_pages, UserPages::new(file, base))?;
        let id = region.id();
        let area = match Arc::new(Self { regions, region, base, nr_pages }, GFP_KERNEL) {
            Ok(a) => a,
            Err(e) => {
                // EINVAL only if already freed, which nothing else does.
                let _ = regions.free_user(id);
                return Err(e.into());
            }
        };
        AREAS.fetch_add(1, Relaxed);
        SLOT_BYTES.fetch_add(area.slot_bytes(), Relaxed);
        Ok(area)
    }

    /// The first file page (the VMAs' `vm_pgoff` base).
    pub(crate) fn base(&self) -> usize {
        self.base
    }

    fn slot_bytes(&self) -> usize {
        self.nr_pages * Region::user_slot_size()
    }

    /// The area's page index of file pages `[pgoff, pgoff + nr)`, if they
    /// are all the area's.
    fn index(&self, pgoff: usize, nr: usize) -> Option<usize> {
        let first = pgoff.checked_sub(self.base)?;
        first.checked_add(nr).filter(|&end| end <= self.nr_pages)?;
        Some(first)
    }

    /// `->fault` / `->pfn_mkwrite` of file page `pgoff`: `insert` maps
    /// what it is given, under the region's lock. `EFAULT` past the end,
    /// `ENOMEM` when the pool has no page. Fault context; sleeps.
    pub(crate) fn fault<R>(&self, pgoff: usize, write: bool, insert: impl FnOnce(UserPte) -> R) -> Result<R> {
        let index = self.index(pgoff, 1).ok_or(EFAULT)?;
        self.region.user_fault(self.regions.pool(), index, write, insert)
    }

    /// Marks file pages `[pgoff, pgoff + nr)` mergeable or not; `EINVAL`
    /// (nothing changed) if they are not all this area's. Sleeps.
    pub(crate) fn set_mergeable(&self, pgoff: usize, nr: usize, mergeable: bool) -> Result {
        let index = self.index(pgoff, nr).ok_or(EINVAL)?;
        self.region.set_user_mergeable(self.regions.pool(), index, nr, mergeable)
    }

    /// Adds the figures of file pages `[pgoff, pgoff + nr)` (clipped to
    /// the area) to `c`. Sleeps (the region's lock).
    pub(crate) fn count(&self, pgoff: usize, nr: usize, c: &mut UserCounts) {
        if let Some(first) = pgoff.checked_sub(self.base) {
            self.region.user_counts(first, nr, c);
        }
    }
}

impl Drop for Area<'_, '_> {
    /// The region goes: its pages go back to the pool as soon as the
    /// merger does not hold it. Process context (the last `->close`).
    fn drop(&mut self) {
        // EINVAL only if already freed, which nothing else does.
        let _ = self.regions.free_user(self.region.id());
        SLOT_BYTES.fetch_sub(self.slot_bytes(), Relaxed);
        AREAS.fetch_sub(1, Relaxed);
    }
}
