// SPDX-License-Identifier: GPL-2.0

//! Shared pages in regions, and the merger's access to mergeable regions.
//!
//! A merged page is one physical page several region pages map, as a KSM
//! page is in `mm/ksm.c`: read-only in effect, since a write through the
//! region calls copies it first (`Region::cow`). [`MergeAccess`] gives the
//! merger, under the regions lock, what `mm/ksm.c` gets from the page
//! tables: each mergeable page's content, and the means to share it, map
//! a shared page in its place, or undo that.

use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        UniqueArc,
    },
};

use super::{
    Inner,
    RegionPage,
    Regions,
};
use crate::{
    buddy::{
        Flags,
        PageBlock, //
    },
    helpers::*,
    ksm::Item,
    pfn::{
        Order,
        PAGE_SIZE, //
    },
};

/// A page several region pages map: a merged page, or the zero page.
/// Nobody writes it: a write to a region page that maps it copies it first.
pub(crate) struct SharedPage<'a> {
    pub(super) block: PageBlock<'a>,
    sharers: Atomic<usize>,
}

impl<'a> SharedPage<'a> {
    /// A shared page over `block`, mapped by nobody yet.
    pub(crate) fn new(block: PageBlock<'a>) -> Result<Arc<Self>> {
        crate::fault::inject(crate::fault::Site::Merge, size_of::<Self>())?;
        Ok(Arc::new(Self { block, sharers: Atomic::new(0) }, GFP_KERNEL)?)
    }

    /// How many region pages map it.
    pub(crate) fn sharers(&self) -> usize {
        self.sharers.load(Relaxed)
    }

    /// Its bytes.
    pub(crate) fn content(&self) -> &[u8] {
        // SAFETY: A whole page we own, never written while shared.
        unsafe { core::slice::from_raw_parts(self.block.as_mut_ptr(), PAGE_SIZE) }
    }

    pub(super) fn page(&self) -> *mut bindings::page {
        // SAFETY: Our own frame.
        unsafe { zonemm_pfn_to_page(self.block.pfn().0 as c_ulong) }
    }
}

/// A region page's mapping of a shared page, counted in `sharers`.
pub(super) struct SharedRef<'a>(pub(super) Arc<SharedPage<'a>>);

impl<'a> SharedRef<'a> {
    pub(super) fn new(page: Arc<SharedPage<'a>>) -> Self {
        page.sharers.fetch_add(1, Relaxed);
        Self(page)
    }
}

impl Drop for SharedRef<'_> {
    fn drop(&mut self) {
        self.0.sharers.fetch_sub(1, Relaxed);
    }
}

/// The merger's view of the mergeable regions, under the regions lock.
pub(crate) struct MergeAccess<'r, 'a> {
    regions: &'r Regions<'a>,
    inner: &'r mut Inner<'a>,
}

impl<'a> Regions<'a> {
    /// Runs `f` with the merger's access; remaps the regions it changed
    /// afterwards. Sleeps.
    pub(crate) fn with_merge_access<R>(&self, f: impl FnOnce(&mut MergeAccess<'_, 'a>) -> R) -> R {
        let mut inner = self.inner.lock();
        let mut access = MergeAccess { regions: self, inner: &mut inner };
        let r = f(&mut access);
        access.flush();
        r
    }

    /// A zeroed page from the pool, as a shared page (the zero page).
    pub(crate) fn zero_page(&self) -> Result<Arc<SharedPage<'a>>> {
        SharedPage::new(self.pool.alloc_pages(Order::ZERO, Flags::KERNEL.zeroed())?)
    }
}

