// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the elastic pool (`rust/buddy/grow.rs`,
//! `rust/buddy/zone/grow.rs`, `rust/source/grow.rs`).

use super::*;

#[kunit_tests(zonemm_grow)]
mod suite {
    use super::*;
    use crate::{
        buddy::{
            Deferred,
            RcuWork,
            Shrinker, //
        },
        source::{
            Params,
            Source, //
        },
    };
    use kernel::{
        new_spinlock,
        sync::{
            SetOnce,
            SpinLock, //
        },
    };

    /// A pool of 4 MiB of CMA and 4 MiB on node 0 that may grow by
    /// `grow_mb`.
    fn pool(grow_mb: u64) -> Result<Pool> {
        Pool::new(Source::new(Params::new(4, 4)?.max_pool_mb(8 + grow_mb)?)?, 0)
    }

    /// Everything free and every zone's lists sound.
    fn all_back(pool: &Pool) -> bool {
        pool.drain();
        pool.zones().all(|z| z.check().is_ok() && z.free_pages() == z.managed())
    }

    #[test]
    fn a_burst_grows_the_pool_and_shrink_back_returns_it() -> Result {
        let pool = pool(16)?;
        let start = pool.managed();
        // Twice the pool, GFP_KERNEL: no kswapd runs for a test pool, so
        // the allocations grow it themselves.
        let mut blocks = KVVec::with_capacity(2 * start, GFP_KERNEL)?;
        for _ in 0..2 * start {
            blocks.push(pool.alloc_pages(Order::ZERO, Flags::KERNEL)?, GFP_KERNEL)?;
        }
        assert!(pool.managed() >= 2 * start);
        assert!(pool.growth.pool_grow_stall.load(Relaxed) > 0);
        assert_eq!(pool.growth.pool_grow.load(Relaxed) as usize * MAX_ORDER_NR_PAGES, pool.managed() - start);
        // A page of a grown block is known to the source's lock-free
        // lookups, with an owner word, and its zone maps it back.
        let last = blocks.last().ok_or(EINVAL)?;
        let pfn = last.pfn();
        assert!(pool.source.contains(pfn) && pool.source.page_of(pfn).is_some() && pool.owner(pfn).is_some());
        assert_eq!(last.zone().index_of(pfn).map(|i| last.zone().pfn(i)), Some(pfn));
        // Nothing given back while the blocks are held (each grown block
        // has one of them: it was grown only when the zones had run dry).
        let grown = pool.managed();
        for nid in 0..pool.nr_nodes() {
            for _ in 0..SHRINK_BACK_DELAY {
                pool.shrink_back(nid, true);
            }
        }
        assert_eq!(pool.managed(), grown);
        blocks.clear();
        // Given back only after the delay.
        for nid in 0..pool.nr_nodes() {
            for _ in 0..SHRINK_BACK_DELAY {
                pool.shrink_back(nid, true);
            }
        }
        assert_eq!(pool.managed(), start);
        assert_eq!(pool.growth.pool_shrink.load(Relaxed), pool.growth.pool_grow.load(Relaxed));
        assert!(!pool.source.contains(pfn) && pool.owner(pfn).is_none());
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn the_shrinker_keeps_zones_above_high_and_never_waits() -> Result {
        let pool = pool(16)?;
        pool.set_min_free_kbytes(1024)?;
        for nid in 0..pool.nr_nodes() {
            while pool.grow_node(nid, false).is_some() {}
        }
        assert_eq!(pool.managed(), 24 * 256);
        // Take most of one zone, so that it can spare only part of its
        // growth above its high watermark.
        let zone = pool.zones().find(|z| z.grown().0 > 0).ok_or(EINVAL)?;
        let flags = Flags::KERNEL.zone(zone.ztype()).this_node(zone.nid());
        let mut held = KVVec::new();
        while zone.free_pages() > zone.watermarks().high + 3 * MAX_ORDER_NR_PAGES / 2 {
            held.push(pool.alloc_pages(Order::ZERO, flags)?, GFP_KERNEL)?;
        }
        pool.drain();
        // A busy lock: the scan gives up at once.
        {
            let _busy = pool.growth.lock.lock();
            assert_eq!(pool.shrinker_scan(MAX_ORDER_NR_PAGES), None);
        }
        let count = pool.shrinker_count();
        let managed = pool.managed();
        let freed = pool.shrinker_scan(usize::MAX).ok_or(EBUSY)?;
        assert_eq!(freed, count);
        assert_eq!(pool.managed(), managed - freed);
        assert!(pool.zones().all(|z| z.free_pages() >= z.watermarks().high));
        assert_eq!(pool.shrinker_count(), 0);
        drop(held);
        assert!(all_back(&pool));
        Ok(())
    }

    /// `pool` grown as far as it goes (with `min_free_kbytes` 1024), then
    /// every page a no-sleep allocation gets, taken, the per-CPU lists
    /// drained: the pool's managed pages, and the pages.
    fn grown_and_taken(pool: &Pool) -> Result<(usize, KVVec<PageBlock<'_>>)> {
        pool.set_min_free_kbytes(1024)?;
        for nid in 0..pool.nr_nodes() {
            while pool.grow_node(nid, false).is_some() {}
        }
        let grown = pool.managed();
        let mut pages = KVVec::new();
        while let Ok(block) = pool.alloc_pages(Order::ZERO, Flags::NOWAIT) {
            pages.push(block, GFP_KERNEL)?;
        }
        pool.drain();
        Ok((grown, pages))
    }

    /// Pool pages a layer keeps idle (as the region cache keeps lazily
    /// freed mappings), given back on a scan.
    #[pin_data]
    struct Idle<'a> {
        #[pin]
        pages: SpinLock<KVVec<PageBlock<'a>>>,
    }

