// SPDX-License-Identifier: GPL-2.0

//! Page frame numbers, orders and the arithmetic between them.
//!
//! Mirrors `include/linux/pfn.h`, the order constants of
//! `include/linux/mmzone.h` (`MAX_PAGE_ORDER`, `NR_PAGE_ORDERS`) and the
//! buddy arithmetic of `mm/internal.h` (`__find_buddy_pfn`), plus the
//! "largest aligned block that fits" walk of `memblock_free_pages()`.

/// Shift from a physical address to its page frame number (`PAGE_SHIFT`).
pub const PAGE_SHIFT: u32 = 12;

/// Bytes in a page (`PAGE_SIZE`).
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// The largest order a free block can have (`MAX_PAGE_ORDER`).
pub const MAX_PAGE_ORDER: u32 = 10;

/// Number of orders, `0..=MAX_PAGE_ORDER` (`NR_PAGE_ORDERS`).
pub const NR_PAGE_ORDERS: usize = MAX_PAGE_ORDER as usize + 1;

/// Pages in a block of the largest order (`MAX_ORDER_NR_PAGES`).
pub const MAX_ORDER_NR_PAGES: usize = 1 << MAX_PAGE_ORDER;

/// Pages in one MiB.
pub const PAGES_PER_MIB: usize = (1 << 20) / PAGE_SIZE;

/// A page frame number: a physical address shifted right by `PAGE_SHIFT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub usize);

impl Pfn {
    /// The frame that holds physical address `phys` (`PHYS_PFN`).
    pub const fn from_phys(phys: u64) -> Self {
        // CAST: a frame number of a 64-bit address fits in 52 bits.
        Self((phys >> PAGE_SHIFT) as usize)
    }

    /// The physical address of the frame's first byte (`PFN_PHYS`).
    pub const fn phys(self) -> u64 {
        // CAST: usize is at most 64 bits wide on every target we build.
        (self.0 as u64) << PAGE_SHIFT
    }

    /// Whether the frame starts a naturally aligned block of `order`.
    pub const fn is_aligned(self, order: Order) -> bool {
        self.0 & (order.nr_pages() - 1) == 0
    }

    /// The start of the aligned block of `order` that holds this frame.
    pub const fn align_down(self, order: Order) -> Self {
        Self(self.0 & !(order.nr_pages() - 1))
    }

    /// The frame `nr` pages further on, or `None` on overflow.
    pub const fn checked_add(self, nr: usize) -> Option<Self> {
        match self.0.checked_add(nr) {
            Some(pfn) => Some(Self(pfn)),
            None => None,
        }
    }
}

/// An allocation order: a block of `1 << order` pages.
///
/// # Invariants
///
/// The order is at most [`MAX_PAGE_ORDER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Order(u32);

impl Order {
    /// Order 0, a single page.
    pub const ZERO: Self = Self(0);

    /// The largest order, [`MAX_PAGE_ORDER`].
    pub const MAX: Self = Self(MAX_PAGE_ORDER);

    /// The order `order`, or `None` if it is above [`MAX_PAGE_ORDER`].
    pub const fn new(order: u32) -> Option<Self> {
        if order <= MAX_PAGE_ORDER {
            // INVARIANT: checked just above.
            Some(Self(order))
        } else {
            None
        }
    }

    /// The order as a number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The order as an index into per-order arrays.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Pages in a block of this order.
    pub const fn nr_pages(self) -> usize {
        1 << self.0
    }

    /// The next larger order, or `None` at [`MAX_PAGE_ORDER`].
    pub const fn next(self) -> Option<Self> {
        Self::new(self.0 + 1)
    }

    /// The next smaller order, or `None` at order 0.
    pub const fn prev(self) -> Option<Self> {
        match self.0.checked_sub(1) {
            // INVARIANT: smaller than a valid order.
            Some(order) => Some(Self(order)),
            None => None,
        }
    }

    /// The smallest order whose block holds `nr` pages (`get_order` in
    /// pages), or `None` if even a [`MAX_PAGE_ORDER`] block is too small.
    pub const fn for_pages(nr: usize) -> Option<Self> {
        if nr <= 1 {
            return Some(Self::ZERO);
        }
        // CAST: the result is at most usize::BITS, far below u32::MAX.
        Self::new(usize::BITS - (nr - 1).leading_zeros())
    }
}

/// The buddy of the block of `order` at `pfn` (`__find_buddy_pfn`): the
/// other half of the block of `order + 1` that holds both.
pub const fn find_buddy_pfn(pfn: Pfn, order: Order) -> Pfn {
    Pfn(pfn.0 ^ order.nr_pages())
}

/// `mib` MiB in pages, or `None` on overflow.
pub const fn mib_to_pages(mib: usize) -> Option<usize> {
    mib.checked_mul(PAGES_PER_MIB)
}

/// A run of physically contiguous page frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PfnRange {
    /// The first frame.
    pub start: Pfn,
    /// The number of frames.
    pub nr_pages: usize,
}

impl PfnRange {
    /// The range of `nr_pages` frames from `start`, or `None` if it would
    /// run past the end of the frame number space.
    pub const fn new(start: Pfn, nr_pages: usize) -> Option<Self> {
        match start.checked_add(nr_pages) {
            Some(_) => Some(Self { start, nr_pages }),
            None => None,
        }
    }

    /// The first frame after the range.
    pub const fn end(&self) -> Pfn {
        Pfn(self.start.0 + self.nr_pages)
    }

