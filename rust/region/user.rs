// SPDX-License-Identifier: GPL-2.0

//! User regions: mergeable regions whose pages are mapped in user space
//! (`/dev/zonemm`), as anonymous memory marked `MADV_MERGEABLE` is KSM's.
//!
//! A user region's pages are reached through PTEs that the core mm walks
//! without asking us, so the merger's rule that nothing maps a page it
//! shares or replaces (see [`super::merged`]) is kept by taking the PTEs
//! down first: [`Region::zap_user`] is `unmap_mapping_range()` of the
//! page's file offset, which reaches every VMA made from the same
//! `mmap(2)` (their splits, `fork(2)` copies and `mremap(2)` moves share
//! the file and the offsets), as `truncate` reaches a file's mappings.
//! The merger then compares and replaces the page, as `mm/ksm.c`'s
//! `write_protect_page()` and `replace_page()` do under the page table
//! lock.
//!
//! Every PTE of a user region's page is installed by this file, under the
//! slots' mutex, with the slot's `user_mapped` / `user_writable` set first
//! (the device's `->fault` and `->pfn_mkwrite`, which returns
//! `VM_FAULT_NOPAGE` so that the core never makes a PTE writable on its
//! own), and taken down under the same mutex by the merger: so a page
//! whose flags are clear is in no PTE. A shared page is only ever mapped
//! read-only; a write fault on it copies it into a private page first
//! (`do_wp_page()`'s copy, in zonemm's fault handling).
//!
//! Locking: the slots' mutex, then `i_mmap_rwsem` and the page table
//! locks (`unmap_mapping_range()`, the PTE install): the order of
//! `mm/rmap.c`, where `mmap_lock` (held by every fault) comes before both.

use kernel::{
    fs::File,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::Relaxed,
        Arc, //
    },
};

use super::{
    merged::{
        Slot,
        SlotPage, //
    },
    migrate::owner_word,
    Region,
    RegionFlags,
    Regions,
};
use crate::{
    buddy::{
        Flags,
        Pool, //
    },
    helpers::zonemm_unmap_file_pages,
    pfn::{
        Order,
        Pfn,
        PAGE_SIZE, //
    },
};

/// Where a user region's pages are mapped: the file whose mappings map
/// them, page `index` at file page `pgoff + index`.
///
/// # Invariants
///
/// Every user PTE of the region's pages is in a VMA of `file` (shared
/// mappings of it made by one `mmap(2)`), at that offset.
pub(crate) struct UserPages {
    file: ARef<File>,
    pgoff: usize,
}

impl UserPages {
    /// The user mappings of `file` at file pages `pgoff..`; the region
    /// holds a reference to the file (its address space outlives the
    /// VMAs while the merger still holds the region).
    pub(crate) fn new(file: ARef<File>, pgoff: usize) -> Self {
        Self { file, pgoff }
    }
}

/// What a fault maps: the frame, and whether writable.
pub(crate) struct UserPte {
    /// The frame.
    pub(crate) pfn: Pfn,
    /// Map it writable (a write fault on a page of the region's own).
    pub(crate) write: bool,
}

/// How a user region's own pages are allocated: `GFP_HIGHUSER_MOVABLE`,
/// zeroed, as an anonymous fault allocates.
fn user_flags() -> Flags {
    Flags::MOVABLE.zeroed()
}

impl<'a> Regions<'a> {
    /// A user region of `nr` pages, none allocated yet and none mergeable,
    /// mapped through `user`. Process context; sleeps.
    #[track_caller]
    pub(crate) fn alloc_user(&self, nr: usize, user: UserPages) -> Result<Arc<Region<'a>>> {
        if nr == 0 || nr > self.pool.managed() {
            return Err(EINVAL);
        }
        let mut v = KVVec::with_capacity(nr, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..nr {
            // Within the capacity just reserved: no allocation.
            let _ = v.push_within_capacity(Slot::empty());
        }
        let slots = KBox::pin_init(new_mutex!(v, "Region::slots"), GFP_KERNEL)?;
        let flags = RegionFlags { zero: true, mergeable: true, huge: false };
        self.register(nr, flags, None, Some(slots), Some(user))
    }

    /// Pages of every user region that were touched (`dev/stat`).
    /// Process context; sleeps (each region's lock).
    pub(crate) fn user_pages(&self) -> Result<usize> {
        let mut c = UserCounts::default();
        for r in self.snapshot()?.iter().filter(|r| r.user.is_some()) {
            r.user_counts(0, r.nr_pages, &mut c);
        }
        // CAST: pages of the pool fit a `usize`.
        Ok(c.mapped as usize)
    }
}

impl<'a> Region<'a> {
    /// Takes every user PTE of page `index` down (`unmap_mapping_range()`
    /// of its file page, TLB flushed) and notes it unmapped. Nothing for
    /// a region that is not a user region or a page in no PTE. Sleeps
    /// (`i_mmap_rwsem`); called under the slots' mutex.
    pub(super) fn zap_user(&self, index: usize, slot: &mut Slot<'a>) {
        let Some(user) = &self.user else { return };
        if !slot.user_mapped && !slot.user_writable {
            return;
        }
        // SAFETY: The file is held; the call sleeps, which our caller may.
        unsafe { zonemm_unmap_file_pages(user.file.as_ptr(), user.pgoff + index, 1) };
        slot.user_mapped = false;
        if slot.user_writable {
            slot.user_writable = false;
            // The end of a write mapping (see `PageMap`'s drop).
            slot.gen = slot.gen.wrapping_add(1);
        }
    }

