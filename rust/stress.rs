// SPDX-License-Identifier: GPL-2.0

//! The stress run: a kthread on each CPU does a random mix of every
//! layer's operations for a set time — buddy blocks of random orders,
//! objects from several caches and kmalloc classes, regions allocated,
//! filled, rewritten (breaking merged pages) and checked — while the
//! merger scans at full speed. Every block, object and region carries a
//! tag checked before it is freed. Then everything quiesces and the run
//! checks that every page is back, every zone's lists are sound and no
//! object is left, and reports the operation counts.
//!
//! Under fault injection (`fault/`), operations may fail, but only with
//! `ENOMEM`, and the same checks must hold.

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
const KINDS: [&str; 7] = ["buddy_alloc", "slab_alloc", "kmalloc", "region_alloc", "region_write", "free", "check"];

/// What a run found.
#[derive(Clone, Copy, Default)]
pub(crate) struct Report {
    seconds: u32,
    ops: [u64; KINDS.len()],
    enomem: u64,
    errors: u64,
    mismatches: u64,
    pages_back: bool,
    zones_sound: bool,
    objects_left: usize,
    injected: u64,
}

/// The last report, for `stress/results`.
pub(crate) struct Stress {
    last: Pin<KBox<Mutex<Option<Report>>>>,
}

/// What the workers share.
struct Shared<'s> {
    state: &'s State,
    caches: [&'s Cache<'static>; 3],
    deadline: u64,
    ops: [Atomic<u64>; KINDS.len()],
    enomem: Atomic<u64>,
    errors: Atomic<u64>,
    mismatches: Atomic<u64>,
}

/// Something a worker holds, with its tag.
enum Held<'s> {
    Block(PageBlock<'s>, u64),
    Object(usize, NonNull<u8>, u64),
    Kmalloc(NonNull<u8>, u64),
    /// A region's identity and the byte it holds throughout, unless a
    /// failed rewrite left it mixed.
    Region(u64, Option<u8>),
}

fn now() -> u64 {
    // SAFETY: No preconditions.
    unsafe { zonemm_ktime_ns() }
}

fn tag_at(p: *mut u8) -> u64 {
    // SAFETY: Callers pass the start of a block or object of theirs, at
    // least 8 bytes and 8-aligned.
    unsafe { p.cast::<u64>().read() }
}

