// SPDX-License-Identifier: GPL-2.0

//! The in-kernel benchmark: every layer against its kernel counterpart.
//!
//! Each case runs zonemm's side and the kernel's side interleaved (A B A B
//! ...) for a number of repetitions, and reports the median nanoseconds
//! and cycles per operation of each, as `lib/test_vmalloc.c` and the slab
//! benchmarks of the kernel's selftests time their loops. Cases on both
//! CPUs run one kthread per CPU at once; each CPU times itself and the
//! slowest counts. No case asserts anything about time: this is a
//! measurement, driven from `bench/run`, never a test.

use core::ptr::NonNull;

use kernel::{
    bindings,
    fmt,
    new_mutex,
    prelude::*,
    sync::Mutex,
};

use crate::{
    buddy::{
        Flags,
        PageBlock,
        Pool, //
    },
    helpers::*,
    merge::{
        Knob,
        Merger, //
    },
    page_alloc::PageMeta,
    pcp::PCP_SLOTS,
    pfn::{
        Order,
        NR_PAGE_ORDERS,
        PAGE_SIZE, //
    },
    region::{
        RegionFlags,
        Regions, //
    },
    slab::{
        kmalloc::{
            kfree,
            Kmalloc, //
        },
        Cache,
    },
    slub::{
        DebugFlags,
        KMALLOC_SIZES, //
    },
};

/// One case's result: per-operation medians, in picoseconds (integer
/// maths only in the kernel) and hundredths of a cycle.
#[derive(Clone, Copy)]
pub(crate) struct CaseResult {
    pub(crate) layer: &'static str,
    pub(crate) name: &'static str,
    pub(crate) param: usize,
    pub(crate) cpus: usize,
    pub(crate) ops: usize,
    pub(crate) zonemm_ps: u64,
    pub(crate) kernel_ps: u64,
    pub(crate) zonemm_cc: u64,
    pub(crate) kernel_cc: u64,
}

/// What one side of a case does with `iters` operations; returns the
/// operations it did (0 on failure).
type Side = fn(&Bench<'_>, usize, usize) -> usize;

/// A case: its sides, and how big an operation is.
struct Case {
    layer: &'static str,
    name: &'static str,
    param: usize,
    both_cpus: bool,
    zonemm: Side,
    kernel: Side,
}

/// Everything the cases work on.
pub(crate) struct Bench<'a> {
    pool: &'a Pool,
    kmalloc: &'a Kmalloc<'a>,
    regions: &'a Regions<'a>,
    results: Pin<KBox<Mutex<KVec<CaseResult>>>>,
}

/// Per-CPU timing of a both-CPUs run.
struct Run<'b, 'a> {
    bench: &'b Bench<'a>,
    side: Side,
    iters: usize,
    param: usize,
    ns: [u64; 8],
    cycles: [u64; 8],
    ops: [usize; 8],
}

fn now() -> (u64, u64) {
    // SAFETY: No preconditions.
    unsafe { (zonemm_ktime_ns(), zonemm_cycles()) }
}

fn median(v: &mut [u64]) -> u64 {
    // Insertion sort: a handful of repetitions.
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    v.get(v.len() / 2).copied().unwrap_or(0)
}

impl<'a> Bench<'a> {
    pub(crate) fn new(pool: &'a Pool, kmalloc: &'a Kmalloc<'a>, regions: &'a Regions<'a>) -> Result<Self> {
        Ok(Self {
            pool,
            kmalloc,
            regions,
            results: KBox::pin_init(new_mutex!(KVec::new(), "Bench::results"), GFP_KERNEL)?,
        })
    }

