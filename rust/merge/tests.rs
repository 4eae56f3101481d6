// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the merge layer (`rust/merge.rs`).

use super::*;

#[kunit_tests(zonemm_merge)]
mod suite {
    use super::*;
    use crate::{
        buddy::{
            Flags,
            Pool, //
        },
        pfn::Pfn,
        region::RegionFlags,
        source::{
            Params,
            Source, //
        },
    };

    const MERGEABLE: RegionFlags = RegionFlags { zero: false, mergeable: true, huge: false };

    fn pool() -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(8, 8)?)?, 0)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    /// A mergeable region of `pages` pages, page `i` filled with `fill(i)`.
    fn region(regions: &Regions<'_>, pages: usize, fill: impl Fn(usize) -> u8) -> Result<u64> {
        let id = regions.alloc_id(pages * PAGE_SIZE, MERGEABLE)?;
        for i in 0..pages {
            regions.write_id(id, i * PAGE_SIZE, &[fill(i); PAGE_SIZE])?;
        }
        Ok(id)
    }

    /// Whether page `i` of region `id` holds `byte` throughout.
    fn holds(regions: &Regions<'_>, id: u64, i: usize, byte: u8) -> Result<bool> {
        let mut buf = [0u8; PAGE_SIZE];
        regions.read_id(id, i * PAGE_SIZE, &mut buf)?;
        Ok(buf.iter().all(|&b| b == byte))
    }

    /// Scans `passes` full passes over `pages` mergeable pages.
    fn passes(m: &Merger<'_, '_>, pages: usize, passes: usize) {
        m.scan(pages * passes + 1);
    }

    #[test]
    fn equal_regions_share_and_free_their_duplicates() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let a = region(&regions, 8, |i| i as u8 + 1)?;
        let b = region(&regions, 8, |i| i as u8 + 1)?;
        let m = Merger::new(&regions)?;
        pool.drain();
        let free = pool.nr_free_pages();
        // The first pass only notes each page (volatile on first sight);
        // the second pairs them.
        passes(&m, 16, 1);
        assert_eq!(m.counters().0.pages_sharing, 0);
        passes(&m, 16, 1);
        let (c, _, _) = m.counters();
        assert_eq!((c.pages_shared, c.pages_sharing, c.pages_unshared, c.rmap_items), (8, 8, 0, 16));
        pool.drain();
        assert_eq!(pool.nr_free_pages(), free + 8);
        for i in 0..8 {
            assert!(holds(&regions, a, i, i as u8 + 1)? && holds(&regions, b, i, i as u8 + 1)?);
        }
        Ok(())
    }

    #[test]
    fn counter_reads_do_not_wait_for_a_batch() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let _a = region(&regions, 4, |i| i as u8 + 1)?;
        let b = region(&regions, 4, |i| i as u8 + 1)?;
        let m = Merger::new(&regions)?;
        passes(&m, 8, 2);
        let exact = m.counters();
        assert_eq!((exact.0.pages_shared, exact.0.pages_sharing), (4, 4));
        {
            // The scanner's hold on the mutex for a batch: a read shows
            // the counts of the last batch, and does not wait.
            let _batch = m.state.lock();
            let shown = m.counters_shown();
            assert_eq!((shown.0, shown.1, shown.2), exact);
            // A sharer gone meanwhile shows once the mutex is free.
            regions.free_id(b)?;
            assert_eq!(m.counters_shown().0.pages_sharing, 4);
        }
        let after = m.counters_shown().0;
        assert_eq!((after.pages_shared, after.pages_sharing), (4, 0));
        Ok(())
    }

    #[test]
    fn a_write_breaks_sharing_and_no_other_sharer_sees_it() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let a = region(&regions, 4, |_| 7)?;
        let b = region(&regions, 4, |_| 7)?;
        let c = region(&regions, 4, |_| 7)?;
        let m = Merger::new(&regions)?;
        passes(&m, 12, 3);
        assert_eq!(m.counters().0.pages_sharing, 11);
        // Through a write mapping, the copy-on-write point.
        {
            let map = regions.map(a, 2, true)?;
            assert!(map.is_write());
            // SAFETY: A page mapped for writing, ours while mapped.
            unsafe { map.as_ptr().add(9).write(0xee) };
        }
        assert_eq!(m.counters().0.pages_sharing, 10);
        let mut buf = [0u8; 16];
        regions.read_id(a, 2 * PAGE_SIZE, &mut buf)?;
        assert_eq!((buf[8], buf[9], buf[10]), (7, 0xee, 7));
        for i in 0..4 {
            assert!(holds(&regions, b, i, 7)? && holds(&regions, c, i, 7)?);
        }
        // A read mapping of a shared page is the shared frame itself.
        let rb = regions.map(b, 1, false)?;
        let rc = regions.map(c, 1, false)?;
        assert!(!rb.is_write() && rb.as_ptr() == rc.as_ptr());
        Ok(())
    }

    #[test]
    fn pages_rewritten_every_pass_stay_volatile() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let a = region(&regions, 2, |_| 1)?;
        let b = region(&regions, 2, |_| 1)?;
        let m = Merger::new(&regions)?;
        for pass in 0..5u8 {
            for id in [a, b] {
                for page in 0..2 {
                    regions.write_id(id, page * PAGE_SIZE, &[pass; 64])?;
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
        let regions = Regions::new(&pool, false)?;
        let a = region(&regions, 6, |i| if i < 4 { 0 } else { 3 })?;
        let m = Merger::new(&regions)?;
        m.set_knob(Knob::UseZeroPages, 1).map_err(|_| EINVAL)?;
        m.scan(6);
        // Volatile on first sight, as ksm.c checks the checksum first.
        assert_eq!(m.counters().0.zero_pages, 0);
        m.scan(6);
        assert_eq!(m.counters().0.zero_pages, 4);
        assert!(holds(&regions, a, 0, 0)? && holds(&regions, a, 5, 3)?);
        Ok(())
    }

    #[test]
    fn max_page_sharing_makes_chains() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let m = Merger::new(&regions)?;
        m.set_knob(Knob::MaxPageSharing, 2).map_err(|_| EINVAL)?;
        for _ in 0..5 {
            region(&regions, 1, |_| 0x42)?;
        }
        passes(&m, 5, 4);
        let (c, chains, dups) = m.counters();
        assert_eq!((c.pages_shared, c.pages_sharing, chains, dups), (2, 2, 1, 2));
        // Changing the cap while pages are shared is refused, as in ksm.
        assert!(m.set_knob(Knob::MaxPageSharing, 3).is_err());
        Ok(())
    }

    #[test]
    fn run_2_gives_every_region_private_pages_again() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let a = region(&regions, 4, |i| i as u8)?;
        let b = region(&regions, 4, |i| i as u8)?;
        let m = Merger::new(&regions)?;
        pool.drain();
        let free = pool.nr_free_pages();
        passes(&m, 8, 2);
        assert_eq!(m.counters().0.pages_sharing, 4);
        m.set_knob(Knob::Run, 2).map_err(|_| EINVAL)?;
        let (c, _, _) = m.counters();
        // Every rmap item goes too, as in unmerge_and_remove_all_rmap_items().
        assert_eq!((c.pages_shared, c.pages_sharing, c.rmap_items, c.pages_volatile()), (0, 0, 0, 0));
        pool.drain();
        assert_eq!(pool.nr_free_pages(), free);
        for i in 0..4 {
            assert!(holds(&regions, a, i, i as u8)? && holds(&regions, b, i, i as u8)?);
        }
        Ok(())
    }

    #[test]
    fn freed_regions_take_their_metadata_and_stable_nodes_with_them() -> Result {
        let pool = pool()?;
        pool.drain();
        let free = pool.nr_free_pages();
        let regions = Regions::new(&pool, false)?;
        let m = Merger::new(&regions)?;
        let a = region(&regions, 4, |i| i as u8 + 9)?;
        let b = region(&regions, 4, |i| i as u8 + 9)?;
        passes(&m, 8, 2);
        assert_eq!(m.counters().0.rmap_items, 8);
        regions.free_id(a)?;
        regions.free_id(b)?;
        // Pages back at once, though the scanner has not run since.
        pool.drain();
        assert_eq!(pool.nr_free_pages(), free);
        let (c, _, _) = m.counters();
        assert_eq!((c.pages_shared, c.pages_sharing, c.rmap_items), (0, 0, 0));
        // The stale nodes go at the next scan, which finds no region.
        m.scan(1);
        assert!(m.state.lock().stable.is_empty());
        Ok(())
    }

    #[test]
    fn a_replaced_page_is_never_reachable_through_a_region() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let a = region(&regions, 4, |i| i as u8 + 0x21)?;
        let b = region(&regions, 4, |i| i as u8 + 0x21)?;
        let ra = regions.get(a).ok_or(EINVAL)?;
        let rb = regions.get(b).ok_or(EINVAL)?;
        let mut before = KVec::new();
        for i in 0..4 {
            before.push((ra.pfn(i).ok_or(EINVAL)?, rb.pfn(i).ok_or(EINVAL)?), GFP_KERNEL)?;
        }
        let m = Merger::new(&regions)?;
        passes(&m, 8, 2);
        assert_eq!(m.counters().0.pages_sharing, 4);
        // Every frame that stopped being used: take it back from the pool
        // and fill it with a marker.
        let mut freed = KVec::new();
        for (i, &(pa, pb)) in before.iter().enumerate() {
            let now = ra.pfn(i).ok_or(EINVAL)?;
            assert_eq!(Some(now), rb.pfn(i));
            freed.push(if now == pa { pb } else { pa }, GFP_KERNEL)?;
        }
        pool.drain();
        let mut taken = KVec::new();
        let mut found = 0;
        while let Ok(block) = pool.alloc_pages(Order::ZERO, Flags::KERNEL) {
            if freed.contains(&block.pfn()) {
                // SAFETY: A whole page we own.
                unsafe { core::ptr::write_bytes(block.as_mut_ptr(), 0xa5, PAGE_SIZE) };
                found += 1;
            }
            taken.push(block, GFP_KERNEL)?;
        }
        assert_eq!(found, 4);
        for i in 0..4 {
            assert!(holds(&regions, a, i, i as u8 + 0x21)? && holds(&regions, b, i, i as u8 + 0x21)?);
            let pfn: Pfn = ra.pfn(i).ok_or(EINVAL)?;
            assert!(!freed.contains(&pfn));
        }
        drop(taken);
        Ok(())
    }

    #[test]
    fn a_merge_compares_again_and_never_frees_a_mapped_page() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let a = region(&regions, 1, |_| 0x61)?;
        let b = region(&regions, 1, |_| 0x61)?;
        let (ra, rb) = (regions.get(a).ok_or(EINVAL)?, regions.get(b).ok_or(EINVAL)?);
        // Mapped, even for reading: not shared (a later copy-on-write
        // would free the frame under the reader).
        let map = regions.map(a, 0, false)?;
        assert!(ra.share(0).is_none());
        drop(map);
        let s = ra.share(0).ok_or(ENOMEM)?;
        // Equal when the search looked, changed since: no merge.
        assert!(rb.same_as(0, &s));
        regions.write_id(b, 7, &[0x62])?;
        assert!(!rb.merge(0, &s));
        assert!(holds(&regions, a, 0, 0x61)?);
        regions.write_id(b, 7, &[0x61])?;
        // Equal, but mapped (for reading): its frame must not be freed.
        let map = regions.map(b, 0, false)?;
        assert!(!rb.merge(0, &s));
        drop(map);
        // Mapped for writing: not even shared.
        let map = regions.map(b, 0, true)?;
        assert!(rb.share(0).is_none() && rb.hash(0).is_none() && !rb.same_as(0, &s));
        drop(map);
        assert!(rb.merge(0, &s));
        assert_eq!(ra.pfn(0), rb.pfn(0));
        Ok(())
    }

    struct Race<'r, 'a> {
        regions: &'r Regions<'a>,
        merger: &'r Merger<'r, 'a>,
        /// Region 0 is written; region 1 holds 0x11 throughout.
        ids: [u64; 2],
        pages: usize,
    }

    /// CPU 0 writes region 0's pages through write mappings: first the
    /// whole page 0x11 (what region 1 holds), then, still mapped, the
    /// second half 0x33; so the page equals region 1's only while it is
    /// mapped for writing. The other CPU scans. No merge may happen.
    unsafe extern "C" fn race(arg: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the test's `Race`, alive until every CPU
        // returns.
        let r = unsafe { &*arg.cast::<Race<'_, '_>>() };
        if cpu != 0 {
            for _ in 0..200 {
                r.merger.scan(2 * r.pages);
            }
            return 0;
        }
        for round in 0..400 {
            // Never zero: no divide-by-zero panic path (which objtool took
            // for a fall-through).
            let page = round % r.pages.max(1);
            let Ok(map) = r.regions.map(r.ids[0], page, true) else { return ENOMEM.to_errno() };
            // SAFETY: A page mapped for writing, ours while mapped.
            unsafe {
                core::ptr::write_bytes(map.as_ptr(), 0x11, PAGE_SIZE);
                core::ptr::write_bytes(map.as_ptr().add(PAGE_SIZE / 2), 0x33, PAGE_SIZE / 2);
            }
        }
        0
    }

    #[test]
    fn pages_written_during_the_merge_are_never_merged() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let pages = 4;
        let w = region(&regions, pages, |_| 0x11)?;
        let s = region(&regions, pages, |_| 0x11)?;
        let m = Merger::new(&regions)?;
        let r = Race { regions: &regions, merger: &m, ids: [w, s], pages };
        let arg = (&r as *const Race<'_, '_>).cast_mut().cast();
        // SAFETY: `race` only uses `r`, alive until the call returns.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(race, arg) }, 0);
        // The model: region 0's pages 0x11 then 0x33, region 1's 0x11.
        let mut buf = [0u8; PAGE_SIZE];
        for i in 0..pages {
            regions.read_id(w, i * PAGE_SIZE, &mut buf)?;
            assert!(buf[..PAGE_SIZE / 2].iter().all(|&b| b == 0x11));
            assert!(buf[PAGE_SIZE / 2..].iter().all(|&b| b == 0x33));
            assert!(holds(&regions, s, i, 0x11)?);
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
        for round in 0..200u32 {
            let byte = (round % 3) as u8;
            let page = (round as usize * 5 + cpu as usize) % 8;
            if s.regions.write_id(id, page * PAGE_SIZE, &[byte; PAGE_SIZE]).is_err() {
                return ENOMEM.to_errno();
            }
            let mut buf = [0u8; PAGE_SIZE];
            if s.regions.read_id(id, page * PAGE_SIZE, &mut buf).is_err() || buf.iter().any(|&b| b != byte) {
                return EIO.to_errno();
            }
        }
        0
    }

    #[test]
    fn the_scanner_runs_while_every_cpu_writes() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
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