    /// Whether `pfn` lies in the range.
    pub const fn contains(&self, pfn: Pfn) -> bool {
        pfn.0 >= self.start.0 && pfn.0 < self.end().0
    }

    /// Whether the two ranges share a frame.
    pub const fn overlaps(&self, other: &Self) -> bool {
        self.start.0 < other.end().0 && other.start.0 < self.end().0
    }

    /// The range cut into the largest naturally aligned blocks, lowest
    /// first, as `memblock_free_pages()` hands memory to the buddy
    /// allocator at boot.
    pub const fn blocks(&self) -> Blocks {
        Blocks { next: self.start, end: self.end() }
    }
}

/// Iterator of [`PfnRange::blocks`]: `(start, order)` pairs.
#[derive(Clone, Debug)]
pub struct Blocks {
    next: Pfn,
    end: Pfn,
}

impl Iterator for Blocks {
    type Item = (Pfn, Order);

    fn next(&mut self) -> Option<Self::Item> {
        let left = self.end.0.checked_sub(self.next.0).filter(|&n| n > 0)?;
        let mut order = Order::MAX;
        while !self.next.is_aligned(order) || order.nr_pages() > left {
            // Order 0 is always aligned and never larger than `left`.
            order = Order(order.0 - 1);
        }
        let block = (self.next, order);
        self.next = Pfn(self.next.0 + order.nr_pages());
        Some(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pfn_phys_round_trip() {
        assert_eq!(Pfn::from_phys(0x1_0000_0fff), Pfn(0x10_0000));
        assert_eq!(Pfn(0x10_0000).phys(), 0x1_0000_0000);
    }

    #[test]
    fn order_bounds() {
        assert_eq!(Order::new(MAX_PAGE_ORDER), Some(Order::MAX));
        assert_eq!(Order::new(MAX_PAGE_ORDER + 1), None);
        assert_eq!(Order::MAX.next(), None);
        assert_eq!(Order::MAX.nr_pages(), MAX_ORDER_NR_PAGES);
    }

    #[test]
    fn order_for_pages_is_the_smallest_that_fits() {
        assert_eq!(Order::for_pages(0), Some(Order::ZERO));
        assert_eq!(Order::for_pages(1), Some(Order::ZERO));
        assert_eq!(Order::for_pages(2), Order::new(1));
        assert_eq!(Order::for_pages(3), Order::new(2));
        assert_eq!(Order::for_pages(1024), Some(Order::MAX));
        assert_eq!(Order::for_pages(1025), None);
        for nr in 1..=MAX_ORDER_NR_PAGES {
            let order = Order::for_pages(nr).unwrap();
            assert!(order.nr_pages() >= nr);
            assert!(order == Order::ZERO || order.nr_pages() / 2 < nr);
        }
    }

    #[test]
    fn buddy_is_the_other_half_of_the_parent() {
        for order in 0..MAX_PAGE_ORDER {
            let order = Order::new(order).unwrap();
            let parent = Order::new(order.get() + 1).unwrap();
            for pfn in (0..8 * MAX_ORDER_NR_PAGES).step_by(order.nr_pages()) {
                let pfn = Pfn(pfn);
                let buddy = find_buddy_pfn(pfn, order);
                assert_ne!(buddy, pfn);
                assert_eq!(find_buddy_pfn(buddy, order), pfn);
                assert_eq!(buddy.align_down(parent), pfn.align_down(parent));
            }
        }
    }

    #[test]
    fn mib_to_pages_checks_overflow() {
        assert_eq!(mib_to_pages(4), Some(1024));
        assert_eq!(mib_to_pages(usize::MAX), None);
    }

    #[test]
    fn ranges() {
        let a = PfnRange::new(Pfn(100), 10).unwrap();
        assert!(a.contains(Pfn(100)) && a.contains(Pfn(109)) && !a.contains(Pfn(110)));
        assert!(a.overlaps(&PfnRange::new(Pfn(109), 1).unwrap()));
        assert!(!a.overlaps(&PfnRange::new(Pfn(110), 5).unwrap()));
        assert!(!a.overlaps(&PfnRange::new(Pfn(90), 10).unwrap()));
        assert_eq!(PfnRange::new(Pfn(usize::MAX), 2), None);
    }

    #[test]
    fn blocks_cover_the_range_with_aligned_maximal_blocks() {
        // Unaligned at both ends, several max-order blocks in the middle.
        let range = PfnRange::new(Pfn(3), 5 * MAX_ORDER_NR_PAGES + 7).unwrap();
        let mut next = range.start;
        let mut count = 0;
        for (pfn, order) in range.blocks() {
            assert_eq!(pfn, next, "blocks are contiguous");
            assert!(pfn.is_aligned(order));
            // Maximal: the next order would be misaligned or overrun.
            if let Some(up) = order.next() {
                assert!(!pfn.is_aligned(up) || pfn.0 + up.nr_pages() > range.end().0);
            }
            next = Pfn(pfn.0 + order.nr_pages());
            count += 1;
        }
        assert_eq!(next, range.end());
        assert!(count >= 4);
        let empty = PfnRange::new(Pfn(5), 0).unwrap();
        assert_eq!(empty.blocks().next(), None);
        let aligned = PfnRange::new(Pfn(MAX_ORDER_NR_PAGES), 2 * MAX_ORDER_NR_PAGES).unwrap();
        assert_eq!(aligned.blocks().count(), 2);
    }
}
