// SPDX-License-Identifier: GPL-2.0

//! Compaction of the pool's zones: `mm/compaction.c`'s glue around the
//! core's scanners (`compaction`).
//!
//! Three triggers, as in the kernel: a write to `buddy/compact`
//! (`/proc/sys/vm/compact_memory`, or a node's `compact` file) compacts
//! whole zones ([`Pool::compact_node`]); an allocation of a costly order
//! that may sleep compacts for its order once direct reclaim failed
//! (`__alloc_pages_direct_compact()`, [`Pool::direct_compact`]); and each
//! node's kswapd, after a balancing run, compacts the zones whose
//! fragmentation index for a pageblock passes `extfrag_threshold`
//! (`wakeup_kcompactd()` from `kswapd_try_to_sleep()`, and kcompactd's
//! proactive compaction; [`Pool::proactive_compact`]).
//!
//! A page moves only if its owner can move it: the owner word of a
//! movable page (see [`movable_word`]) names it, and the owners that
//! registered ([`Pool::register_movable`], `movable_operations` in the
//! kernel) copy the page, repoint their reference to the new one under
//! their own lock and free the old one. A page whose owner is busy, or
//! that is mapped, is skipped, as `isolate_migratepages_block()` skips a
//! page it cannot isolate.
//!
//! Grown blocks (`max_pool_mb`) are left out: they sit at the top of
//! their zone's index space, where the free scanner starts, and pages
//! moved into them would keep them from going back to their source.
//!
//! Lock order: `Compaction::owners` (one run at a time, and unregistering
//! waits for a run), then an owner's lock (taken with a trylock by the
//! owner), then the zone lock (taken inside the scanners only, never
//! across a migration).

use core::ffi::c_void;

use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex,
    },
};

use super::{
    zone::{
        FreeLists,
        Zone, //
    },
    Flags,
    PageBlock,
    Pool,
};
use crate::{
    compaction::{
        compaction_suitable,
        fragmented,
        CompactControl,
        CompactEnv,
        CompactResult, //
    },
    extfrag::{
        fill_contig_page_info,
        fragmentation_index, //
    },
    helpers::zonemm_in_reclaim,
    page_alloc::{
        MigrateType,
        PageMeta,
        PAGEBLOCK_ORDER, //
    },
    pcp::PAGE_ALLOC_COSTLY_ORDER,
    pfn::{
        Order,
        Pfn, //
    },
    watermark::{
        Mark,
        Reserves, //
    },
    zonelist::zonelist,
};

/// The low byte of a movable page's owner word: bit 0 set (no slab's), and
/// a migrate type of 3, which no `kmalloc` large tag carries, so neither
/// `kfree()` nor `free_pages()` take it for theirs.
const MOVABLE_TAG: usize = 0x61;

/// The owner word of a movable page whose owner knows it by `payload`
/// (below 2^56), or `None` if it does not fit.
pub(crate) fn movable_word(payload: u64) -> Option<usize> {
    let payload = usize::try_from(payload).ok().filter(|&p| p < 1 << 56)?;
    Some(payload << 8 | MOVABLE_TAG)
}

/// The payload of a movable page's owner word, if it is one.
pub(crate) fn movable_payload(word: usize) -> Option<u64> {
    (word & 0xff == MOVABLE_TAG).then_some((word >> 8) as u64)
}

/// `extfrag_threshold`'s default, the kernel's.
pub(crate) const EXTFRAG_THRESHOLD_DEFAULT: u32 = 500;

/// How a migration may wait (`enum migrate_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MigrateMode {
    /// `MIGRATE_ASYNC`: direct compaction, from an allocation whose
    /// caller may hold any lock: nothing that can wait on another task.
    Async,
    /// `MIGRATE_SYNC`: the `compact` knob and kswapd, holding nothing
    /// but the compaction mutex: the owner may sleep to take a page's
    /// user mappings down (still only trylocks on its own locks).
    Sync,
}

