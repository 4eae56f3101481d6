// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of `/dev/zonemm`'s areas (`rust/dev/area.rs`): what a
//! fault takes from the pool, and that an area gives it all back.

use kernel::prelude::*;

#[kunit_tests(zonemm_dev)]
mod suite {
    use super::*;
    use crate::{
        buddy::{
            Flags,
            Pool, //
        },
        dev::area::{
            Area,
            Counts, //
        },
        helpers::zonemm_pfn_to_virt,
        pfn::{
            Order,
            PAGE_SIZE, //
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

    fn counts(area: &Area<'_>, first: usize, nr: usize) -> (u64, u64) {
        let mut c = Counts::default();
        area.count(first, nr, &mut c);
        (c.mapped, c.mergeable)
    }

    #[test]
    fn a_fault_takes_one_zeroed_page_once_and_drop_gives_it_back() -> Result {
        let pool = pool()?;
        let free = pool.nr_free_pages();
        let area = Area::new(&pool, 4)?;
        assert_eq!(pool.nr_free_pages(), free);
        let pfn = area.fault(1)?;
        assert_eq!(area.fault(1)?, pfn);
        assert_eq!(pool.nr_free_pages(), free - 1);
        // SAFETY: A page of the pool the area holds; only read here.
        let bytes = unsafe { core::slice::from_raw_parts(zonemm_pfn_to_virt(pfn.0).cast::<u8>(), PAGE_SIZE) };
        assert!(bytes.iter().all(|&b| b == 0));
        assert_eq!(counts(&area, 0, 4), (1, 0));
        area.fault(3)?;
        assert_eq!(counts(&area, 0, 4), (2, 0));
        drop(area);
        assert_eq!(pool.nr_free_pages(), free);
        Ok(())
    }

    #[test]
    fn a_fault_past_the_end_takes_nothing() -> Result {
        let pool = pool()?;
        let free = pool.nr_free_pages();
        let area = Area::new(&pool, 2)?;
        assert_eq!(area.fault(2), Err(EFAULT));
        assert_eq!(area.fault(usize::MAX), Err(EFAULT));
        assert_eq!(pool.nr_free_pages(), free);
        Ok(())
    }

    #[test]
    fn marks_outside_the_area_are_refused_and_change_nothing() -> Result {
        let pool = pool()?;
        let area = Area::new(&pool, 8)?;
        area.set_mergeable(2, 3, true)?;
        assert_eq!(counts(&area, 0, 8), (0, 3));
        assert_eq!(area.set_mergeable(6, 3, true), Err(EINVAL));
        assert_eq!(area.set_mergeable(usize::MAX, 2, true), Err(EINVAL));
        assert_eq!(area.set_mergeable(8, 0, false), Ok(()));
        assert_eq!(counts(&area, 0, 8), (0, 3));
        // A count past the end is clipped.
        assert_eq!(counts(&area, 3, usize::MAX), (0, 2));
        assert_eq!(counts(&area, 100, 1), (0, 0));
        area.set_mergeable(0, 8, false)?;
        assert_eq!(counts(&area, 0, 8), (0, 0));
        Ok(())
    }

    #[test]
    fn an_exhausted_pool_fails_the_fault_and_the_area_keeps_nothing() -> Result {
        let pool = pool()?;
        let area = Area::new(&pool, 2)?;
        let mut taken = KVec::new();
        while let Ok(b) = pool.alloc_pages(Order::ZERO, Flags::MOVABLE) {
            taken.push(b, GFP_KERNEL)?;
        }
        assert_eq!(area.fault(0), Err(ENOMEM));
        assert_eq!(counts(&area, 0, 2), (0, 0));
        drop(taken);
        area.fault(0)?;
        assert_eq!(counts(&area, 0, 2), (1, 0));
        Ok(())
    }
}
