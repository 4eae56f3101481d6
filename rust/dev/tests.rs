// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of `/dev/zonemm`'s areas (`rust/dev/area.rs`) without a
//! user mapping: what a fault takes from the pool and maps, what the
//! marks change, that the merger shares an area's pages and that a write
//! fault copies a shared page first, and that an area gives it all back.

use kernel::prelude::*;

#[kunit_tests(zonemm_dev)]
mod suite {
    use super::*;
    use core::ptr::NonNull;
    use kernel::{
        fs::File,
        sync::aref::ARef, //
    };

    use crate::{
        buddy::{
            Flags,
            Pool, //
        },
        dev::area::Area,
        helpers::{
            zonemm_pfn_to_virt,
            zonemm_test_file, //
        },
        merge::Merger,
        pfn::{
            Order,
            Pfn,
            PAGE_SIZE, //
        },
        region::{
            Regions,
            UserCounts, //
        },
        source::{
            Params,
            Source, //
        },
    };

    fn pool() -> Result<Pool> {
        let pool = Pool::new(Source::new(Params::new(8, 8)?)?, 0)?;
        pool.set_min_free_kbytes(0)?;
        Ok(pool)
    }

    fn file() -> Result<ARef<File>> {
        // SAFETY: No preconditions.
        let f = kernel::error::from_err_ptr(unsafe { zonemm_test_file() })?;
        let f = NonNull::new(f.cast::<File>()).ok_or(ENOMEM)?;
        // SAFETY: A new file whose one reference is ours; `File` is
        // `struct file`, transparently.
        Ok(unsafe { ARef::from_raw(f) })
    }

    fn counts(area: &Area<'_, '_>, first: usize, nr: usize) -> UserCounts {
        let mut c = UserCounts::default();
        area.count(area.base() + first, nr, &mut c);
        c
    }

    /// Faults page `index` of `area` in, for writing if `write`: the frame
    /// and whether it was mapped writable.
    fn fault(area: &Area<'_, '_>, index: usize, write: bool) -> Result<(Pfn, bool)> {
        area.fault(area.base() + index, write, |pte| (pte.pfn, pte.write))
    }

    fn bytes<'b>(pfn: Pfn) -> &'b mut [u8] {
        // SAFETY: A page of the test's pool that the test's area holds;
        // nothing else uses it while the test does.
        unsafe { core::slice::from_raw_parts_mut(zonemm_pfn_to_virt(pfn.0).cast::<u8>(), PAGE_SIZE) }
    }

