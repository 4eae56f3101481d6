// SPDX-License-Identifier: GPL-2.0

//! The stress run, a test harness beside the layers as lib/test_vmalloc.c
//! is beside mm/vmalloc.c: a kthread on each CPU does a random mix of
//! every layer's operations for a set time — buddy blocks of random
//! orders, objects from several caches (two with red zones and poison)
//! and kmalloc classes, regions allocated, filled, rewritten (breaking
//! merged pages) and checked — while the merger scans at full speed.
//!
//! Every block, object and kmalloc buffer is filled word by word with a
//! pattern of its own tag and checked whole before it is freed, so an
//! overlap anywhere in it shows; every region is checked byte by byte.
//! Twice a second every CPU leaves the mix and allocates until the pool
//! says `ENOMEM`, checks and frees it all, and goes on. The merger's sharing
//! is sampled, and a run in which nothing was ever merged is reported.
//! Then everything quiesces and the run checks that every page is back,
//! every zone's lists are sound, no object is left and the caches found
//! no corruption, and reports the counts.
//!
//! Under fault injection (`fault/`, at entry and at internal points),
//! operations may fail, but only with `ENOMEM`, and the same checks must
//! hold.

use core::ptr::NonNull;

use kernel::{
    fmt,
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

use crate::{
    buddy::{
        Flags,
        PageBlock, //
    },
    fault_core::xorshift,
    helpers::*,
    merge::{
        Knob,
        Merger, //
    },
    pfn::{
        Order,
        PAGE_SIZE, //
    },
    region::RegionFlags,
    slab::{
        kmalloc::kfree,
        Cache,
    },
    slub::DebugFlags,
    State,
};

/// Kinds of operation, for the counts.
const KINDS: [&str; 6] = ["buddy_alloc", "slab_alloc", "kmalloc", "region_alloc", "region_write", "free"];

/// Things one CPU holds in the mixed part of a run.
const MIX_HELD: usize = 256;

/// CPUs whose exhaustions are counted apart (the rest share the last).
const CPUS_COUNTED: usize = 8;

/// The mix, then an exhaustion, once per period.
const PERIOD_NS: u64 = 500_000_000;

/// What a run found.
#[derive(Clone, Copy, Default)]
pub(crate) struct Report {
    seconds: u32,
    ops: [u64; KINDS.len()],
    enomem: u64,
    enomem_faulted: u64,
    errors: u64,
    mismatches: u64,
    bytes_checked: u64,
    corruptions: u64,
    exhaustions: [u64; CPUS_COUNTED],
    cpus: usize,
    exhaustion_held: u64,
    merged_peak: usize,
    pages_back: bool,
    zones_sound: bool,
    /// `None` if kmalloc's caches hold fewer objects than before the run
    /// (someone else freed some meanwhile): what the run left is unknown.
    objects_left: Option<usize>,
    injected: u64,
}

/// The last report, for `stress/results`.
pub(crate) struct Stress {
    last: Pin<KBox<Mutex<Option<Report>>>>,
}

/// What the workers share.
struct Shared<'s> {
    state: &'s State,
    merger: &'s Merger<'static, 'static>,
    caches: [&'s Cache<'static>; 3],
    start: u64,
    deadline: u64,
    ops: [Atomic<u64>; KINDS.len()],
    enomem: Atomic<u64>,
    /// `ENOMEM`s of operations during which a fault was injected.
    enomem_faulted: Atomic<u64>,
    errors: Atomic<u64>,
    mismatches: Atomic<u64>,
    bytes_checked: Atomic<u64>,
    exhaustions: [Atomic<u64>; CPUS_COUNTED],
    cpus: Atomic<usize>,
    exhaustion_held: Atomic<u64>,
    merged_peak: Atomic<usize>,
}

/// Something a worker holds, with its tag.
enum Held<'s> {
    Block(PageBlock<'s>, u64),
    Object(usize, NonNull<u8>, u64),
    /// A kmalloc buffer and the size asked for.
    Kmalloc(NonNull<u8>, usize, u64),
    /// A region's identity, its pages and the byte it holds throughout,
    /// unless a failed rewrite left it mixed.
    Region(u64, usize, Option<u8>),
}

fn now() -> u64 {
    // SAFETY: No preconditions.
    unsafe { zonemm_ktime_ns() }
}