    /// Times one side once: (ns, cycles, ops), the slowest CPU's for a
    /// both-CPUs case.
    fn time(&self, side: Side, iters: usize, param: usize, both: bool) -> (u64, u64, usize) {
        if !both {
            let (t0, c0) = now();
            let ops = side(self, iters, param);
            let (t1, c1) = now();
            return (t1 - t0, c1.wrapping_sub(c0), ops);
        }
        let mut run = Run { bench: self, side, iters, param, ns: [0; 8], cycles: [0; 8], ops: [0; 8] };
        let arg = (&mut run as *mut Run<'_, '_>).cast();
        // SAFETY: `per_cpu` only uses `run` through `arg` until the call
        // returns, each CPU its own array slots.
        if unsafe { zonemm_run_on_each_cpu(per_cpu, arg) } != 0 {
            return (0, 0, 0);
        }
        let worst = (0..8).max_by_key(|&i| run.ns[i]).unwrap_or(0);
        (run.ns[worst], run.cycles[worst], run.ops[worst])
    }

    /// Runs `case` for `reps` interleaved repetitions of `iters`.
    fn run_case(&self, case: &Case, iters: usize, reps: usize) -> Result<CaseResult> {
        let mut z = KVec::new();
        let mut k = KVec::new();
        let mut zc = KVec::new();
        let mut kc = KVec::new();
        let mut ops = 0;
        for _ in 0..reps {
            for (who, side, ns, cc) in [("zonemm", case.zonemm, &mut z, &mut zc), ("kernel", case.kernel, &mut k, &mut kc)] {
                let (t, c, n) = self.time(side, iters, case.param, case.both_cpus);
                if n == 0 {
                    pr_warn!("bench {} {}: {who}'s side failed\n", case.layer, case.name);
                    return Err(ENOMEM);
                }
                ns.push(t * 1000 / n as u64, GFP_KERNEL)?;
                cc.push(c * 100 / n as u64, GFP_KERNEL)?;
                ops = n;
            }
        }
        Ok(CaseResult {
            layer: case.layer,
            name: case.name,
            param: case.param,
            cpus: if case.both_cpus { 2 } else { 1 },
            ops,
            zonemm_ps: median(&mut z),
            kernel_ps: median(&mut k),
            zonemm_cc: median(&mut zc),
            kernel_cc: median(&mut kc),
        })
    }

    /// Runs every case whose layer matches `filter` ("all" for all);
    /// `scale` divides the iteration counts (1: full, larger: quicker).
    /// Sleeps, for a long time at full scale.
    pub(crate) fn run(&self, filter: &str, scale: usize, merger: &Merger<'_, '_>) -> Result {
        let mut results = KVec::new();
        for case in CASES.iter().filter(|c| filter == "all" || filter == c.layer) {
            let iters = (case_iters(case) / scale.max(1)).max(1);
            results.push(self.run_case(case, iters, 5)?, GFP_KERNEL)?;
            self.pool.drain();
        }
        if filter == "all" || filter == "merge" {
            results.push(self.merge_case(merger, scale)?, GFP_KERNEL)?;
        }
        *self.results.lock() = results;
        Ok(())
    }

    /// `bench/results`: one line per case, `key=value` words.
    pub(crate) fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.results.lock().iter() {
            if r.layer == "merge" {
                writeln!(
                    f,
                    "layer=merge case=dup_mib_per_s param={} merged_pages={} zonemm_mibps_x1000={} zonemm_ccx100={}",
                    r.param, r.ops, r.zonemm_ps, r.zonemm_cc
                )?;
                continue;
            }
            writeln!(
                f,
                "layer={} case={} param={} cpus={} ops={} zonemm_ps={} kernel_ps={} zonemm_ccx100={} kernel_ccx100={}",
                r.layer, r.name, r.param, r.cpus, r.ops, r.zonemm_ps, r.kernel_ps, r.zonemm_cc, r.kernel_cc
            )?;
        }
        self.show_memory(f)
    }
}

unsafe extern "C" fn per_cpu(arg: *mut c_void, cpu: c_uint) -> c_int {
    // SAFETY: `arg` is the `Run` of `Bench::time`, alive until every CPU
    // returns; CPU `cpu` writes only its own slots.
    let run = unsafe { &mut *arg.cast::<Run<'_, '_>>() };
    let i = (cpu as usize).min(7);
    let (t0, c0) = now();
    let ops = (run.side)(run.bench, run.iters, run.param);
    let (t1, c1) = now();
    run.ns[i] = t1 - t0;
    run.cycles[i] = c1.wrapping_sub(c0);
    run.ops[i] = ops;
    0
}

