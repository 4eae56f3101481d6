// SPDX-License-Identifier: GPL-2.0

//! The pool's shrinkers: `mm/shrinker.c` for zonemm's own users.
//!
//! A layer above the pool may keep pages idle for reuse (the region
//! layer keeps freed mappings by size class). It registers a
//! `count_objects()` / `scan_objects()` pair, as a driver registers a
//! `struct shrinker`, and gives those pages back when the pool runs short:
//! `shrink_slab()` walks the shrinkers from direct reclaim (an allocation
//! that may sleep, before it fails) and from the pool's kswapd (woken by
//! one that may not).
//!
//! Scans run under the list's mutex, so [`Shrinkers::unregister`] waits
//! for a scan in flight, as `shrinker_free()` waits for `shrink_slab()`.
//! Shrinkers are not NUMA-aware: a scan gives back pages of any node.
//!
//! A scan that can only give its pages back after an RCU grace period
//! (the slab layer's empty slabs: a free may still be reading a slab's
//! descriptor, and every CPU's object cache must be flushed after it)
//! takes them out of use, queues an [`RcuWork`] and counts them as given:
//! the pool's kswapd finishes the work after a grace period, as
//! `queue_rcu_work()` runs a work item after one (and as the kernel's
//! `kfree_rcu()` shrinker counts what its deferred work will free). The
//! scans themselves never wait for the grace period, and reclaim never
//! runs the flush on every CPU, which takes `cpus_read_lock()` that an
//! allocating caller may hold; a direct reclaimer whose scans queued
//! works waits (bounded) for kswapd's run of them.
//!
//! Lock order: the list's mutex and the RCU work's mutex are never held
//! together; an [`RcuWork`]'s `finish` runs under the latter only.

use core::ffi::c_void;

use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{
            Full,
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Mutex,
    },
};

/// Pool pages a layer keeps idle and gives back on demand.
pub(crate) trait Shrinker: Sync {
    /// Pages [`Shrinker::scan_objects`] could give back now. Any context
    /// but NMI; does not sleep.
    fn count_objects(&self) -> usize;

    /// Gives back about `nr_to_scan` pages (whole objects: perhaps more),
    /// and returns how many it gave back. Process context; may sleep; must
    /// not allocate from the pool (it runs inside the pool's allocation
    /// path, with the shrinker list locked), and must never wait for a
    /// lock that is held across an allocation from the kernel: the
    /// kernel's reclaim runs it too (`Pool::shrinker_scan`).
    fn scan_objects(&self, nr_to_scan: usize) -> usize;
}

/// A registered shrinker, its type erased.
///
/// # Invariants
///
/// `object` points to a live `T: Shrinker` until it is unregistered;
/// `count` and `scan` are `T`'s.
struct Entry {
    object: *const c_void,
    count: unsafe fn(*const c_void) -> usize,
    scan: unsafe fn(*const c_void, usize) -> usize,
}

// SAFETY: `object` is a `Shrinker`, which is `Sync`, reached only by shared
// reference.
unsafe impl Send for Entry {}

/// `count_objects()` of the `T` at `object`.
///
/// # Safety
///
/// `object` points to a live `T`.
unsafe fn count_of<T: Shrinker>(object: *const c_void) -> usize {
    // SAFETY: The caller's guarantee.
    unsafe { &*object.cast::<T>() }.count_objects()
}

/// `scan_objects()` of the `T` at `object`.
///
/// # Safety
///
/// `object` points to a live `T`.
unsafe fn scan_of<T: Shrinker>(object: *const c_void, nr: usize) -> usize {
    // SAFETY: The caller's guarantee.
    unsafe { &*object.cast::<T>() }.scan_objects(nr)
}

/// Pages a scan took out of use that go back after an RCU grace period
/// (see the file's doc).
pub(crate) trait Deferred: Sync {
    /// Takes what the scans queued so far, before the grace period
    /// starts (later scans queue the work again). Process context.
    fn detach(&self);

    /// After the grace period: gives back what [`Deferred::detach`] took,
    /// and returns the pages. Sleeps; never called with `cpus_read_lock()`
    /// or the shrinker list held.
    fn finish(&self) -> usize;
}

