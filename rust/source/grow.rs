// SPDX-License-Identifier: GPL-2.0

//! Chunks taken and given back while the pool runs: the source side of
//! memory hotplug (`mm/memory_hotplug.c`'s `online_pages()` /
//! `offline_pages()`, for zonemm's pool rather than the machine's).
//!
//! A grown chunk is one `MAX_PAGE_ORDER` block, from the node's CMA area
//! if its fixed chunk came from one (`cma_alloc()`), else from the page
//! allocator (`alloc_pages_node()` with `__GFP_THISNODE`). The slots that
//! hold them are a fixed array sized at load from `max_pool_mb`, so that
//! the lookups of the hot paths ([`super::Source::page_of`],
//! [`super::Source::contains`], the owner words) stay lock-free: a slot's
//! block frame is published with a release store once its owner words
//! are zero, and read with an acquire load; a block is unpublished only
//! after the zones took it out of their free lists wholly free, so no
//! page of it is in anyone's hands while its slot changes.
//!
//! Lookups try the fixed chunks' map first; a frame that map does not
//! know is looked up in a [`BlockMap`] over the frames of every node with
//! memory (where growth can come from), one load and a check of the slot
//! found, however many slots there are.

use kernel::{
    new_mutex,
    prelude::*,
    sync::Mutex,
};

use super::{
    BlockMap,
    Chunk,
    Origin, //
};
use crate::{
    once::OnceWord,
    pfn::{
        Pfn,
        MAX_ORDER_NR_PAGES, //
    },
};

/// The grown chunks and the lock-free map of their frames.
///
/// # Invariants
///
/// `pfns[i]` is 0, or one more than the first frame of `chunks[i]`, which
/// is `Some` then. The owner words of slot `i` are
/// `owners[i * MAX_ORDER_NR_PAGES..][..MAX_ORDER_NR_PAGES]`, zero when the
/// slot is published. `map` gives slot `i` for the block of `chunks[i]`
/// while `pfns[i]` is published (and maybe for a moment around it:
/// readers check `pfns`).
pub(crate) struct Grown {
    pfns: KVec<OnceWord>,
    owners: KVec<OnceWord>,
    map: BlockMap,
    /// The chunks, by slot: taken and dropped under this mutex only.
    chunks: Pin<KBox<Mutex<KVec<Option<Chunk>>>>>,
}

impl Grown {
    /// Room for `slots` grown blocks (0: the pool never grows) taken
    /// from frames `[start, end)`. Process context: it allocates.
    pub(super) fn new(slots: usize, start: usize, end: usize) -> Result<Self> {
        let mut pfns = KVec::with_capacity(slots, GFP_KERNEL)?;
        let mut chunks = KVec::with_capacity(slots, GFP_KERNEL)?;
        for _ in 0..slots {
            pfns.push(OnceWord::new(0), GFP_KERNEL)?;
            chunks.push(None, GFP_KERNEL)?;
        }
        let mut owners = KVec::with_capacity(slots * MAX_ORDER_NR_PAGES, GFP_KERNEL)?;
        for _ in 0..slots * MAX_ORDER_NR_PAGES {
            owners.push(OnceWord::new(0), GFP_KERNEL)?;
        }
        let map = if slots == 0 { BlockMap::empty() } else { BlockMap::new(start, end)? };
        let chunks = KBox::pin_init(new_mutex!(chunks, "Grown::chunks"), GFP_KERNEL)?;
        // INVARIANT: every slot empty.
        Ok(Self { pfns, owners, map, chunks })
    }

    /// Slots in all.
    pub(crate) fn capacity(&self) -> usize {
        self.pfns.len()
    }

    /// The slot holding frame `pfn`, if a grown block does. Lock-free.
    #[inline]
    pub(super) fn slot_of(&self, pfn: Pfn) -> Option<usize> {
        let slot = self.map.get(pfn.0)?;
        let want = pfn.0 - pfn.0 % MAX_ORDER_NR_PAGES + 1;
        (self.pfns.get(slot)?.load_acquire() == want).then_some(slot)
    }

