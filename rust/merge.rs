// SPDX-License-Identifier: GPL-2.0

//! The merge layer: a KSM-style same-page merger over mergeable regions.
//!
//! Mirrors `mm/ksm.c` (see its `DOC: Overview`): a scanner thread (ksmd)
//! wakes every `sleep_millisecs`, visits `pages_to_scan` pages of the
//! mergeable regions round robin (`ksm_do_scan()`), and hands each to the
//! core's `cmp_and_merge_page()`. The stable tree (shared pages, chains
//! of duplicates past `max_page_sharing`) and the unstable tree (this
//! pass's candidates, emptied after every full pass) are keyed by a
//! content hash, every match confirmed by comparing the pages; a page's
//! last hash is its `rmap_item->oldchecksum`. A merged duplicate goes back
//! to the buddy pool; the region is remapped over the shared page. A write
//! through the region calls copies a shared page first. `run=2` unmerges
//! everything (`unmerge_and_remove_all_rmap_items()`).
//!
//! Lock order: the merger's state mutex, then the regions mutex (taken by
//! `Regions::with_merge_access`). Both are mutexes: scanning sleeps.

use core::ptr::NonNull;

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
        page_hash,
        Counters,
        Item,
        Knobs,
        Mm,
        Page, //
    },
    pfn::PAGE_SIZE,
    region::{
        MergeAccess,
        Regions,
        SharedPage, //
    },
};

/// Bytes of the merger's metadata per mergeable page: its old-checksum
/// node (the part of `struct ksm_rmap_item` zonemm keeps).
const RMAP_ITEM_SIZE: usize =
    core::mem::size_of::<Item>() + core::mem::size_of::<u64>() + core::mem::size_of::<bindings::rb_node>();

type Shared<'a> = Arc<SharedPage<'a>>;

/// The trees and the scan position, under the merger's mutex.
struct MergeState<'a> {
    cursor: Option<Item>,
    /// hash -> chains -> duplicates (`ksm_stable_node` chains and dups).
    stable: RBTree<u64, KVec<KVec<Shared<'a>>>>,
    /// hash -> candidate pages of this pass.
    unstable: RBTree<u64, KVec<Item>>,
    unstable_len: usize,
    /// Each page's hash at its last scan.
    old: RBTree<Item, u64>,
    zero: Option<Shared<'a>>,
}

/// The knobs of `/sys/kernel/mm/ksm/`.
struct Settings {
    run: Atomic<u32>,
    pages_to_scan: Atomic<usize>,
    sleep_millisecs: Atomic<u32>,
    max_page_sharing: Atomic<usize>,
    use_zero_pages: Atomic<u32>,
}

/// The merger: its settings, trees, counters and scanner thread.
pub(crate) struct Merger<'r, 'a> {
    regions: &'r Regions<'a>,
    settings: Settings,
    pages_scanned: Atomic<u64>,
    full_scans: Atomic<u64>,
    state: Pin<KBox<Mutex<MergeState<'a>>>>,
    thread: Pin<KBox<Mutex<Option<NonNull<bindings::task_struct>>>>>,
}

// SAFETY: The thread pointer is only used to stop the thread, under its
// mutex; everything else is `Sync`.
unsafe impl Send for Merger<'_, '_> {}

// SAFETY: As above.
unsafe impl Sync for Merger<'_, '_> {}

/// What the core's decisions work on: the trees, and the regions' pages.
struct Ctx<'s, 'r, 'g, 'a> {
    st: &'s mut MergeState<'a>,
    acc: &'s mut MergeAccess<'g, 'a>,
    regions: &'r Regions<'a>,
}