/// Word `i` of the pattern of `tag`: every word differs from its
/// neighbours and from the same word of any other tag.
fn pattern(tag: u64, i: usize) -> u64 {
    tag ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Fills the `len` bytes at `p` with `tag`'s pattern.
///
/// # Safety
///
/// `p` is 8-aligned and the caller's own for `len` bytes, a multiple of 8.
unsafe fn fill(p: *mut u8, len: usize, tag: u64) {
    let words = p.cast::<u64>();
    for i in 0..len / 8 {
        // SAFETY: Word `i` lies in the caller's `len` bytes.
        unsafe { words.add(i).write(pattern(tag, i)) };
    }
}

/// Whether the `len` bytes at `p` still hold `tag`'s pattern, every word.
///
/// # Safety
///
/// As for [`fill`].
unsafe fn intact(p: *const u8, len: usize, tag: u64) -> bool {
    let words = p.cast::<u64>();
    // SAFETY: Word `i` lies in the caller's `len` bytes.
    (0..len / 8).all(|i| unsafe { words.add(i).read() } == pattern(tag, i))
}

impl Shared<'_> {
    fn count(&self, kind: usize) {
        self.ops[kind].add(1, Relaxed);
    }

    /// An operation's failure: `ENOMEM` is expected under pressure or
    /// faults; anything else is an error.
    fn failed(&self, e: Error) {
        if e == ENOMEM {
            self.enomem.add(1, Relaxed);
        } else {
            self.errors.add(1, Relaxed);
        }
    }

    /// [`Shared::failed`] for an operation begun when the fault module had
    /// injected `injected` faults: an `ENOMEM` is also counted in
    /// `enomem_faulted` if a fault was injected meanwhile. (The count is
    /// global, so a fault elsewhere at the same time counts too; with no
    /// fault injected, none does.)
    fn op_failed(&self, e: Error, injected: u64) {
        if e == ENOMEM && crate::fault::injected() != injected {
            self.enomem_faulted.add(1, Relaxed);
        }
        self.failed(e);
    }

    /// Checks and frees one held thing.
    fn release(&self, held: Held<'_>) {
        self.count(5);
        let (ok, len) = match held {
            // SAFETY: Our block, filled whole when taken.
            Held::Block(b, tag) => (unsafe { intact(b.as_mut_ptr(), b.size(), tag) }, b.size()),
            Held::Object(c, p, tag) => {
                let len = self.caches[c].layout().object_size;
                // SAFETY: Our object, filled whole when taken.
                let ok = unsafe { intact(p.as_ptr(), len, tag) };
                self.caches[c].free(p);
                (ok, len)
            }
            Held::Kmalloc(p, len, tag) => {
                // SAFETY: Our buffer, filled whole when taken.
                let ok = unsafe { intact(p.as_ptr(), len, tag) };
                kfree(self.state.pool, p);
                (ok, len)
            }
            Held::Region(id, pages, byte) => {
                let regions = &self.state.regions;
                let ok = byte.is_none_or(|b| regions.check_id(id, b) == Ok(None));
                let len = if byte.is_some() { pages * PAGE_SIZE } else { 0 };
                if let Err(e) = regions.free_id(id) {
                    self.failed(e);
                }
                (ok, len)
            }
        };
        self.bytes_checked.add(len as u64, Relaxed);
        if !ok {
            self.mismatches.add(1, Relaxed);
        }
    }

    /// A block, object or kmalloc buffer chosen by `r`, filled with
    /// `tag`'s pattern.
    fn alloc_one(&self, r: u64, tag: u64, max_order: u64) -> Result<Held<'_>> {
        match r % 3 {
            0 => {
                self.count(0);
                let order = Order::new(((r >> 8) % max_order) as u32).unwrap_or(Order::ZERO);
                let b = self.state.pool.alloc_pages(order, Flags::KERNEL)?;
                // SAFETY: Our new block, `b.size()` bytes, page aligned.
                unsafe { fill(b.as_mut_ptr(), b.size(), tag) };
                Ok(Held::Block(b, tag))
            }
            1 => {
                self.count(1);
                let c = (r as usize >> 8) % 3;
                let p = self.caches[c].alloc(Flags::KERNEL)?;
                // SAFETY: Our new object, 8-aligned, `object_size` bytes (a
                // multiple of 8 in every stress cache).
                unsafe { fill(p.as_ptr(), self.caches[c].layout().object_size, tag) };
                Ok(Held::Object(c, p, tag))
            }
            _ => {
                self.count(2);
                let size = 8 << ((r >> 8) % 10);
                let p = self.state.kmalloc.kmalloc(size, Flags::KERNEL)?;
                // SAFETY: Our new buffer of `size` bytes, aligned to 8 at
                // least as every kmalloc class is.
                unsafe { fill(p.as_ptr(), size, tag) };
                Ok(Held::Kmalloc(p, size, tag))
            }
        }
    }

    /// A region of up to 8 pages, filled with one byte.
    fn alloc_region(&self, r: u64) -> Result<Held<'_>> {
        self.count(3);
        let pages = 1 + (r as usize >> 8) % 8;
        let flags = RegionFlags { mergeable: r & 0x100_0000 != 0, ..RegionFlags::default() };
        let byte = (r >> 24) as u8 % 4;
        let regions = &self.state.regions;
        let id = regions.alloc_id(pages * PAGE_SIZE, flags)?;
        match regions.fill_id(id, byte) {
            Ok(_) => Ok(Held::Region(id, pages, Some(byte))),
            Err(e) => {
                let _ = regions.free_id(id);
                Err(e)
            }
        }
    }

    /// Rewrites the first region in `held` (breaking merged pages).
    fn rewrite_region(&self, held: &mut KVVec<Held<'_>>, r: u64) {
        self.count(4);
        let found = held.iter_mut().find_map(|h| match h {
            Held::Region(id, _, byte) => Some((*id, byte)),
            _ => None,
        });
        if let Some((id, byte)) = found {
            let new = (r >> 8) as u8 % 4;
            let injected = crate::fault::injected();
            match self.state.regions.fill_id(id, new) {
                Ok(_) => *byte = Some(new),
                // A partly written region holds a mix: check nothing of
                // it, but free it.
                Err(e) => {
                    self.op_failed(e, injected);
                    *byte = None;
                }
            }
        }
    }

    /// Allocates until the pool says `ENOMEM` to an order-0 page with no
    /// fault injected meanwhile (or the run ends), then checks and frees
    /// everything. Sleeps.
    fn exhaust(&self, cpu: usize, seed: &mut u64, serial: &mut u64) -> Result {
        let mut held: KVVec<Held<'_>> = KVVec::new();
        let mut exhausted = false;
        let mut r = xorshift(seed) as u64;
        while now() < self.deadline {
            *serial += 1;
            let tag = *serial ^ 0xa5a5_0000_0000_0000;
            let injected = crate::fault::injected();
            // An order-0 page only ever meets the buddy site.
            let injected_buddy = crate::fault::injected_at(crate::fault::Site::Buddy);
            match self.alloc_one(r, tag, 4) {
                Ok(h) => {
                    if let Err(e) = held.reserve(1, GFP_KERNEL) {
                        // Out of the kernel's memory for the list, not the
                        // pool's: give the item back and stop here.
                        self.release(h);
                        self.failed(e.into());
                        break;
                    }
                    if let Err(unheld) = held.push_within_capacity(h) {
                        // Cannot happen (room was reserved above).
                        self.release(unheld.0);
                        self.errors.add(1, Relaxed);
                    }
                    r = xorshift(seed) as u64;
                }
                // An order-0 page refused, and no fault injected at the
                // buddy site while it was asked for: the pool is
                // exhausted. (The count is the site's, not this call's: a
                // buddy fault elsewhere meanwhile only means asking again;
                // the merger's faults, all the time at sleep_millisecs=0,
                // do not.)
                Err(e) if e == ENOMEM
                    && r % 3 == 0
                    && (r >> 8) % 4 == 0
                    && crate::fault::injected_at(crate::fault::Site::Buddy) == injected_buddy =>
                {
                    self.enomem.add(1, Relaxed);
                    exhausted = true;
                    break;
                }
                // Anything else, an injected refusal of an order-0 page
                // too: not exhaustion.
                Err(e) => {
                    self.op_failed(e, injected);
                    // Ask next for an order-0 page: a multiple of 3 << 10
                    // has r % 3 == 0 and (r >> 8) % 4 == 0.
                    r = (xorshift(seed) as u64) * (3 << 10);
                }
            }
        }
        if exhausted {
            self.exhaustions[cpu].add(1, Relaxed);
            self.exhaustion_held.add(held.len() as u64, Relaxed);
        }
        for h in held.drain_all() {
            self.release(h);
        }
        Ok(())
    }

    /// Samples the merger's sharing (CPU 0 only, at most every 50 ms).
    fn sample_merges(&self, next: &mut u64) {
        let t = now();
        if t < *next {
            return;
        }
        *next = t + 50_000_000;
        let (c, _, _) = self.merger.counters();
        let merged = c.pages_sharing + c.zero_pages;
        if merged > self.merged_peak.load(Relaxed) {
            self.merged_peak.store(merged, Relaxed);
        }
    }

    /// One worker's loop: the mix for half of each period, then an
    /// exhaustion.
    fn work(&self, cpu: u32) -> Result {
        let mut held: KVVec<Held<'_>> = KVVec::with_capacity(MIX_HELD, GFP_KERNEL)?;
        let slot = (cpu as usize).min(CPUS_COUNTED - 1);
        self.cpus.add(1, Relaxed);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (cpu as u64) << 32 ^ now();
        let mut serial = (cpu as u64) << 48;
        let mut next_sample = 0;
        let mut period_end = self.start + PERIOD_NS;
        while now() < self.deadline {
            if cpu == 0 {
                self.sample_merges(&mut next_sample);
            }
            if now() >= period_end - PERIOD_NS / 2 {
                self.exhaust(slot, &mut seed, &mut serial)?;
                period_end = now().max(period_end) + PERIOD_NS;
                continue;
            }
            let r = xorshift(&mut seed) as u64 | (xorshift(&mut seed) as u64) << 32;
            serial += 1;
            let tag = serial ^ 0x5a5a_0000_0000_0000;
            if held.len() == held.capacity() || (r % 100 >= 75 && !held.is_empty()) {
                let (pick, last) = ((r as usize >> 8) % held.len(), held.len() - 1);
                held.swap(pick, last);
                if let Some(h) = held.pop() {
                    self.release(h);
                }
                continue;
            }
            let injected = crate::fault::injected();
            let thing = match r % 100 {
                0..55 => self.alloc_one(r >> 8, tag, 5),
                55..65 => self.alloc_region(r),
                _ => {
                    self.rewrite_region(&mut held, r);
                    continue;
                }
            };
            match thing {
                Ok(h) => {
                    // Cannot fail (a full list is emptied above); if it
                    // did, the item is still checked and freed.
                    if let Err(unheld) = held.push_within_capacity(h) {
                        self.release(unheld.0);
                        self.errors.add(1, Relaxed);
                    }
                }
                Err(e) => self.op_failed(e, injected),
            }
        }
        for h in held.drain_all() {
            self.release(h);
        }
        Ok(())
    }
}

