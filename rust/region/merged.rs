// SPDX-License-Identifier: GPL-2.0

//! Mergeable regions: pages with no kernel address of their own, reached
//! through short-lived mappings, as `mm/zsmalloc.c` hands out handles and
//! `zs_map_object()` mappings rather than addresses.
//!
//! Each page is a [`Slot`]: the region's own pool page, or a reference to a
//! shared page. [`PageMap`] is the scoped mapping (`kmap_local_page()` of
//! the page: on 64-bit its direct-map address): mapping a shared page for
//! writing is the copy-on-write point (`do_wp_page()`), so no writable
//! mapping of a shared page ever exists. The merger works here page by
//! page under the region's own mutex, as `mm/ksm.c` works under the page
//! table lock: it shares or replaces a page only while nothing maps it
//! (`write_protect_page()` refuses a page with extra references), and
//! compares it again before it frees a replaced page (`replace_page()`).
//!
//! Locking: one region's slot mutex at a time (the merger compares two
//! regions' pages through a copy of one); nothing else is taken under it
//! but the pool's locks.

use core::ptr::NonNull;

use kernel::{
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

use super::{
    shared::{
        SharedPage,
        SharedRef, //
    },
    Region,
};
use crate::{
    buddy::{
        Flags,
        MigrateMode,
        PageBlock,
        Pool, //
    },
    ksm::page_hash,
    page_alloc::MigrateType,
    pfn::{
        Order,
        Pfn,
        PAGE_SIZE, //
    },
};

/// What a mergeable region page holds.
pub(super) enum SlotPage<'a> {
    /// Its own page.
    Own(PageBlock<'a>),
    /// A shared page, only ever mapped for reading.
    Shared(SharedRef<'a>),
    /// No page yet: a user region's page before its first fault.
    Empty,
}

/// One page of a mergeable region, and what the merger knows of it (the
/// part of `struct ksm_rmap_item` kept per page).
pub(super) struct Slot<'a> {
    pub(super) page: SlotPage<'a>,
    /// Live [`PageMap`]s of its own page.
    maps: u32,
    /// Of which for writing.
    writers: u32,
    /// Bumped by every write mapping: the page's "checksum".
    pub(super) gen: u32,
    /// `gen` at its last scan (`rmap_item->oldchecksum`); `Some` once
    /// scanned (the page has an rmap item).
    pub(super) seen: Option<u32>,
    /// The merger may share it: always for a kernel region; for a user
    /// region once a range is marked (`ZONEMM_IOC_MERGEABLE`).
    pub(super) mergeable: bool,
    /// A user region's page: some user PTE may map it (read-only unless
    /// `user_writable`). Both are set, under the slots' mutex, before a
    /// PTE is installed, and cleared only by [`Region::zap_user`] under
    /// it: with both clear, no PTE maps the page.
    pub(super) user_mapped: bool,
    /// Some user PTE may map it writable.
    pub(super) user_writable: bool,
}

/// A mergeable region's pages, under its mutex.
pub(super) type Slots<'a> = Mutex<KVVec<Slot<'a>>>;

/// How a mergeable region's own pages are allocated: movable single pages
/// (zsmalloc's `__GFP_MOVABLE`), from zones up to `Normal`.
pub(super) fn slot_flags(zero: bool) -> Flags {
    let flags = Flags::KERNEL.migratetype(MigrateType::Movable);
    if zero {
        flags.zeroed()
    } else {
        flags
    }
}

impl<'a> Slot<'a> {
    pub(super) fn new(block: PageBlock<'a>) -> Self {
        Self::with(SlotPage::Own(block), true)
    }

    /// A user region's slot: no page until its first fault, not
    /// mergeable until marked.
    pub(super) fn empty() -> Self {
        Self::with(SlotPage::Empty, false)
    }

    fn with(page: SlotPage<'a>, mergeable: bool) -> Self {
        Self { page, maps: 0, writers: 0, gen: 0, seen: None, mergeable, user_mapped: false, user_writable: false }
    }

    /// Its own page's bytes, if it has one and nobody maps it for writing
    /// (so that they cannot change while the slot's mutex is held).
    fn stable_content(&self) -> Option<&[u8]> {
        match &self.page {
            SlotPage::Own(b) if self.writers == 0 && !self.user_writable => {
                // SAFETY: A whole page of ours; nobody holds a write
                // mapping, and none can be made while our caller holds
                // the slots' mutex.
                Some(unsafe { core::slice::from_raw_parts(b.as_mut_ptr(), PAGE_SIZE) })
            }
            _ => None,
        }
    }

    /// Writes `word` into its own page's owner word (nothing for a shared
    /// page). Any context.
    pub(super) fn set_owner(&self, pool: &Pool, word: usize) {
        if let SlotPage::Own(b) = &self.page {
            if let Some(owner) = pool.owner(b.pfn()) {
                owner.write(word);
            }
        }
    }

    /// Gives it a private copy of its shared page (copy-on-write), its
    /// owner word `word`. May sleep (allocates).
    fn cow(&mut self, pool: &'a Pool, word: usize) -> Result {
        self.cow_user(pool, word, slot_flags(false))
    }

    /// [`Slot::cow`] with a new page taken with `flags`.
    pub(super) fn cow_user(&mut self, pool: &'a Pool, word: usize, flags: Flags) -> Result {
        let SlotPage::Shared(shared) = &self.page else {
            return Ok(());
        };
        let block = pool.alloc_pages(Order::ZERO, flags)?;
        // SAFETY: The shared page is ours to read (we hold a reference);
        // the new one is ours alone; both are whole pages.
        unsafe { core::ptr::copy_nonoverlapping(shared.as_ptr(), block.as_mut_ptr(), PAGE_SIZE) };
        // Drops this page's reference to the shared page.
        self.page = SlotPage::Own(block);
        self.set_owner(pool, word);
        Ok(())
    }

    /// The frame, if it has a page.
    pub(super) fn pfn(&self) -> Option<Pfn> {
        match &self.page {
            SlotPage::Own(b) => Some(b.pfn()),
            SlotPage::Shared(s) => Some(s.page().pfn()),
            SlotPage::Empty => None,
        }
    }
}

/// What a [`PageMap`] keeps alive.
enum Hold<'a> {
    /// A page of a region: a mapped region's, or a mergeable region's own
    /// page, counted in its slot when `counted`.
    Region { region: Arc<Region<'a>>, index: usize, counted: bool },
    /// A shared page, pinned until the mapping drops.
    Shared { _pin: SharedRef<'a> },
}

/// A short-lived mapping of one region page (`kmap_local_page()`), for
/// reading, or for writing. Released when dropped; the page is not freed
/// while mapped.
pub(crate) struct PageMap<'a> {
    ptr: NonNull<u8>,
    write: bool,
    hold: Hold<'a>,
}

// SAFETY: The mapping is a direct-map address valid on every CPU, and what
// it holds is `Send`.
unsafe impl Send for PageMap<'_> {}

impl PageMap<'_> {
    /// The page's address: [`PAGE_SIZE`] bytes, readable while mapped, and
    /// writable if mapped for writing.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Whether it was mapped for writing.
    pub(crate) fn is_write(&self) -> bool {
        self.write
    }
}