    /// Bytes of metadata per user page (the slot).
    pub(crate) fn user_slot_size() -> usize {
        size_of::<Slot<'_>>()
    }

    /// `->fault` (`write`) and `->pfn_mkwrite` (`write`, the page mapped
    /// read-only) of user page `index`: takes a zeroed page on first
    /// touch, copies a shared page before it is written (its PTEs in
    /// every mapping taken down first), and calls `insert` with what to
    /// map, under the slots' mutex, noting the PTE before it exists.
    /// `EFAULT` past the end, `ENOMEM` when the pool has no page. Fault
    /// context; sleeps (the mutex, the allocation).
    pub(crate) fn user_fault<R>(
        &self,
        pool: &'a Pool,
        index: usize,
        write: bool,
        insert: impl FnOnce(UserPte) -> R,
    ) -> Result<R> {
        let slots = self.slots.as_deref().filter(|_| self.user.is_some()).ok_or(EINVAL)?;
        let mut slots = slots.lock();
        let slot = slots.get_mut(index).ok_or(EFAULT)?;
        let word = owner_word(self.id, index);
        let copy = match &slot.page {
            SlotPage::Empty => Some(pool.alloc_pages(Order::ZERO, user_flags())?),
            SlotPage::Shared(shared) if write => {
                let block = pool.alloc_pages(Order::ZERO, user_flags())?;
                // SAFETY: The shared page is ours to read (the slot holds
                // a reference) and nobody writes it; the new one is ours
                // alone; whole pages.
                unsafe { core::ptr::copy_nonoverlapping(shared.as_ptr(), block.as_mut_ptr(), PAGE_SIZE) };
                Some(block)
            }
            _ => None,
        };
        if let Some(block) = copy {
            // Every mapping of this area reading the shared frame refaults
            // onto the copy.
            self.zap_user(index, slot);
            // A shared page's reference goes here.
            slot.page = SlotPage::Own(block);
            slot.set_owner(pool, word);
        }
        let Some(pfn) = slot.pfn() else { return Err(EFAULT) };
        slot.user_mapped = true;
        if write {
            slot.user_writable = true;
            slot.gen = slot.gen.wrapping_add(1);
        }
        Ok(insert(UserPte { pfn, write }))
    }

    /// `ZONEMM_IOC_(UN)MERGEABLE` of pages `[first, first + nr)`; `EINVAL`
    /// (nothing changed) if they are not all the region's. Unmarking
    /// gives each shared page a private copy again first (`break_ksm()`);
    /// out of pages, it stops with `ENOMEM`, the pages before unmarked and
    /// the rest as they were. Sleeps.
    pub(crate) fn set_user_mergeable(&self, pool: &'a Pool, first: usize, nr: usize, mergeable: bool) -> Result {
        let slots = self.slots.as_deref().filter(|_| self.user.is_some()).ok_or(EINVAL)?;
        if first.checked_add(nr).is_none_or(|end| end > self.nr_pages) {
            return Err(EINVAL);
        }
        let mut slots = slots.lock();
        for index in first..first + nr {
            let slot = &mut slots[index];
            if slot.mergeable == mergeable {
                continue;
            }
            if !mergeable && matches!(slot.page, SlotPage::Shared(_)) {
                self.zap_user(index, slot);
                slot.cow_user(pool, owner_word(self.id, index), user_flags())?;
            }
            slot.mergeable = mergeable;
            if mergeable {
                self.marked.add(1, Relaxed);
            } else {
                self.marked.fetch_sub(1, Relaxed);
                // Its rmap item goes (`remove_rmap_item_from_tree()`).
                if slot.seen.take().is_some() {
                    self.rmap_items.fetch_sub(1, Relaxed);
                }
            }
        }
        Ok(())
    }

    /// The flags a user region's own page is allocated with.
    pub(super) fn page_flags(&self) -> Option<Flags> {
        self.user.as_ref().map(|_| user_flags())
    }

    /// Adds the `ksm_stat` figures of user pages `[first, first + nr)`
    /// (clipped to the region) to `c`. Sleeps (the mutex).
    pub(crate) fn user_counts(&self, first: usize, nr: usize, c: &mut UserCounts) {
        let Some(slots) = self.slots.as_deref() else { return };
        let slots = slots.lock();
        let end = first.saturating_add(nr).min(self.nr_pages);
        for slot in slots.get(first..end).unwrap_or(&[]) {
            c.mapped += u64::from(!matches!(slot.page, SlotPage::Empty));
            c.mergeable += u64::from(slot.mergeable);
            c.merging += u64::from(matches!(slot.page, SlotPage::Shared(_)));
            c.rmap_items += u64::from(slot.seen.is_some());
        }
    }
}

/// Per-process figures of user pages (`struct zonemm_stat`).
#[derive(Default, Clone, Copy)]
pub(crate) struct UserCounts {
    /// Pages that hold a page.
    pub(crate) mapped: u64,
    /// Pages marked mergeable.
    pub(crate) mergeable: u64,
    /// Pages using a shared page (`ksm_merging_pages`).
    pub(crate) merging: u64,
    /// Pages the merger has seen (`ksm_rmap_items`).
    pub(crate) rmap_items: u64,
}