unsafe extern "C" fn worker(arg: *mut c_void, cpu: c_uint) -> c_int {
    // SAFETY: `arg` is the run's `Shared`, alive until every CPU returns.
    let shared = unsafe { &*arg.cast::<Shared<'_>>() };
    match shared.work(cpu) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Corruptions the caches found, summed.
fn corruptions<'c>(caches: impl Iterator<Item = &'c Cache<'static>>) -> u64 {
    caches.map(|c| c.corruptions()).sum()
}

impl Stress {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { last: KBox::pin_init(new_mutex!(None, "Stress::last"), GFP_KERNEL)? })
    }

    /// Runs for `seconds`, then quiesces and checks. Sleeps.
    pub(crate) fn run(&self, state: &'static State, merger: &'static Merger<'static, 'static>, seconds: u32) -> Result {
        let pool = state.pool;
        state.regions.purge();
        pool.drain();
        // Pages in use, not free pages: the pool may grow meanwhile.
        let base = pool.pages_in_use();
        let km_base: usize = state.kmalloc.caches().map(|c| c.active_objects()).sum();
        let km_corruptions = corruptions(state.kmalloc.caches());
        let injected = crate::fault::injected();
        let checked = DebugFlags { redzone: true, poison: true, ..DebugFlags::default() };
        let c64 = Cache::create(pool, "stress-64", 64, 0, DebugFlags::default(), None)?;
        let c256 = Cache::create(pool, "stress-256", 256, 0, checked, None)?;
        let c1k = Cache::create(pool, "stress-1k", 1024, 0, DebugFlags { store_user: true, ..checked }, None)?;
        let caches: [&Cache<'static>; 3] = [&c64, &c256, &c1k];
        let run_before = merger.knob(Knob::Run);
        let sleep_before = merger.knob(Knob::SleepMillisecs);
        let _ = merger.set_knob(Knob::SleepMillisecs, 0);
        let _ = merger.set_knob(Knob::Run, 1);
        let start = now();
        let shared = Shared {
            state,
            merger,
            caches,
            start,
            deadline: start + seconds as u64 * 1_000_000_000,
            ops: [const { Atomic::new(0) }; KINDS.len()],
            enomem: Atomic::new(0),
            enomem_faulted: Atomic::new(0),
            errors: Atomic::new(0),
            mismatches: Atomic::new(0),
            bytes_checked: Atomic::new(0),
            exhaustions: [const { Atomic::new(0) }; CPUS_COUNTED],
            cpus: Atomic::new(0),
            exhaustion_held: Atomic::new(0),
            merged_peak: Atomic::new(0),
        };
        let arg = (&shared as *const Shared<'_>).cast_mut().cast();
        // SAFETY: The workers use `shared` only until the call returns.
        let ret = unsafe { zonemm_run_on_each_cpu(worker, arg) };
        // Quiesce: unmerge, empty everything, then count.
        let _ = merger.set_knob(Knob::Run, 2);
        let _ = merger.set_knob(Knob::Run, run_before);
        let _ = merger.set_knob(Knob::SleepMillisecs, sleep_before);
        let km_now: usize = state.kmalloc.caches().map(|c| c.active_objects()).sum();
        let objects_left =
            km_now.checked_sub(km_base).and_then(|km| km.checked_add(caches.iter().map(|c| c.active_objects()).sum()));
        let mut report = Report {
            seconds,
            ops: core::array::from_fn(|k| shared.ops[k].load(Relaxed)),
            enomem: shared.enomem.load(Relaxed),
            enomem_faulted: shared.enomem_faulted.load(Relaxed),
            errors: shared.errors.load(Relaxed) + u64::from(ret != 0),
            mismatches: shared.mismatches.load(Relaxed),
            bytes_checked: shared.bytes_checked.load(Relaxed),
            corruptions: corruptions(caches.into_iter()) + corruptions(state.kmalloc.caches()) - km_corruptions,
            exhaustions: core::array::from_fn(|c| shared.exhaustions[c].load(Relaxed)),
            cpus: shared.cpus.load(Relaxed),
            exhaustion_held: shared.exhaustion_held.load(Relaxed),
            merged_peak: shared.merged_peak.load(Relaxed),
            objects_left,
            injected: crate::fault::injected() - injected,
            ..Report::default()
        };
        drop(shared);
        drop((c64, c256, c1k));
        state.kmalloc.caches().for_each(|c| {
            c.shrink();
        });
        state.regions.purge();
        pool.drain();
        report.pages_back = pool.pages_in_use() == base;
        report.zones_sound = pool.zones().all(|z| z.check().is_ok());
        *self.last.lock() = Some(report);
        Ok(())
    }

    /// `stress/results`.
    pub(crate) fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(r) = *self.last.lock() else {
            return writeln!(f, "no run yet");
        };
        writeln!(f, "seconds {}", r.seconds)?;
        for (name, n) in KINDS.iter().zip(r.ops.iter()) {
            writeln!(f, "{name} {n}")?;
        }
        writeln!(f, "enomem {}", r.enomem)?;
        writeln!(f, "enomem_faulted {}", r.enomem_faulted)?;
        writeln!(f, "faults_injected {}", r.injected)?;
        writeln!(f, "errors {}", r.errors)?;
        writeln!(f, "mismatches {}", r.mismatches)?;
        writeln!(f, "bytes_checked {}", r.bytes_checked)?;
        writeln!(f, "corruptions {}", r.corruptions)?;
        // One count per CPU that ran, in CPU order.
        write!(f, "exhaustions")?;
        for n in r.exhaustions.iter().take(r.cpus.clamp(1, CPUS_COUNTED)) {
            write!(f, " {n}")?;
        }
        writeln!(f)?;
        writeln!(f, "exhaustion_held {}", r.exhaustion_held)?;
        writeln!(f, "merged_peak {}", r.merged_peak)?;
        match r.objects_left {
            Some(n) => writeln!(f, "objects_left {n}")?,
            None => writeln!(f, "objects_left unknown (kmalloc objects freed by others during the run)")?,
        }
        writeln!(f, "pages_back {}", if r.pages_back { "yes" } else { "no" })?;
        writeln!(f, "zones_sound {}", if r.zones_sound { "yes" } else { "no" })
    }
}
