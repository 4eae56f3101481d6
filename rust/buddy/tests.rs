// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the buddy layer (`rust/buddy.rs`).

use super::*;

#[kunit_tests(zonemm_buddy)]
mod suite {
    use super::*;
    use crate::{
        helpers::zonemm_run_on_each_cpu,
        source::Params,
        watermark::Watermarks,
    };

    /// A pool of `pool_mb` MiB of CMA (node 1, Normal) and `node_mb` MiB on
    /// node 0 (DMA32), with no watermarks unless a test sets them.
    fn pool(pool_mb: u64, node_mb: u64, movable_mb: u64) -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(pool_mb, node_mb)?)?, movable_mb)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    fn order(o: u32) -> Order {
        Order::new(o).unwrap_or(Order::ZERO)
    }

    /// Everything back, and every zone's lists sound.
    fn all_back(pool: &Pool) -> bool {
        pool.drain();
        pool.zones().all(|z| z.check().is_ok() && z.free_pages() == z.managed())
    }

    #[test]
    fn every_order_is_written_and_read_back() -> Result {
        let pool = pool(4, 4, 0)?;
        for o in 0..NR_PAGE_ORDERS as u32 {
            let block = pool.alloc_pages(order(o), Flags::KERNEL)?;
            assert_eq!(block.size(), 4096 << o);
            assert!(block.pfn().is_aligned(order(o)));
            // SAFETY: The block is ours and `size()` bytes long.
            let bytes = unsafe { core::slice::from_raw_parts_mut(block.as_mut_ptr(), block.size()) };
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (i / 4096) as u8 ^ o as u8;
            }
            assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i / 4096) as u8 ^ o as u8));
        }
        let zeroed = pool.alloc_pages(order(3), Flags::KERNEL.zeroed())?;
        // SAFETY: As above.
        let bytes = unsafe { core::slice::from_raw_parts(zeroed.as_mut_ptr(), zeroed.size()) };
        assert!(bytes.iter().all(|&b| b == 0));
        zeroed.free();
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn gfp_flags_mean_what_they_mean_to_the_kernel() -> Result {
        use kernel::bindings as b;
        let bit = |n: u32| 1u32 << n;
        let f = |gfp| Flags::from_gfp(gfp, None);
        // GFP_KERNEL: may sleep, no reserves, unmovable, up to Normal.
        let k = f(b::GFP_KERNEL);
        assert!(k.may_sleep && !k.high && k.io && k.fs && !k.zero && !k.this_node);
        assert_eq!((k.highest, k.mt, k.reserves()), (ZoneType::Normal, MigrateType::Unmovable, Reserves::None));
        // GFP_ATOMIC: no sleep, ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK.
        let a = f(b::GFP_ATOMIC);
        assert!(!a.may_sleep && a.high);
        assert_eq!(a.reserves(), Reserves::Atomic);
        // GFP_NOWAIT: no sleep, no reserves at all.
        let n = f(b::GFP_NOWAIT);
        assert!(!n.may_sleep && !n.high);
        assert_eq!(n.reserves(), Reserves::None);
        // __GFP_HIGH with direct reclaim: ALLOC_MIN_RESERVE only.
        assert_eq!(f(b::GFP_KERNEL | bit(b::___GFP_HIGH_BIT)).reserves(), Reserves::Min);
        // GFP_NOFS, GFP_NOIO.
        let nofs = f(b::GFP_KERNEL & !bit(b::___GFP_FS_BIT));
        assert!(nofs.may_sleep && nofs.io && !nofs.fs);
        let noio = f(b::GFP_KERNEL & !bit(b::___GFP_FS_BIT) & !bit(b::___GFP_IO_BIT));
        assert!(noio.may_sleep && !noio.io && !noio.fs);
        // gfp_zone(): __GFP_MOVABLE alone stays in Normal (movable pages
        // there); with __GFP_HIGHMEM it may use ZONE_MOVABLE.
        let m = f(b::GFP_KERNEL | bit(b::___GFP_MOVABLE_BIT));
        assert_eq!((m.highest, m.mt), (ZoneType::Normal, MigrateType::Movable));
        let hm = f(b::GFP_KERNEL | bit(b::___GFP_MOVABLE_BIT) | bit(b::___GFP_HIGHMEM_BIT));
        assert_eq!((hm.highest, hm.mt), (ZoneType::Movable, MigrateType::Movable));
        assert_eq!(f(b::GFP_KERNEL | bit(b::___GFP_DMA32_BIT)).highest, ZoneType::Dma32);
        assert_eq!(f(b::GFP_KERNEL | bit(b::___GFP_DMA_BIT)).highest, ZoneType::Dma);
        // __GFP_THISNODE with no node given: numa_mem_id()'s node only.
        let t = f(b::GFP_KERNEL | bit(b::___GFP_THISNODE_BIT));
        assert!(t.this_node && t.node.is_none());
        assert!(f(b::GFP_KERNEL | b::__GFP_ZERO).zero);
        Ok(())
    }

    /// A GFP_THISNODE allocation through the flags a C caller passes stays
    /// on its node until that node is out of pages.
    #[test]
    fn thisnode_from_gfp_stays_on_the_local_node() -> Result {
        let pool = pool(4, 4, 0)?;
        let flags = Flags::from_gfp(kernel::bindings::GFP_KERNEL | 1 << kernel::bindings::___GFP_THISNODE_BIT, None);
        let nid = flags.preferred_node();
        let mut held = KVec::new();
        while let Ok(b) = pool.alloc_pages(order(4), flags) {
            assert_eq!(b.zone().nid(), nid);
            held.push(b, GFP_KERNEL)?;
        }
        assert!(!held.is_empty());
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn movable_zones_take_no_share_of_min_free_kbytes() -> Result {
        // Node 0: DMA32 and Movable, 1024 pages each; node 1: Normal and
        // Movable, the same. By hand from __setup_per_zone_wmarks() with
        // 2048 kB (512 pages) over 2048 lowmem pages: DMA32 and Normal get
        // 256 each, gap max(256 / 4, 1) = 64; Movable min = clamp(1024 /
        // 1024, 32, 128) = 32, gap 64.
        let pool = pool(8, 8, 4)?;
        pool.set_min_free_kbytes(2048)?;
        let lowmem = Watermarks { min: 256, low: 320, high: 384 };
        let movable = Watermarks { min: 32, low: 96, high: 160 };
        for (nid, ztype, want) in [
            (0, ZoneType::Dma32, lowmem),
            (0, ZoneType::Movable, movable),
            (1, ZoneType::Normal, lowmem),
            (1, ZoneType::Movable, movable),
        ] {
            let zone = pool.zone(nid, ztype).ok_or(EINVAL)?;
            assert_eq!(zone.managed(), 1024);
            assert_eq!(zone.watermarks(), want);
        }
        Ok(())
    }

    #[test]
    fn exhaustion_stops_at_the_watermarks() -> Result {
        let pool = pool(4, 4, 0)?;
        // 256 pages of min over two equal zones: min 128, low 160 each.
        pool.set_min_free_kbytes(1024)?;
        let zone = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        assert_eq!(zone.watermarks(), Watermarks { min: 128, low: 160, high: 192 });
        let mut held = KVec::new();
        let normal = Flags::KERNEL.this_node(1);
        while let Ok(b) = pool.alloc_pages(order(4), normal) {
            held.push(b, GFP_KERNEL)?;
        }
        // The last order-4 block that kept free - 15 above min.
        assert_eq!(zone.free_pages(), 128);
        assert_eq!(pool.alloc_pages(order(0), normal).err(), Some(ENOMEM));
        // Atomic may go to min - min/2 - min/4 = 48.
        while let Ok(b) = pool.alloc_pages(order(4), Flags::ATOMIC.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        assert_eq!(zone.free_pages(), 48);
        assert!(held.iter().all(|b| b.zone().nid() == 1));
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn lowmem_reserve_keeps_normal_from_movable_users() -> Result {
        // Node 1: 4 MiB Normal and 4 MiB Movable above it.
        let pool = pool(8, 4, 4)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        let movable = pool.zone(1, ZoneType::Movable).ok_or(EINVAL)?;
        assert_eq!(normal.lowmem_reserve()[ZoneType::Movable.index()], 1024 / 32);
        let mut held = KVec::new();
        while let Ok(b) = pool.alloc_pages(order(4), Flags::MOVABLE.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        // Movable first, down to its min (32 pages: a Movable zone's min is
        // clamped to at least SWAP_CLUSTER_MAX even with min_free_kbytes 0),
        // then Normal down to its reserve of 32 pages.
        assert_eq!(movable.free_pages(), 32);
        assert_eq!(normal.free_pages(), 32);
        // A Normal allocation may use the reserve.
        while let Ok(b) = pool.alloc_pages(order(4), Flags::KERNEL.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        assert_eq!(normal.free_pages(), 0);
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn zone_fallback_goes_to_the_other_node_only_when_allowed() -> Result {
        let pool = pool(4, 4, 0)?;
        let (_, _, before, _, _) = pool.alloc_stats();
        let mut held = KVec::new();
        // Preferring node 1 (Normal): 63 blocks there. The 64th would
        // leave 1 page, not above the low watermark (0.1% of the zone), so
        // the fast path moves on to node 0 before any slow path dips to min.
        for _ in 0..63 {
            let b = pool.alloc_pages(order(4), Flags::KERNEL.node(1))?;
            assert_eq!((b.zone().nid(), b.zone().ztype()), (1, ZoneType::Normal));
            held.push(b, GFP_KERNEL)?;
        }
        assert_eq!(pool.alloc_stats().2, before);
        let b = pool.alloc_pages(order(4), Flags::KERNEL.node(1))?;
        assert_eq!((b.zone().nid(), b.zone().ztype()), (0, ZoneType::Dma32));
        assert_eq!(pool.alloc_stats().2, before + 1);
        held.push(b, GFP_KERNEL)?;
        // __GFP_THISNODE goes on to the min watermark instead, then stops.
        held.push(pool.alloc_pages(order(4), Flags::KERNEL.this_node(1))?, GFP_KERNEL)?;
        // With __GFP_THISNODE there is nowhere to go.
        assert_eq!(pool.alloc_pages(order(4), Flags::KERNEL.this_node(1)).err(), Some(ENOMEM));
        drop(held);
        // GFP_DMA32 never gets Normal pages, whichever node it prefers.
        let b = pool.alloc_pages(order(0), Flags::KERNEL.zone(ZoneType::Dma32).node(1))?;
        assert_eq!(b.zone().ztype(), ZoneType::Dma32);
        drop(b);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn migrate_types_steal_exactly_when_they_run_dry() -> Result {
        let pool = pool(4, 4, 0)?;
        let dma32 = pool.zone(0, ZoneType::Dma32).ok_or(EINVAL)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        // Every pageblock starts movable: movable allocations never fall back.
        let m = pool.alloc_pages(order(0), Flags::MOVABLE.this_node(1))?;
        assert_eq!(normal.snapshot().stats.fallbacks, 0);
        assert_eq!(normal.snapshot().pageblocks, [0, 2, 0]);
        // The first unmovable page claims the whole order-10 block.
        let u = pool.alloc_pages(order(0), Flags::KERNEL.this_node(0))?;
        let s = dma32.snapshot();
        assert_eq!((s.stats.fallbacks, s.stats.claims), (1, 1));
        assert_eq!(s.pageblocks, [2, 0, 0]);
        // The next ones find unmovable pages and fall back no more.
        let u2 = pool.alloc_pages(order(2), Flags::KERNEL.this_node(0))?;
        assert_eq!(dma32.snapshot().stats.fallbacks, 1);
        drop((m, u, u2));
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn bulk_allocation_fills_the_batch() -> Result {
        let pool = pool(4, 4, 0)?;
        let mut blocks = KVec::with_capacity(300, GFP_KERNEL)?;
        let mut add = |b| {
            let _ = blocks.push_within_capacity(b);
        };
        assert_eq!(pool.alloc_pages_bulk(order(0), Flags::KERNEL, 256, &mut add), 256);
        assert_eq!(pool.alloc_pages_bulk(order(3), Flags::ATOMIC, 40, &mut add), 40);
        assert_eq!(pool.alloc_pages_bulk(order(0), Flags::NOWAIT, 4, &mut add), 4);
        assert_eq!(blocks.len(), 300);
        let mut pfns = KVec::with_capacity(blocks.len(), GFP_KERNEL)?;
        for b in blocks.iter() {
            pfns.push(b.pfn().0, GFP_KERNEL)?;
        }
        // Distinct blocks.
        for (i, a) in pfns.iter().enumerate() {
            assert!(pfns[i + 1..].iter().all(|b| b != a));
        }
        drop(blocks);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn drain_returns_the_per_cpu_pages() -> Result {
        let pool = pool(4, 4, 0)?;
        let zone = pool.zone(0, ZoneType::Dma32).ok_or(EINVAL)?;
        let mut held = KVec::new();
        for _ in 0..3 {
            held.push(pool.alloc_pages(order(0), Flags::KERNEL.this_node(0))?, GFP_KERNEL)?;
        }
        drop(held);
        assert!(zone.pcp_pages() > 0);
        assert!(zone.free_pages() < zone.managed());
        assert_eq!(pool.nr_free_pages(), pool.managed());
        pool.drain();
        assert_eq!(zone.pcp_pages(), 0);
        assert_eq!(zone.free_pages(), zone.managed());
        Ok(())
    }

    #[test]
    fn pcp_high_set_by_hand_stops_its_tuning() -> Result {
        let pool = pool(4, 4, 0)?;
        let zone = pool.zone(0, ZoneType::Dma32).ok_or(EINVAL)?;
        let (high_min, high_max, batch) = zone.pageset();
        // min_free_kbytes 0: the low watermark (one page) is under batch * 4.
        assert_eq!(high_min, batch << 2);
        assert!(high_min <= high_max && high_max <= zone.managed() / 8);
        assert_eq!(pool.pcp_high_batch().0, 0);
        pool.set_pcp_high_batch(Some(100), None)?;
        assert_eq!(pool.pcp_high_batch().0, 100);
        assert!(zone.pcp_counts().iter().all(|p| (p.high_min, p.high, p.high_max) == (100, 100, 100)));
        // Refusals change nothing.
        assert!(pool.set_pcp_high_batch(Some(5000), None).is_err());
        // 100 is under 30 * 4.
        assert!(pool.set_pcp_high_batch(None, Some(30)).is_err());
        assert_eq!(zone.pageset(), (100, 100, batch));
        // New watermarks leave a high set by hand be...
        pool.set_min_free_kbytes(1024)?;
        assert_eq!(zone.pageset(), (100, 100, batch));
        // ...and move the tuned bounds: low is 160 pages now.
        pool.set_pcp_high_batch(Some(0), None)?;
        let (tuned_min, tuned_max, _) = zone.pageset();
        assert_eq!(zone.pageset_bounds(0, batch), Ok((tuned_min, tuned_max)));
        assert!(tuned_min > high_min && tuned_min <= tuned_max);
        assert!(zone.pcp_counts().iter().all(|p| p.high_min == tuned_min && p.high_max == tuned_max));
        assert_eq!(pool.pcp_high_batch().0, 0);
        Ok(())
    }

    /// One CPU's share of the stress test: random orders, each block
    /// stamped with the CPU and checked before it is freed.
    unsafe extern "C" fn stress(arg: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the `&Pool` the test passed, alive until every
        // CPU's run returns.
        let pool = unsafe { &*arg.cast::<Pool>() };
        let mut held = KVec::<(PageBlock<'_>, u64)>::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ cpu as u64;
        // The two CPUs together want more than the pool holds, so some
        // allocations fail (ENOMEM is the answer then); but most must not.
        let mut got = 0;
        for i in 0..4000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 3 != 0 || held.is_empty() {
                let flags = if seed & 4 == 0 { Flags::KERNEL } else { Flags::MOVABLE };
                match pool.alloc_pages(order((seed >> 8) as u32 % 5), flags) {
                    Ok(b) => {
                        got += 1;
                        let tag = (cpu as u64) << 32 | i;
                        // SAFETY: The block is ours; its first word is ours to write.
                        unsafe { b.as_mut_ptr().cast::<u64>().write(tag) };
                        if held.push((b, tag), GFP_KERNEL).is_err() {
                            return ENOMEM.to_errno();
                        }
                    }
                    Err(e) if e == ENOMEM => {}
                    Err(e) => return e.to_errno(),
                }
            } else {
                let (pick, last) = ((seed >> 16) as usize % held.len(), held.len() - 1);
                held.swap(pick, last);
                let Some((b, tag)) = held.pop() else { continue };
                // SAFETY: As above.
                if unsafe { b.as_mut_ptr().cast::<u64>().read() } != tag {
                    return EINVAL.to_errno();
                }
            }
        }
        if got < 1000 {
            pr_err!("stress on CPU {cpu}: only {got} allocations succeeded\n");
            return ENOMEM.to_errno();
        }
        0
    }

    #[test]
    fn every_cpu_at_once_keeps_every_invariant() -> Result {
        let pool = pool(8, 8, 0)?;
        let arg = (&pool as *const Pool).cast_mut().cast();
        // SAFETY: `stress` only reads the pool through `arg`, which lives
        // until the call returns; the call waits for every CPU.
        let ret = unsafe { zonemm_run_on_each_cpu(stress, arg) };
        assert_eq!(ret, 0);
        assert!(all_back(&pool));
        Ok(())
    }

    /// Takes one page of node 1 and frees it: the CPU's list keeps it and
    /// the rest of its refill batch.
    unsafe extern "C" fn park_pages(arg: *mut c_void, _cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the test's pool, alive until every CPU returns.
        let pool = unsafe { &*arg.cast::<Pool>() };
        match pool.alloc_pages(Order::ZERO, Flags::KERNEL.this_node(1)) {
            Ok(b) => {
                b.free();
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    #[test]
    fn an_order_10_allocation_drains_every_cpus_lists() -> Result {
        let pool = pool(4, 4, 0)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        let arg = (&pool as *const Pool).cast_mut().cast();
        // SAFETY: `park_pages` only uses the pool, alive until the call
        // returns; the call waits for every CPU.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(park_pages, arg) }, 0);
        // Every page of the zone is free, some parked on CPUs' lists.
        assert!(normal.pcp_pages() > 0);
        assert_eq!(normal.free_pages() + normal.pcp_pages(), 1024);
        let (_, _, _, retries, _) = pool.alloc_stats();
        let b = pool.alloc_pages(Order::MAX, Flags::KERNEL.this_node(1))?;
        assert_eq!(b.zone().ztype(), ZoneType::Normal);
        // One drain-all retry.
        assert_eq!(pool.alloc_stats().3, retries + 1);
        drop(b);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn atomic_allocations_keep_off_the_reserves_on_the_fast_path() -> Result {
        let pool = pool(4, 4, 0)?;
        // Both zones: min 128, low 160.
        pool.set_min_free_kbytes(1024)?;
        let normal = pool.zone(1, ZoneType::Normal).ok_or(EINVAL)?;
        let mut held = KVec::new();
        while normal.free_pages() >= 160 {
            held.push(pool.alloc_pages(order(0), Flags::KERNEL.this_node(1))?, GFP_KERNEL)?;
        }
        assert!(normal.free_pages() > 128);
        // Node 1 is under low, above min: the fast path passes it by, even
        // for an atomic caller, and node 0 gives the page.
        let b = pool.alloc_pages(order(0), Flags::ATOMIC.node(1))?;
        assert_eq!((b.zone().nid(), b.zone().ztype()), (0, ZoneType::Dma32));
        held.push(b, GFP_KERNEL)?;
        // With nowhere else to go the slow path dips: others to min (the
        // last failure drained this CPU's list), an atomic caller below.
        while let Ok(b) = pool.alloc_pages(order(0), Flags::KERNEL.this_node(1)) {
            held.push(b, GFP_KERNEL)?;
        }
        let at_min = normal.free_pages();
        assert!(at_min <= 128 && normal.pcp_pages() == 0);
        held.push(pool.alloc_pages(order(0), Flags::ATOMIC.this_node(1))?, GFP_KERNEL)?;
        assert!(normal.free_pages() < at_min);
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    /// On CPU 0 only: frees a page allocated as movable from an
    /// unmovable pageblock, and checks which of CPU 0's lists it joins.
    unsafe extern "C" fn free_by_pageblock(arg: *mut c_void, cpu: c_uint) -> c_int {
        if cpu != 0 {
            return 0;
        }
        // SAFETY: `arg` is the test's pool, alive until every CPU returns.
        let pool = unsafe { &*arg.cast::<Pool>() };
        let Ok(mut b) = pool.alloc_pages(Order::ZERO, Flags::KERNEL.this_node(1)) else { return -12 };
        let zone = b.zone;
        if zone.pageblock_mt(b.idx) != MigrateType::Unmovable {
            return -22;
        }
        // As if a movable allocation had stolen it from the pageblock.
        b.mt = MigrateType::Movable;
        let len = |mt| zone.pcp_len_here(Order::ZERO, mt).unwrap_or(usize::MAX);
        let (unmovable, movable) = (len(MigrateType::Unmovable), len(MigrateType::Movable));
        drop(b);
        if (len(MigrateType::Unmovable), len(MigrateType::Movable)) != (unmovable + 1, movable) {
            return -22;
        }
        0
    }

    #[test]
    fn frees_join_the_list_of_their_pageblock() -> Result {
        let pool = pool(4, 4, 0)?;
        let arg = (&pool as *const Pool).cast_mut().cast();
        // SAFETY: `free_by_pageblock` only uses the pool, alive until the
        // call returns; the call waits for every CPU.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(free_by_pageblock, arg) }, 0);
        assert!(all_back(&pool));
        Ok(())
    }
}
