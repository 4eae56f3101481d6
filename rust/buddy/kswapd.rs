// SPDX-License-Identifier: GPL-2.0

//! The pool's reclaim: `kswapd()`, `balance_pgdat()` and direct reclaim
//! (`mm/vmscan.c`) for zonemm's zones.
//!
//! What zonemm can reclaim is what its own users keep idle (the
//! [`shrinker`](super::shrinker)s). An allocation that finds its zones
//! below the low watermark wakes the kswapd of each node its zonelist
//! walks (`wake_all_kswapds()`, from any context); one that may sleep
//! and still finds no block after draining the per-CPU lists reclaims
//! itself, a batch at a time, retrying after each
//! (`__alloc_pages_direct_reclaim()`). A node's kswapd, `zonemm_kswapd%d`,
//! sleeps until woken and then shrinks until every zone of its node is at
//! its high watermark again, or nothing more comes back.

use core::ffi::{
    c_int,
    c_void, //
};

use kernel::{
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        rcu,
    },
};

use super::{
    Flags,
    PageBlock,
    Pool, //
};
use crate::{
    helpers::*,
    pfn::Order,
    watermark::{
        Mark,
        Reserves, //
    },
    zonelist::zonelist,
};

/// Pages asked of the shrinkers at a time (`SHRINK_BATCH`).
const SHRINK_BATCH: usize = 128;

/// A node's kswapd as the allocation path sees it (`pgdat->kswapd` and
/// `pgdat->kswapd_wait`).
///
/// # Invariants
///
/// `task` is 0 or a running kswapd thread, which is stopped only after
/// `task` is cleared and an RCU grace period has passed.
pub(super) struct KswapdWait {
    task: Atomic<usize>,
    /// Set by a wakeup; the thread clears it as it goes to sleep.
    woken: Atomic<i32>,
}

impl KswapdWait {
    pub(super) const fn new() -> Self {
        Self { task: Atomic::new(0), woken: Atomic::new(0) }
    }
}

/// Reclaim counts for `buddy/stats`, with `/proc/vmstat`'s names.
pub(super) struct ReclaimStats {
    /// Direct reclaims: allocations that shrank before failing.
    pub(super) allocstall: Atomic<u64>,
    /// Pages the shrinkers gave back to direct reclaim and to kswapd.
    pub(super) pgsteal_direct: Atomic<u64>,
    pub(super) pgsteal_kswapd: Atomic<u64>,
    /// Wakeups that found kswapd asleep, and its balancing runs.
    pub(super) kswapd_wakeups: Atomic<u64>,
    pub(super) pageoutrun: Atomic<u64>,
}

impl ReclaimStats {
    pub(super) const fn new() -> Self {
        Self {
            allocstall: Atomic::new(0),
            pgsteal_direct: Atomic::new(0),
            pgsteal_kswapd: Atomic::new(0),
            kswapd_wakeups: Atomic::new(0),
            pageoutrun: Atomic::new(0),
        }
    }
}

/// What a kswapd thread gets: its pool and node.
struct KswapdArg {
    pool: &'static Pool,
    nid: usize,
}

/// The running kswapd threads, stopped on drop.
///
/// # Invariants
///
/// Each of `threads` is a running thread, published in its node's
/// [`KswapdWait`], whose argument is the boxed [`KswapdArg`] beside it.
pub(crate) struct Kswapd {
    pool: &'static Pool,
    threads: KVec<(KBox<KswapdArg>, usize)>,
}

impl Pool {
    /// `kswapd_run()` for every node with pages. Sleeps.
    pub(crate) fn start_kswapd(&'static self) -> Result<Kswapd> {
        let mut kswapd = Kswapd { pool: self, threads: KVec::new() };
        for nid in 0..self.nodes.len() {
            if !self.nodes[nid].iter().flatten().any(|z| z.managed() > 0) {
                continue;
            }
            kswapd.threads.reserve(1, GFP_KERNEL)?;
            let arg = KBox::new(KswapdArg { pool: self, nid }, GFP_KERNEL)?;
            let name = CString::try_from_fmt(fmt!("zonemm_kswapd{nid}"))?;
            let ptr = core::ptr::from_ref(&*arg).cast_mut().cast::<c_void>();
            // SAFETY: `arg` outlives the thread: `Kswapd::drop` stops it
            // before the box goes.
            let t = unsafe { zonemm_kthread_run(kswapd_thread, ptr, name.as_char_ptr()) };
            if t.is_null() {
                pr_err!("cannot start zonemm_kswapd{nid}\n");
                return Err(ENOMEM);
            }
            // INVARIANT: published, and kept with its argument.
            self.kswapd[nid].task.store(t as usize, Release);
            if let Err(e) = kswapd.threads.push_within_capacity((arg, t as usize)) {
                // Cannot happen (reserved above); stop it as `drop` would.
                let (arg, t) = e.0;
                Kswapd::stop(self, arg.nid, t);
            }
        }
        Ok(kswapd)
    }

    /// `wakeup_kswapd()` for every node `flags`' zonelist walks. Any
    /// context but NMI.
    pub(super) fn wake_all_kswapds(&self, flags: Flags) {
        let preferred = flags.preferred_node();
        if !flags.wake_kswapd || preferred >= self.nodes.len() {
            return;
        }
        let mut last = usize::MAX;
        for (nid, _) in zonelist(preferred, self.nodes.len(), flags.highest, flags.this_node) {
            if nid != last {
                self.wakeup_kswapd(nid);
                last = nid;
            }
        }
    }

