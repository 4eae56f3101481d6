// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the slab layer (`rust/slab.rs`).

use super::*;

#[kunit_tests(zonemm_slab)]
mod suite {
    use super::*;
    use crate::buddy::Shrinker;
    use crate::source::{
        Params,
        Source, //
    };

    fn pool() -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(4, 4)?)?, 0)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    fn stamp(obj: *mut u8, size: usize, tag: u8) {
        // SAFETY: The object is ours and `size` bytes long.
        unsafe { core::ptr::write_bytes(obj, tag, size) };
    }

    fn stamped(obj: *mut u8, size: usize, tag: u8) -> bool {
        // SAFETY: As above.
        unsafe { core::slice::from_raw_parts(obj, size) }.iter().all(|&b| b == tag)
    }

    #[test]
    fn objects_are_aligned_and_never_overlap() -> Result {
        let pool = pool()?;
        for (size, align) in [(100, 64), (24, 8), (700, 256), (3000, 0)] {
            let cache = Cache::create(&pool, "t", size, align, DebugFlags::default(), None)?;
            let align = cache.layout().align;
            let mut objs = KVec::new();
            for i in 0..300 {
                let obj = cache.alloc(Flags::KERNEL)?.as_ptr();
                assert_eq!(obj as usize % align, 0);
                stamp(obj, size, i as u8);
                objs.push(obj, GFP_KERNEL)?;
            }
            // Overlap would have overwritten someone's stamp.
            for (i, &obj) in objs.iter().enumerate() {
                assert!(stamped(obj, size, i as u8));
            }
            assert_eq!(cache.active_objects(), 300);
            for &obj in objs.iter() {
                cache.free(NonNull::new(obj).ok_or(EINVAL)?);
            }
            assert_eq!(cache.active_objects(), 0);
            assert_eq!(cache.corruptions(), 0);
        }
        Ok(())
    }

    #[test]
    fn the_constructor_runs_once_per_construction() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "ctor", 128, 0, DebugFlags::default(), Some(ctor_pattern))?;
        let per_slab = cache.layout().objects as u64;
        for _ in 0..5 {
            let a = cache.alloc(Flags::KERNEL)?;
            let b = cache.alloc(Flags::KERNEL)?;
            assert!(stamped(a.as_ptr(), 128, 0xc7));
            cache.free(a);
            cache.free(b);
        }
        // One slab built; reuse never constructs again.
        assert_eq!(cache.ctor_runs(), per_slab);
        Ok(())
    }

    #[test]
    fn colours_step_through_the_slabs() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "colour", 384, 64, DebugFlags::default(), None)?;
        let l = *cache.layout();
        assert!(l.colours > 1);
        let mut objs = KVec::new();
        for _ in 0..l.objects * l.colours {
            objs.push(cache.alloc(Flags::KERNEL)?, GFP_KERNEL)?;
        }
        // Each slab's first slot sits at its colour offset in its block.
        let mut seen = [false; 8];
        for obj in objs.iter() {
            let off = obj.as_ptr() as usize % l.slab_bytes();
            if off % l.slot < l.colour_off * l.colours && off < l.slot {
                seen[(off / l.colour_off).min(7)] = true;
            }
        }
        assert!(seen.iter().filter(|&&s| s).count() >= 2);
        for obj in objs.iter() {
            cache.free(*obj);
        }
        Ok(())
    }

    #[test]
    fn shrink_gives_the_pages_back() -> Result {
        let pool = pool()?;
        let before = pool.nr_free_pages();
        let cache = Cache::create(&pool, "shrink", 512, 0, DebugFlags::default(), None)?;
        let mut objs = KVec::new();
        for _ in 0..200 {
            objs.push(cache.alloc(Flags::KERNEL)?, GFP_KERNEL)?;
        }
        assert!(pool.nr_free_pages() < before);
        for obj in objs.drain_all() {
            cache.free(obj);
        }
        assert!(cache.shrink() > 0);
        assert_eq!(cache.slabinfo().num_slabs, 0);
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }

    /// `n` objects of `cache` allocated, then freed and flushed from the
    /// CPU caches, leaving their slabs free: their addresses.
    fn allocated_then_freed(cache: &Cache<'_>, n: usize) -> Result<KVec<NonNull<u8>>> {
        let mut objs = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            objs.push(cache.alloc(Flags::KERNEL)?, GFP_KERNEL)?;
        }
        for obj in objs.iter() {
            cache.free(*obj);
        }
        cache.flush_cpu_caches();
        Ok(objs)
    }

    #[test]
    fn empty_slabs_go_back_through_the_pools_reclaim() -> Result {
        let pool = pool()?;
        let before = pool.nr_free_pages();
        let cache = Cache::create(&pool, "reclaim", 512, 0, DebugFlags::default(), None)?;
        let addrs = allocated_then_freed(&cache, 200)?;
        let per = cache.layout().order.nr_pages();
        let slabs = cache.slabinfo().num_slabs;
        // `min_partial` for 512 bytes: 5 free slabs stay for reuse.
        let spare = slabs - MIN_PARTIAL;
        assert_eq!(cache.min_partial, MIN_PARTIAL);
        assert!(spare > 1);
        assert_eq!(cache.count_objects(), spare * per);
        // The scan takes them out of use and counts them; the pages come
        // back only after the grace period.
        let mid = pool.nr_free_pages();
        assert_eq!(cache.scan_objects(per), per);
        assert_eq!(cache.count_objects(), (spare - 1) * per);
        assert_eq!(cache.scan_objects(usize::MAX), (spare - 1) * per);
        assert_eq!(cache.count_objects(), 0);
        assert_eq!(cache.scan_objects(usize::MAX), 0);
        assert_eq!(cache.slabinfo().num_slabs, MIN_PARTIAL);
        assert_eq!(pool.nr_free_pages(), mid);
        // An object of a retired slab (whichever slabs the scans took).
        let stale = {
            let _rcu = kernel::sync::rcu::read_lock();
            addrs.iter().copied().find(|p| cache.lookup(p.as_ptr()).is_none())
        };
        let stale = stale.ok_or(EINVAL)?;
        // A retired slab's objects are no longer the cache's: a free is
        // reported and ignored.
        cache.free(stale);
        assert_eq!(cache.cpus.sum(|c| c.avail() as u64), 0);
        // A stale free that found its slab before the scan retired it
        // left its object on this CPU's cache: the work drops it.
        assert_eq!(cache.cpus.try_with(|ac| ac.push(stale.as_ptr() as usize)), Some(true));
        assert_eq!(pool.flush_rcu_work(), spare * per);
        assert_eq!(cache.cpus.sum(|c| c.avail() as u64), 0);
        assert_eq!(pool.nr_free_pages(), mid + spare * per);
        assert_eq!(cache.shrink(), MIN_PARTIAL);
        assert_eq!(pool.nr_free_pages(), before);
        assert_eq!(pool.flush_rcu_work(), 0);
        // The cache still works, and its registration goes with it.
        let obj = cache.alloc(Flags::KERNEL)?;
        cache.free(obj);
        assert_eq!(cache.shrink(), 1);
        Ok(())
    }

    #[test]
    fn a_cache_dropped_with_retired_slabs_frees_them() -> Result {
        let pool = pool()?;
        let before = pool.nr_free_pages();
        let cache = Cache::create(&pool, "retired", 256, 0, DebugFlags::default(), None)?;
        allocated_then_freed(&cache, 200)?;
        assert!(cache.scan_objects(usize::MAX) > 0);
        drop(cache);
        assert_eq!(pool.flush_rcu_work(), 0);
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }

    #[test]
    fn destroy_with_live_objects_is_refused() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "busy", 64, 0, DebugFlags { store_user: true, ..DebugFlags::default() }, None)?;
        let obj = cache.alloc(Flags::KERNEL)?;
        assert_eq!(cache.prepare_destroy(), Err(EBUSY));
        // Nothing was freed under the user.
        stamp(obj.as_ptr(), 64, 1);
        assert_eq!(cache.active_objects(), 1);
        cache.free(obj);
        assert_eq!(cache.prepare_destroy(), Ok(()));
        assert_eq!(cache.slabinfo().num_slabs, 0);
        Ok(())
    }

    #[test]
    fn atomic_allocations_work_with_interrupts_off() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "atomic", 64, 0, DebugFlags::default(), None)?;
        let lock = KBox::pin_init(crate::compat::new_spinlock_irq!(0u32, "test"), GFP_KERNEL)?;
        let guard = lock.lock();
        // Interrupts off, a spinlock held: only non-sleeping paths inside,
        // a slab grown with GFP_ATOMIC too (a sleep here is reported by
        // CONFIG_DEBUG_ATOMIC_SLEEP on the debug kernel).
        let page = pool.alloc_pages(crate::pfn::Order::ZERO, Flags::ATOMIC)?;
        let obj = cache.alloc(Flags::ATOMIC)?;
        cache.free(obj);
        drop(page);
        drop(guard);
        Ok(())
    }

    unsafe extern "C" fn stress(arg: *mut c_void, cpu: c_uint) -> c_int {
        // SAFETY: `arg` is the test's `&Cache`, alive until every CPU
        // returns.
        let cache = unsafe { &*arg.cast::<Cache<'_>>() };
        let mut held = KVec::<(NonNull<u8>, u8)>::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64 ^ cpu as u64;
        for i in 0..20000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 5 < 3 || held.is_empty() {
                // A few thousand 200-byte objects at most: the pool never
                // runs out, so any failure is a bug, not a skip.
                let Ok(obj) = cache.alloc(Flags::KERNEL) else { return ENOMEM.to_errno() };
                let tag = (i as u8) ^ (cpu as u8 * 0x40);
                stamp(obj.as_ptr(), 200, tag);
                if held.push((obj, tag), GFP_KERNEL).is_err() {
                    return ENOMEM.to_errno();
                }
            } else {
                let (pick, last) = ((seed >> 20) as usize % held.len(), held.len() - 1);
                held.swap(pick, last);
                let Some((obj, tag)) = held.pop() else { continue };
                if !stamped(obj.as_ptr(), 200, tag) {
                    return EINVAL.to_errno();
                }
                cache.free(obj);
            }
        }
        for (obj, _) in held.drain_all() {
            cache.free(obj);
        }
        0
    }

    #[test]
    fn every_cpu_at_once_keeps_every_object_whole() -> Result {
        let pool = pool()?;
        let before = pool.nr_free_pages();
        let cache = Cache::create(&pool, "stress", 200, 0, DebugFlags::default(), None)?;
        let arg = (&*cache as *const Cache<'_>).cast_mut().cast();
        // SAFETY: `stress` only uses the cache through `arg`, which lives
        // until the call returns; the call waits for every CPU.
        assert_eq!(unsafe { zonemm_run_on_each_cpu(stress, arg) }, 0);
        assert_eq!(cache.active_objects(), 0);
        cache.shrink();
        pool.drain();
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }
}
