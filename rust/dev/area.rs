// SPDX-License-Identifier: GPL-2.0

//! What one `mmap(2)` of `/dev/zonemm` holds: a page slot per page of the
//! mapping, filled from the pool on the first fault, as `shmem_fault()`
//! fills a shmem file's page cache (`mm/shmem.c`), and given back when the
//! last VMA that maps it goes (`shmem_evict_inode()`'s place).
//!
//! An [`Area`] is shared by every VMA made from that `mmap(2)` call: the
//! first, its splits, its `fork(2)` copies and `mremap(2)` moves, each
//! holding one reference of the area's `Arc` (the VMA's `vm_private_data`;
//! `vm_ops->open` takes one, `vm_ops->close` drops it). The core calls the
//! last `->close` only after it zapped the PTEs and flushed the TLB
//! (`munmap`, `exit_mmap()`), and the mappings are `VM_PFNMAP` (no page
//! references outside ours), so dropping the area may give every page
//! back at once.
//!
//! Locking: the slots' mutex only; the pool's locks are taken under it
//! (allocation in [`Area::fault`], frees when an area drops).

use kernel::{
    alloc::KVVec,
    new_mutex,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex, //
    },
};

use crate::{
    buddy::{
        Flags,
        PageBlock,
        Pool, //
    },
    pfn::{
        Order,
        Pfn, //
    },
};

/// One page of a mapping.
#[derive(Default)]
struct Slot<'a> {
    /// Its pool page, once touched.
    page: Option<PageBlock<'a>>,
    /// Marked mergeable (`ZONEMM_IOC_MERGEABLE`).
    mergeable: bool,
}

/// Counts of a range of an area's pages (see `struct zonemm_stat`).
#[derive(Default, Clone, Copy)]
pub(crate) struct Counts {
    /// Pages that hold a pool page.
    pub(crate) mapped: u64,
    /// Pages marked mergeable.
    pub(crate) mergeable: u64,
}

/// Every live area's figures (`zonemm/dev/stat`): areas, pool pages they
/// hold, bytes of their slots.
static AREAS: Atomic<usize> = Atomic::new(0);
static PAGES: Atomic<usize> = Atomic::new(0);
static SLOT_BYTES: Atomic<usize> = Atomic::new(0);

/// What [`totals`] reports.
pub(crate) struct Totals {
    /// Live areas.
    pub(crate) areas: usize,
    /// Pool pages they hold.
    pub(crate) pages: usize,
    /// Bytes of their slot arrays.
    pub(crate) slot_bytes: usize,
}

/// Every live area's figures. Any context.
pub(crate) fn totals() -> Totals {
    Totals { areas: AREAS.load(Relaxed), pages: PAGES.load(Relaxed), slot_bytes: SLOT_BYTES.load(Relaxed) }
}

/// The pages of one `mmap(2)` of the device.
///
/// # Invariants
///
/// `slots` has `nr_pages` entries, fixed at creation; every page in them
/// came from `pool` and is mapped only by VMAs that hold a reference to
/// this area.
#[pin_data(PinnedDrop)]
pub(crate) struct Area<'a> {
    pool: &'a Pool,
    nr_pages: usize,
    #[pin]
    slots: Mutex<KVVec<Slot<'a>>>,
}

impl<'a> Area<'a> {
    /// A new area of `nr_pages` untouched pages. Process context; sleeps
    /// (allocates the slots).
    pub(crate) fn new(pool: &'a Pool, nr_pages: usize) -> Result<Arc<Self>> {
        // Charged to the mapping process's memory cgroup: any user may
        // map once `dev_mode` lets them open the device.
        let mut slots = KVVec::with_capacity(nr_pages, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..nr_pages {
            // Within the capacity just reserved: no allocation.
            slots.push(Slot::default(), GFP_KERNEL)?;
        }
        let bytes = slots.capacity() * size_of::<Slot<'a>>();
        // INVARIANT: `nr_pages` slots, none holding a page yet.
        let area = Arc::pin_init(
            try_pin_init!(Self {
                pool,
                nr_pages,
                slots <- new_mutex!(slots, "Area::slots"),
            }? Error),
            GFP_KERNEL,
        )?;
        AREAS.fetch_add(1, Relaxed);
        SLOT_BYTES.fetch_add(bytes, Relaxed);
        Ok(area)
    }

    /// The frame of page `index`, taking a zeroed Movable page from the
    /// pool on first use (`GFP_HIGHUSER_MOVABLE`, as an anonymous fault
    /// allocates). `ENOMEM` when the pool has none, `EFAULT` past the end.
    /// Fault context; sleeps (the mutex, the allocation).
    pub(crate) fn fault(&self, index: usize) -> Result<Pfn> {
        let mut slots = self.slots.lock();
        let slot = slots.get_mut(index).ok_or(EFAULT)?;
        if let Some(page) = &slot.page {
            return Ok(page.pfn());
        }
        let page = self.pool.alloc_pages(Order::ZERO, Flags::MOVABLE.zeroed())?;
        let pfn = page.pfn();
        slot.page = Some(page);
        PAGES.fetch_add(1, Relaxed);
        Ok(pfn)
    }

    /// Whether `[first, first + nr)` is a range of this area's pages.
    fn in_range(&self, first: usize, nr: usize) -> bool {
        first.checked_add(nr).is_some_and(|end| end <= self.nr_pages)
    }

    /// Marks pages `[first, first + nr)` mergeable or not; `EINVAL` (and
    /// nothing changed) if they are not all this area's. Sleeps (the
    /// mutex).
    pub(crate) fn set_mergeable(&self, first: usize, nr: usize, mergeable: bool) -> Result {
        if !self.in_range(first, nr) {
            return Err(EINVAL);
        }
        let mut slots = self.slots.lock();
        for slot in &mut slots[first..first + nr] {
            slot.mergeable = mergeable;
        }
        Ok(())
    }

    /// Adds the counts of pages `[first, first + nr)` (clipped to the
    /// area) to `c`. Sleeps (the mutex).
    pub(crate) fn count(&self, first: usize, nr: usize, c: &mut Counts) {
        let slots = self.slots.lock();
        let end = first.saturating_add(nr).min(self.nr_pages);
        for slot in slots.get(first..end).unwrap_or(&[]) {
            c.mapped += u64::from(slot.page.is_some());
            c.mergeable += u64::from(slot.mergeable);
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Area<'_> {
    /// Counts the area out; its slots, and with them its pages, go back
    /// to the pool right after. Process context; takes the mutex.
    fn drop(self: Pin<&mut Self>) {
        let slots = self.slots.lock();
        let pages = slots.iter().filter(|s| s.page.is_some()).count();
        let bytes = slots.capacity() * size_of::<Slot<'_>>();
        drop(slots);
        PAGES.fetch_sub(pages, Relaxed);
        SLOT_BYTES.fetch_sub(bytes, Relaxed);
        AREAS.fetch_sub(1, Relaxed);
    }
}