    /// Wakes node `nid`'s kswapd unless it has a wakeup pending. Any
    /// context but NMI.
    fn wakeup_kswapd(&self, nid: usize) {
        let Some(wait) = self.kswapd.get(nid) else { return };
        let _rcu = rcu::read_lock();
        let t = wait.task.load(Acquire);
        if t != 0 && wait.woken.xchg(1, Relaxed) == 0 {
            self.reclaim.kswapd_wakeups.add(1, Relaxed);
            // SAFETY: By the type invariant of `KswapdWait`, a running
            // thread that cannot be stopped before this RCU read section
            // ends.
            unsafe { zonemm_wake_up_process(t as *mut kernel::bindings::task_struct) };
        }
    }

    /// Pages node `nid`'s zones lack to reach their high watermarks.
    fn node_deficit(&self, nid: usize) -> usize {
        self.nodes[nid].iter().flatten().map(|z| z.watermarks().high.saturating_sub(z.free_pages())).sum()
    }

    /// `balance_pgdat()`: shrinks until node `nid` is balanced or nothing
    /// more comes back. Sleeps.
    fn balance_node(&self, nid: usize) {
        self.reclaim.pageoutrun.add(1, Relaxed);
        loop {
            let want = self.node_deficit(nid);
            if want == 0 {
                break;
            }
            let freed = self.shrinkers.shrink(want.max(SHRINK_BATCH));
            if freed == 0 {
                break;
            }
            self.reclaim.pgsteal_kswapd.add(freed as u64, Relaxed);
            // SAFETY: No preconditions; a kthread may sleep.
            unsafe { zonemm_cond_resched() };
        }
    }

    /// `__alloc_pages_direct_reclaim()`: the shrinkers give back a batch
    /// (or the block's size) at a time, and the allocation is retried
    /// after each, until it succeeds or nothing more comes back. Sleeps.
    pub(super) fn direct_reclaim(&self, order: Order, flags: Flags, reserves: Reserves) -> Option<PageBlock<'_>> {
        if self.shrinkers.count() == 0 {
            return None;
        }
        self.reclaim.allocstall.add(1, Relaxed);
        loop {
            let freed = self.shrinkers.shrink(order.nr_pages().max(SHRINK_BATCH));
            if freed == 0 {
                return None;
            }
            self.reclaim.pgsteal_direct.add(freed as u64, Relaxed);
            // The pages just freed may sit on this CPU's lists, unmerged.
            if order != Order::ZERO {
                self.drain_local();
            }
            if let Some(block) = self.get_page_from_freelist(order, flags, Mark::Min, reserves) {
                return Some(block);
            }
        }
    }

    /// Pages the shrinkers could give back now. Sleeps.
    pub(crate) fn reclaimable(&self) -> usize {
        self.shrinkers.count()
    }

    /// The reclaim counts, `/proc/vmstat`'s names with their values.
    pub(crate) fn reclaim_stats(&self) -> [(&'static str, u64); 5] {
        let r = &self.reclaim;
        [
            ("allocstall", r.allocstall.load(Relaxed)),
            ("pgsteal_direct", r.pgsteal_direct.load(Relaxed)),
            ("pgsteal_kswapd", r.pgsteal_kswapd.load(Relaxed)),
            ("kswapd_wakeups", r.kswapd_wakeups.load(Relaxed)),
            ("pageoutrun", r.pageoutrun.load(Relaxed)),
        ]
    }
}

impl Kswapd {
    /// `kswapd_stop()` of node `nid`'s thread `t`. Sleeps.
    fn stop(pool: &Pool, nid: usize, t: usize) {
        pool.kswapd[nid].task.store(0, Release);
        // A waker that read the task finishes before the thread can go.
        rcu::synchronize_rcu();
        // SAFETY: A thread we started and have not stopped.
        unsafe { zonemm_kthread_stop(t as *mut kernel::bindings::task_struct) };
    }
}

impl Drop for Kswapd {
    fn drop(&mut self) {
        for (arg, t) in self.threads.drain_all() {
            Self::stop(self.pool, arg.nid, t);
        }
    }
}

/// A node's kswapd (`kswapd()`): sleeps until woken, then balances.
unsafe extern "C" fn kswapd_thread(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `KswapdArg` `start_kswapd` passed, which lives
    // until this thread is stopped.
    let arg = unsafe { &*arg.cast::<KswapdArg>() };
    let wait = &arg.pool.kswapd[arg.nid];
    // SAFETY: No preconditions.
    while !unsafe { zonemm_kthread_should_stop() } {
        // A wakeup sets `woken` before waking, and the helper tests it
        // after setting the task state, so none is lost.
        // SAFETY: `woken` lives in the pool, which outlives this thread.
        unsafe { zonemm_sleep_wakeable(u32::MAX, wait.woken.as_ptr()) };
        // SAFETY: No preconditions.
        if unsafe { zonemm_kthread_should_stop() } {
            break;
        }
        arg.pool.balance_node(arg.nid);
    }
    0
}