fn case_iters(case: &Case) -> usize {
    match case.layer {
        "buddy" if order_of(case.param).get() >= 9 => 200,
        "region" => 400,
        _ => 20000,
    }
}

// -- buddy -----------------------------------------------------------------

fn order_of(param: usize) -> Order {
    Order::new((param % 100) as u32).unwrap_or(Order::ZERO)
}

/// `param` = order + 100 * batch (batch 0: single).
fn zm_pages(b: &Bench<'_>, iters: usize, param: usize) -> usize {
    let (order, batch) = (order_of(param), param / 100);
    if batch == 0 {
        for _ in 0..iters {
            let Ok(block) = b.pool.alloc_pages(order, Flags::KERNEL) else { return 0 };
            drop(block);
        }
        return iters;
    }
    let rounds = (iters / batch).max(1);
    let Ok(mut held) = KVec::<PageBlock<'_>>::with_capacity(batch, GFP_KERNEL) else { return 0 };
    for _ in 0..rounds {
        if b.pool.alloc_pages_bulk(order, Flags::KERNEL, batch, &mut held) != batch {
            return 0;
        }
        held.clear();
    }
    rounds * batch
}

fn k_pages(_: &Bench<'_>, iters: usize, param: usize) -> usize {
    let (order, batch) = (order_of(param), param / 100);
    if batch == 0 {
        for _ in 0..iters {
            // SAFETY: The kernel's own allocator; freed at once.
            let page = unsafe { zonemm_kernel_alloc_pages(order.get()) };
            if page.is_null() {
                return 0;
            }
            // SAFETY: Allocated just above with this order.
            unsafe { zonemm_kernel_free_pages(page, order.get()) };
        }
        return iters;
    }
    let Ok(mut pages) = KVec::from_elem(core::ptr::null_mut::<bindings::page>(), batch, GFP_KERNEL) else {
        return 0;
    };
    let rounds = (iters / batch).max(1);
    for _ in 0..rounds {
        if order.get() == 0 {
            pages.iter_mut().for_each(|p| *p = core::ptr::null_mut());
            // SAFETY: `pages` has `batch` null slots to fill.
            let got = unsafe { zonemm_kernel_alloc_pages_bulk(batch as c_ulong, pages.as_mut_ptr()) };
            if got as usize != batch {
                return 0;
            }
        } else {
            for p in pages.iter_mut() {
                // SAFETY: The kernel's own allocator.
                *p = unsafe { zonemm_kernel_alloc_pages(order.get()) };
                if p.is_null() {
                    return 0;
                }
            }
        }
        for &p in pages.iter() {
            // SAFETY: Allocated above with this order.
            unsafe { zonemm_kernel_free_pages(p, order.get()) };
        }
    }
    rounds * batch
}

// -- slab ------------------------------------------------------------------

/// `param` = size + 100000 * batch.
fn zm_cache(b: &Bench<'_>, iters: usize, param: usize) -> usize {
    let (size, batch) = (param % 100000, (param / 100000).max(1));
    let Ok(cache) = Cache::create(b.pool, "bench", size, 0, DebugFlags::default(), None) else { return 0 };
    let rounds = (iters / batch).max(1);
    let Ok(mut held) = KVec::<NonNull<u8>>::with_capacity(batch, GFP_KERNEL) else { return 0 };
    for _ in 0..rounds {
        for _ in 0..batch {
            let Ok(obj) = cache.alloc(Flags::KERNEL) else { return 0 };
            let _ = held.push_within_capacity(obj);
        }
        for obj in held.drain_all() {
            cache.free(obj);
        }
    }
    rounds * batch
}