    #[test]
    fn a_fault_takes_one_zeroed_page_once_and_drop_gives_it_back() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let free = pool.nr_free_pages();
        let area = Area::new(&regions, file()?, 4)?;
        assert_eq!(pool.nr_free_pages(), free);
        let (pfn, write) = fault(&area, 1, false)?;
        assert!(!write);
        assert_eq!(fault(&area, 1, true)?, (pfn, true));
        assert_eq!(pool.nr_free_pages(), free - 1);
        assert!(bytes(pfn).iter().all(|&b| b == 0));
        assert_eq!(counts(&area, 0, 4).mapped, 1);
        fault(&area, 3, true)?;
        assert_eq!(counts(&area, 0, 4).mapped, 2);
        drop(area);
        assert_eq!(pool.nr_free_pages(), free);
        Ok(())
    }

    #[test]
    fn a_fault_past_the_end_takes_nothing() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let free = pool.nr_free_pages();
        let area = Area::new(&regions, file()?, 2)?;
        assert!(fault(&area, 2, false).is_err());
        assert!(area.fault(usize::MAX, true, |_| ()).is_err());
        assert!(area.fault(area.base().wrapping_sub(1), true, |_| ()).is_err());
        assert_eq!(pool.nr_free_pages(), free);
        Ok(())
    }

    #[test]
    fn two_areas_never_share_file_offsets() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let a = Area::new(&regions, file()?, 8)?;
        let b = Area::new(&regions, file()?, 8)?;
        assert!(b.base() >= a.base() + 8 || a.base() >= b.base() + 8);
        Ok(())
    }

    #[test]
    fn marks_outside_the_area_are_refused_and_change_nothing() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let area = Area::new(&regions, file()?, 8)?;
        let base = area.base();
        area.set_mergeable(base + 2, 3, true)?;
        assert_eq!(counts(&area, 0, 8).mergeable, 3);
        assert_eq!(area.set_mergeable(base + 6, 3, true), Err(EINVAL));
        assert_eq!(area.set_mergeable(usize::MAX, 2, true), Err(EINVAL));
        assert_eq!(area.set_mergeable(base.wrapping_sub(1), 2, true), Err(EINVAL));
        assert_eq!(counts(&area, 0, 8).mergeable, 3);
        // A count past the end is clipped.
        assert_eq!(counts(&area, 3, usize::MAX).mergeable, 2);
        assert_eq!(counts(&area, 100, 1).mergeable, 0);
        area.set_mergeable(base, 8, false)?;
        assert_eq!(counts(&area, 0, 8).mergeable, 0);
        Ok(())
    }

    #[test]
    fn an_exhausted_pool_fails_the_fault_and_the_area_keeps_nothing() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let area = Area::new(&regions, file()?, 2)?;
        let mut taken = KVec::new();
        while let Ok(b) = pool.alloc_pages(Order::ZERO, Flags::MOVABLE) {
            taken.push(b, GFP_KERNEL)?;
        }
        assert_eq!(fault(&area, 0, true).err(), Some(ENOMEM));
        assert_eq!(counts(&area, 0, 2).mapped, 0);
        drop(taken);
        fault(&area, 0, true)?;
        assert_eq!(counts(&area, 0, 2).mapped, 1);
        Ok(())
    }

    #[test]
    fn merged_pages_are_mapped_read_only_and_a_write_copies_them() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let merger = Merger::new(&regions)?;
        let a = Area::new(&regions, file()?, 4)?;
        let b = Area::new(&regions, file()?, 4)?;
        for area in [&a, &b] {
            for i in 0..4 {
                let (pfn, _) = fault(area, i, true)?;
                bytes(pfn).fill(0x40 + i as u8);
            }
        }
        // Unmarked pages are never shared.
        merger.scan(64);
        assert_eq!(merger.counters().0.pages_sharing, 0);
        a.set_mergeable(a.base(), 4, true)?;
        b.set_mergeable(b.base(), 4, true)?;
        let free = pool.nr_free_pages();
        merger.scan(64);
        let (c, _, _) = merger.counters();
        assert_eq!((c.pages_shared, c.pages_sharing), (4, 4));
        assert_eq!(pool.nr_free_pages(), free + 4);
        assert_eq!(counts(&a, 0, 4).merging, 4);
        // A read maps the shared frame, read-only.
        let (shared, write) = fault(&a, 2, false)?;
        assert!(!write);
        assert_eq!(fault(&b, 2, false)?.0, shared);
        // A write maps a private copy, writable; the other keeps the
        // shared page.
        let (own, write) = fault(&a, 2, true)?;
        assert!(write && own != shared);
        assert!(bytes(own).iter().all(|&x| x == 0x42));
        bytes(own)[0] = 1;
        assert_eq!(fault(&b, 2, false)?.0, shared);
        assert!(bytes(shared).iter().all(|&x| x == 0x42));
        assert_eq!(counts(&a, 0, 4).merging, 3);
        // Unmarking gives private copies back.
        b.set_mergeable(b.base(), 4, false)?;
        assert_eq!(counts(&b, 0, 4).merging, 0);
        assert!(bytes(fault(&b, 2, false)?.0).iter().all(|&x| x == 0x42));
        Ok(())
    }

    #[test]
    fn a_page_written_since_its_last_scan_is_not_merged() -> Result {
        let pool = pool()?;
        let regions = Regions::new(&pool, false)?;
        let merger = Merger::new(&regions)?;
        let a = Area::new(&regions, file()?, 1)?;
        let b = Area::new(&regions, file()?, 1)?;
        for area in [&a, &b] {
            area.set_mergeable(area.base(), 1, true)?;
            bytes(fault(area, 0, true)?.0).fill(7);
        }
        // Each scan finds the page mapped writable again: volatile.
        for _ in 0..4 {
            merger.scan(2);
            fault(&a, 0, true)?;
        }
        assert_eq!(merger.counters().0.pages_sharing, 0);
        merger.scan(4);
        assert_eq!(merger.counters().0.pages_sharing, 1);
        Ok(())
    }
}