/// A layer whose pool pages can move (`struct movable_operations`).
pub(crate) trait MovableOwner: Sync {
    /// `migrate_page()`: if pool page `src`, whose owner word carries
    /// `payload`, is this owner's and can move now, copies it into the
    /// page `dst` of zone number `dst_zone` (an allocated single page of
    /// `MIGRATE_MOVABLE`), repoints its reference to `dst`, gives `dst`
    /// the owner word, and frees `src`; returns `true`. Otherwise changes
    /// nothing and returns `false`. Process context; must not sleep
    /// waiting for a lock of its own (trylock), nor allocate from the
    /// pool; in [`MigrateMode::Sync`] it may sleep otherwise.
    ///
    /// # Safety
    ///
    /// `dst` is an allocated single page of `MIGRATE_MOVABLE` in zone
    /// `dst_zone` of the owner's pool, owned by the caller; on `true` it
    /// becomes the owner's.
    unsafe fn migrate_page(&self, payload: u64, src: Pfn, dst_zone: usize, dst: Pfn, mode: MigrateMode) -> bool;
}

/// A registered owner, its type erased.
///
/// # Invariants
///
/// `object` points to a live `T: MovableOwner` until unregistered;
/// `migrate` is `T`'s.
struct Entry {
    object: *const c_void,
    migrate: unsafe fn(*const c_void, u64, Pfn, usize, Pfn, MigrateMode) -> bool,
}

// SAFETY: `object` is a `MovableOwner`, which is `Sync`, reached only by
// shared reference.
unsafe impl Send for Entry {}

/// `migrate_page()` of the `T` at `object`.
///
/// # Safety
///
/// `object` points to a live `T`; as for [`MovableOwner::migrate_page`].
unsafe fn migrate_of<T: MovableOwner>(
    object: *const c_void,
    payload: u64,
    src: Pfn,
    dst_zone: usize,
    dst: Pfn,
    mode: MigrateMode,
) -> bool {
    // SAFETY: The caller's guarantee.
    unsafe { (*object.cast::<T>()).migrate_page(payload, src, dst_zone, dst, mode) }
}

/// The pool's compaction state: the owners, the knob, the counters
/// (`/proc/vmstat`'s names).
pub(super) struct Compaction {
    /// Registered owners; held for a whole run.
    owners: Pin<KBox<Mutex<KVec<Entry>>>>,
    extfrag_threshold: Atomic<u32>,
    stall: Atomic<u64>,
    fail: Atomic<u64>,
    success: Atomic<u64>,
    migrate_scanned: Atomic<u64>,
    free_scanned: Atomic<u64>,
    isolated: Atomic<u64>,
    daemon_wake: Atomic<u64>,
    pgmigrate_success: Atomic<u64>,
    pgmigrate_fail: Atomic<u64>,
}

impl Compaction {
    /// No owners yet. Process context.
    pub(super) fn new() -> Result<Self> {
        Ok(Self {
            owners: KBox::pin_init(new_mutex!(KVec::new(), "Compaction::owners"), GFP_KERNEL)?,
            extfrag_threshold: Atomic::new(EXTFRAG_THRESHOLD_DEFAULT),
            stall: Atomic::new(0),
            fail: Atomic::new(0),
            success: Atomic::new(0),
            migrate_scanned: Atomic::new(0),
            free_scanned: Atomic::new(0),
            isolated: Atomic::new(0),
            daemon_wake: Atomic::new(0),
            pgmigrate_success: Atomic::new(0),
            pgmigrate_fail: Atomic::new(0),
        })
    }
}

/// One run's view of a zone: the scanners' [`CompactEnv`].
struct Env<'p> {
    pool: &'p Pool,
    zone: &'p Zone,
    owners: &'p [Entry],
    mode: MigrateMode,
}

impl CompactEnv<KVVec<PageMeta>> for Env<'_> {
    fn with_zone<R>(&mut self, f: impl FnOnce(&mut FreeLists) -> R) -> R {
        self.zone.with_lists(f)
    }

    fn relax(&mut self) {
        // SAFETY: No preconditions; every run may sleep (the callers hold
        // the owners' mutex, no spinlock).
        unsafe { crate::helpers::zonemm_cond_resched() };
    }

    fn migrate(&mut self, src: usize, dst: usize) -> bool {
        // CAST: zone indices fit in u32 (checked by `Pool::new`).
        let (src, dst) = (self.zone.pfn(src as u32), self.zone.pfn(dst as u32));
        let Some(payload) = self.pool.owner(src).and_then(|w| movable_payload(w.read())) else {
            return false;
        };
        let zone_id = self.pool.zone_id(self.zone);
        // SAFETY: Registered objects are live while listed (we hold the
        // list); `dst` is a page the free scanner isolated, ours.
        self.owners.iter().any(|e| unsafe { (e.migrate)(e.object, payload, src, zone_id, dst, self.mode) })
    }
}

