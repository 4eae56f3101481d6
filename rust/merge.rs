// SPDX-License-Identifier: GPL-2.0

//! The merge layer: a KSM-style same-page merger over mergeable regions.
//!
//! Mirrors `mm/ksm.c` (see its `DOC: Overview`): a scanner thread (ksmd)
//! wakes every `sleep_millisecs` (or at once when a knob changes), visits
//! `pages_to_scan` pages of the mergeable regions round robin, regions by
//! identity (`ksm_do_scan()` over the `mm_slot` list), and hands each to
//! the core's `cmp_and_merge_page()`, which decides in `mm/ksm.c`'s order:
//! volatility, the zero page, the stable tree, the unstable tree.
//!
//! The stable tree (shared pages, chains of duplicates past
//! `max_page_sharing`) and the unstable tree (this pass's candidates,
//! emptied after every full pass) are keyed by the page's xxh64, as
//! `calc_checksum()` hashes it, every match confirmed by comparing pages.
//! A page's "checksum" for volatility is its write generation: every
//! write goes through a write mapping, which bumps it, so a page that was
//! written since its last scan is known exactly, without hashing it.
//!
//! Each page is worked on under its region's own mutex only (see
//! `region/merged.rs`): region calls never wait for a batch. A stable node
//! whose page nobody maps any more is dropped when the scanner meets it
//! and after every pass; everything else the merger keeps per page lives
//! in the region and goes with it; `run=2` empties the trees.
//!
//! Lock order: the merger's state mutex, then one region's pages mutex at
//! a time.

use core::{
    cell::RefCell,
    ptr::NonNull,
};

use kernel::{
    bindings,
    fmt,
    new_mutex,
    prelude::*,
    rbtree::RBTree,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex,
    },
};

use crate::{
    helpers::*,
    ksm::{
        cmp_and_merge_page,
        Counters,
        Item,
        Knobs,
        Mm,
        Page, //
    },
    pfn::{
        Order,
        PAGE_SIZE, //
    },
    region::{
        Region,
        Regions,
        SharedPage,
        SharedRef, //
    },
};

/// Bytes of the merger's metadata per scanned page: what `struct
/// ksm_rmap_item` holds that zonemm keeps in the region's page slot (the
/// write generation last seen).
const RMAP_ITEM_SIZE: usize = core::mem::size_of::<Option<u32>>();

type Shared<'a> = Arc<SharedPage<'a>>;

/// The trees and the scan position, under the merger's mutex.
struct MergeState<'a> {
    /// The next page to scan.
    cursor: Option<Item>,
    /// hash -> chains -> duplicates (`ksm_stable_node` chains and dups).
    stable: RBTree<u64, KVec<KVec<Shared<'a>>>>,
    /// hash -> candidate pages of this pass.
    unstable: RBTree<u64, KVec<Item>>,
    unstable_len: usize,
    /// The zero page (`use_zero_pages`), pinned while the merger has it.
    zero: Option<SharedRef<'a>>,
    /// A page's copy, to compare two regions' pages holding one mutex at a
    /// time.
    scratch: RefCell<KVec<u8>>,
}

/// The knobs of `/sys/kernel/mm/ksm/`.
struct Settings {
    run: Atomic<u32>,
    pages_to_scan: Atomic<usize>,
    sleep_millisecs: Atomic<u32>,
    max_page_sharing: Atomic<usize>,
    use_zero_pages: Atomic<u32>,
}

/// The counts last taken under the merger's mutex: what a counter file
/// shows while the scanner holds the mutex for a batch.
struct Shown {
    pages_shared: Atomic<usize>,
    pages_sharing: Atomic<usize>,
    pages_unshared: Atomic<usize>,
    zero_pages: Atomic<usize>,
    chains: Atomic<usize>,
    dups: Atomic<usize>,
}

/// The merger: its settings, trees, counters and scanner thread.
pub(crate) struct Merger<'r, 'a> {
    regions: &'r Regions<'a>,
    settings: Settings,
    pages_scanned: Atomic<u64>,
    full_scans: Atomic<u64>,
    shown: Shown,
    /// Set by a knob change, cleared by the scanner's sleep.
    woken: Atomic<i32>,
    state: Pin<KBox<Mutex<MergeState<'a>>>>,
    thread: Pin<KBox<Mutex<Option<NonNull<bindings::task_struct>>>>>,
}

