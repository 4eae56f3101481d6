// SPDX-License-Identifier: GPL-2.0

//! The pool's reclaim: `kswapd()`, `balance_pgdat()` and direct reclaim
//! (`mm/vmscan.c`) for zonemm's zones.
//!
//! What zonemm can reclaim is what its own users keep idle (the
//! [`shrinker`](super::shrinker)s). An allocation that enters the slow
//! path wakes the kswapd of each node its zonelist walks
//! (`wake_all_kswapds()`, from any context), unless that node is balanced
//! for the allocation's order and zones or kswapd has failed
//! `MAX_RECLAIM_RETRIES` times in a row (`kswapd_failures`, cleared when a
//! shrinker has pages again). A node's kswapd, `zonemm_kswapd%d`, bound to
//! the node's CPUs, sleeps until woken, then shrinks a batch at a time
//! until some zone of its node that the wakers could use is above its high
//! watermark for the largest order they asked (`balance_pgdat()`,
//! `pgdat_balanced()`), or nothing more comes back.
//!
//! An allocation that may sleep (and is not itself reclaiming,
//! `PF_MEMALLOC`) and still finds nothing after draining the per-CPU
//! lists reclaims itself (`__alloc_pages_direct_reclaim()`): a batch at a
//! time, retrying after each (after the first, once more with every CPU's
//! lists drained, as the kernel's `drained` retry: the task may have moved
//! off the CPU whose lists took the pages), until it succeeds or the
//! shrinkers have nothing left; a costly order (above
//! `PAGE_ALLOC_COSTLY_ORDER`) gets one batch, as `should_reclaim_retry()`
//! gives up on those. If anyone
//! reclaimed pages since the allocation entered the slow path (kswapd,
//! another allocation), it drains every CPU's lists and tries once more
//! before failing.
//!
//! Unlike the kernel's, the shrinkers are not NUMA-aware: a node's kswapd
//! may free pages of the other node.

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
    grow::SHRINK_BACK_INTERVAL_MS,
    Flags,
    PageBlock,
    Pool, //
};
use crate::{
    compat,
    helpers::*,
    pcp::PAGE_ALLOC_COSTLY_ORDER,
    pfn::Order,
    watermark::{
        Mark,
        Reserves, //
    },
    zone::ZoneType,
    zonelist::zonelist,
};

const NSEC_PER_MSEC: u64 = kernel::time::NSEC_PER_MSEC as u64;

/// The longest a direct reclaimer waits for kswapd to run the RCU works
/// its scans queued (a grace period and a flush of every CPU's object
/// caches; longer under QEMU's TCG and the debug kernel than the kernel's
/// `HZ/10` throttles allow for).
const RCU_WORK_THROTTLE_MS: i64 = 1000;

/// Pages asked of the shrinkers at a time (`SHRINK_BATCH`).
const SHRINK_BATCH: usize = 128;

/// Why kswapd was woken (`KswapdWait::woken`): an allocation below the
/// low watermark, or only RCU works to run.
const WAKE_BALANCE: i32 = 1;
const WAKE_WORKS: i32 = 2;

/// Runs that reclaim nothing before kswapd is left asleep
/// (`MAX_RECLAIM_RETRIES`).
const MAX_RECLAIM_RETRIES: u32 = 16;

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
    /// The largest order and highest zone index wakers asked for since
    /// the last run (`kswapd_order`, `kswapd_highest_zoneidx`).
    order: Atomic<u32>,
    highest: Atomic<u32>,
    /// Runs in a row that reclaimed nothing (`kswapd_failures`).
    failures: Atomic<u32>,
    /// Proactive compaction's deferral (`compact_considered`,
    /// `compact_defer_shift`), per node here: see
    /// [`KswapdWait::compaction_deferred`].
    compact_considered: Atomic<u32>,
    compact_defer_shift: Atomic<u32>,
}

/// `COMPACT_MAX_DEFER_SHIFT`: a run that did not help skips at most 64
/// chances before the next.
const COMPACT_MAX_DEFER_SHIFT: u32 = 6;

