// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the region layer (`rust/region.rs`).

use super::*;

#[kunit_tests(zonemm_region)]
mod suite {
    use super::*;
    use crate::{
        helpers::zonemm_run_on_each_cpu,
        source::{
            Params,
            Source, //
        },
    };

    const PLAIN: RegionFlags = RegionFlags { zero: false, mergeable: false, huge: false };

    fn pool() -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(8, 8)?)?, 0)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    fn mapped_pfn(addr: usize) -> Option<Pfn> {
        // SAFETY: Any address may be looked up.
        let pfn = unsafe { zonemm_vmalloc_to_pfn(addr as *const c_void) };
        (pfn != c_ulong::MAX).then_some(Pfn(pfn as usize))
    }

    #[test]
    fn every_byte_reads_back_across_page_boundaries() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, true)?;
        let size = 3 * PAGE_SIZE + 1;
        let id = regions.alloc_id(size, RegionFlags { zero: true, ..PLAIN })?;
        let addr = regions.addr_of(id).ok_or(EINVAL)?;
        // SAFETY: The region is ours: `size` bytes, rounded up to 4 pages.
        let bytes = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, 4 * PAGE_SIZE) };
        assert!(bytes.iter().all(|&b| b == 0));
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let mut buf = [0u8; 64];
        regions.read_id(id, PAGE_SIZE - 32, &mut buf)?;
        assert!(buf.iter().enumerate().all(|(i, &b)| b == ((PAGE_SIZE - 32 + i) % 251) as u8));
        regions.write_id(id, 2 * PAGE_SIZE - 10, &[0xee; 20])?;
        assert!(bytes[2 * PAGE_SIZE - 10..2 * PAGE_SIZE + 10].iter().all(|&b| b == 0xee));
        assert_eq!(regions.read_id(id, 4 * PAGE_SIZE - 8, &mut buf), Err(EINVAL));
        assert_eq!(regions.read_id(id, usize::MAX, &mut buf), Err(EINVAL));
        regions.free_id(id)?;
        Ok(())
    }

    #[test]
    fn scattered_pages_are_mapped_right() -> Result {
        let pool = pool()?;
        // Fragment the pool: take every block there is, split them all,
        // and give back every other page: no two free pages are buddies.
        let mut singles = KVec::new();
        let mut order = Some(Order::MAX);
        while let Some(o) = order {
            while let Ok(block) = pool.alloc_pages(o, Flags::ATOMIC) {
                for page in block.split()?.drain_all() {
                    singles.push(page, GFP_KERNEL)?;
                }
            }
            order = o.prev();
        }
        let mut keep = KVec::new();
        for (i, p) in singles.drain_all().enumerate() {
            if i % 2 == 0 {
                keep.push(p, GFP_KERNEL)?;
            }
        }
        pool.drain();
        let regions = Regions::new(&pool, false)?;
        let id = regions.alloc_id(16 * PAGE_SIZE, PLAIN)?;
        let addr = regions.addr_of(id).ok_or(EINVAL)?;
        let region = regions.get(id).ok_or(EINVAL)?;
        let mut scattered = false;
        for i in 0..16 {
            let pfn = region.pfn(i).ok_or(EINVAL)?;
            assert_eq!(mapped_pfn(addr + i * PAGE_SIZE), Some(pfn));
            if i > 0 && region.pfn(i - 1) != Some(Pfn(pfn.0 - 1)) {
                scattered = true;
            }
        }
        assert!(scattered);
        drop(region);
        drop(regions);
        drop(keep);
        Ok(())
    }

    #[test]
    fn a_guard_page_follows_every_region_kept_mappings_too() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, true)?;
        for _ in 0..2 {
            // 9 pages: class 10, one page of the mapping before the region.
            for nr in [1, 9, 300] {
                let id = regions.alloc_id(nr * PAGE_SIZE, PLAIN)?;
                let a = regions.addr_of(id).ok_or(EINVAL)?;
                assert!(mapped_pfn(a + (nr - 1) * PAGE_SIZE).is_some());
                assert_eq!(mapped_pfn(a + nr * PAGE_SIZE), None);
                regions.free_id(id)?;
            }
        }
        assert!(regions.stats().cache.hits >= 2);
        Ok(())
    }

    #[test]
    fn huge_regions_take_2mib_blocks() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, true)?;
        let id = regions.alloc_id(1024 * PAGE_SIZE, RegionFlags { huge: true, ..PLAIN })?;
        let region = regions.get(id).ok_or(EINVAL)?;
        for run in 0..2 {
            let first = region.pfn(run * 512).ok_or(EINVAL)?;
            assert!(first.is_aligned(Order::new(9).ok_or(EINVAL)?));
            for i in 1..512 {
                assert_eq!(region.pfn(run * 512 + i), Some(Pfn(first.0 + i)));
            }
        }
        drop(region);
        regions.free_id(id)?;
        Ok(())
    }

    #[test]
    fn frees_give_pages_back_at_once_or_keep_the_mapping_for_reuse() -> Result {
        let pool = pool()?;
        pool.drain();
        let before = pool.nr_free_pages();
        {
            let regions = Regions::new(&pool, false)?;
            for i in 1..=8 {
                let id = regions.alloc_id(i * PAGE_SIZE, PLAIN)?;
                regions.free_id(id)?;
            }
            pool.drain();
            assert_eq!(pool.nr_free_pages(), before);
        }
        let regions = Regions::new(&pool, true)?;
        let id = regions.alloc_id(12 * PAGE_SIZE, PLAIN)?;
        let a = regions.addr_of(id);
        regions.free_id(id)?;
        let s = regions.stats();
        assert_eq!((s.frees, s.pages, s.cache.mappings, s.cache.pages), (1, 0, 1, 12));
        // 11 pages: the same class, the same mapping, one page further on.
        let id = regions.alloc_id(11 * PAGE_SIZE, RegionFlags { zero: true, ..PLAIN })?;
        assert_eq!(regions.addr_of(id), a.map(|a| a + PAGE_SIZE));
        assert_eq!(regions.check_id(id, 0)?, None);
        regions.free_id(id)?;
        regions.purge();
        pool.drain();
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }

    #[test]
    fn kept_mappings_go_back_to_any_pool_user_that_may_sleep() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, true)?;
        let mut ids = KVec::new();
        for n in [1, 3, 16, 64, 200] {
            ids.push(regions.alloc_id(n * PAGE_SIZE, PLAIN)?, GFP_KERNEL)?;
        }
        for id in ids.drain_all() {
            regions.free_id(id)?;
        }
        let kept = regions.stats().cache.pages;
        assert!(kept >= 1 + 3 + 16 + 64 + 200);
        assert_eq!(pool.reclaimable(), kept);
        // Allocations that may not sleep get the free pages and no more
        // (every CPU's lists drained first, so that only reclaim can help
        // the next).
        pool.drain();
        let mut held = KVec::new();
        while let Ok(b) = pool.alloc_pages(Order::ZERO, Flags::NOWAIT) {
            held.push(b, GFP_KERNEL)?;
        }
        assert_eq!(regions.stats().cache.pages, kept);
        // One that may sleep reclaims a batch: the largest mapping (the
        // 200-page region's class) and nothing else.
        held.push(pool.alloc_pages(Order::ZERO, Flags::KERNEL)?, GFP_KERNEL)?;
        let s = regions.stats().cache;
        assert_eq!(s.mappings, 4);
        assert!(kept - s.pages >= 200);
        // Then an order-4 block out of the next largest mapping's blocks,
        // then page after page until nothing is kept.
        let big = pool.alloc_pages(Order::new(4).ok_or(EINVAL)?, Flags::KERNEL)?;
        let before = held.len() - 1;
        while let Ok(b) = pool.alloc_pages(Order::ZERO, Flags::KERNEL) {
            held.push(b, GFP_KERNEL)?;
        }
        let s = regions.stats().cache;
        assert_eq!((s.pages, s.mappings), (0, 0));
        assert_eq!(s.shrunk as usize, kept);
        assert!(held.len() - before + 16 >= kept);
        let r = pool.reclaim_stats();
        assert!(r[0].1 >= 1 && r[1].1 as usize == kept);
        drop(big);
        drop(held);
        Ok(())
    }

    #[test]
    fn stale_handles_find_nothing() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, true)?;
        let a = regions.alloc_id(PAGE_SIZE, PLAIN)?;
        regions.free_id(a)?;
        let b = regions.alloc_id(PAGE_SIZE, PLAIN)?;
        assert_ne!(a, b);
        assert_eq!(regions.free_id(a), Err(EINVAL));
        assert_eq!(regions.fill_id(a, 1), Err(EINVAL));
        assert!(regions.map(a, 0, false).is_err());
        assert_eq!(regions.addr_of(a), None);
        assert_eq!(regions.free_id(0), Err(EINVAL));
        assert_eq!(regions.free_id(u64::MAX), Err(EINVAL));
        assert!(regions.map(b, 1, false).is_err());
        regions.free_id(b)?;
        Ok(())
    }

    #[test]
    fn mergeable_pages_stay_while_mapped_after_their_region_goes() -> Result {
        let pool = pool()?;
        pool.drain();
        let before = pool.nr_free_pages();
        let regions = Regions::new(&pool, false)?;
        let id = regions.alloc_id(2 * PAGE_SIZE, RegionFlags { mergeable: true, ..PLAIN })?;
        assert_eq!(regions.addr_of(id), None);
        regions.fill_id(id, 0x5a)?;
        let map = regions.map(id, 1, false)?;
        regions.free_id(id)?;
        pool.drain();
        assert_eq!(pool.nr_free_pages(), before - 2);
        // SAFETY: A mapped page, readable while mapped.
        assert_eq!(unsafe { map.as_ptr().add(100).read() }, 0x5a);
        drop(map);
        pool.drain();
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }

    unsafe extern "C" fn stress(arg: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the test's `&Regions`, alive until every CPU
        // returns.
        let regions = unsafe { &*arg.cast::<Regions<'_>>() };
        for i in 0..200usize {
            let pages = 1 + (i * 7 + cpu as usize) % 13;
            let flags = RegionFlags { mergeable: i % 3 == 0, ..PLAIN };
            // Freed at once, 13 pages at most: any failure is a bug.
            let Ok(id) = regions.alloc_id(pages * PAGE_SIZE, flags) else {
                return ENOMEM.to_errno();
            };
            let tag = (i as u8) ^ (cpu as u8 * 0x80);
            if regions.fill_id(id, tag).is_err() || regions.check_id(id, tag) != Ok(None) {
                return EINVAL.to_errno();
            }
            if regions.free_id(id).is_err() {
                return EINVAL.to_errno();
            }
        }
        0
    }

    #[test]
    fn every_cpu_fills_checks_and_frees_at_once() -> Result {
        let pool = pool()?;
        pool.drain();
        let before = pool.nr_free_pages();
        let regions = Regions::new(&pool, true)?;
        let arg = (&regions as *const Regions<'_>).cast_mut().cast();
        // SAFETY: `stress` only uses `regions` through `arg`, which lives
        // until the call returns; the call waits for every CPU.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(stress, arg) }, 0);
        regions.purge();
        pool.drain();
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }
}