impl Drop for PageMap<'_> {
    fn drop(&mut self) {
        let Hold::Region { region, index, counted: true } = &self.hold else {
            return;
        };
        let Some(slots) = region.slots.as_ref() else { return };
        let mut slots = slots.lock();
        let Some(slot) = slots.get_mut(*index) else { return };
        slot.maps -= 1;
        if self.write {
            slot.writers -= 1;
            slot.gen = slot.gen.wrapping_add(1);
        }
    }
}

impl<'a> Region<'a> {
    /// Maps page `index` of this region (held by `this`) for reading, or
    /// for writing (`write`: a shared page is copied first). Process
    /// context; may sleep (the mutex, the copy).
    pub(super) fn map_page(this: Arc<Self>, index: usize, write: bool, pool: &'a Pool) -> Result<PageMap<'a>> {
        // A user region's pages are reached only through its user
        // mappings, whose PTEs this call would not see.
        if index >= this.nr_pages || this.user.is_some() {
            return Err(EINVAL);
        }
        let Some(slots) = this.slots.as_ref() else {
            let ptr = this.page_addr(index).ok_or(EINVAL)?;
            return Ok(PageMap { ptr, write, hold: Hold::Region { region: this, index, counted: false } });
        };
        let mut guard = slots.lock();
        let slot = &mut guard[index];
        if write {
            slot.cow(pool, super::migrate::owner_word(this.id, index))?;
        }
        let ptr = match &slot.page {
            SlotPage::Own(b) => NonNull::new(b.as_mut_ptr()).ok_or(EINVAL)?,
            SlotPage::Shared(s) => {
                // Read-only use of a shared page: pin it, so that a later
                // copy-on-write of this slot cannot free it under us.
                let pin = SharedRef::pin(s.page()).ok_or(EINVAL)?;
                let ptr = NonNull::new(pin.as_ptr().cast_mut()).ok_or(EINVAL)?;
                return Ok(PageMap { ptr, write: false, hold: Hold::Shared { _pin: pin } });
            }
            SlotPage::Empty => return Err(EINVAL),
        };
        slot.maps += 1;
        if write {
            slot.writers += 1;
            slot.gen = slot.gen.wrapping_add(1);
        }
        drop(guard);
        Ok(PageMap { ptr, write, hold: Hold::Region { region: this, index, counted: true } })
    }

    fn slots(&self) -> Option<&Slots<'a>> {
        self.slots.as_deref()
    }