/// A movable owner registered with a pool, unregistered on drop.
///
/// # Invariants
///
/// `object` is registered with `pool`.
pub(crate) struct MovableRegistration<'a> {
    pool: &'a Pool,
    object: *const c_void,
}

// SAFETY: `object` is only compared, never followed, by the registration.
unsafe impl Send for MovableRegistration<'_> {}

// SAFETY: As above.
unsafe impl Sync for MovableRegistration<'_> {}

impl Drop for MovableRegistration<'_> {
    fn drop(&mut self) {
        // Waits for a compaction run in flight.
        self.pool.compaction.owners.lock().retain(|e| e.object != self.object);
    }
}

impl Pool {
    /// Registers `object` as the owner of the movable pages whose owner
    /// words it writes with [`movable_word`], until the registration is
    /// dropped. Sleeps.
    ///
    /// # Safety
    ///
    /// `object` must stay live until the registration is dropped.
    pub(crate) unsafe fn register_movable<T: MovableOwner>(&self, object: *const T) -> Result<MovableRegistration<'_>> {
        // INVARIANT: live until unregistered, by the caller's guarantee.
        let entry = Entry { object: object.cast(), migrate: migrate_of::<T> };
        self.compaction.owners.lock().push(entry, GFP_KERNEL)?;
        // INVARIANT: just registered.
        Ok(MovableRegistration { pool: self, object: object.cast() })
    }

    /// `compact_zone()` with `owners` held: the per-CPU lists drained
    /// first and last (freed pages merge only on the free lists; from the
    /// allocator, `from_alloc`, as its slow path drains), the counters
    /// added up. Sleeps.
    fn compact_zone_locked(&self, zone: &Zone, owners: &[Entry], order: Option<Order>, mt: MigrateType, from_alloc: bool) -> CompactResult {
        let drain = || if from_alloc { zone.drain_from_alloc() } else { zone.drain() };
        drain();
        // Below the grown blocks only: the free scanner, starting at the
        // top, would fill them and keep them from being given back (and
        // an empty grown slot has no frames to move to or from).
        let mut cc = CompactControl::new(zone.compact_spanned(), order, mt, zone.watermarks().min);
        let mode = if from_alloc { MigrateMode::Async } else { MigrateMode::Sync };
        let result = cc.compact_zone(&mut Env { pool: self, zone, owners, mode });
        drain();
        let c = &self.compaction;
        c.migrate_scanned.add(cc.migrate_scanned, Relaxed);
        c.free_scanned.add(cc.free_scanned, Relaxed);
        c.isolated.add(cc.isolated, Relaxed);
        c.pgmigrate_success.add(cc.migrated, Relaxed);
        c.pgmigrate_fail.add(cc.migrate_failed, Relaxed);
        result
    }

    /// `compact_node()` (`nid`), or `compact_nodes()` (`None`): every zone
    /// whole, as a write to `compact_memory` asks. `EINVAL` for a node id
    /// past the last. Sleeps; returns the pages migrated.
    pub(crate) fn compact_node(&self, nid: Option<usize>) -> Result<u64> {
        if nid.is_some_and(|n| n >= self.nodes.len()) {
            return Err(EINVAL);
        }
        let owners = self.compaction.owners.lock();
        let before = self.compaction.pgmigrate_success.load(Relaxed);
        for zone in self.zones().filter(|z| nid.is_none_or(|n| z.nid() == n) && z.managed() > 0) {
            self.compact_zone_locked(zone, &owners, None, MigrateType::Movable, false);
            // SAFETY: No preconditions; we may sleep.
            unsafe { crate::helpers::zonemm_cond_resched() };
        }
        Ok(self.compaction.pgmigrate_success.load(Relaxed) - before)
    }

    /// `__alloc_pages_direct_compact()`: for a costly order that may sleep,
    /// once reclaim failed, compacts each zone of the zonelist that is
    /// fragmented (not short of memory) for `order` and has room for the
    /// copies, then tries the free lists. Counts a stall, then a success
    /// or a failure. Another run in flight makes it give up
    /// (`COMPACT_CONTENDED`). Sleeps.
    pub(super) fn direct_compact(&self, order: Order, flags: Flags, reserves: Reserves) -> Option<PageBlock<'_>> {
        // SAFETY: No preconditions.
        if order.get() <= PAGE_ALLOC_COSTLY_ORDER || unsafe { zonemm_in_reclaim() } {
            return None;
        }
        let preferred = flags.preferred_node();
        if preferred >= self.nodes.len() {
            return None;
        }
        let owners = self.compaction.owners.try_lock()?;
        let threshold = self.extfrag_threshold() as i32;
        let mut stalled = false;
        for (nid, ztype) in zonelist(preferred, self.nodes.len(), flags.highest, flags.this_node) {
            let Some(zone) = self.zone(nid, ztype) else { continue };
            let info = fill_contig_page_info(&zone.snapshot().nr_free, order.index());
            if !compaction_suitable(zone.free_pages(), zone.watermarks().low, order)
                || !fragmented(fragmentation_index(order.index(), &info), threshold)
            {
                continue;
            }
            if !stalled {
                self.compaction.stall.add(1, Relaxed);
                stalled = true;
            }
            if self.compact_zone_locked(zone, &owners, Some(order), flags.mt, true) == CompactResult::Success {
                break;
            }
        }
        drop(owners);
        if !stalled {
            return None;
        }
        let block = self.get_page_from_freelist(order, flags, Mark::Min, reserves);
        let counter = if block.is_some() { &self.compaction.success } else { &self.compaction.fail };
        counter.add(1, Relaxed);
        block
    }

    /// kswapd's hand-over to compaction before it sleeps: each zone of
    /// node `nid` whose fragmentation index for a pageblock passes
    /// `extfrag_threshold`, with the free pages to compact, is compacted
    /// whole (`compact_daemon_wake` counts the runs). Skipped while
    /// another run is in flight, and deferred as the kernel defers
    /// compaction: after runs that lowered no zone's index (pages nobody
    /// can move keep it high), the node waits 2, 4, ... up to 64 chances
    /// before the next. Sleeps.
    pub(super) fn proactive_compact(&self, nid: usize) {
        let threshold = self.extfrag_threshold() as i32;
        let (Some(node), Some(wait)) = (self.nodes.get(nid), self.kswapd.get(nid)) else { return };
        let index = |zone: &Zone| {
            let info = fill_contig_page_info(&zone.snapshot().nr_free, PAGEBLOCK_ORDER as usize);
            fragmentation_index(PAGEBLOCK_ORDER as usize, &info)
        };
        let pageblock = Order::new(PAGEBLOCK_ORDER).unwrap_or(Order::MAX);
        let (mut ran, mut helped) = (false, false);
        for zone in node.iter().flatten() {
            let before = index(zone);
            if !fragmented(before, threshold) || !compaction_suitable(zone.free_pages(), zone.watermarks().low, pageblock) {
                continue;
            }
            if !ran && wait.compaction_deferred() {
                return;
            }
            let Some(owners) = self.compaction.owners.try_lock() else { return };
            ran = true;
            self.compaction.daemon_wake.add(1, Relaxed);
            self.compact_zone_locked(zone, &owners, None, MigrateType::Movable, false);
            drop(owners);
            helped |= index(zone) < before;
        }
        if ran {
            wait.compaction_result(helped);
        }
    }

    /// `extfrag_threshold`: 0..=1000.
    pub(crate) fn extfrag_threshold(&self) -> u32 {
        self.compaction.extfrag_threshold.load(Relaxed)
    }

    /// Sets `extfrag_threshold`; `EINVAL` past 1000 (the sysctl's range).
    pub(crate) fn set_extfrag_threshold(&self, v: u32) -> Result {
        if v > 1000 {
            return Err(EINVAL);
        }
        self.compaction.extfrag_threshold.store(v, Relaxed);
        Ok(())
    }

    /// The compaction counts, `/proc/vmstat`'s names with their values.
    pub(crate) fn compaction_stats(&self) -> [(&'static str, u64); 9] {
        let c = &self.compaction;
        [
            ("compact_migrate_scanned", c.migrate_scanned.load(Relaxed)),
            ("compact_free_scanned", c.free_scanned.load(Relaxed)),
            ("compact_isolated", c.isolated.load(Relaxed)),
            ("compact_stall", c.stall.load(Relaxed)),
            ("compact_fail", c.fail.load(Relaxed)),
            ("compact_success", c.success.load(Relaxed)),
            ("compact_daemon_wake", c.daemon_wake.load(Relaxed)),
            ("pgmigrate_success", c.pgmigrate_success.load(Relaxed)),
            ("pgmigrate_fail", c.pgmigrate_fail.load(Relaxed)),
        ]
    }
}
