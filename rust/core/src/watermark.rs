// SPDX-License-Identifier: GPL-2.0

//! Zone watermarks and `lowmem_reserve`, and the check an allocation makes
//! against them.
//!
//! Mirrors `mm/page_alloc.c`: `calculate_min_free_kbytes()`,
//! `__setup_per_zone_wmarks()`, `setup_per_zone_lowmem_reserve()` with
//! `sysctl_lowmem_reserve_ratio[]`, and `__zone_watermark_ok()`.

use crate::{
    pfn::{
        Order,
        PAGE_SHIFT,
        NR_PAGE_ORDERS, //
    },
    zone::MAX_NR_ZONES,
};

/// `watermark_scale_factor`'s default: the low-to-high gaps are 0.1% of
/// the zone.
pub const WATERMARK_SCALE_FACTOR: usize = 10;

/// `SWAP_CLUSTER_MAX`: the least `min` of a Movable zone.
pub const SWAP_CLUSTER_MAX: usize = 32;

/// `sysctl_lowmem_reserve_ratio[]`: DMA, DMA32, Normal, Movable.
pub const LOWMEM_RESERVE_RATIO: [usize; MAX_NR_ZONES] = [256, 256, 32, 0];

/// Which watermark an allocation must stay above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// `WMARK_MIN`.
    Min,
    /// `WMARK_LOW`.
    Low,
    /// `WMARK_HIGH`.
    High,
}

/// A zone's watermarks, in pages (`_watermark[]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watermarks {
    /// `min_wmark_pages()`.
    pub min: usize,
    /// `low_wmark_pages()`.
    pub low: usize,
    /// `high_wmark_pages()`.
    pub high: usize,
}

impl Watermarks {
    /// The watermark `mark`.
    pub const fn get(&self, mark: Mark) -> usize {
        match mark {
            Mark::Min => self.min,
            Mark::Low => self.low,
            Mark::High => self.high,
        }
    }

    /// `__setup_per_zone_wmarks()` for one zone of `managed` pages, where
    /// `lowmem_pages` are the managed pages of every zone but the Movable
    /// ones. The zone's share of `min_free_kbytes` (`managed` over
    /// `lowmem_pages`) is its `min`, except in a Movable zone, whose `min`
    /// is clamped to `managed / 1024` within 32 and 128 pages (atomic and
    /// reclaim allocations do not use it); `low` and `high` add one and two
    /// gaps of the larger of a quarter of the share and 0.1% of the zone.
    pub const fn new(min_free_kbytes: usize, managed: usize, lowmem_pages: usize, movable: bool) -> Self {
        let pages_min = min_free_kbytes >> (PAGE_SHIFT - 10);
        // 64-bit maths: pages_min * managed fits for any real machine. With
        // no lowmem at all (the kernel always has some) the share is 0.
        let share = if lowmem_pages == 0 {
            0
        } else {
            (pages_min as u64 * managed as u64 / lowmem_pages as u64) as usize
        };
        let min = if movable {
            let pages = managed / 1024;
            if pages < SWAP_CLUSTER_MAX {
                SWAP_CLUSTER_MAX
            } else if pages > 128 {
                128
            } else {
                pages
            }
        } else {
            share
        };
        let scaled = managed * WATERMARK_SCALE_FACTOR / 10000;
        let gap = if share / 4 > scaled { share / 4 } else { scaled };
        Self { min, low: min + gap, high: min + 2 * gap }
    }
}

/// `calculate_min_free_kbytes()`: `sqrt(lowmem_kbytes * 16)`, kept within
/// 128 KiB and 256 MiB.
pub const fn default_min_free_kbytes(lowmem_pages: usize) -> usize {
    let kbytes = lowmem_pages << (PAGE_SHIFT - 10);
    let v = int_sqrt(kbytes * 16);
    if v < 128 {
        128
    } else if v > 262144 {
        262144
    } else {
        v
    }
}