    /// The merger: `None` if there is no such page (or it is not one the
    /// merger may share: an untouched or unmarked user page), `Some(None)`
    /// if the page is the region's own, else its shared page.
    pub(crate) fn shared_page(&self, index: usize) -> Option<Option<Arc<SharedPage<'a>>>> {
        let slots = self.slots()?.lock();
        let slot = slots.get(index).filter(|s| s.mergeable)?;
        match &slot.page {
            SlotPage::Own(_) => Some(None),
            SlotPage::Shared(s) => Some(Some(s.page().clone())),
            SlotPage::Empty => None,
        }
    }

    /// The merger: whether the page changed since its last scan, noting
    /// its state now; true on first sight and while mapped for writing.
    /// `first` is set when the page is seen for the first time.
    pub(crate) fn volatile(&self, index: usize, first: &mut bool) -> bool {
        let Some(slots) = self.slots() else { return true };
        let mut slots = slots.lock();
        let Some(slot) = slots.get_mut(index) else { return true };
        if slot.writers > 0 || !slot.mergeable {
            return true;
        }
        if slot.user_writable {
            // Writable in user space: write-protect it now (the end of a
            // write mapping), so that a later write faults and counts.
            self.zap_user(index, slot);
        }
        *first = slot.seen.is_none();
        let changed = slot.seen != Some(slot.gen);
        slot.seen = Some(slot.gen);
        changed
    }

    /// The merger: a hash of the page's content, if it is the region's own
    /// and not mapped for writing.
    pub(crate) fn hash(&self, index: usize) -> Option<u64> {
        let slots = self.slots()?.lock();
        slots.get(index)?.stable_content().map(page_hash)
    }

    /// The merger: whether the page is all zero.
    pub(crate) fn is_zero(&self, index: usize) -> bool {
        let Some(slots) = self.slots() else { return false };
        let slots = slots.lock();
        let content = slots.get(index).and_then(Slot::stable_content);
        content.is_some_and(|c| c.iter().all(|&b| b == 0))
    }

    /// The merger: whether the page holds what shared page `s` holds.
    pub(crate) fn same_as(&self, index: usize, s: &Arc<SharedPage<'a>>) -> bool {
        let Some(pin) = SharedRef::pin(s) else { return false };
        let Some(slots) = self.slots() else { return false };
        let slots = slots.lock();
        slots.get(index).and_then(Slot::stable_content).is_some_and(|c| c == pin.content())
    }

    /// The merger: copies the page into `buf` if it is the region's own
    /// and not mapped for writing (the first half of `memcmp_pages()`:
    /// two regions' mutexes are never held at once).
    pub(crate) fn copy_page(&self, index: usize, buf: &mut [u8]) -> bool {
        let Some(slots) = self.slots() else { return false };
        let slots = slots.lock();
        match slots.get(index).and_then(Slot::stable_content) {
            Some(c) if buf.len() == c.len() => {
                buf.copy_from_slice(c);
                true
            }
            _ => false,
        }
    }

    /// The merger: whether the page is the region's own, not mapped for
    /// writing, and holds `bytes`.
    pub(crate) fn holds(&self, index: usize, bytes: &[u8]) -> bool {
        let Some(slots) = self.slots() else { return false };
        let slots = slots.lock();
        slots.get(index).and_then(Slot::stable_content).is_some_and(|c| c == bytes)
    }

    /// The merger: makes the page's own page a shared page used by it
    /// alone, if nothing maps it (the frame stays). A page mapped even for
    /// reading is refused, as `write_protect_page()` refuses a page with
    /// extra references: a read mapping of an own page holds no reference
    /// to a shared page, which a later copy-on-write could free under it.
    pub(crate) fn share(&self, index: usize) -> Option<Arc<SharedPage<'a>>> {
        let mut slots = self.slots()?.lock();
        let slot = slots.get_mut(index)?;
        // Read-only user PTEs may stay: the frame does not change.
        if slot.maps > 0 || slot.user_writable || !slot.mergeable || !matches!(slot.page, SlotPage::Own(_)) {
            return None;
        }
        let at: *mut SlotPage<'a> = &mut slot.page;
        // SAFETY: `at` is a live entry; its value is moved out here and a
        // value is written back below, with nothing in between that can
        // panic or return early.
        let (page, shared) = match unsafe { at.read() } {
            SlotPage::Own(block) => match SharedPage::new(block) {
                Ok(r) => {
                    let shared = r.page().clone();
                    (SlotPage::Shared(r), Some(shared))
                }
                Err(block) => (SlotPage::Own(block), None),
            },
            other => (other, None),
        };
        // SAFETY: See above: the entry gets its value back.
        unsafe { at.write(page) };
        shared
    }

    /// The merger: maps shared page `s` in place of the page's own page,
    /// which goes back to the pool. As `try_to_merge_one_page()`: only if
    /// nothing maps the page at all (its frame is freed), and only if it
    /// still holds what `s` holds, compared again now that nobody can
    /// write it.
    pub(crate) fn merge(&self, index: usize, s: &Arc<SharedPage<'a>>) -> bool {
        let Some(pin) = SharedRef::pin(s) else { return false };
        let Some(slots) = self.slots() else { return false };
        let mut slots = slots.lock();
        let Some(slot) = slots.get_mut(index) else { return false };
        if slot.maps > 0 || !slot.mergeable {
            return false;
        }
        // `write_protect_page()`: no user PTE maps the old frame from
        // here on, so the compare below is of bytes nobody can change.
        self.zap_user(index, slot);
        if slot.stable_content() != Some(pin.content()) {
            return false;
        }
        // The old page is freed here, under the mutex: nothing maps it.
        slot.page = SlotPage::Shared(pin.into_mapped());
        true
    }

    /// The merger: forgets every page's scan (`run=2` frees every rmap
    /// item): each is volatile on first sight again.
    pub(crate) fn forget_scans(&self) {
        if let Some(slots) = self.slots() {
            for slot in slots.lock().iter_mut() {
                slot.seen = None;
            }
        }
        self.rmap_items.store(0, kernel::sync::atomic::Relaxed);
    }

    /// Gives the page a private copy of its shared page again (`run=2`,
    /// `break_ksm()`). May sleep.
    pub(crate) fn unshare(&self, index: usize, pool: &'a Pool) -> Result {
        let mut slots = self.slots().ok_or(EINVAL)?.lock();
        let slot = slots.get_mut(index).ok_or(EINVAL)?;
        if matches!(slot.page, SlotPage::Shared(_)) {
            // User PTEs of the shared frame go first.
            self.zap_user(index, slot);
        }
        let flags = self.page_flags().unwrap_or(slot_flags(false));
        slot.cow_user(pool, super::migrate::owner_word(self.id, index), flags)
    }

    /// Compaction: moves page `index`'s own page, frame `src`, to the page
    /// `dst()` gives (called only once the move is certain): copies it,
    /// repoints the slot, moves the owner word and frees the old page.
    /// Refuses (`false`, nothing changed) if the mutex is taken, the page
    /// is not the slot's own page at `src`, or a kernel mapping holds it;
    /// a user region's page in user PTEs has them taken down first, in
    /// [`MigrateMode::Sync`] only. Process context; does not allocate;
    /// sleeps only to take user PTEs down.
    pub(super) fn migrate_page(
        &self,
        index: usize,
        src: Pfn,
        pool: &Pool,
        mode: MigrateMode,
        dst: impl FnOnce() -> Option<PageBlock<'a>>,
    ) -> bool {
        let Some(slots) = self.slots() else { return false };
        let Some(mut slots) = slots.try_lock() else { return false };
        let Some(slot) = slots.get_mut(index) else { return false };
        let SlotPage::Own(old) = &slot.page else { return false };
        if slot.maps > 0 || old.pfn() != src || old.order() != Order::ZERO {
            return false;
        }
        if slot.user_mapped || slot.user_writable {
            // Taking the user PTEs down sleeps (`i_mmap_rwsem`).
            if mode == MigrateMode::Async {
                return false;
            }
            self.zap_user(index, slot);
        }
        let SlotPage::Own(old) = &slot.page else { return false };
        let Some(new) = dst() else { return false };
        // SAFETY: Two distinct whole pages of ours: the old one nobody
        // maps (and none can be mapped while we hold the mutex), the new
        // one ours alone.
        unsafe { core::ptr::copy_nonoverlapping(old.as_mut_ptr(), new.as_mut_ptr(), PAGE_SIZE) };
        let word = pool.owner(src).map_or(0, |w| w.read());
        let old = core::mem::replace(&mut slot.page, SlotPage::Own(new));
        slot.set_owner(pool, word);
        if let Some(w) = pool.owner(src) {
            w.write(0);
        }
        // The old page goes back to the pool.
        drop(old);
        true
    }
}