impl KswapdWait {
    pub(super) const fn new() -> Self {
        Self {
            task: Atomic::new(0),
            woken: Atomic::new(0),
            order: Atomic::new(0),
            highest: Atomic::new(0),
            failures: Atomic::new(0),
            compact_considered: Atomic::new(0),
            compact_defer_shift: Atomic::new(0),
        }
    }

    /// `compaction_deferred()`: whether this chance to compact is skipped,
    /// after `defer_compaction()` made the last runs wait 2^shift chances.
    /// Only the node's kswapd calls it.
    pub(super) fn compaction_deferred(&self) -> bool {
        let limit = 1u32 << self.compact_defer_shift.load(Relaxed);
        let considered = self.compact_considered.load(Relaxed) + 1;
        self.compact_considered.store(considered.min(limit), Relaxed);
        considered < limit
    }

    /// `defer_compaction()` after a run that did not help, or
    /// `compaction_defer_reset()` after one that did.
    pub(super) fn compaction_result(&self, helped: bool) {
        self.compact_considered.store(0, Relaxed);
        let shift = self.compact_defer_shift.load(Relaxed);
        let shift = if helped { 0 } else { (shift + 1).min(COMPACT_MAX_DEFER_SHIFT) };
        self.compact_defer_shift.store(shift, Relaxed);
    }

    /// Raises `word` to `v` (a benign race: a lost raise is the next
    /// waker's).
    fn raise(word: &Atomic<u32>, v: u32) {
        if word.load(Relaxed) < v {
            word.store(v, Relaxed);
        }
    }
}

