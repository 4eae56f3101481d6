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

use core::ffi::c_void;

use kernel::{
    new_mutex,
    prelude::*,
    sync::Mutex,
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

/// The pool's registered shrinkers.
pub(super) struct Shrinkers {
    list: Pin<KBox<Mutex<KVec<Entry>>>>,
}

impl Shrinkers {
    /// None yet. Process context.
    pub(super) fn new() -> Result<Self> {
        Ok(Self { list: KBox::pin_init(new_mutex!(KVec::new(), "Shrinkers::list"), GFP_KERNEL)? })
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

impl Drop for ShrinkerRegistration<'_> {
    fn drop(&mut self) {
        self.pool.shrinkers.unregister(self.object);
    }
}