/// A work item run after an RCU grace period (`struct rcu_work`), queued on
/// its pool by [`super::Pool::queue_rcu_work`].
///
/// # Invariants
///
/// `object` points to a live `T: Deferred` while the work is queued or
/// being run, and `detach` and `finish` are `T`'s; `queued` is set while
/// the work is on its pool's list, whose link is `next`; `run_next` links
/// the works of a run, under its pool's `running` mutex.
pub(crate) struct RcuWork {
    next: Atomic<usize>,
    run_next: Atomic<usize>,
    queued: Atomic<u32>,
    object: *const c_void,
    detach: unsafe fn(*const c_void),
    finish: unsafe fn(*const c_void) -> usize,
}

// SAFETY: `object` is a `Deferred`, which is `Sync`, reached only by shared
// reference; the rest are atomics and functions.
unsafe impl Send for RcuWork {}

// SAFETY: As above.
unsafe impl Sync for RcuWork {}

/// [`Deferred::detach`] of the `T` at `object`.
///
/// # Safety
///
/// `object` points to a live `T`.
unsafe fn detach_of<T: Deferred>(object: *const c_void) {
    // SAFETY: The caller's guarantee.
    unsafe { &*object.cast::<T>() }.detach()
}

/// [`Deferred::finish`] of the `T` at `object`.
///
/// # Safety
///
/// `object` points to a live `T`.
unsafe fn finish_of<T: Deferred>(object: *const c_void) -> usize {
    // SAFETY: The caller's guarantee.
    unsafe { &*object.cast::<T>() }.finish()
}

impl RcuWork {
    /// `INIT_RCU_WORK()`: a work for `object`, not queued.
    ///
    /// # Safety
    ///
    /// `object` must stay live while the work is queued: its owner calls
    /// [`super::Pool::flush_rcu_work`] before it goes.
    pub(crate) unsafe fn new<T: Deferred>(object: *const T) -> Self {
        // INVARIANT: not queued; live while queued by the caller's guarantee.
        Self {
            next: Atomic::new(0),
            run_next: Atomic::new(0),
            queued: Atomic::new(0),
            object: object.cast(),
            detach: detach_of::<T>,
            finish: finish_of::<T>,
        }
    }
}

/// The pool's registered shrinkers, and the RCU works their scans queued.
pub(super) struct Shrinkers {
    list: Pin<KBox<Mutex<KVec<Entry>>>>,
    /// The queued works, a stack linked through `RcuWork::next`: pushed
    /// lock-free, taken whole.
    works: Atomic<usize>,
    /// Held while works run, so that [`Shrinkers::flush_works`] returns
    /// only once every work queued before it has finished.
    running: Pin<KBox<Mutex<()>>>,
    /// Set when the kernel's shrinker queued works: the grown blocks their
    /// pages free go back to their sources once they finish.
    for_kernel: Atomic<u32>,
    /// Scans that queued (or found queued) a work: a direct reclaimer
    /// compares it around its scans to know it has pages to wait for.
    queues: Atomic<u64>,
    /// The runs of [`Shrinkers::flush_works`] that took works: `started`
    /// counts them as they take the queue, `finished` is the last that
    /// finished (written under `running`).
    started: Atomic<u64>,
    finished: Atomic<u64>,
}

impl Shrinkers {
    /// None yet. Process context.
    pub(super) fn new() -> Result<Self> {
        Ok(Self {
            list: KBox::pin_init(new_mutex!(KVec::new(), "Shrinkers::list"), GFP_KERNEL)?,
            works: Atomic::new(0),
            running: KBox::pin_init(new_mutex!((), "Shrinkers::running"), GFP_KERNEL)?,
            for_kernel: Atomic::new(0),
            queues: Atomic::new(0),
            started: Atomic::new(0),
            finished: Atomic::new(0),
        })
    }

    /// Queues `work` unless it is queued already; returns whether it was
    /// not. Any context but NMI; lock-free.
    fn queue_work(&self, work: &RcuWork) -> bool {
        if work.queued.xchg(1, Full) != 0 {
            return false;
        }
        let this = core::ptr::from_ref(work) as usize;
        let mut head = self.works.load(Relaxed);
        loop {
            work.next.store(head, Relaxed);
            // Release: the link is seen with the work by the taker.
            match self.works.cmpxchg(head, this, Release) {
                Ok(_) => return true,
                Err(now) => head = now,
            }
        }
    }

    /// Whether any work is queued. Lock-free.
    pub(super) fn works_queued(&self) -> bool {
        self.works.load(Relaxed) != 0
    }