/// Reclaim counts for `buddy/stats`, with `/proc/vmstat`'s names.
pub(super) struct ReclaimStats {
    /// Direct reclaims: allocations that shrank before failing.
    pub(super) allocstall: Atomic<u64>,
    /// Pages the shrinkers gave back to direct reclaim and to kswapd.
    pub(super) pgsteal_direct: Atomic<u64>,
    pub(super) pgsteal_kswapd: Atomic<u64>,
    /// Wakeups that found none pending, and kswapd's balancing runs.
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
                self.kswapd[arg.nid].task.store(0, Release);
                compat::synchronize_rcu();
                Kswapd::stop(t);
            }
        }
        Ok(kswapd)
    }

    /// `wakeup_kswapd()` for every node `flags`' zonelist walks, for a
    /// block of `order`. Any context but NMI.
    pub(super) fn wake_all_kswapds(&self, order: Order, flags: Flags) {
        let preferred = flags.preferred_node();
        if !flags.wake_kswapd || preferred >= self.nodes.len() {
            return;
        }
        let mut last = usize::MAX;
        for (nid, _) in zonelist(preferred, self.nodes.len(), flags.highest, flags.this_node) {
            if nid != last {
                self.wakeup_kswapd(nid, order, flags.highest);
                last = nid;
            }
        }
    }

    /// Wakes node `nid`'s kswapd for a block of `order` from zones up to
    /// `highest`, unless it has a wakeup pending, the node is balanced for
    /// that, or kswapd is hopeless. Any context but NMI.
    fn wakeup_kswapd(&self, nid: usize, order: Order, highest: ZoneType) {
        let Some(wait) = self.kswapd.get(nid) else { return };
        if wait.failures.load(Relaxed) >= MAX_RECLAIM_RETRIES || self.node_balanced(nid, order, highest) {
            return;
        }
        KswapdWait::raise(&wait.order, order.get());
        KswapdWait::raise(&wait.highest, highest.index() as u32);
        let _rcu = rcu::read_lock();
        let t = wait.task.load(Acquire);
        if t == 0 {
            return;
        }
        // A pending wake for RCU works only (`WAKE_WORKS`) becomes a
        // balancing one: counted, and already on its way.
        let pending = wait.woken.xchg(WAKE_BALANCE, Relaxed);
        if pending != WAKE_BALANCE {
            self.reclaim.kswapd_wakeups.add(1, Relaxed);
        }
        if pending == 0 {
            // SAFETY: By the type invariant of `KswapdWait`, a running
            // thread that cannot be stopped before this RCU read section
            // ends.
            unsafe { zonemm_wake_up_process(t as *mut kernel::bindings::task_struct) };
        }
    }

    /// `pgdat_balanced()`: some zone of node `nid` up to `highest` is
    /// above its high watermark for `order` (a node with no such zone is
    /// balanced: kswapd cannot help it). Any context.
    fn node_balanced(&self, nid: usize, order: Order, highest: ZoneType) -> bool {
        let mut eligible = self.nodes[nid].iter().flatten().filter(|z| z.managed() > 0 && z.ztype() <= highest).peekable();
        eligible.peek().is_none() || eligible.any(|z| z.watermark_ok(order, Mark::High, highest, Reserves::None))
    }

    /// Wakes the first kswapd to run the RCU works a scan queued (see
    /// [`Pool::queue_rcu_work`]), hopeless or not. Any context but NMI.
    pub(super) fn wake_kswapd_for_works(&self) {
        // The queued work before the look at `woken`, paired with the
        // fully ordered `xchg()` of `woken` in kswapd's sleep before its
        // look at the queue: a kswapd whose pending wake this sees (and
        // so does not wake again) finds the work (store buffering, as
        // `wake_up_process()` after a condition pairs with the sleeper's
        // `set_current_state()`).
        crate::compat::smp_mb();
        let _rcu = rcu::read_lock();
        for wait in self.kswapd.iter() {
            let t = wait.task.load(Acquire);
            if t == 0 {
                continue;
            }
            // A pending wake of either kind runs the works too.
            if wait.woken.cmpxchg(0, WAKE_WORKS, Relaxed).is_ok() {
                // SAFETY: As in `wakeup_kswapd`.
                unsafe { zonemm_wake_up_process(t as *mut kernel::bindings::task_struct) };
            }
            return;
        }
    }

    /// `reclaim_throttle()` for a direct reclaimer whose scans just queued
    /// RCU works: waits until the kswapd run that takes them has finished
    /// (their pages on the zones' free lists), so that it retries with
    /// them, for at most [`RCU_WORK_THROTTLE_MS`] (plus `fsleep()`'s
    /// slack); whether the run finished. With no kswapd (stopped for
    /// rmmod; KUnit's pools) the works wait for [`Pool::flush_rcu_work`],
    /// and this returns `false` at once. Sleeps.
    ///
    /// [`Pool::flush_rcu_work`]: super::Pool::flush_rcu_work
    fn throttle_for_rcu_works(&self) -> bool {
        if !self.kswapd.iter().any(|w| w.task.load(Relaxed) != 0) {
            return false;
        }
        let ticket = self.shrinkers.rcu_ticket();
        let mut waited = 0;
        let mut nap = 1;
        while !self.shrinkers.rcu_ticket_done(ticket) {
            if waited >= RCU_WORK_THROTTLE_MS {
                return false;
            }
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(nap));
            waited += nap;
            nap = (nap * 2).min(10);
        }
        true
    }

    /// Runs the RCU works the shrinkers' scans queued; if the kernel's
    /// shrinker queued them, gives back the grown blocks their pages
    /// freed, as its scan gives back those the idle pages free. Returns
    /// the pages the works gave back. Sleeps (kswapd only: it holds no
    /// lock).
    pub(super) fn run_rcu_works(&self) -> usize {
        if !self.shrinkers.works_queued() {
            return 0;
        }
        // The pages come back to the zones, every CPU's lists drained of
        // them, where the watermarks count them for every CPU's
        // allocations.
        let pages = self.flush_rcu_work();
        if pages > 0 && self.shrinkers.take_for_kernel() {
            self.give_back_free_grown();
        }
        pages
    }

    /// A shrinker has pages to give again: kswapd is no longer hopeless.
    /// Any context.
    pub(crate) fn note_reclaimable(&self) {
        for wait in self.kswapd.iter() {
            if wait.failures.load(Relaxed) != 0 {
                wait.failures.store(0, Relaxed);
            }
        }
    }

    /// `balance_pgdat()`: shrinks a batch at a time until node `nid` is
    /// balanced for what its wakers asked, nothing more comes back, or
    /// the thread is told to stop. Sleeps.
    fn balance_node(&self, nid: usize) {
        let wait = &self.kswapd[nid];
        let order = Order::new(wait.order.xchg(0, Relaxed)).unwrap_or(Order::ZERO);
        let highest = ZoneType::ALL.get(wait.highest.xchg(0, Relaxed) as usize).copied().unwrap_or(ZoneType::Normal);
        self.reclaim.pageoutrun.add(1, Relaxed);
        let mut reclaimed = 0;
        // SAFETY: No preconditions.
        while !self.node_balanced(nid, order, highest) && !unsafe { zonemm_kthread_should_stop() } {
            let freed = self.shrinkers.shrink(SHRINK_BATCH);
            if freed == 0 {
                break;
            }
            // Empty slabs come back only after a grace period.
            self.run_rcu_works();
            reclaimed += freed;
            self.reclaim.pgsteal_kswapd.add(freed as u64, Relaxed);
            // Single pages freed went to this CPU's lists: to the zones,
            // where the watermarks count them and blocks merge.
            self.drain_local();
            // SAFETY: No preconditions; a kthread may sleep.
            unsafe { zonemm_cond_resched() };
        }
        // Nothing (more) to reclaim and still short: grow the pool, up to
        // `max_pool_mb` (see `grow`).
        // SAFETY: No preconditions.
        let stop = || unsafe { zonemm_kthread_should_stop() };
        reclaimed += self.grow_until(nid, highest, || self.node_balanced(nid, order, highest), stop) * crate::pfn::MAX_ORDER_NR_PAGES;
        if reclaimed > 0 {
            wait.failures.store(0, Relaxed);
        } else if !self.node_balanced(nid, order, highest) {
            wait.failures.add(1, Relaxed);
        }
    }

    /// One turn of node `nid`'s kswapd after it slept, `woken` if by a
    /// wakeup rather than its once-a-second timer (which runs only while
    /// the node holds grown blocks): the RCU works the shrinkers queued;
    /// balancing, then proactive compaction (`kswapd_try_to_sleep()` wakes
    /// kcompactd before sleeping), only when woken; then shrink-back's
    /// look, and the bounds growth from the allocation path left stale.
    /// Sleeps.
    pub(crate) fn kswapd_turn(&self, nid: usize, woken: bool) {
        self.run_rcu_works();
        if woken {
            self.balance_node(nid);
            self.proactive_compact(nid);
        }
        self.shrink_back(nid, !woken);
        self.update_stale_bounds();
    }

    /// Pages given back by reclaim so far, direct and kswapd's.
    pub(super) fn pgsteal(&self) -> u64 {
        self.reclaim.pgsteal_direct.load(Relaxed) + self.reclaim.pgsteal_kswapd.load(Relaxed)
    }

    /// `__alloc_pages_direct_reclaim()` and the retry after it (see the
    /// file's doc); `pgsteal` is [`Pool::pgsteal`] as the allocation
    /// entered the slow path. Sleeps.
    pub(super) fn direct_reclaim(&self, order: Order, flags: Flags, reserves: Reserves, pgsteal: u64) -> Option<PageBlock<'_>> {
        // SAFETY: No preconditions.
        if !unsafe { zonemm_in_reclaim() } && self.shrinkers.count() > 0 {
            self.reclaim.allocstall.add(1, Relaxed);
            let mut drained = false;
            let mut throttled = false;
            loop {
                let queues = self.shrinkers.queues();
                let freed = self.shrinkers.shrink(order.nr_pages().max(SHRINK_BATCH));
                if freed == 0 {
                    break;
                }
                self.reclaim.pgsteal_direct.add(freed as u64, Relaxed);
                // Empty slabs come back only once kswapd ran their work:
                // waited for once; if kswapd is late, or there is none,
                // retiring more would not help this allocation.
                if self.shrinkers.queues() != queues {
                    if throttled || !self.throttle_for_rcu_works() {
                        break;
                    }
                    throttled = true;
                }
                // The pages just freed may sit on this CPU's lists, unmerged.
                if order != Order::ZERO {
                    self.drain_local();
                }
                if let Some(block) = self.get_page_from_freelist(order, flags, Mark::Min, reserves) {
                    return Some(block);
                }
                // As __alloc_pages_direct_reclaim(): once, every CPU's lists
                // drained and a retry before more is reclaimed (the task may
                // have moved since it freed, leaving the pages on another
                // CPU's lists).
                if !drained {
                    drained = true;
                    self.drain_for_retry();
                    if let Some(block) = self.get_page_from_freelist(order, flags, Mark::Min, reserves) {
                        return Some(block);
                    }
                }
                if order.get() > PAGE_ALLOC_COSTLY_ORDER {
                    break;
                }
            }
        }
        // What kswapd or another allocation reclaimed meanwhile may wait
        // on some CPU's lists.
        if self.pgsteal() != pgsteal {
            self.drain_for_retry();
            return self.get_page_from_freelist(order, flags, Mark::Min, reserves);
        }
        None
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
    /// `kswapd_stop()` of node `nid`'s thread `t`, after it was
    /// unpublished and a grace period passed. Sleeps.
    fn stop(t: usize) {
        // SAFETY: A thread we started and have not stopped.
        unsafe { zonemm_kthread_stop(t as *mut kernel::bindings::task_struct) };
    }
}