/// `int_sqrt()`: the integer square root, rounded down.
pub const fn int_sqrt(x: usize) -> usize {
    if x < 2 {
        return x;
    }
    // Newton's method from above.
    let mut r = x;
    let mut next = (r + x / r) / 2;
    while next < r {
        r = next;
        next = (r + x / r) / 2;
    }
    r
}

/// `setup_per_zone_lowmem_reserve()` for one node: `reserve[i][j]` is what
/// zone `i` keeps back from an allocation that could have used zone `j`:
/// the managed pages of zones `i+1..=j` over zone `i`'s ratio.
pub fn lowmem_reserve(managed: &[usize; MAX_NR_ZONES]) -> [[usize; MAX_NR_ZONES]; MAX_NR_ZONES] {
    let mut reserve = [[0; MAX_NR_ZONES]; MAX_NR_ZONES];
    for i in 0..MAX_NR_ZONES {
        let ratio = LOWMEM_RESERVE_RATIO[i];
        let clear = ratio == 0 || managed[i] == 0;
        let mut upper = 0;
        for j in i + 1..MAX_NR_ZONES {
            upper += managed[j];
            reserve[i][j] = if clear { 0 } else { upper / ratio };
        }
    }
    reserve
}

/// How far under a watermark an allocation may go: the reserve bits of
/// `alloc_flags` that `gfp_to_alloc_flags()` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reserves {
    /// None (the fast path, and every caller without `__GFP_HIGH`).
    None,
    /// `ALLOC_MIN_RESERVE` (`__GFP_HIGH` for a caller that may sleep):
    /// half the mark.
    Min,
    /// `ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK` (`GFP_ATOMIC`): a half and
    /// then a quarter of what is left.
    Atomic,
}

