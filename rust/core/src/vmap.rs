// SPDX-License-Identifier: GPL-2.0

//! Virtually contiguous regions: the size arithmetic, and the size classes
//! of the cache of ready-made mappings.
//!
//! Mirrors `mm/vmalloc.c`: how `vm_area_alloc_pages()` takes large blocks
//! first, and the guard page after every area. The size classes are
//! zonemm's own: a freed mapping is kept, with its pages, for the next
//! region of its class (as a slab keeps freed objects), so classes must
//! be few and waste little.

use crate::pfn::{
    Order,
    MAX_PAGE_ORDER,
    PAGE_SIZE, //
};

/// Pages for `size` bytes, or `None` for 0 or an overflow.
pub const fn nr_pages(size: usize) -> Option<usize> {
    if size == 0 {
        return None;
    }
    match size.checked_add(PAGE_SIZE - 1) {
        Some(s) => Some(s / PAGE_SIZE),
        None => None,
    }
}

/// The order of the next block to take for `left` pages: the largest
/// power of two that fits, capped at `max` (`vm_area_alloc_pages()`
/// takes `1 << order` pages at a time and splits them).
pub const fn next_order(left: usize, max: Order) -> Order {
    if left == 0 {
        return Order::ZERO;
    }
    let fit = usize::BITS - 1 - left.leading_zeros();
    let o = if fit < max.get() { fit } else { max.get() };
    match Order::new(o) {
        Some(order) => order,
        None => Order::MAX,
    }
}

/// The largest order a region may take: `MAX_PAGE_ORDER`, or the
/// pageblock order (2 MiB) for `huge` regions, as `VM_ALLOW_HUGE_VMAP`
/// asks for PMD-sized blocks.
pub const fn max_order(huge: bool) -> Order {
    match Order::new(if huge { 9 } else { MAX_PAGE_ORDER }) {
        Some(o) => o,
        None => Order::MAX,
    }
}

/// The largest region, in pages, whose mapping is kept for reuse (1 MiB).
pub const CLASS_MAX_PAGES: usize = 256;

/// Size classes up to [`CLASS_MAX_PAGES`]: 1, 2, 3, then four per power of
/// two (`m << k`, `m` in 4..=7), so a region never maps more than a
/// quarter more than it asked for.
pub const NR_SIZE_CLASSES: usize = 3 + 4 * 6 + 1;

/// The size class of a region of `nr` pages: its index and the pages its
/// mapping has; `None` for 0 or more than [`CLASS_MAX_PAGES`].
pub const fn size_class(nr: usize) -> Option<(usize, usize)> {
    if nr == 0 || nr > CLASS_MAX_PAGES {
        return None;
    }
    if nr <= 4 {
        return Some((nr - 1, nr));
    }
    // (nr - 1) >> k lands in 4..=7; the class is the next step up.
    let k = usize::BITS - 1 - (nr - 1).leading_zeros() - 2;
    let mut m = ((nr - 1) >> k) + 1;
    let mut k = k as usize;
    if m == 8 {
        m = 4;
        k += 1;
    }
    Some((3 + 4 * k + (m - 4), m << k))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(nr_pages(0), None);
        assert_eq!(nr_pages(1), Some(1));
        assert_eq!(nr_pages(4096), Some(1));
        assert_eq!(nr_pages(4097), Some(2));
        assert_eq!(nr_pages(usize::MAX), None);
        assert_eq!(PAGE_SIZE, 4096);
    }

    #[test]
    fn size_classes_waste_at_most_a_quarter() {
        assert_eq!(size_class(0), None);
        assert_eq!(size_class(CLASS_MAX_PAGES + 1), None);
        let pages: Vec<usize> = (1..=20).map(|n| size_class(n).map_or(0, |c| c.1)).collect();
        assert_eq!(pages, [1, 2, 3, 4, 5, 6, 7, 8, 10, 10, 12, 12, 14, 14, 16, 16, 20, 20, 20, 20]);
        let mut last = (0, 0);
        for nr in 1..=CLASS_MAX_PAGES {
            let Some((idx, c)) = size_class(nr) else { panic!("no class for {nr}") };
            assert!(c >= nr && 4 * (c - nr) <= c, "{nr} pages in a class of {c}");
            assert!(idx < NR_SIZE_CLASSES);
            // Classes are ordered and numbered without gaps.
            assert!(idx == last.0 && c == last.1 || idx == last.0 + 1 && c > last.1 || nr == 1);
            // The class of a class's own size is itself.
            assert_eq!(size_class(c), Some((idx, c)));
            last = (idx, c);
        }
        assert_eq!(last, (NR_SIZE_CLASSES - 1, CLASS_MAX_PAGES));
    }

    #[test]
    fn orders_take_the_largest_block_that_fits() {
        assert_eq!(next_order(1, Order::MAX).get(), 0);
        assert_eq!(next_order(3, Order::MAX).get(), 1);
        assert_eq!(next_order(16, Order::MAX).get(), 4);
        assert_eq!(next_order(5000, Order::MAX).get(), 10);
        assert_eq!(next_order(5000, max_order(true)).get(), 9);
        // The blocks of a 1000-page region: 512, 256, 128, 64, 32, 8.
        let mut left = 1000;
        let mut blocks = Vec::new();
        while left > 0 {
            let o = next_order(left, Order::MAX);
            blocks.push(o.nr_pages());
            left -= o.nr_pages();
        }
        assert_eq!(blocks, [512, 256, 128, 64, 32, 8]);
    }
}