fn k_cache(_: &Bench<'_>, iters: usize, param: usize) -> usize {
    let (size, batch) = (param % 100000, (param / 100000).max(1));
    // SAFETY: A new cache, destroyed below.
    let cache = unsafe { zonemm_kernel_cache_create(c"zonemm_bench".as_ptr().cast(), size as c_uint) };
    if cache.is_null() {
        return 0;
    }
    let Ok(mut held) = KVec::<*mut c_void>::with_capacity(batch, GFP_KERNEL) else { return 0 };
    let mut done = 0;
    'outer: for _ in 0..(iters / batch).max(1) {
        for _ in 0..batch {
            // SAFETY: Our cache.
            let obj = unsafe { zonemm_kernel_cache_alloc(cache) };
            if obj.is_null() {
                break 'outer;
            }
            let _ = held.push_within_capacity(obj);
        }
        for obj in held.drain_all() {
            // SAFETY: Allocated from `cache` above.
            unsafe { zonemm_kernel_cache_free(cache, obj) };
        }
        done += batch;
    }
    for obj in held.drain_all() {
        // SAFETY: As above.
        unsafe { zonemm_kernel_cache_free(cache, obj) };
    }
    // SAFETY: Every object went back.
    unsafe { zonemm_kernel_cache_destroy(cache) };
    done
}

fn zm_kmalloc(b: &Bench<'_>, iters: usize, size: usize) -> usize {
    for _ in 0..iters {
        let Ok(p) = b.kmalloc.kmalloc(size, Flags::KERNEL) else { return 0 };
        kfree(b.pool, p);
    }
    iters
}

fn k_kmalloc(_: &Bench<'_>, iters: usize, size: usize) -> usize {
    for _ in 0..iters {
        // SAFETY: The kernel's kmalloc; freed at once.
        let p = unsafe { zonemm_kernel_kmalloc(size) };
        if p.is_null() {
            return 0;
        }
        // SAFETY: From kmalloc just above.
        unsafe { zonemm_kernel_kfree(p) };
    }
    iters
}

// -- region ----------------------------------------------------------------

/// Pages for the `i`-th allocation: `param` pages, or (0) a pseudo-random
/// 1 to 256, as `random_size_alloc_test`.
fn region_pages(param: usize, i: usize) -> usize {
    if param > 0 {
        return param;
    }
    let x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
    1 + x as usize
}

fn zm_region(b: &Bench<'_>, iters: usize, param: usize) -> usize {
    for i in 0..iters {
        let Ok(addr) = b.regions.alloc(region_pages(param, i) * PAGE_SIZE, RegionFlags::default()) else {
            return 0;
        };
        if b.regions.free(addr).is_err() {
            return 0;
        }
    }
    b.regions.purge();
    iters
}

fn k_region(_: &Bench<'_>, iters: usize, param: usize) -> usize {
    for i in 0..iters {
        // SAFETY: The kernel's vmalloc; freed at once.
        let p = unsafe { zonemm_kernel_vmalloc((region_pages(param, i) * PAGE_SIZE) as c_ulong) };
        if p.is_null() {
            return 0;
        }
        // SAFETY: From vmalloc just above.
        unsafe { zonemm_kernel_vfree(p) };
    }
    iters
}

macro_rules! cases {
    ($(($layer:literal, $name:literal, $param:expr, $both:literal, $z:ident, $k:ident)),* $(,)?) => {
        [$(Case { layer: $layer, name: $name, param: $param, both_cpus: $both, zonemm: $z, kernel: $k }),*]
    };
}

