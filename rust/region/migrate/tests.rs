// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of compaction over mergeable regions
//! (`rust/region/migrate.rs`, `rust/buddy/compaction.rs`).

use super::*;

#[kunit_tests(zonemm_compaction)]
mod suite {
    use super::*;
    use crate::{
        buddy::{
            Flags,
            Pool, //
        },
        page_alloc::MigrateType,
        compaction::{
            model_largest_order,
            PageblockCount, //
        },
        pfn::{
            Pfn,
            NR_PAGE_ORDERS,
            PAGE_SIZE, //
        },
        region::{
            Region,
            RegionFlags, //
        },
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

    /// The bytes region `id` starts and ends with.
    fn stamp(id: u64) -> [u8; 8] {
        id.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes()
    }

    fn largest_free_order(nr_free: &[usize; NR_PAGE_ORDERS]) -> Option<u32> {
        (0..NR_PAGE_ORDERS).rev().find(|&o| nr_free[o] > 0).map(|o| o as u32)
    }

    /// One-page mergeable regions until the pool is full, all but every
    /// `keep`-th freed: movable pages and free pages alternate. Returns
    /// the regions kept.
    fn fragment_keeping(regions: &Regions<'_>, pool: &Pool, keep: usize) -> Result<KVec<u64>> {
        let mut ids = KVec::new();
        while ids.len() < pool.managed() {
            let Ok(id) = regions.alloc_id(PAGE_SIZE, MERGEABLE) else { break };
            regions.write_id(id, 0, &stamp(id))?;
            regions.write_id(id, PAGE_SIZE - 8, &stamp(id))?;
            ids.push(id, GFP_KERNEL)?;
        }
        let mut kept = KVec::new();
        for (i, id) in ids.drain_all().enumerate() {
            if i % keep != keep - 1 {
                regions.free_id(id)?;
            } else {
                kept.push(id, GFP_KERNEL)?;
            }
        }
        pool.drain();
        Ok(kept)
    }

    /// [`fragment_keeping`] every other region.
    fn fragment(regions: &Regions<'_>, pool: &Pool) -> Result<KVec<u64>> {
        fragment_keeping(regions, pool, 2)
    }

    /// Every kept region still holds its stamp, read through its handle.
    fn check_contents(regions: &Regions<'_>, kept: &[u64]) -> Result {
        let mut buf = [0u8; 8];
        for &id in kept {
            regions.read_id(id, 0, &mut buf)?;
            assert_eq!(buf, stamp(id));
            regions.read_id(id, PAGE_SIZE - 8, &mut buf)?;
            assert_eq!(buf, stamp(id));
        }
        Ok(())
    }

    #[test]
    fn compaction_restores_what_the_model_allows() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        // SAFETY: `regions` stays put and outlives `_movable`, declared
        // after it (dropped first).
        let _movable = unsafe { regions.register_movable() }?;
        let kept = fragment(&regions, &pool)?;
        assert!(kept.len() > 256);
        let mut frames_before = KVec::new();
        for &id in kept.iter() {
            frames_before.push(regions.get(id).and_then(|r| r.pfn(0)).ok_or(EINVAL)?, GFP_KERNEL)?;
        }
        let mut models = KVec::new();
        for zone in pool.zones() {
            let before = largest_free_order(&zone.snapshot().nr_free);
            // Fragmented: no free pageblock before the run.
            assert!(before.is_none_or(|o| o < 9));
            let mut scratch = KVec::from_elem(PageblockCount::default(), zone.spanned() / 512 + 1, GFP_KERNEL)?;
            models.push(zone.with_lists(|l| model_largest_order(l, &mut scratch)), GFP_KERNEL)?;
        }
        // The model expects pageblocks to come free somewhere.
        assert!(models.iter().any(Option::is_some));
        let migrated = pool.compact_node(None)?;
        assert!(migrated > 0);
        for (zone, model) in pool.zones().zip(models.iter()) {
            let after = largest_free_order(&zone.snapshot().nr_free);
            if after < *model {
                pr_err!("zone {}: order {:?} after, model {:?}\n", zone.ztype().name(), after, model);
            }
            assert!(after >= *model);
            zone.check().map_err(|_| EINVAL)?;
        }
        check_contents(&regions, &kept)?;
        // Pages moved: their regions now reach other frames.
        let mut moved = 0u64;
        for (&id, &pfn) in kept.iter().zip(frames_before.iter()) {
            if regions.get(id).and_then(|r| r.pfn(0)) != Some(pfn) {
                moved += 1;
            }
        }
        assert_eq!(moved, migrated);
        for &id in kept.iter() {
            regions.free_id(id)?;
        }
        pool.drain();
        assert_eq!(pool.nr_free_pages(), pool.managed());
        Ok(())
    }