    /// The owner word of frame `pfn` if a grown block holds it. Lock-free.
    #[inline]
    pub(super) fn owner(&self, pfn: Pfn) -> Option<&OnceWord> {
        let slot = self.slot_of(pfn)?;
        self.owners.get(slot * MAX_ORDER_NR_PAGES + pfn.0 % MAX_ORDER_NR_PAGES)
    }

    /// Publishes `chunk` (one `MAX_PAGE_ORDER` block) in a free slot, or
    /// hands it back if none is free. Sleeps.
    pub(super) fn add(&self, chunk: Chunk) -> Result<(), Chunk> {
        let mut chunks = self.chunks.lock();
        let Some(slot) = chunks.iter().position(Option::is_none) else { return Err(chunk) };
        for w in &self.owners[slot * MAX_ORDER_NR_PAGES..][..MAX_ORDER_NR_PAGES] {
            w.write(0);
        }
        let first = chunk.range().start.0;
        // A block outside every node's span cannot be: it goes back.
        if !self.map.set(first, Some(slot)) {
            return Err(chunk);
        }
        chunks[slot] = Some(chunk);
        // INVARIANT: the owner words are zero and the chunk is in its
        // slot before the frame is published (release).
        self.pfns[slot].store_release(first + 1);
        Ok(())
    }

    /// Unpublishes the grown block starting at `pfn` and returns its chunk
    /// (dropping it gives the pages back). The caller took the block out
    /// of its zone wholly free. Sleeps.
    pub(super) fn remove(&self, pfn: Pfn) -> Option<Chunk> {
        let mut chunks = self.chunks.lock();
        let slot = self.slot_of(pfn)?;
        // INVARIANT: unpublished before the chunk leaves its slot.
        self.pfns[slot].store_release(0);
        self.map.set(pfn.0, None);
        chunks[slot].take()
    }

    /// Unpublishes the grown block starting at `pfn` without waiting for
    /// the chunks' mutex: `None` if it is held (reclaim must not block).
    pub(super) fn try_remove(&self, pfn: Pfn) -> Option<Option<Chunk>> {
        let mut chunks = self.chunks.try_lock()?;
        let Some(slot) = self.slot_of(pfn) else { return Some(None) };
        // INVARIANT: as in `remove`.
        self.pfns[slot].store_release(0);
        self.map.set(pfn.0, None);
        Some(chunks[slot].take())
    }

    /// The `source/areas` lines of the grown blocks: their origin marked
    /// `+` (`cma+`, `pages+`). Sleeps (the chunks' mutex).
    pub(super) fn show(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        for c in self.chunks.lock().iter().flatten() {
            writeln!(
                f,
                "{} {} {} {} {:#x} {}",
                if c.is_cma() { "cma+" } else { "pages+" },
                c.origin_name(),
                c.nid(),
                c.zone().name(),
                c.range().start.0,
                c.range().nr_pages,
            )?;
        }
        Ok(())
    }

    /// Bytes of bookkeeping: the owner words, and the slot map.
    pub(super) fn metadata_bytes(&self) -> (usize, usize) {
        (
            self.owners.capacity() * size_of::<OnceWord>(),
            self.pfns.capacity() * (size_of::<OnceWord>() + size_of::<Option<Chunk>>()) + self.map.bytes(),
        )
    }
}

impl Chunk {
    /// One more `MAX_PAGE_ORDER` block from where `like` came from: its
    /// CMA area, or the page allocator on its node. `None` if that has
    /// none free. Must not be called from atomic context: `cma_alloc()`
    /// may migrate pages and sleep.
    pub(super) fn grow_like(like: &Chunk) -> Option<Result<Self>> {
        match like.origin {
            Origin::Cma(cma) => Self::from_cma(cma, MAX_ORDER_NR_PAGES),
            Origin::Pages(_) => Self::from_node(like.nid),
        }
    }
}