impl<'a> MergeAccess<'_, 'a> {
    fn region(&self, id: u64) -> Option<&super::Region<'a>> {
        self.inner.slots.iter().flatten().find(|r| r.id == id && r.flags.mergeable).map(|r| &**r)
    }

    fn region_mut(&mut self, id: u64) -> Option<&mut super::Region<'a>> {
        self.inner.slots.iter_mut().flatten().find(|r| r.id == id && r.flags.mergeable).map(|r| &mut **r)
    }

    /// The mergeable page after `after` (round robin: regions by identity,
    /// pages in order), and whether the pass wrapped around to reach it.
    pub(crate) fn next_item(&self, after: Option<Item>) -> Option<(Item, bool)> {
        let regions = || self.inner.slots.iter().flatten().filter(|r| r.flags.mergeable);
        if let Some(a) = after {
            if let Some(r) = self.region(a.region).filter(|r| a.index + 1 < r.nr_pages) {
                return Some((Item { region: r.id, index: a.index + 1 }, false));
            }
            let next = regions().filter(|r| r.id > a.region).min_by_key(|r| r.id);
            if let Some(r) = next {
                return Some((Item { region: r.id, index: 0 }, false));
            }
        }
        let first = regions().min_by_key(|r| r.id)?;
        Some((Item { region: first.id, index: 0 }, after.is_some()))
    }

    /// Pages of all mergeable regions (`ksm_rmap_items`).
    pub(crate) fn nr_items(&self) -> usize {
        self.inner.slots.iter().flatten().filter(|r| r.flags.mergeable).map(|r| r.nr_pages).sum()
    }

    /// The page's bytes, if it exists.
    pub(crate) fn content(&self, item: Item) -> Option<&[u8]> {
        let r = self.region(item.region).filter(|r| item.index < r.nr_pages)?;
        // SAFETY: A whole page of the region, read under the regions lock,
        // which every writer takes.
        Some(unsafe { core::slice::from_raw_parts(r.byte(item.index * PAGE_SIZE), PAGE_SIZE) })
    }

    /// `None` if gone, `Some(None)` if private, else its shared page.
    pub(crate) fn shared(&self, item: Item) -> Option<Option<&Arc<SharedPage<'a>>>> {
        let r = self.region(item.region).filter(|r| item.index < r.nr_pages)?;
        Some(match &r.blocks[item.index] {
            RegionPage::Own(_) => None,
            RegionPage::Shared(s) => Some(&s.0),
        })
    }

    /// Makes the page's own page a shared page, mapped by it alone (no
    /// remap: the frame stays).
    pub(crate) fn share(&mut self, item: Item) -> Option<Arc<SharedPage<'a>>> {
        // Allocate first, so that a failure leaves the page as it was.
        crate::fault::inject(crate::fault::Site::Merge, size_of::<SharedPage<'a>>()).ok()?;
        let uninit = UniqueArc::<SharedPage<'a>>::new_uninit(GFP_KERNEL).ok()?;
        let r = self.region_mut(item.region).filter(|r| item.index < r.nr_pages)?;
        if !matches!(r.blocks[item.index], RegionPage::Own(_)) {
            return None;
        }
        let slot: *mut RegionPage<'a> = &mut r.blocks[item.index];
        // SAFETY: `slot` points to a live entry; its value is moved out and
        // a value is written back at once, with nothing in between that can
        // panic, return, or look at the entry.
        let old = unsafe { slot.read() };
        let (new, shared) = match old {
            RegionPage::Own(block) => {
                let arc: Arc<SharedPage<'a>> = uninit.write(SharedPage { block, sharers: Atomic::new(0) }).into();
                (RegionPage::Shared(SharedRef::new(arc.clone())), Some(arc))
            }
            other => (other, None),
        };
        // SAFETY: See above: the entry gets its value back.
        unsafe { slot.write(new) };
        shared
    }

    /// Maps `shared` in place of the page's own page, which goes back to
    /// the pool. The region is remapped when the access ends.
    pub(crate) fn merge(&mut self, item: Item, shared: &Arc<SharedPage<'a>>) -> bool {
        let Some(r) = self.region_mut(item.region).filter(|r| item.index < r.nr_pages) else {
            return false;
        };
        if !matches!(r.blocks[item.index], RegionPage::Own(_)) {
            return false;
        }
        r.pages[item.index] = shared.page();
        r.blocks[item.index] = RegionPage::Shared(SharedRef::new(shared.clone()));
        r.dirty = true;
        true
    }

    /// Gives the page a private copy of its shared page again.
    pub(crate) fn unshare(&mut self, item: Item) -> Result {
        let pool = self.regions.pool;
        let r = self.region_mut(item.region).filter(|r| item.index < r.nr_pages).ok_or(EINVAL)?;
        r.cow(item.index, pool)
    }

    /// Remaps every region whose pages changed.
    fn flush(&mut self) {
        for slot in 0..self.inner.slots.len() {
            if self.inner.slots[slot].as_ref().is_some_and(|r| r.dirty) {
                if let Err(e) = self.inner.remap_slot(slot) {
                    // Keeps the old mapping; the next access retries.
                    pr_err!("remapping a merged region failed: {:?}\n", e);
                }
            }
        }
    }
}