    /// The kernel's shrinker is about to scan: the next run of works gives
    /// back the grown blocks their pages free. Set before the scan, so
    /// that a run that takes its works at once sees it; if the scan
    /// queues none, a later run gives back such blocks, which the kernel
    /// asked for all the same. Lock-free.
    pub(super) fn set_for_kernel(&self) {
        self.for_kernel.store(1, Relaxed);
    }

    /// Whether the kernel's shrinker scanned since the last call.
    /// Lock-free.
    pub(super) fn take_for_kernel(&self) -> bool {
        self.for_kernel.xchg(0, Relaxed) != 0
    }

    /// Runs every queued work: each detaches what its scans queued, then
    /// after one RCU grace period for all, finishes it; then, if pages
    /// came back, `freed()` (the pool drains the per-CPU lists they went
    /// to) before the run counts as finished. Returns the pages given
    /// back. Sleeps; must not be called holding `cpus_read_lock()` or the
    /// shrinker list.
    pub(super) fn flush_works(&self, freed: impl FnOnce()) -> usize {
        let _running = self.running.lock();
        if self.works.load(Relaxed) == 0 {
            return 0;
        }
        // Counted before the queue is taken (the `xchg()` orders it): a
        // waiter that finds the queue empty sees this run's number.
        let run = self.started.load(Relaxed) + 1;
        self.started.store(run, Relaxed);
        let mut head = self.works.xchg(0, Full);
        // Unqueued before detaching: a scan that queues after a work's
        // detach queues it again (relinking `next`) for the next run; this
        // run follows `run_next`.
        let first = head;
        while head != 0 {
            // SAFETY: A queued work is live until its owner's flush, which
            // waits for `running`.
            let work = unsafe { &*(head as *const RcuWork) };
            head = work.next.load(Relaxed);
            work.run_next.store(head, Relaxed);
            work.queued.store(0, Release);
            // SAFETY: By the invariant of `RcuWork`.
            unsafe { (work.detach)(work.object) };
        }
        // Expedited: a direct reclaimer may be waiting for this run
        // (`reclaim_throttle()`), and runs come at most once per reclaim
        // batch. `rcupdate.rcu_normal` makes it a normal grace period.
        // SAFETY: No preconditions; process context, no lock held.
        unsafe { kernel::bindings::synchronize_rcu_expedited() };
        let mut pages = 0;
        head = first;
        while head != 0 {
            // SAFETY: As above.
            let work = unsafe { &*(head as *const RcuWork) };
            head = work.run_next.load(Relaxed);
            // SAFETY: By the invariant of `RcuWork`.
            pages += unsafe { (work.finish)(work.object) };
        }
        if pages > 0 {
            freed();
        }
        self.finished.store(run, Release);
        pages
    }

    /// How many scans have queued works so far. Lock-free.
    pub(super) fn queues(&self) -> u64 {
        self.queues.load(Relaxed)
    }

    /// The run of [`Shrinkers::flush_works`] whose end sees every work
    /// queued so far finished: the next one if the queue holds any, else
    /// the last one to take it (which may still be running). Lock-free.
    pub(super) fn rcu_ticket(&self) -> u64 {
        // The queue first: a run that took it since has a number at most
        // the one read after.
        let queued = self.works.load(Acquire) != 0;
        let started = self.started.load(Acquire);
        started + u64::from(queued)
    }

    /// Whether the run `ticket` names has finished. Lock-free.
    pub(super) fn rcu_ticket_done(&self, ticket: u64) -> bool {
        self.finished.load(Acquire) >= ticket
    }

    /// `shrinker_register()`. Sleeps.
    ///
    /// # Safety
    ///
    /// `object` must stay live until [`Shrinkers::unregister`] of it
    /// returns.
    pub(super) unsafe fn register<T: Shrinker>(&self, object: *const T) -> Result {
        // INVARIANT: live until unregistered, by the caller's guarantee.
        let entry = Entry { object: object.cast(), count: count_of::<T>, scan: scan_of::<T> };
        self.list.lock().push(entry, GFP_KERNEL)?;
        Ok(())
    }

    /// `shrinker_free()`: `object` is never called again once this
    /// returns (it waits for a scan in flight). Sleeps.
    pub(super) fn unregister(&self, object: *const c_void) {
        self.list.lock().retain(|e| e.object != object);
    }

    /// Pages the shrinkers could give back now. Sleeps.
    pub(super) fn count(&self) -> usize {
        let list = self.list.lock();
        // SAFETY: Registered objects are live while listed.
        list.iter().map(|e| unsafe { (e.count)(e.object) }).sum()
    }