// SAFETY: The thread pointer is only used to wake and stop the thread,
// under its mutex; everything else is `Sync`.
unsafe impl Send for Merger<'_, '_> {}

// SAFETY: As above.
unsafe impl Sync for Merger<'_, '_> {}

/// What the core's decisions work on: the trees, and the regions' pages.
/// `cur` is the region being scanned, held for the batch.
struct Ctx<'s, 'r, 'a> {
    st: &'s mut MergeState<'a>,
    regions: &'r Regions<'a>,
    cur: &'s Arc<Region<'a>>,
}

impl<'a> Ctx<'_, '_, 'a> {
    /// Runs `f` on the region of `item`, held.
    fn with<R>(&self, item: Item, f: impl FnOnce(&Region<'a>) -> R) -> Option<R> {
        if item.region == self.cur.id() {
            return Some(f(self.cur));
        }
        self.regions.get(item.region).map(|r| f(&r))
    }
}

impl<'a> Mm for Ctx<'_, '_, 'a> {
    type Shared = Shared<'a>;

    fn page(&self, item: Item) -> Page<Shared<'a>> {
        match self.with(item, |r| r.shared_page(item.index)).flatten() {
            None => Page::Gone,
            Some(None) => Page::Private,
            Some(Some(s)) => Page::Shared(s),
        }
    }

    fn volatile(&mut self, item: Item) -> bool {
        self.with(item, |r| {
            let mut first = false;
            let v = r.volatile(item.index, &mut first);
            if first {
                r.note_rmap_item();
            }
            v
        })
        .unwrap_or(true)
    }

    fn hash(&self, item: Item) -> Option<u64> {
        self.with(item, |r| r.hash(item.index)).flatten()
    }

    fn is_zero(&self, item: Item) -> bool {
        self.with(item, |r| r.is_zero(item.index)).unwrap_or(false)
    }

    fn same(&self, a: Item, b: Item) -> bool {
        if a == b {
            return false;
        }
        let mut buf = self.st.scratch.borrow_mut();
        self.with(a, |r| r.copy_page(a.index, &mut buf)).unwrap_or(false)
            && self.with(b, |r| r.holds(b.index, &buf)).unwrap_or(false)
    }

    fn same_as(&self, a: Item, s: &Shared<'a>) -> bool {
        self.with(a, |r| r.same_as(a.index, s)).unwrap_or(false)
    }

    fn sharers(&self, s: &Shared<'a>) -> usize {
        s.mapped()
    }

    fn stale(&self, s: &Shared<'a>) -> bool {
        s.is_stale()
    }