impl Drop for Kswapd {
    fn drop(&mut self) {
        for (arg, _) in self.threads.iter() {
            self.pool.kswapd[arg.nid].task.store(0, Release);
        }
        // A waker that read a task finishes before the thread can go.
        compat::synchronize_rcu();
        for (_, t) in self.threads.drain_all() {
            Self::stop(t);
        }
    }
}

/// A node's kswapd (`kswapd()`): sleeps until woken, then balances;
/// while its node holds grown blocks it also wakes every second to give
/// them back once they are no longer needed.
unsafe extern "C" fn kswapd_thread(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `KswapdArg` `start_kswapd` passed, which lives
    // until this thread is stopped.
    let arg = unsafe { &*arg.cast::<KswapdArg>() };
    let wait = &arg.pool.kswapd[arg.nid];
    // SAFETY: No preconditions (node ids fit in an int).
    unsafe { zonemm_bind_to_node(arg.nid as c_int) };
    // When shrink-back's tick is due (`ktime_get_ns()`): a wake for RCU
    // works alone does not put it off.
    let mut tick_at = None;
    // SAFETY: No preconditions.
    while !unsafe { zonemm_kthread_should_stop() } {
        // A wakeup sets `woken` before waking, and the helper tests it
        // after setting the task state, so none is lost.
        let timeout = if arg.pool.has_grown(arg.nid) {
            // SAFETY: No preconditions.
            let now = unsafe { zonemm_ktime_ns() };
            let at = *tick_at.get_or_insert(now + u64::from(SHRINK_BACK_INTERVAL_MS) * NSEC_PER_MSEC);
            // 0 when due: the helper then does not sleep.
            (at.saturating_sub(now).div_ceil(NSEC_PER_MSEC)) as u32
        } else {
            tick_at = None;
            u32::MAX
        };
        // SAFETY: `woken` lives in the pool, which outlives this thread.
        let woken = unsafe { zonemm_sleep_wakeable(timeout, wait.woken.as_ptr()) };
        // SAFETY: No preconditions.
        if unsafe { zonemm_kthread_should_stop() } {
            break;
        }
        if woken == WAKE_WORKS {
            // Not a turn: neither a balancing wakeup nor shrink-back's tick.
            arg.pool.run_rcu_works();
        } else if woken == 0 && tick_at.is_none_or(|at| {
            // SAFETY: No preconditions.
            let now = unsafe { zonemm_ktime_ns() };
            now < at
        }) {
            // Neither woken nor due: a late `wake_up_process()` from a
            // waker whose wake the thread already took.
            continue;
        } else {
            tick_at = None;
            arg.pool.kswapd_turn(arg.nid, woken != 0);
        }
    }
    0
}