    impl Shrinker for Idle<'_> {
        fn count_objects(&self) -> usize {
            self.pages.lock().len()
        }

        fn scan_objects(&self, nr_to_scan: usize) -> usize {
            let mut freed = 0;
            while freed < nr_to_scan {
                let Some(block) = self.pages.lock().pop() else { break };
                drop(block);
                freed += 1;
            }
            freed
        }
    }

    #[test]
    fn the_kernels_shrinker_takes_what_zonemm_keeps_idle() -> Result {
        let pool = pool(16)?;
        // Every page a no-sleep allocation can get, kept idle: no grown
        // block is wholly free, so only the idle pages can be counted.
        let (grown, pages) = grown_and_taken(&pool)?;
        let kept = pages.len();
        assert_eq!(pool.shrinker_count(), 0);
        let idle = KBox::pin_init(pin_init!(Idle { pages <- new_spinlock!(pages) }), GFP_KERNEL)?;
        // SAFETY: `idle` outlives the registration, dropped first below.
        let registration = unsafe { pool.register_shrinker(&*idle) }?;
        assert_eq!(pool.shrinker_count(), kept);
        // Busy: nothing waits, nothing is taken.
        {
            let _busy = pool.growth.lock.lock();
            assert_eq!(pool.shrinker_scan(usize::MAX), None);
            assert_eq!(idle.count_objects(), kept);
        }
        // The idle pages go back to the pool, and the grown blocks that
        // came wholly free by it to their sources, above high.
        let steal = pool.growth.pgsteal_shrinker.load(Relaxed);
        assert_eq!(pool.shrinker_scan(usize::MAX), Some(kept));
        assert_eq!(idle.count_objects(), 0);
        let given = (pool.growth.pgsteal_shrinker.load(Relaxed) - steal) as usize;
        assert!(given > 0);
        assert_eq!(pool.managed(), grown - given);
        assert!(pool.zones().all(|z| z.free_pages() >= z.watermarks().high));
        assert_eq!(pool.shrinker_count(), 0);
        drop(registration);
        drop(idle);
        assert!(all_back(&pool));
        Ok(())
    }

    /// Idle pool pages that a scan only takes out of use, given back by an
    /// RCU work (as the slab layer gives back empty slabs).
    #[pin_data]
    struct Retiring<'a> {
        #[pin]
        pages: SpinLock<(KVVec<PageBlock<'a>>, KVVec<PageBlock<'a>>, KVVec<PageBlock<'a>>)>,
        pool: &'a Pool,
        work: SetOnce<RcuWork>,
    }

    impl Shrinker for Retiring<'_> {
        fn count_objects(&self) -> usize {
            self.pages.lock().0.len()
        }

        fn scan_objects(&self, nr_to_scan: usize) -> usize {
            let mut guard = self.pages.lock();
            let (idle, retired, _) = &mut *guard;
            let mut taken = 0;
            while taken < nr_to_scan {
                let Some(block) = idle.pop() else { break };
                // Room was made when the pages were kept.
                if let Err(e) = retired.push_within_capacity(block) {
                    idle.push_within_capacity(e.0).ok();
                    break;
                }
                taken += 1;
            }
            drop(guard);
            if let Some(work) = self.work.as_ref() {
                self.pool.queue_rcu_work(work);
            }
            taken
        }
    }

    impl Deferred for Retiring<'_> {
        fn detach(&self) {
            let mut guard = self.pages.lock();
            let (_, retired, detached) = &mut *guard;
            core::mem::swap(retired, detached);
        }

        fn finish(&self) -> usize {
            let detached = core::mem::take(&mut self.pages.lock().2);
            detached.len()
        }
    }

    #[test]
    fn the_kernels_shrinker_gives_back_what_rcu_works_free() -> Result {
        let pool = pool(16)?;
        let (grown, pages) = grown_and_taken(&pool)?;
        let kept = pages.len();
        let room = |n| KVVec::with_capacity(n, GFP_KERNEL);
        let lists = (pages, room(kept)?, room(kept)?);
        let owner = &pool;
        let retiring = KBox::pin_init(
            pin_init!(Retiring { pages <- new_spinlock!(lists), pool: owner, work: SetOnce::new() }),
            GFP_KERNEL,
        )?;
        // SAFETY: `retiring` outlives the work: flushed below before it goes.
        retiring.work.populate(unsafe { RcuWork::new(&*retiring) });
        // SAFETY: `retiring` outlives the registration, dropped first below.
        let registration = unsafe { pool.register_shrinker(&*retiring) }?;
        assert_eq!(pool.shrinker_count(), kept);
        // Counted as given at once; nothing comes back before the work.
        let steal = pool.growth.pgsteal_shrinker.load(Relaxed);
        assert_eq!(pool.shrinker_scan(usize::MAX), Some(kept));
        assert_eq!(pool.managed(), grown);
        assert_eq!(pool.growth.pgsteal_shrinker.load(Relaxed), steal);
        // kswapd's run of the work frees the pages, and gives back the
        // grown blocks they left wholly free, as the kernel asked.
        assert_eq!(pool.run_rcu_works(), kept);
        let given = (pool.growth.pgsteal_shrinker.load(Relaxed) - steal) as usize;
        assert!(given > 0);
        assert_eq!(pool.managed(), grown - given);
        assert!(pool.zones().all(|z| z.free_pages() >= z.watermarks().high));
        assert_eq!(pool.run_rcu_works(), 0);
        drop(registration);
        assert_eq!(pool.flush_rcu_work(), 0);
        drop(retiring);
        assert!(all_back(&pool));
        Ok(())
    }

    #[test]
    fn bad_limits_are_refused_and_change_nothing() -> Result {
        let pool = pool(16)?;
        assert_eq!(pool.max_pool_mb(), 24);
        for bad in [1, 11, 25, usize::MAX] {
            assert_eq!(pool.set_max_pool_mb(bad), Err(EINVAL));
            assert_eq!(pool.max_pool_mb(), 24);
        }
        pool.set_max_pool_mb(12)?;
        assert!(pool.grow_node(1, false).or_else(|| pool.grow_node(0, false)).is_some());
        assert!(pool.grow_node(0, false).is_none() && pool.grow_node(1, false).is_none());
        pool.set_max_pool_mb(0)?;
        assert!(!pool.may_grow());
        // Below the starting size plus a block, or a pool loaded without
        // room to grow.
        assert_eq!(Source::new(Params::new(4, 4)?.max_pool_mb(10)?).err(), Some(EINVAL));
        let fixed = Pool::new(Source::new(Params::new(4, 4)?)?, 0)?;
        assert_eq!(fixed.set_max_pool_mb(24), Err(EINVAL));
        fixed.set_max_pool_mb(0)?;
        assert_eq!(pool.shrink_back_delay(), SHRINK_BACK_DELAY);
        for bad in [3601, usize::MAX] {
            assert_eq!(pool.set_shrink_back_delay(bad), Err(EINVAL));
            assert_eq!(pool.shrink_back_delay(), SHRINK_BACK_DELAY);
        }
        Ok(())
    }

    #[test]
    fn shrink_back_waits_for_its_delay() -> Result {
        let pool = pool(16)?;
        let start = pool.managed();
        for delay in [0, 5] {
            pool.set_shrink_back_delay(delay)?;
            let nid = (0..pool.nr_nodes()).find(|&nid| pool.grow_node(nid, false).is_some()).ok_or(EINVAL)?;
            let looks = (1..=10).find(|_| pool.shrink_back(nid, true) > 0).ok_or(EINVAL)?;
            assert_eq!(looks, (delay as usize).max(1));
            assert_eq!(pool.managed(), start);
        }
        Ok(())
    }

    /// `GFP_KERNEL` single pages until `n` are held (no kswapd runs for a
    /// test pool: the allocations grow it themselves).
    fn burst(pool: &Pool, n: usize) -> Result<KVVec<PageBlock<'_>>> {
        let mut blocks = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            blocks.push(pool.alloc_pages(Order::ZERO, Flags::KERNEL)?, GFP_KERNEL)?;
        }
        Ok(blocks)
    }

    /// Whether `block` lies in a grown block of its zone.
    fn in_grown(block: &PageBlock<'_>) -> bool {
        let zone = block.zone();
        zone.index_of(block.pfn()).is_some_and(|i| i as usize >= zone.compact_spanned())
    }

    #[test]
    fn direct_growth_leaves_the_per_cpu_bounds_to_kswapd() -> Result {
        let pool = pool(16)?;
        let mut before = KVec::new();
        for zone in pool.zones() {
            before.push(zone.pageset(), GFP_KERNEL)?;
        }
        let blocks = burst(&pool, 2 * pool.managed())?;
        assert!(pool.growth.pool_grow.load(Relaxed) > 0);
        // Nothing ran on every CPU from the allocation path: the per-CPU
        // bounds are as they were, marked for kswapd.
        assert!(pool.zones().zip(before.iter()).all(|(z, b)| z.pageset() == *b));
        assert_eq!(pool.growth.stale.load(Relaxed), 1);
        // kswapd's catch-up: the grown zones' bounds follow their size.
        pool.update_stale_bounds();
        assert_eq!(pool.growth.stale.load(Relaxed), 0);
        assert!(pool.zones().zip(before.iter()).any(|(z, b)| z.pageset() != *b));
        drop(blocks);
        Ok(())
    }

    #[test]
    fn no_growth_from_noio_nofs_or_their_scopes() -> Result {
        let pool = pool(16)?;
        let start = pool.managed();
        let noio = Flags { io: false, ..Flags::KERNEL };
        let nofs = Flags { fs: false, ..Flags::KERNEL };
        // As many as the pool holds, and then one more fails.
        let fill = |flags: Flags| -> Result<bool> {
            let mut held = KVVec::new();
            while held.len() <= start {
                match pool.alloc_pages(Order::ZERO, flags) {
                    Ok(b) => held.push(b, GFP_KERNEL)?,
                    Err(_) => return Ok(false),
                }
            }
            Ok(true)
        };
        assert!(!fill(noio)?);
        assert!(!fill(nofs)?);
        {
            // GFP_KERNEL inside a memalloc_nofs_save() scope.
            let _scope = nofs.memalloc_scope();
            assert!(!fill(Flags::KERNEL)?);
        }
        assert_eq!(pool.managed(), start);
        assert_eq!(pool.growth.pool_grow.load(Relaxed), 0);
        // Out of the scope, GFP_KERNEL grows.
        assert!(fill(Flags::KERNEL)?);
        assert!(pool.managed() > start);
        Ok(())
    }

    #[test]
    fn shrink_back_drains_only_when_a_block_could_come_free() -> Result {
        let pool = pool(16)?;
        let start = pool.managed();
        let blocks = burst(&pool, 2 * start)?;
        // Only the zone growth lands in has room, on each node.
        assert!(pool.zones().filter(|z| z.grown() != (0, 0)).count() <= pool.nr_nodes());
        // One page held in each grown block, a few in their zones' fixed
        // chunks; the rest freed.
        let (mut kept, mut base, mut firsts) = (KVVec::new(), KVVec::new(), KVec::new());
        for b in blocks.into_iter() {
            let first = b.pfn().align_down(Order::MAX).0;
            if in_grown(&b) && !firsts.contains(&first) {
                firsts.push(first, GFP_KERNEL)?;
                kept.push(b, GFP_KERNEL)?;
            } else if !in_grown(&b) && b.zone().grown().0 > 0 && base.len() < 64 {
                base.push(b, GFP_KERNEL)?;
            }
        }
        assert!(!kept.is_empty());
        let grown = pool.managed();
        let drains = || pool.growth.pool_shrink_drain.load(Relaxed);
        let look = || {
            for nid in 0..pool.nr_nodes() {
                pool.shrink_back(nid, true);
            }
        };
        // Past the delay: a drain at most once per node (the pages just
        // freed on this CPU's lists), none once the lists are empty.
        for _ in 0..20 {
            look();
        }
        assert_eq!(pool.managed(), grown);
        let after_idle = drains();
        assert!(after_idle <= pool.nr_nodes() as u64);
        // A page of a fixed chunk freed before every look: each time a
        // drain could free a grown block by the count, and frees nothing;
        // the backoff lets through at most 5 drains in 20 looks per node
        // (the 1st, 3rd, 7th, 15th...).
        for _ in 0..20 {
            base.pop();
            look();
        }
        assert_eq!(pool.managed(), grown);
        assert!(drains() - after_idle <= 5 * pool.nr_nodes() as u64);
        // Free at last: everything goes back, within the longest backoff.
        drop(kept);
        drop(base);
        for _ in 0..200 {
            if pool.managed() == start {
                break;
            }
            look();
        }
        assert_eq!(pool.managed(), start);
        assert!(all_back(&pool));
        Ok(())
    }
}