fn set_tag(p: *mut u8, tag: u64) {
    // SAFETY: As in `tag_at`.
    unsafe { p.cast::<u64>().write(tag) }
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

    /// Checks and frees one held thing.
    fn release(&self, held: Held<'_>) {
        self.count(5);
        let ok = match held {
            Held::Block(b, tag) => tag_at(b.as_mut_ptr()) == tag,
            Held::Object(c, p, tag) => {
                let ok = tag_at(p.as_ptr()) == tag;
                self.caches[c].free(p);
                ok
            }
            Held::Kmalloc(p, tag) => {
                let ok = tag_at(p.as_ptr()) == tag;
                kfree(self.state.pool, p);
                ok
            }
            Held::Region(id, byte) => {
                let regions = &self.state.regions;
                let ok = byte.is_none_or(|b| regions.check_id(id, b) == Ok(None));
                if let Err(e) = regions.free_id(id) {
                    self.failed(e);
                }
                ok
            }
        };
        if !ok {
            self.mismatches.add(1, Relaxed);
        }
    }

    /// One worker's loop.
    fn work(&self, cpu: u32) -> Result {
        let mut held: KVec<Held<'_>> = KVec::with_capacity(64, GFP_KERNEL)?;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (cpu as u64) << 32 ^ now();
        let mut serial = (cpu as u64) << 48;
        while now() < self.deadline {
            let r = xorshift(&mut seed);
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
            let thing = match r % 100 {
                0..25 => {
                    self.count(0);
                    let order = Order::new((r >> 8) % 5).unwrap_or(Order::ZERO);
                    self.state.pool.alloc_pages(order, Flags::KERNEL).map(|b| {
                        set_tag(b.as_mut_ptr(), tag);
                        Held::Block(b, tag)
                    })
                }
                25..45 => {
                    self.count(1);
                    let c = (r as usize >> 8) % 3;
                    self.caches[c].alloc(Flags::KERNEL).map(|p| {
                        set_tag(p.as_ptr(), tag);
                        Held::Object(c, p, tag)
                    })
                }
                45..55 => {
                    self.count(2);
                    let size = 8 << ((r >> 8) % 10);
                    self.state.kmalloc.kmalloc(size, Flags::KERNEL).map(|p| {
                        set_tag(p.as_ptr(), tag);
                        Held::Kmalloc(p, tag)
                    })
                }
                55..65 => {
                    self.count(3);
                    let pages = 1 + (r as usize >> 8) % 8;
                    let flags = RegionFlags { mergeable: r & 0x100_0000 != 0, ..RegionFlags::default() };
                    let byte = (r >> 24) as u8 % 4;
                    let regions = &self.state.regions;
                    regions.alloc_id(pages * PAGE_SIZE, flags).and_then(|id| match regions.fill_id(id, byte) {
                        Ok(_) => Ok(Held::Region(id, Some(byte))),
                        Err(e) => {
                            let _ = regions.free_id(id);
                            Err(e)
                        }
                    })
                }
                _ => {
                    // Rewrite a held region (breaking merged pages).
                    self.count(4);
                    let regions = &self.state.regions;
                    let found = held.iter_mut().find_map(|h| match h {
                        Held::Region(id, byte) => Some((*id, byte)),
                        _ => None,
                    });
                    if let Some((id, byte)) = found {
                        let new = (r >> 8) as u8 % 4;
                        match regions.fill_id(id, new) {
                            Ok(_) => *byte = Some(new),
                            // A partly written region holds a mix: check
                            // nothing of it, but free it.
                            Err(e) => {
                                self.failed(e);
                                *byte = None;
                            }
                        }
                    }
                    continue;
                }
            };
            match thing {
                Ok(h) => {
                    if held.push_within_capacity(h).is_err() {
                        self.errors.add(1, Relaxed);
                    }
                }
                Err(e) => self.failed(e),
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

impl Stress {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { last: KBox::pin_init(new_mutex!(None, "Stress::last"), GFP_KERNEL)? })
    }

    /// Runs for `seconds`, then quiesces and checks. Sleeps.
    pub(crate) fn run(&self, state: &'static State, merger: &Merger<'_, '_>, seconds: u32) -> Result {
        let pool = state.pool;
        state.regions.purge();
        pool.drain();
        let base = pool.nr_free_pages();
        let km_base: usize = state.kmalloc.caches().map(|c| c.active_objects()).sum();
        let injected = crate::fault::injected();
        let c64 = Cache::create(pool, "stress-64", 64, 0, DebugFlags::default(), None)?;
        let c256 = Cache::create(pool, "stress-256", 256, 0, DebugFlags::default(), None)?;
        let c1k = Cache::create(pool, "stress-1k", 1024, 0, DebugFlags { redzone: true, ..DebugFlags::default() }, None)?;
        let caches: [&Cache<'static>; 3] = [&c64, &c256, &c1k];
        let run_before = merger.knob(Knob::Run);
        let sleep_before = merger.knob(Knob::SleepMillisecs);
        let _ = merger.set_knob(Knob::SleepMillisecs, 0);
        let _ = merger.set_knob(Knob::Run, 1);
        let shared = Shared {
            state,
            caches,
            deadline: now() + seconds as u64 * 1_000_000_000,
            ops: [const { Atomic::new(0) }; KINDS.len()],
            enomem: Atomic::new(0),
            errors: Atomic::new(0),
            mismatches: Atomic::new(0),
        };
        let arg = (&shared as *const Shared<'_>).cast_mut().cast();
        // SAFETY: The workers use `shared` only until the call returns.
        let ret = unsafe { zonemm_run_on_each_cpu(worker, arg) };
        // Quiesce: unmerge, empty everything, then count.
        let _ = merger.set_knob(Knob::Run, 2);
        let _ = merger.set_knob(Knob::Run, run_before);
        let _ = merger.set_knob(Knob::SleepMillisecs, sleep_before);
        let objects_left = caches.iter().map(|c| c.active_objects()).sum::<usize>()
            + state.kmalloc.caches().map(|c| c.active_objects()).sum::<usize>()
            - km_base;
        let mut report = Report {
            seconds,
            ops: core::array::from_fn(|k| shared.ops[k].load(Relaxed)),
            enomem: shared.enomem.load(Relaxed),
            errors: shared.errors.load(Relaxed) + u64::from(ret != 0),
            mismatches: shared.mismatches.load(Relaxed),
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
        report.pages_back = pool.nr_free_pages() == base;
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
        writeln!(f, "faults_injected {}", r.injected)?;
        writeln!(f, "errors {}", r.errors)?;
        writeln!(f, "mismatches {}", r.mismatches)?;
        writeln!(f, "objects_left {}", r.objects_left)?;
        writeln!(f, "pages_back {}", if r.pages_back { "yes" } else { "no" })?;
        writeln!(f, "zones_sound {}", if r.zones_sound { "yes" } else { "no" })
    }
}
