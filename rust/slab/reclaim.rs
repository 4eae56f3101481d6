// SPDX-License-Identifier: GPL-2.0

//! The slab layer's part in the pool's reclaim: empty slabs given back
//! through a [`Shrinker`] and an [`RcuWork`].
//!
//! Mirrors what `kmem_cache_shrink()` does (`__kmem_cache_do_shrink()`
//! discarding empty slabs), split the way reclaim needs it: the scan
//! (`count_objects()` / `scan_objects()`, from zonemm's kswapd and direct
//! reclaim, and through the pool's shrinker from the kernel's) only
//! tries each node's lock, takes free slabs off the lists, clears their
//! pages' owner words and chains them on the node; the cache's RCU work,
//! which the pool's kswapd runs after a grace period (`queue_rcu_work()`),
//! flushes every CPU's object cache (dropping entries a stale free put
//! there while it still found the slab) and frees the slabs, their pages
//! back to the pool. A cache unregisters and flushes the work before it
//! goes, so nothing of it is reached afterwards.
//!
//! Lock order: as the slab layer's (a node's list lock, then the pool's);
//! the work runs under the pool's RCU-work mutex, never under the
//! shrinker list's.

use kernel::{
    prelude::*,
    sync::atomic::Relaxed,
};

use super::{
    Cache,
    NodeLists,
    Slab,
};
use crate::{
    buddy::{
        Deferred,
        RcuWork,
        Shrinker,
        ShrinkerRegistration, //
    },
    compat,
};

impl<'a> NodeLists<'a> {
    /// Puts `slab`, off the lists and retired, at the head of the
    /// retired chain.
    fn push_retired(&mut self, mut slab: KBox<Slab<'a>>) {
        slab.next_retired = self.retired;
        // INVARIANT: a retired slab, from `KBox::into_raw`, heads the chain.
        self.retired = KBox::into_raw(slab) as usize;
    }
}

/// Frees the chain of retired slabs headed by `head` (taken from a
/// [`NodeLists`], with no lock held), giving their pages back to the pool.
/// Returns the slabs freed. Does not sleep (the pool's free does not).
fn free_retired(mut head: usize) -> usize {
    let mut slabs = 0;
    while head != 0 {
        // SAFETY: By the invariant of `NodeLists`, `head` came from
        // `KBox::into_raw` and the chain was handed to us whole.
        let slab = unsafe { KBox::from_raw(head as *mut Slab<'_>) };
        head = slab.next_retired;
        drop(slab);
        slabs += 1;
    }
    slabs
}

impl Drop for NodeLists<'_> {
    fn drop(&mut self) {
        // Empty: the cache ran its RCU work before it went (`Cache::drop`);
        // freed after a grace period all the same if not.
        if self.retired != 0 || self.detached != 0 {
            compat::synchronize_rcu();
            free_retired(core::mem::take(&mut self.retired));
            free_retired(core::mem::take(&mut self.detached));
        }
    }
}

/// The cache's part in the pool's reclaim: its shrinker's registration,
/// and the RCU work that frees the slabs its scans retire.
pub(super) struct Reclaim<'a> {
    registration: ShrinkerRegistration<'a>,
    work: RcuWork,
}

impl<'a> Shrinker for Cache<'a> {
    /// The pages of the free slabs beyond the `min_partial` each node
    /// keeps (none while a node's lock is busy).
    fn count_objects(&self) -> usize {
        if self.reclaim.as_ref().is_none() {
            return 0;
        }
        let per = self.layout.order.nr_pages();
        let spare = |n: &NodeLists<'_>| n.lists.counts().2.saturating_sub(self.min_partial) * per;
        self.nodes.iter().filter_map(|node| node.try_lock().map(|n| spare(&n))).sum()
    }

    /// Retires free slabs beyond `min_partial` per node, about
    /// `nr_to_scan` pages, for the RCU work to free; a busy node is
    /// skipped. Counts their pages as given back.
    fn scan_objects(&self, nr_to_scan: usize) -> usize {
        let Some(reclaim) = self.reclaim.as_ref() else { return 0 };
        let per = self.layout.order.nr_pages();
        let mut pages = 0;
        for node in self.nodes.iter() {
            let Some(mut n) = node.try_lock() else { continue };
            while pages < nr_to_scan && n.lists.counts().2 > self.min_partial {
                let Some(pos) = n.lists.last_free() else { break };
                if pos + 1 != n.slabs.len() {
                    break;
                }
                let Some(slab) = n.slabs.pop() else { break };
                n.lists.pop_free();
                slab.retire();
                n.push_retired(slab);
                pages += per;
            }
        }
        if pages > 0 {
            self.pool.queue_rcu_work(&reclaim.work);
        }
        pages
    }
}

impl<'a> Deferred for Cache<'a> {
    fn detach(&self) {
        for node in self.nodes.iter() {
            let mut n = node.lock();
            // `finish` empties `detached` (works run one at a time, each
            // detach followed by its finish).
            if n.detached == 0 {
                n.detached = core::mem::take(&mut n.retired);
            }
        }
    }

    fn finish(&self) -> usize {
        // Nothing detached (the work ran for an earlier queue, or the
        // cache's scans freed nothing): no flush of every CPU.
        if self.nodes.iter().all(|node| node.lock().detached == 0) {
            return 0;
        }
        // A stale free that found one of these slabs before it retired
        // may have cached its object on some CPU: such entries are
        // dropped here (their slab is gone from the owner words).
        self.flush_cpu_caches();
        let mut slabs = 0;
        for node in self.nodes.iter() {
            let detached = core::mem::take(&mut node.lock().detached);
            slabs += free_retired(detached);
        }
        self.stats.reaped.add(slabs as u64, Relaxed);
        slabs * self.layout.order.nr_pages()
    }
}

impl<'a> Cache<'a> {
    /// Registers the pinned cache's shrinker and RCU work with its pool.
    /// Sleeps.
    pub(super) fn register_reclaim(self: Pin<&Self>) -> Result {
        let this: *const Self = &*self;
        // SAFETY: The cache is pinned in its box and unregisters (in
        // `stop_reclaim`, from its drop) before anything of it goes.
        let registration = unsafe { self.pool.register_shrinker(this) }?;
        // SAFETY: As above: `stop_reclaim` flushes the work after it
        // unregisters.
        let work = unsafe { RcuWork::new(this) };
        self.reclaim.populate(Reclaim { registration, work });
        Ok(())
    }

    /// Stops the scans, then runs the work if it is queued: no slab is
    /// retired after this returns, and those retired are freed. Sleeps.
    pub(super) fn stop_reclaim(&self) {
        if let Some(reclaim) = self.reclaim.as_ref() {
            reclaim.registration.unregister();
            self.pool.flush_rcu_work();
        }
    }
}