const CASES: [Case; 37] = cases![
    ("buddy", "order0", 0, false, zm_pages, k_pages),
    ("buddy", "order3", 3, false, zm_pages, k_pages),
    ("buddy", "order9", 9, false, zm_pages, k_pages),
    ("buddy", "order0_bulk16", 1600, false, zm_pages, k_pages),
    ("buddy", "order0_bulk256", 25600, false, zm_pages, k_pages),
    ("buddy", "order3_bulk16", 1603, false, zm_pages, k_pages),
    ("buddy", "order3_bulk256", 25603, false, zm_pages, k_pages),
    // order9_bulk256 would need 512 MiB of pool: left out.
    ("buddy", "order9_bulk16", 1609, false, zm_pages, k_pages),
    ("buddy", "order0", 0, true, zm_pages, k_pages),
    ("buddy", "order3", 3, true, zm_pages, k_pages),
    ("buddy", "order9", 9, true, zm_pages, k_pages),
    ("buddy", "order0_bulk16", 1600, true, zm_pages, k_pages),
    ("buddy", "order0_bulk256", 25600, true, zm_pages, k_pages),
    ("slab", "size64", 64, false, zm_cache, k_cache),
    ("slab", "size256", 256, false, zm_cache, k_cache),
    ("slab", "size1024", 1024, false, zm_cache, k_cache),
    ("slab", "size64_bulk64", 6_400_064, false, zm_cache, k_cache),
    ("slab", "size256_bulk64", 6_400_256, false, zm_cache, k_cache),
    ("slab", "size1024_bulk64", 6_401_024, false, zm_cache, k_cache),
    ("slab", "size64", 64, true, zm_cache, k_cache),
    ("slab", "size256", 256, true, zm_cache, k_cache),
    ("slab", "size1024", 1024, true, zm_cache, k_cache),
    ("kmalloc", "kmalloc-8", 8, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-32", 32, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-64", 64, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-96", 96, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-192", 192, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-256", 256, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-1k", 1024, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-4k", 4096, false, zm_kmalloc, k_kmalloc),
    ("kmalloc", "kmalloc-8k", 8192, false, zm_kmalloc, k_kmalloc),
    ("region", "fix_size_1", 1, false, zm_region, k_region),
    ("region", "fix_size_16", 16, false, zm_region, k_region),
    ("region", "fix_size_256", 256, false, zm_region, k_region),
    ("region", "random_size", 0, false, zm_region, k_region),
    ("region", "fix_size_16", 16, true, zm_region, k_region),
    ("region", "random_size", 0, true, zm_region, k_region),
];

const _: () = assert!(KMALLOC_SIZES.len() == 13);

// -- merge and memory ------------------------------------------------------

impl Bench<'_> {
    /// MiB/s of duplicate data merged: two mergeable regions of equal
    /// content, scanned until every duplicate is shared. The kernel's side
    /// (KSM on user memory) is measured from user space by `make bench`.
    fn merge_case(&self, merger: &Merger<'_, '_>, scale: usize) -> Result<CaseResult> {
        let pages = (1024 / scale.max(1)).max(8);
        let mut ids = [0u64; 2];
        for id in ids.iter_mut() {
            *id = self.regions.alloc_id(pages * PAGE_SIZE, RegionFlags { mergeable: true, ..RegionFlags::default() })?;
            for p in 0..pages {
                let a = self.regions.addr_of(*id).ok_or(EINVAL)?;
                self.regions.write(a, p * PAGE_SIZE, &[(p % 251) as u8 + 1; 64])?;
            }
        }
        let _ = merger.set_knob(Knob::Run, 0);
        let (t0, c0) = now();
        // Two passes: hashes noted, then pairs made.
        merger.scan(2 * pages * 2 + 1);
        let (t1, c1) = now();
        let merged = merger.counters().0.pages_sharing;
        for id in ids {
            self.regions.free_id(id)?;
        }
        self.regions.purge();
        let bytes = (merged * PAGE_SIZE) as u64;
        let ns = (t1 - t0).max(1);
        Ok(CaseResult {
            layer: "merge",
            name: "mib_per_s",
            param: pages,
            cpus: 1,
            ops: merged,
            // MiB/s, scaled by 1000, in the "zonemm" column; the kernel's
            // comes from user space.
            zonemm_ps: bytes * 1_000_000_000 / ns * 1000 >> 20,
            kernel_ps: 0,
            zonemm_cc: (c1.wrapping_sub(c0)) * 100 / merged.max(1) as u64,
            kernel_cc: 0,
        })
    }

    /// Metadata per managed page, and the unusable-free-space index per
    /// order (`unusable_free_index()` of `mm/vmstat.c`, in thousandths)
    /// after the same random alloc/free workload on each allocator.
    fn show_memory(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let managed = self.pool.managed().max(1);
        let mut meta = 0;
        for z in self.pool.zones() {
            meta += z.spanned() * core::mem::size_of::<PageMeta>();
            meta += z.pcp_counts().len() * PCP_SLOTS * core::mem::size_of::<u32>();
        }
        writeln!(
            f,
            "layer=memory case=metadata_bytes_per_page zonemm={} kernel={}",
            meta / managed,
            core::mem::size_of::<bindings::page>()
        )?;
        let (z, k) = self.fragmentation().map_err(|_| fmt::Error)?;
        for o in 0..NR_PAGE_ORDERS {
            writeln!(f, "layer=memory case=unusable_index order={o} zonemm={} kernel={}", z[o], k[o])?;
        }
        Ok(())
    }

    /// Runs the workload on both allocators: 2048 order-0..3 allocations,
    /// then every other one freed. Returns each side's unusable index.
    fn fragmentation(&self) -> Result<([usize; NR_PAGE_ORDERS], [usize; NR_PAGE_ORDERS])> {
        let mut zheld = KVec::new();
        let mut kheld = KVec::new();
        for i in 0..2048u64 {
            let order = Order::new(((i * 0x9e37_79b9) >> 7) as u32 % 4).unwrap_or(Order::ZERO);
            let zone = Flags::KERNEL.this_node(0);
            if let Ok(b) = self.pool.alloc_pages(order, zone) {
                zheld.push((i, b), GFP_KERNEL)?;
            }
            // SAFETY: The kernel's own allocator; freed below.
            let page = unsafe { zonemm_kernel_alloc_pages(order.get()) };
            if !page.is_null() {
                kheld.push((i, page, order), GFP_KERNEL)?;
            }
        }
        zheld.retain(|(i, _)| *i % 2 == 0);
        let mut kept = KVec::new();
        for (i, page, order) in kheld.drain_all() {
            if i % 2 == 0 {
                kept.push((page, order), GFP_KERNEL)?;
            } else {
                // SAFETY: Allocated above with `order`.
                unsafe { zonemm_kernel_free_pages(page, order.get()) };
            }
        }
        self.pool.drain();
        let zonemm = self.pool.zone(0, crate::zone::ZoneType::Dma32).map(|z| z.snapshot().nr_free);
        let kernel_counts: [usize; NR_PAGE_ORDERS] = match kept.first() {
            // SAFETY: A live page of ours; the zone's counts are read racily,
            // as /sys/kernel/debug/extfrag does.
            Some(&(page, _)) => core::array::from_fn(|o| unsafe { zonemm_kernel_zone_nr_free(page, o as c_uint) } as usize),
            None => [0; NR_PAGE_ORDERS],
        };
        for (page, order) in kept.drain_all() {
            // SAFETY: Allocated above with `order`.
            unsafe { zonemm_kernel_free_pages(page, order.get()) };
        }
        drop(zheld);
        Ok((unusable_index(&zonemm.unwrap_or([0; NR_PAGE_ORDERS])), unusable_index(&kernel_counts)))
    }
}

/// `unusable_free_index()` per order, in thousandths, from free blocks per
/// order.
fn unusable_index(nr_free: &[usize; NR_PAGE_ORDERS]) -> [usize; NR_PAGE_ORDERS] {
    let total: usize = nr_free.iter().enumerate().map(|(o, n)| n << o).sum();
    core::array::from_fn(|order| {
        if total == 0 {
            return 0;
        }
        let suitable: usize = nr_free[order..].iter().enumerate().map(|(j, n)| n << (order + j)).sum();
        (total - suitable) * 1000 / total
    })
}