/// `__zone_watermark_ok()`: whether a zone with `free_pages` free can give
/// a block of `order` and stay above `mark` (lowered by `reserves`) plus
/// its `reserve` for the allocation's highest zone. `nr_free(o)` gives the
/// zone's free blocks of order `o`.
pub fn watermark_ok(
    free_pages: usize,
    order: Order,
    mark: usize,
    reserve: usize,
    reserves: Reserves,
    nr_free: impl Fn(usize) -> usize,
) -> bool {
    let free = free_pages as isize - (order.nr_pages() as isize - 1);
    let mut min = mark as isize;
    if reserves != Reserves::None {
        min -= min / 2;
        if reserves == Reserves::Atomic {
            min -= min / 4;
        }
    }
    if free <= min + reserve as isize {
        return false;
    }
    order.get() == 0 || (order.index()..NR_PAGE_ORDERS).any(|o| nr_free(o) > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_sqrt_rounds_down() {
        for x in 0..10_000usize {
            let r = int_sqrt(x);
            assert!(r * r <= x && (r + 1) * (r + 1) > x, "{x}");
        }
    }

    #[test]
    fn get_names_each_mark() {
        let w = Watermarks { min: 3, low: 5, high: 7 };
        assert_eq!([w.get(Mark::Min), w.get(Mark::Low), w.get(Mark::High)], [3, 5, 7]);
    }

    #[test]
    fn min_free_kbytes_default_is_clamped() {
        assert_eq!(default_min_free_kbytes(0), 128);
        // 48 MiB: sqrt(49152 * 16) = 886.
        assert_eq!(default_min_free_kbytes(12288), 886);
        assert_eq!(default_min_free_kbytes(usize::MAX >> 20), 262144);
    }

    #[test]
    fn watermarks_split_min_free_kbytes_by_zone_size() {
        // 1024 kB = 256 pages over a 3:1 split.
        let big = Watermarks::new(1024, 6144, 8192, false);
        let small = Watermarks::new(1024, 2048, 8192, false);
        assert_eq!(big.min + small.min, 256);
        assert_eq!(big.min, 192);
        // min/4 = 48 beats 0.1% of the zone.
        assert_eq!(big.low, 240);
        assert_eq!(big.high, 288);
        // A huge zone's gap is 0.1% of it.
        let huge = Watermarks::new(1024, 1 << 20, 1 << 20, false);
        assert_eq!(huge.low - huge.min, (1 << 20) * 10 / 10000);
        assert_eq!(Watermarks::new(1024, 0, 0, false), Watermarks::default());
    }

    #[test]
    fn a_movable_zone_has_its_own_min_and_no_share_of_lowmem() {
        // By hand from __setup_per_zone_wmarks(): min_free_kbytes 2048
        // (512 pages); DMA32 6144 and Normal 2048 managed (lowmem 8192),
        // Movable 4096.
        //   DMA32:   tmp = 512 * 6144 / 8192 = 384; min 384; gap
        //            max(384 >> 2, 6144 * 10 / 10000 = 6) = 96.
        //   Normal:  tmp = 512 * 2048 / 8192 = 128; min 128; gap 32.
        //   Movable: tmp = 512 * 4096 / 8192 = 256; min = clamp(4096 /
        //            1024 = 4, 32, 128) = 32; gap max(64, 4) = 64.
        let dma32 = Watermarks::new(2048, 6144, 8192, false);
        let normal = Watermarks::new(2048, 2048, 8192, false);
        let movable = Watermarks::new(2048, 4096, 8192, true);
        assert_eq!(dma32, Watermarks { min: 384, low: 480, high: 576 });
        assert_eq!(normal, Watermarks { min: 128, low: 160, high: 192 });
        assert_eq!(movable, Watermarks { min: 32, low: 96, high: 160 });
        // The lowmem zones' mins add up to min_free_kbytes exactly.
        assert_eq!(dma32.min + normal.min, 512);
        // The clamp's other end: 1 GiB of Movable has min 128, not 256.
        assert_eq!(Watermarks::new(2048, 1 << 18, 8192, true).min, 128);
        assert_eq!(Watermarks::new(2048, 64 << 10, 8192, true).min, 64);
        // No lowmem at all: no share, only the clamp and the 0.1% gap.
        assert_eq!(Watermarks::new(2048, 1 << 18, 0, true), Watermarks { min: 128, low: 390, high: 652 });
    }

    #[test]
    fn lowmem_reserve_follows_the_ratios() {
        // DMA32 4096, Normal 8192, Movable 1024.
        let r = lowmem_reserve(&[0, 4096, 8192, 1024]);
        assert_eq!(r[0], [0; MAX_NR_ZONES], "an empty zone reserves nothing");
        assert_eq!(r[1][2], 8192 / 256);
        assert_eq!(r[1][3], (8192 + 1024) / 256);
        assert_eq!(r[2][3], 1024 / 32);
        assert_eq!(r[3], [0; MAX_NR_ZONES], "movable's ratio is 0");
        assert_eq!(r[1][1], 0, "a zone reserves nothing from its own users");
    }

    #[test]
    fn watermark_ok_counts_order_reserve_and_atomic() {
        let zero = Order::ZERO;
        let some = |_| 1;
        assert!(watermark_ok(101, zero, 100, 0, Reserves::None, some));
        assert!(!watermark_ok(100, zero, 100, 0, Reserves::None, some));
        assert!(!watermark_ok(101, zero, 100, 1, Reserves::None, some));
        // Atomic may dip to 100 - 50 - 12 = 38.
        assert!(watermark_ok(39, zero, 100, 0, Reserves::Atomic, some));
        assert!(!watermark_ok(38, zero, 100, 0, Reserves::Atomic, some));
        assert!(watermark_ok(51, zero, 100, 0, Reserves::Min, some));
        assert!(!watermark_ok(50, zero, 100, 0, Reserves::Min, some));
        // Order 3 needs 7 more pages and a free block of order >= 3.
        let o3 = Order::new(3).unwrap();
        assert!(!watermark_ok(107, o3, 100, 0, Reserves::None, some));
        assert!(watermark_ok(108, o3, 100, 0, Reserves::None, some));
        assert!(!watermark_ok(1000, o3, 100, 0, Reserves::None, |o| usize::from(o < 3)));
    }
}