    #[test]
    fn compaction_never_fills_grown_blocks() -> Result {
        // 16 MiB, and room to grow by one 4 MiB block on each node.
        let pool = Pool::new(Source::new(Params::new(8, 8)?.max_pool_mb(24)?)?, 0)?;
        pool.set_min_free_kbytes(0)?;
        let regions = Regions::new(&pool, false)?;
        // SAFETY: As above.
        let _movable = unsafe { regions.register_movable() }?;
        let mut grew = false;
        for nid in 0..pool.nr_nodes() {
            grew |= pool.grow_node(nid, false).is_some();
        }
        assert!(grew);
        // Every other page of the fixed chunks and of the grown blocks.
        let kept = fragment(&regions, &pool)?;
        let in_grown = |pfn: Pfn| pool.zones().any(|z| z.index_of(pfn).is_some_and(|i| i as usize >= z.compact_spanned()));
        let mut before = KVec::new();
        for &id in kept.iter() {
            before.push(regions.get(id).and_then(|r| r.pfn(0)).ok_or(EINVAL)?, GFP_KERNEL)?;
        }
        assert!(before.iter().any(|&p| in_grown(p)));
        assert!(pool.compact_node(None)? > 0);
        // Pages moved, but none into a grown block (the free scanner
        // starts below them), so that those can still come free.
        for (&id, &pfn) in kept.iter().zip(before.iter()) {
            let now = regions.get(id).and_then(|r| r.pfn(0)).ok_or(EINVAL)?;
            assert!(now == pfn || !in_grown(now));
        }
        check_contents(&regions, &kept)?;
        for &id in kept.iter() {
            regions.free_id(id)?;
        }
        pool.drain();
        Ok(())
    }

    #[test]
    fn kswapd_compacts_only_when_woken() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        // SAFETY: As above.
        let _movable = unsafe { regions.register_movable() }?;
        let kept = fragment(&regions, &pool)?;
        let wakes = || pool.compaction_stats().iter().find(|(n, _)| *n == "compact_daemon_wake").map_or(0, |&(_, v)| v);
        // The once-a-second turn of a grown node's kswapd (its timer, not a
        // wakeup) never compacts, however fragmented the zones.
        for nid in 0..pool.nr_nodes() {
            pool.kswapd_turn(nid, false);
        }
        assert_eq!(wakes(), 0);
        // A wakeup does: every zone is past extfrag_threshold here.
        for nid in 0..pool.nr_nodes() {
            pool.kswapd_turn(nid, true);
        }
        assert!(wakes() > 0);
        check_contents(&regions, &kept)?;
        for &id in kept.iter() {
            regions.free_id(id)?;
        }
        Ok(())
    }

    #[test]
    fn a_costly_allocation_that_may_sleep_compacts() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        // SAFETY: As above.
        let _movable = unsafe { regions.register_movable() }?;
        // One page in three kept: each zone keeps more than the two
        // pageblocks free that compaction_suitable() asks for order 9.
        let kept = fragment_keeping(&regions, &pool, 3)?;
        let stat = |name: &str| pool.compaction_stats().iter().find(|(n, _)| *n == name).map_or(0, |&(_, v)| v);
        let (stall, success, fail) = (stat("compact_stall"), stat("compact_success"), stat("compact_fail"));
        // No free pageblock anywhere, nothing to reclaim: an order-9
        // allocation that may sleep gets its block by direct compaction.
        let order = Order::new(9).ok_or(EINVAL)?;
        let block = pool.alloc_pages(order, Flags::KERNEL.migratetype(MigrateType::Movable));
        assert!(block.is_ok());
        assert_eq!(stat("compact_stall"), stall + 1);
        assert_eq!(stat("compact_success"), success + 1);
        assert_eq!(stat("compact_fail"), fail);
        // One that may not sleep never compacts.
        let stall = stat("compact_stall");
        let nowait = pool.alloc_pages(order, Flags::NOWAIT.migratetype(MigrateType::Movable));
        assert_eq!(stat("compact_stall"), stall);
        drop((block, nowait));
        check_contents(&regions, &kept)?;
        for &id in kept.iter() {
            regions.free_id(id)?;
        }
        Ok(())
    }

    #[test]
    fn mapped_and_shared_pages_stay_put() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        // SAFETY: As above.
        let _movable = unsafe { regions.register_movable() }?;
        let kept = fragment(&regions, &pool)?;
        // The lowest kept page, which the migrate scanner meets first:
        // mapped for reading now, it cannot move.
        let mut lowest = (usize::MAX, 0);
        for &id in kept.iter() {
            let pfn = regions.get(id).and_then(|r| r.pfn(0)).ok_or(EINVAL)?;
            if pfn.0 < lowest.0 {
                lowest = (pfn.0, id);
            }
        }
        let region = regions.get(lowest.1).ok_or(EINVAL)?;
        let map = Region::map_page(region.clone(), 0, false, &pool)?;
        pool.compact_node(None)?;
        assert_eq!(region.pfn(0).map(|p| p.0), Some(lowest.0));
        drop(map);
        // Unmapped, it moves on the next run.
        pool.compact_node(None)?;
        assert!(region.pfn(0).map(|p| p.0) != Some(lowest.0));
        // A bad knob value changes nothing.
        assert_eq!(pool.compact_node(Some(pool.nr_nodes())), Err(EINVAL));
        check_contents(&regions, &kept)?;
        drop(region);
        for &id in kept.iter() {
            regions.free_id(id)?;
        }
        Ok(())
    }
}