    fn share(&mut self, item: Item) -> Option<Shared<'a>> {
        self.with(item, |r| r.share(item.index)).flatten()
    }

    fn merge(&mut self, item: Item, s: &Shared<'a>) -> bool {
        self.with(item, |r| r.merge(item.index, s)).unwrap_or(false)
    }

    fn zero_page(&mut self) -> Option<Shared<'a>> {
        if self.st.zero.is_none() {
            let block = self.regions.pool().alloc_pages(Order::ZERO, crate::buddy::Flags::KERNEL.zeroed()).ok()?;
            self.st.zero = SharedPage::new_pinned(block).ok();
        }
        self.st.zero.as_ref().map(|z| z.page().clone())
    }

    fn stable_find(&self, hash: u64, f: &mut dyn FnMut(&Shared<'a>) -> bool) -> Option<Shared<'a>> {
        self.st.stable.get(&hash)?.iter().flatten().find(|s| f(s)).cloned()
    }

    fn stable_insert(&mut self, hash: u64, s: Shared<'a>, sibling: Option<&Shared<'a>>) {
        if crate::fault::should_fail(crate::fault::Site::Merge, 64) {
            // As if the node could not be allocated: the page stays shared,
            // untracked, and is unshared when its users write or go.
            return;
        }
        if self.st.stable.get(&hash).is_none() && self.st.stable.try_create_and_insert(hash, KVec::new(), GFP_KERNEL).is_err() {
            return;
        }
        let Some(chains) = self.st.stable.get_mut(&hash) else { return };
        let chain = sibling.and_then(|sib| chains.iter().position(|c| c.iter().any(|d| Arc::ptr_eq(d, sib))));
        let pushed = match chain {
            Some(i) => chains[i].push(s, GFP_KERNEL).is_ok(),
            None => {
                let mut dups = KVec::new();
                dups.push(s, GFP_KERNEL).is_ok() && chains.push(dups, GFP_KERNEL).is_ok()
            }
        };
        if !pushed {
            pr_warn!("merge: no memory for a stable node; the page stays shared untracked\n");
        }
    }

    fn stable_remove(&mut self, hash: u64, s: &Shared<'a>) {
        let Some(chains) = self.st.stable.get_mut(&hash) else { return };
        for chain in chains.iter_mut() {
            chain.retain(|d| !Arc::ptr_eq(d, s));
        }
        chains.retain(|c| !c.is_empty());
        if chains.is_empty() {
            self.st.stable.remove(&hash);
        }
    }

    fn unstable_find(&self, hash: u64, f: &mut dyn FnMut(Item) -> bool) -> Option<Item> {
        self.st.unstable.get(&hash)?.iter().copied().find(|&i| f(i))
    }

    fn unstable_insert(&mut self, hash: u64, item: Item) {
        if crate::fault::should_fail(crate::fault::Site::Merge, 64) {
            return;
        }
        if self.st.unstable.get(&hash).is_none() && self.st.unstable.try_create_and_insert(hash, KVec::new(), GFP_KERNEL).is_err() {
            return;
        }
        if let Some(v) = self.st.unstable.get_mut(&hash) {
            if v.push(item, GFP_KERNEL).is_ok() {
                self.st.unstable_len += 1;
            }
        }
    }

    fn unstable_remove(&mut self, hash: u64, item: Item) {
        if let Some(v) = self.st.unstable.get_mut(&hash) {
            let before = v.len();
            v.retain(|i| *i != item);
            self.st.unstable_len -= before - v.len();
        }
    }
}

impl<'r, 'a> Merger<'r, 'a> {
    /// A stopped merger over `regions`, with the kernel's defaults
    /// (`pages_to_scan` 100, `sleep_millisecs` 20, `max_page_sharing`
    /// 256, `use_zero_pages` 0).
    pub(crate) fn new(regions: &'r Regions<'a>) -> Result<Self> {
        let state = MergeState {
            cursor: None,
            stable: RBTree::new(),
            unstable: RBTree::new(),
            unstable_len: 0,
            zero: None,
            scratch: RefCell::new(KVec::from_elem(0, PAGE_SIZE, GFP_KERNEL)?),
        };
        Ok(Self {
            regions,
            settings: Settings {
                run: Atomic::new(0),
                pages_to_scan: Atomic::new(100),
                sleep_millisecs: Atomic::new(20),
                max_page_sharing: Atomic::new(256),
                use_zero_pages: Atomic::new(0),
            },
            pages_scanned: Atomic::new(0),
            full_scans: Atomic::new(0),
            shown: Shown {
                pages_shared: Atomic::new(0),
                pages_sharing: Atomic::new(0),
                pages_unshared: Atomic::new(0),
                zero_pages: Atomic::new(0),
                chains: Atomic::new(0),
                dups: Atomic::new(0),
            },
            woken: Atomic::new(0),
            state: KBox::pin_init(new_mutex!(state, "Merger::state"), GFP_KERNEL)?,
            thread: KBox::pin_init(new_mutex!(None, "Merger::thread"), GFP_KERNEL)?,
        })
    }

    fn knobs(&self) -> Knobs {
        Knobs {
            max_page_sharing: self.settings.max_page_sharing.load(Relaxed),
            use_zero_pages: self.settings.use_zero_pages.load(Relaxed) != 0,
        }
    }

    /// The page after `at` (`scan_get_next_rmap_item()`): the next page of
    /// its region, else the first of the next mergeable region, else the
    /// first of the first (a new pass: `wrapped`). The region comes held.
    fn next_item(&self, at: Option<Item>, held: Option<&Arc<Region<'a>>>) -> Option<(Arc<Region<'a>>, Item, bool)> {
        if let Some(at) = at {
            let region = match held {
                Some(r) if r.id() == at.region => Some(r.clone()),
                _ => self.regions.get(at.region),
            };
            // A region freed under the scanner is left at once.
            let region = region.filter(|r| !r.is_freed());
            if let Some(r) = region.filter(|r| at.index + 1 < r.nr_pages()) {
                let item = Item { region: r.id(), index: at.index + 1 };
                return Some((r, item, false));
            }
            if let Some(r) = self.regions.next_mergeable(Some(at.region)) {
                let item = Item { region: r.id(), index: 0 };
                return Some((r, item, false));
            }
        }
        let r = self.regions.next_mergeable(None)?;
        let item = Item { region: r.id(), index: 0 };
        Some((r, item, at.is_some()))
    }

    /// `ksm_do_scan()`: scans up to `n` pages. Sleeps.
    pub(crate) fn scan(&self, n: usize) {
        let mut st = self.state.lock();
        self.scan_locked(&mut st, n);
    }

    /// The scanner's batch: [`Merger::scan`] if `run` is still 1 once the
    /// state is locked (`run=2` unmerges under the same lock).
    fn scan_if_running(&self, n: usize) {
        let mut st = self.state.lock();
        if self.settings.run.load(Relaxed) == 1 {
            self.scan_locked(&mut st, n);
        }
    }

    fn scan_locked(&self, st: &mut MergeState<'a>, n: usize) {
        let knobs = self.knobs();
        let mut held: Option<Arc<Region<'a>>> = None;
        for done in 0..n {
            if done % 64 == 63 {
                // SAFETY: No preconditions; only a mutex is held.
                unsafe { zonemm_cond_resched() };
            }
            let Some((region, item, wrapped)) = self.next_item(st.cursor, held.as_ref()) else {
                // No mergeable region left: nothing in the trees can be
                // used again.
                st.cursor = None;
                Self::end_of_pass(st);
                break;
            };
            if wrapped {
                Self::end_of_pass(st);
                self.full_scans.add(1, Relaxed);
            }
            st.cursor = Some(item);
            let mut ctx = Ctx { st: &mut *st, regions: self.regions, cur: &region };
            cmp_and_merge_page(&mut ctx, item, &knobs);
            self.pages_scanned.add(1, Relaxed);
            held = Some(region);
        }
        // The region goes back before the scanner sleeps: a region freed
        // meanwhile gives its pages back at once.
        drop(held);
        self.count_locked(st);
    }

    /// After a full pass: the unstable tree starts again, and stable nodes
    /// whose page is gone are dropped (`remove_node_from_stable_tree()`).
    fn end_of_pass(st: &mut MergeState<'a>) {
        st.unstable = RBTree::new();
        st.unstable_len = 0;
        Self::prune(st);
    }

    /// Drops every stale stable node.
    fn prune(st: &mut MergeState<'a>) {
        let mut empty = KVec::new();
        for (&hash, chains) in st.stable.iter_mut() {
            for chain in chains.iter_mut() {
                chain.retain(|d| !d.is_stale());
            }
            chains.retain(|c| !c.is_empty());
            if chains.is_empty() && empty.push(hash, GFP_KERNEL).is_err() {
                break;
            }
        }
        for hash in empty.iter() {
            st.stable.remove(hash);
        }
    }

    /// `run=2`: every mergeable page private again, the trees emptied.
    /// Sleeps.
    pub(crate) fn unmerge_all(&self) -> Result {
        let mut st = self.state.lock();
        let mut result = Ok(());
        let mut at = None;
        while let Some(r) = self.regions.next_mergeable(at) {
            for i in 0..r.nr_pages() {
                if matches!(r.shared_page(i), Some(Some(_))) {
                    if let Err(e) = r.unshare(i, self.regions.pool()) {
                        result = Err(e);
                    }
                }
                if i % 64 == 63 {
                    // SAFETY: No preconditions; only a mutex is held.
                    unsafe { zonemm_cond_resched() };
                }
            }
            // Every rmap item goes, as unmerge_and_remove_all_rmap_items()
            // frees them.
            r.forget_scans();
            at = Some(r.id());
        }
        st.stable = RBTree::new();
        st.unstable = RBTree::new();
        st.unstable_len = 0;
        st.zero = None;
        st.cursor = None;
        result
    }

    /// The counters of `/sys/kernel/mm/ksm/`, and the chain and
    /// duplicate counts, exact: waits for a batch in progress. Sleeps.
    pub(crate) fn counters(&self) -> (Counters, usize, usize) {
        let st = self.state.lock();
        self.count_locked(&st)
    }

    /// [`Merger::counters`] for a reader that must not wait for the
    /// scanner: while it holds the mutex for a batch, the counts as of its
    /// last batch (ksm.c's sysfs files read its counters without
    /// `ksm_thread_mutex`, which ksmd holds for a whole batch). Sleeps
    /// (the mutex is only tried).
    pub(crate) fn counters_shown(&self) -> (Counters, usize, usize) {
        if let Some(st) = self.state.try_lock() {
            return self.count_locked(&st);
        }
        let s = &self.shown;
        let c = Counters {
            pages_shared: s.pages_shared.load(Relaxed),
            pages_sharing: s.pages_sharing.load(Relaxed),
            pages_unshared: s.pages_unshared.load(Relaxed),
            zero_pages: s.zero_pages.load(Relaxed),
            rmap_items: self.regions.rmap_items(),
        };
        (c, s.chains.load(Relaxed), s.dups.load(Relaxed))
    }

    /// Counts the trees (the caller holds the mutex: `st` is its state)
    /// and keeps the counts for [`Merger::counters_shown`].
    fn count_locked(&self, st: &MergeState<'a>) -> (Counters, usize, usize) {
        let mut c = Counters { pages_unshared: st.unstable_len, ..Counters::default() };
        let (mut chains, mut dups) = (0, 0);
        for v in st.stable.values() {
            for chain in v.iter() {
                if chain.len() > 1 {
                    chains += 1;
                    dups += chain.len();
                }
                // One read of each count: a sharer may go at any moment
                // (a region free takes no merger lock).
                for m in chain.iter().map(|d| d.mapped()).filter(|&m| m > 0) {
                    c.pages_shared += 1;
                    c.pages_sharing += m - 1;
                }
            }
        }
        c.zero_pages = st.zero.as_ref().map_or(0, |z| z.page().mapped());
        c.rmap_items = self.regions.rmap_items();
        let s = &self.shown;
        s.pages_shared.store(c.pages_shared, Relaxed);
        s.pages_sharing.store(c.pages_sharing, Relaxed);
        s.pages_unshared.store(c.pages_unshared, Relaxed);
        s.zero_pages.store(c.zero_pages, Relaxed);
        s.chains.store(chains, Relaxed);
        s.dups.store(dups, Relaxed);
        (c, chains, dups)
    }

    /// The scanner's loop (`ksm_scan_thread()`).
    unsafe extern "C" fn ksmd(arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the `&Merger` `start` passed; it is stopped (and
        // this returns) before the merger goes.
        let this = unsafe { &*arg.cast::<Merger<'static, 'static>>() };
        // SAFETY: No preconditions.
        while !unsafe { zonemm_kthread_should_stop() } {
            let ms = if this.settings.run.load(Relaxed) == 1 {
                this.scan_if_running(this.settings.pages_to_scan.load(Relaxed));
                this.settings.sleep_millisecs.load(Relaxed)
            } else {
                1000
            };
            // A knob change sets `woken` and wakes the thread, so a wake
            // between the load of `ms` and the sleep is not lost; the helper
            // checks kthread_stop() after setting the task state.
            // SAFETY: `woken` lives as long as the merger, which outlives
            // this thread.
            unsafe { zonemm_sleep_wakeable(ms, this.woken.as_ptr()) };
        }
        0
    }

    /// Wakes the scanner, so that a changed knob takes effect now (as
    /// `wake_up_interruptible(&ksm_thread_wait)`).
    fn wake(&self) {
        self.woken.store(1, Relaxed);
        if let Some(t) = *self.thread.lock() {
            // SAFETY: Our running thread: it is stopped only under this
            // mutex, and then taken out.
            unsafe { zonemm_wake_up_process(t.as_ptr()) };
        }
    }
}

impl Merger<'static, 'static> {
    /// Starts the scanner thread.
    pub(crate) fn start(&'static self) -> Result {
        let arg = (self as *const Self).cast_mut().cast();
        // SAFETY: `ksmd` gets `self`, which outlives the thread: `Drop`
        // stops it first.
        let t = unsafe { zonemm_kthread_run(Self::ksmd, arg, c"zonemm_ksmd".as_ptr().cast()) };
        *self.thread.lock() = Some(NonNull::new(t).ok_or(ENOMEM)?);
        Ok(())
    }
}

impl Drop for Merger<'_, '_> {
    fn drop(&mut self) {
        if let Some(t) = self.thread.lock().take() {
            // SAFETY: Our running thread; this waits for `ksmd` to return.
            unsafe { zonemm_kthread_stop(t.as_ptr()) };
        }
        // The trees' references go; regions keep theirs until they go.
    }
}

/// Which knob a debugfs file sets.
#[derive(Clone, Copy)]
pub(crate) enum Knob {
    Run,
    PagesToScan,
    SleepMillisecs,
    MaxPageSharing,
    UseZeroPages,
}

impl Merger<'_, '_> {
    /// A knob's value.
    pub(crate) fn knob(&self, k: Knob) -> usize {
        let s = &self.settings;
        match k {
            Knob::Run => s.run.load(Relaxed) as usize,
            Knob::PagesToScan => s.pages_to_scan.load(Relaxed),
            Knob::SleepMillisecs => s.sleep_millisecs.load(Relaxed) as usize,
            Knob::MaxPageSharing => s.max_page_sharing.load(Relaxed),
            Knob::UseZeroPages => s.use_zero_pages.load(Relaxed) as usize,
        }
    }

    /// Sets a knob, with the kernel's checks: `run` 0, 1 or 2 (2 unmerges
    /// everything first); `pages_to_scan` 1 to 100000 (the kernel allows
    /// any number but 0); `sleep_millisecs` up to 60000;
    /// `max_page_sharing` at least 2 and only while nothing is shared
    /// (`EBUSY`); `use_zero_pages` 0 or 1.
    pub(crate) fn set_knob(&self, k: Knob, v: usize) -> Result<(), &'static str> {
        let s = &self.settings;
        match k {
            Knob::Run if v <= 2 => {
                // Stored first: the scanner rechecks it under the state
                // lock, so nothing is merged again behind the unmerge.
                s.run.store(v as u32, Relaxed);
                if v == 2 && self.unmerge_all().is_err() {
                    // As ksm.c: the scanner stays stopped.
                    s.run.store(0, Relaxed);
                    return Err("unmerge ran out of memory");
                }
                self.wake();
            }
            Knob::PagesToScan if (1..=100_000).contains(&v) => s.pages_to_scan.store(v, Relaxed),
            Knob::SleepMillisecs if v <= 60_000 => {
                s.sleep_millisecs.store(v as u32, Relaxed);
                self.wake();
            }
            Knob::MaxPageSharing if v >= 2 => {
                if self.counters().0.pages_shared > 0 {
                    return Err("busy: pages are shared (run=2 first)");
                }
                s.max_page_sharing.store(v, Relaxed);
            }
            Knob::UseZeroPages if v <= 1 => s.use_zero_pages.store(v as u32, Relaxed),
            Knob::Run => return Err("run is 0, 1 or 2"),
            Knob::PagesToScan => return Err("pages_to_scan is 1 to 100000"),
            Knob::SleepMillisecs => return Err("sleep_millisecs is 0 to 60000"),
            Knob::MaxPageSharing => return Err("max_page_sharing is at least 2"),
            Knob::UseZeroPages => return Err("use_zero_pages is 0 or 1"),
        }
        Ok(())
    }

    /// Shows one counter file's value.
    pub(crate) fn show_counter(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, chains, dups) = self.counters_shown();
        let v: i64 = match name {
            "pages_scanned" => self.pages_scanned.load(Relaxed) as i64,
            "full_scans" => self.full_scans.load(Relaxed) as i64,
            "pages_shared" => c.pages_shared as i64,
            "pages_sharing" => c.pages_sharing as i64,
            "pages_unshared" => c.pages_unshared as i64,
            "pages_volatile" => c.pages_volatile() as i64,
            "stable_node_chains" => chains as i64,
            "stable_node_dups" => dups as i64,
            "ksm_zero_pages" => c.zero_pages as i64,
            "general_profit" => c.general_profit(PAGE_SIZE, RMAP_ITEM_SIZE) as i64,
            _ => return Err(fmt::Error),
        };
        writeln!(f, "{v}")
    }
}

mod tests;