    /// [`Shrinkers::count`] for the kernel's reclaim, which must never
    /// wait on zonemm: 0 while the list is busy. Process context.
    pub(super) fn try_count(&self) -> usize {
        let Some(list) = self.list.try_lock() else { return 0 };
        // SAFETY: Registered objects are live while listed.
        list.iter().map(|e| unsafe { (e.count)(e.object) }).sum()
    }

    /// [`Shrinkers::shrink`] for the kernel's reclaim: `None` while the
    /// list is busy (a scan of zonemm's own in flight, or a registration).
    /// Process context; may sleep (the scans unmap), but never waits for
    /// the list.
    pub(super) fn try_shrink(&self, nr: usize) -> Option<usize> {
        let list = self.list.try_lock()?;
        Some(Self::shrink_locked(&list, nr))
    }

    /// `shrink_slab()`: asks each shrinker in turn until `nr` pages came
    /// back or none has more; returns the pages given back. Sleeps.
    pub(super) fn shrink(&self, nr: usize) -> usize {
        let list = self.list.lock();
        Self::shrink_locked(&list, nr)
    }

    /// [`Shrinkers::shrink`] with the list locked.
    fn shrink_locked(list: &KVec<Entry>, nr: usize) -> usize {
        let mut freed = 0;
        for e in list.iter() {
            if freed >= nr {
                break;
            }
            // SAFETY: Registered objects are live while listed.
            let have = unsafe { (e.count)(e.object) };
            if have > 0 {
                // SAFETY: As above.
                freed += unsafe { (e.scan)(e.object, (nr - freed).min(have)) };
            }
        }
        freed
    }
}

/// A shrinker registered with a pool, unregistered on drop.
///
/// # Invariants
///
/// `object` is registered with `pool`.
pub(crate) struct ShrinkerRegistration<'a> {
    pool: &'a super::Pool,
    object: *const c_void,
}

// SAFETY: `object` is only compared, never followed, by the registration.
unsafe impl Send for ShrinkerRegistration<'_> {}

// SAFETY: As above.
unsafe impl Sync for ShrinkerRegistration<'_> {}

impl super::Pool {
    /// `shrinker_register()`: the pool asks `object` for pages when it
    /// runs short, until the registration is dropped. Sleeps.
    ///
    /// # Safety
    ///
    /// `object` must stay live until the registration is dropped.
    pub(crate) unsafe fn register_shrinker<T: Shrinker>(&self, object: *const T) -> Result<ShrinkerRegistration<'_>> {
        // SAFETY: The caller's guarantee, and `drop` unregisters.
        unsafe { self.shrinkers.register(object) }?;
        // INVARIANT: just registered.
        Ok(ShrinkerRegistration { pool: self, object: object.cast() })
    }
}

impl super::Pool {
    /// `queue_rcu_work()`: `work` runs after an RCU grace period, in the
    /// pool's kswapd (or in [`Pool::flush_rcu_work`], whichever comes
    /// first; a pool without a kswapd, KUnit's or one stopped for rmmod,
    /// runs it only there). Process context; does not sleep.
    ///
    /// [`Pool::flush_rcu_work`]: super::Pool::flush_rcu_work
    pub(crate) fn queue_rcu_work(&self, work: &RcuWork) {
        self.shrinkers.queues.add(1, Relaxed);
        if self.shrinkers.queue_work(work) {
            self.wake_kswapd_for_works();
        }
    }

    /// `flush_rcu_work()` of every work queued: runs them here unless
    /// kswapd is running them, and returns once they have finished, with
    /// the pages they gave back, every CPU's lists drained of them (the
    /// frees went to the lists of whichever CPU ran the work). An owner
    /// of an [`RcuWork`] calls it, after its last queue, before it goes.
    /// Sleeps; must not be called holding `cpus_read_lock()`, or with
    /// interrupts off.
    pub(crate) fn flush_rcu_work(&self) -> usize {
        self.shrinkers.flush_works(|| self.drain_for_retry())
    }
}

impl ShrinkerRegistration<'_> {
    /// Unregisters now, before the drop (which then does nothing more):
    /// for an owner that must stop scans while it still reaches its
    /// object by shared reference. Sleeps.
    pub(crate) fn unregister(&self) {
        self.pool.shrinkers.unregister(self.object);
    }
}

impl Drop for ShrinkerRegistration<'_> {
    fn drop(&mut self) {
        self.unregister();
    }
}