impl<'a> Mm for Ctx<'_, '_, '_, 'a> {
    type Shared = Shared<'a>;

    fn page(&self, item: Item) -> Page<Shared<'a>> {
        match self.acc.shared(item) {
            None => Page::Gone,
            Some(None) => Page::Private,
            Some(Some(s)) => Page::Shared(s.clone()),
        }
    }

    fn hash(&self, item: Item) -> u64 {
        self.acc.content(item).map_or(0, page_hash)
    }

    fn is_zero(&self, item: Item) -> bool {
        self.acc.content(item).is_some_and(|c| c.iter().all(|&b| b == 0))
    }

    fn same(&self, a: Item, b: Item) -> bool {
        matches!((self.acc.content(a), self.acc.content(b)), (Some(x), Some(y)) if x == y)
    }

    fn same_as(&self, a: Item, s: &Shared<'a>) -> bool {
        self.acc.content(a).is_some_and(|c| c == s.content())
    }

    fn sharers(&self, s: &Shared<'a>) -> usize {
        s.sharers()
    }

    fn share(&mut self, item: Item) -> Option<Shared<'a>> {
        self.acc.share(item)
    }

    fn merge(&mut self, item: Item, s: &Shared<'a>) -> bool {
        self.acc.merge(item, s)
    }

    fn zero_page(&mut self) -> Option<Shared<'a>> {
        if self.st.zero.is_none() {
            self.st.zero = self.regions.zero_page().ok();
        }
        self.st.zero.clone()
    }

    fn old_hash(&self, item: Item) -> Option<u64> {
        self.st.old.get(&item).copied()
    }

    fn set_old_hash(&mut self, item: Item, hash: u64) {
        if crate::fault::should_fail(crate::fault::Site::Merge, 64) {
            return;
        }
        if let Some(h) = self.st.old.get_mut(&item) {
            *h = hash;
        } else if self.st.old.try_create_and_insert(item, hash, GFP_KERNEL).is_err() {
            // Without memory the page just stays volatile a while longer.
        }
    }

    fn stable_find(&self, hash: u64, f: &mut dyn FnMut(&Shared<'a>) -> bool) -> Option<Shared<'a>> {
        self.st.stable.get(&hash)?.iter().flatten().find(|s| f(s)).cloned()
    }

    fn stable_insert(&mut self, hash: u64, s: Shared<'a>, sibling: Option<&Shared<'a>>) {
        if crate::fault::should_fail(crate::fault::Site::Merge, 64) {
            // As if the node could not be allocated: the page stays shared,
            // untracked, and is unmerged when its users write or go.
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
            old: RBTree::new(),
            zero: None,
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

    /// `ksm_do_scan()`: scans up to `n` pages. Sleeps.
    pub(crate) fn scan(&self, n: usize) {
        let knobs = self.knobs();
        let mut st = self.state.lock();
        self.regions.with_merge_access(|acc| {
            for _ in 0..n {
                let Some((item, wrapped)) = acc.next_item(st.cursor) else {
                    st.cursor = None;
                    break;
                };
                if wrapped {
                    Self::end_of_pass(&mut st);
                    self.full_scans.add(1, Relaxed);
                }
                st.cursor = Some(item);
                let mut ctx = Ctx { st: &mut st, acc: &mut *acc, regions: self.regions };
                cmp_and_merge_page(&mut ctx, item, &knobs);
                self.pages_scanned.add(1, Relaxed);
            }
        });
    }

    /// After a full pass: the unstable tree starts again, and shared pages
    /// nobody maps any more go (`remove_stable_node()` of stale nodes).
    fn end_of_pass(st: &mut MergeState<'a>) {
        st.unstable = RBTree::new();
        st.unstable_len = 0;
        for chains in st.stable.values_mut() {
            for chain in chains.iter_mut() {
                chain.retain(|d| d.sharers() > 0);
            }
            chains.retain(|c| !c.is_empty());
        }
    }

    /// `run=2`: every mergeable page private again, the trees emptied.
    pub(crate) fn unmerge_all(&self) -> Result {
        let mut st = self.state.lock();
        let mut result = Ok(());
        self.regions.with_merge_access(|acc| {
            let mut at = None;
            while let Some((item, wrapped)) = acc.next_item(at) {
                if wrapped {
                    break;
                }
                if matches!(acc.shared(item), Some(Some(_))) {
                    if let Err(e) = acc.unshare(item) {
                        result = Err(e);
                    }
                }
                at = Some(item);
            }
        });
        st.stable = RBTree::new();
        st.unstable = RBTree::new();
        st.unstable_len = 0;
        st.zero = None;
        st.cursor = None;
        result
    }

    /// The counters of `/sys/kernel/mm/ksm/`.
    pub(crate) fn counters(&self) -> (Counters, usize, usize) {
        let st = self.state.lock();
        let mut c = Counters { pages_unshared: st.unstable_len, ..Counters::default() };
        let (mut chains, mut dups) = (0, 0);
        for v in st.stable.values() {
            for chain in v.iter() {
                if chain.len() > 1 {
                    chains += 1;
                    dups += chain.len();
                }
                for d in chain.iter().filter(|d| d.sharers() > 0) {
                    c.pages_shared += 1;
                    c.pages_sharing += d.sharers() - 1;
                }
            }
        }
        c.zero_pages = st.zero.as_ref().map_or(0, |z| z.sharers());
        drop(st);
        c.rmap_items = self.regions.with_merge_access(|acc| acc.nr_items());
        (c, chains, dups)
    }

    /// The scanner's loop (ksmd).
    unsafe extern "C" fn ksmd(arg: *mut c_void) -> c_int {
        // SAFETY: `arg` is the `&'static Merger` `start` passed; it is
        // stopped (and this returns) before the merger goes.
        let this = unsafe { &*arg.cast::<Merger<'static, 'static>>() };
        // SAFETY: No preconditions.
        while !unsafe { zonemm_kthread_should_stop() } {
            let ms = if this.settings.run.load(Relaxed) == 1 {
                this.scan(this.settings.pages_to_scan.load(Relaxed));
                this.settings.sleep_millisecs.load(Relaxed)
            } else {
                100
            };
            // SAFETY: No preconditions; kthread_stop() wakes it.
            unsafe { zonemm_msleep_interruptible(ms) };
        }
        0
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
                if v == 2 && self.unmerge_all().is_err() {
                    return Err("unmerge ran out of memory");
                }
                s.run.store(v as u32, Relaxed);
            }
            Knob::PagesToScan if (1..=100_000).contains(&v) => s.pages_to_scan.store(v, Relaxed),
            Knob::SleepMillisecs if v <= 60_000 => s.sleep_millisecs.store(v as u32, Relaxed),
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
        let (c, chains, dups) = self.counters();
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

#[kunit_tests(zonemm_merge)]
mod tests {
    use super::*;
    use crate::{
        buddy::Pool,
        region::RegionFlags,
        source::{
            Params,
            Source, //
        },
    };

    const MERGEABLE: RegionFlags = RegionFlags { zero: false, mergeable: true, huge: false, no_guard: false };

    fn pool() -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(8, 8)?)?, 0)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    /// A mergeable region of `pages` pages, page `i` filled with `fill(i)`.
    fn region(regions: &Regions<'_>, pages: usize, fill: impl Fn(usize) -> u8) -> Result<u64> {
        let addr = regions.alloc(pages * PAGE_SIZE, MERGEABLE)?.as_ptr() as usize;
        let id = regions.id_of(addr).ok_or(EINVAL)?;
        for i in 0..pages {
            let a = regions.addr_of(id).ok_or(EINVAL)?;
            regions.write(a, i * PAGE_SIZE, &[fill(i); PAGE_SIZE])?;
        }
        Ok(id)
    }

    /// Whether page `i` of region `id` holds `byte` throughout.
    fn holds(regions: &Regions<'_>, id: u64, i: usize, byte: u8) -> Result<bool> {
        let mut buf = [0u8; PAGE_SIZE];
        regions.read(regions.addr_of(id).ok_or(EINVAL)?, i * PAGE_SIZE, &mut buf)?;
        Ok(buf.iter().all(|&b| b == byte))
    }

    /// Scans `passes` full passes over `pages` mergeable pages.
    fn passes(m: &Merger<'_, '_>, pages: usize, passes: usize) {
        m.scan(pages * passes + 1);
    }

    #[test]
    fn equal_regions_share_and_free_their_duplicates() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let a = region(&regions, 8, |i| i as u8 + 1)?;
        let b = region(&regions, 8, |i| i as u8 + 1)?;
        let m = Merger::new(&regions)?;
        pool.drain();
        let free = pool.nr_free_pages();
        passes(&m, 16, 2);
        let (c, _, _) = m.counters();
        assert_eq!((c.pages_shared, c.pages_sharing, c.pages_unshared), (8, 8, 0));
        assert_eq!(m.full_scans.load(Relaxed), 2);
        pool.drain();
        assert_eq!(pool.nr_free_pages(), free + 8);
        for i in 0..8 {
            assert!(holds(&regions, a, i, i as u8 + 1)? && holds(&regions, b, i, i as u8 + 1)?);
        }
        Ok(())
    }

    #[test]
    fn a_write_breaks_sharing_and_both_keep_their_contents() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let a = region(&regions, 4, |_| 7)?;
        let b = region(&regions, 4, |_| 7)?;
        let m = Merger::new(&regions)?;
        passes(&m, 8, 2);
        assert_eq!(m.counters().0.pages_sharing, 7);
        regions.write(regions.addr_of(a).ok_or(EINVAL)?, 2 * PAGE_SIZE + 9, &[0xee])?;
        assert_eq!(m.counters().0.pages_sharing, 6);
        let mut buf = [0u8; 16];
        regions.read(regions.addr_of(a).ok_or(EINVAL)?, 2 * PAGE_SIZE, &mut buf)?;
        assert_eq!((buf[8], buf[9], buf[10]), (7, 0xee, 7));
        for i in 0..4 {
            assert!(holds(&regions, b, i, 7)?);
        }
        Ok(())
    }

    #[test]
    fn pages_rewritten_every_pass_stay_volatile() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let a = region(&regions, 2, |_| 1)?;
        let b = region(&regions, 2, |_| 1)?;
        let m = Merger::new(&regions)?;
        for pass in 0..5u8 {
            for id in [a, b] {
                for page in 0..2 {
                    regions.write(regions.addr_of(id).ok_or(EINVAL)?, page * PAGE_SIZE, &[pass; 64])?;
                }
            }
            // Exactly one pass: every page seen once, each time changed.
            m.scan(4);
        }
        let (c, _, _) = m.counters();
        assert_eq!((c.pages_shared, c.pages_sharing), (0, 0));
        assert_eq!(c.pages_volatile(), 4);
        Ok(())
    }

    #[test]
    fn zero_pages_map_one_zero_page() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let a = region(&regions, 6, |i| if i < 4 { 0 } else { 3 })?;
        let m = Merger::new(&regions)?;
        m.set_knob(Knob::UseZeroPages, 1).map_err(|_| EINVAL)?;
        passes(&m, 6, 1);
        assert_eq!(m.counters().0.zero_pages, 4);
        assert!(holds(&regions, a, 0, 0)? && holds(&regions, a, 5, 3)?);
        Ok(())
    }

    #[test]
    fn max_page_sharing_makes_chains() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let m = Merger::new(&regions)?;
        m.set_knob(Knob::MaxPageSharing, 2).map_err(|_| EINVAL)?;
        for _ in 0..5 {
            region(&regions, 1, |_| 0x42)?;
        }
        passes(&m, 5, 3);
        let (c, chains, dups) = m.counters();
        assert_eq!((c.pages_shared, c.pages_sharing, chains, dups), (2, 2, 1, 2));
        // Changing the cap while pages are shared is refused, as in ksm.
        assert!(m.set_knob(Knob::MaxPageSharing, 3).is_err());
        Ok(())
    }

    #[test]
    fn run_2_gives_every_region_private_pages_again() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let a = region(&regions, 4, |i| i as u8)?;
        let b = region(&regions, 4, |i| i as u8)?;
        let m = Merger::new(&regions)?;
        pool.drain();
        let free = pool.nr_free_pages();
        passes(&m, 8, 2);
        m.set_knob(Knob::Run, 2).map_err(|_| EINVAL)?;
        let (c, _, _) = m.counters();
        assert_eq!((c.pages_shared, c.pages_sharing), (0, 0));
        pool.drain();
        assert_eq!(pool.nr_free_pages(), free);
        for i in 0..4 {
            assert!(holds(&regions, a, i, i as u8)? && holds(&regions, b, i, i as u8)?);
        }
        Ok(())
    }

    struct Shared2<'r, 'a> {
        regions: &'r Regions<'a>,
        ids: [u64; 2],
    }

    unsafe extern "C" fn writer(arg: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the test's `Shared2`, alive until every CPU
        // returns.
        let s = unsafe { &*arg.cast::<Shared2<'_, '_>>() };
        let id = s.ids[cpu as usize % 2];
        let mut written = 0;
        for round in 0..200u32 {
            let byte = (round % 3) as u8;
            let page = (round as usize * 5 + cpu as usize) % 8;
            let Some(addr) = s.regions.addr_of(id) else { return EINVAL.to_errno() };
            // The address may move under a remap: then this round is lost,
            // but most must land.
            if s.regions.write(addr, page * PAGE_SIZE, &[byte; PAGE_SIZE]).is_err() {
                continue;
            }
            written += 1;
            let mut buf = [0u8; PAGE_SIZE];
            let Some(addr) = s.regions.addr_of(id) else { return EINVAL.to_errno() };
            if s.regions.read(addr, page * PAGE_SIZE, &mut buf).is_ok() && buf.iter().any(|&b| b != byte) {
                return EIO.to_errno();
            }
        }
        if written < 50 {
            pr_err!("writer on CPU {cpu}: only {written} of 200 writes landed\n");
            return EIO.to_errno();
        }
        0
    }

    #[test]
    fn the_scanner_runs_while_every_cpu_writes() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool)?;
        let ids = [region(&regions, 8, |_| 1)?, region(&regions, 8, |_| 1)?];
        let m = KBox::pin(Merger::new(&regions)?, GFP_KERNEL)?;
        m.set_knob(Knob::SleepMillisecs, 0).map_err(|_| EINVAL)?;
        m.set_knob(Knob::Run, 1).map_err(|_| EINVAL)?;
        let arg = (&*m as *const Merger<'_, '_>).cast_mut().cast();
        // SAFETY: The merger outlives the thread: it is stopped below,
        // before `m` goes.
        let t = unsafe { zonemm_kthread_run(Merger::ksmd, arg, c"zonemm_ksmd_test".as_ptr().cast()) };
        let t = NonNull::new(t).ok_or(ENOMEM)?;
        let shared = Shared2 { regions: &regions, ids };
        let warg = (&shared as *const Shared2<'_, '_>).cast_mut().cast();
        // SAFETY: `writer` only uses `shared`, alive until the call returns.
        let ret = unsafe { zonemm_run_on_each_cpu(writer, warg) };
        // SAFETY: Our thread; this waits for it to return.
        unsafe { zonemm_kthread_stop(t.as_ptr()) };
        assert_eq!(ret, 0);
        assert!(m.full_scans.load(Relaxed) > 0);
        Ok(())
    }
}
