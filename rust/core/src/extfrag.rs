// SPDX-License-Identifier: GPL-2.0

//! External fragmentation of a zone's free memory, as the kernel measures
//! it for `/sys/kernel/debug/extfrag/`.
//!
//! Mirrors `mm/vmstat.c`: `fill_contig_page_info()` (free pages, free
//! blocks, and blocks big enough for an order), `unusable_free_index()`
//! (the share of free memory in blocks too small for an order) and
//! `__fragmentation_index()` (whether an order's allocation would fail for
//! lack of memory, towards 0, or for fragmentation, towards 1000; -1000
//! when it would succeed), with the two files' line formats.

use core::fmt::{
    Result,
    Write, //
};

use crate::pfn::{
    MAX_PAGE_ORDER,
    NR_PAGE_ORDERS, //
};

/// `struct contig_page_info`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContigPageInfo {
    /// Free base pages.
    pub free_pages: u64,
    /// Free blocks of any order.
    pub free_blocks_total: u64,
    /// Free blocks of the suitable order that the free blocks hold.
    pub free_blocks_suitable: u64,
}

/// `fill_contig_page_info()` for `suitable_order`, from the free blocks
/// per order (`free_area[order].nr_free`).
pub fn fill_contig_page_info(nr_free: &[usize; NR_PAGE_ORDERS], suitable_order: usize) -> ContigPageInfo {
    let mut info = ContigPageInfo::default();
    for (order, &blocks) in nr_free.iter().enumerate() {
        let blocks = blocks as u64;
        info.free_blocks_total += blocks;
        info.free_pages += blocks << order;
        if order >= suitable_order {
            info.free_blocks_suitable += blocks << (order - suitable_order);
        }
    }
    info
}

/// `unusable_free_index()`: thousandths of the free memory unusable for
/// an allocation of `order` (1000 with no free memory at all).
pub fn unusable_free_index(order: usize, info: &ContigPageInfo) -> i32 {
    if info.free_pages == 0 {
        return 1000;
    }
    ((info.free_pages - (info.free_blocks_suitable << order)) * 1000 / info.free_pages) as i32
}

/// `__fragmentation_index()`: for an allocation of `order` that would
/// fail, 0 (lack of memory) to 1000 (fragmentation); -1000 if it would
/// succeed; 0 with no free blocks, or for an order past
/// `MAX_PAGE_ORDER`.
pub fn fragmentation_index(order: usize, info: &ContigPageInfo) -> i32 {
    if order > MAX_PAGE_ORDER as usize || info.free_blocks_total == 0 {
        return 0;
    }
    if info.free_blocks_suitable != 0 {
        return -1000;
    }
    let requested = 1u64 << order;
    1000 - ((1000 + info.free_pages * 1000 / requested) / info.free_blocks_total) as i32
}

/// One `unusable_index` line (`unusable_show_print()`).
pub fn unusable_index_line(w: &mut impl Write, nid: usize, zone: &str, nr_free: &[usize; NR_PAGE_ORDERS]) -> Result {
    write!(w, "Node {nid}, zone {zone:>8} ")?;
    for order in 0..NR_PAGE_ORDERS {
        let index = unusable_free_index(order, &fill_contig_page_info(nr_free, order));
        write!(w, "{}.{:03} ", index / 1000, index % 1000)?;
    }
    writeln!(w)
}

/// One `extfrag_index` line (`extfrag_show_print()`).
pub fn extfrag_index_line(w: &mut impl Write, nid: usize, zone: &str, nr_free: &[usize; NR_PAGE_ORDERS]) -> Result {
    write!(w, "Node {nid}, zone {zone:>8} ")?;
    for order in 0..NR_PAGE_ORDERS {
        let index = fragmentation_index(order, &fill_contig_page_info(nr_free, order));
        // The kernel's `%2d.%03d` of `index / 1000` and `index % 1000`.
        write!(w, "{:2}.{:03} ", index / 1000, index % 1000)?;
    }
    writeln!(w)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::String;

    use super::*;

    /// 10 single pages, 5 order-1 blocks and one order-3 block: 28 free
    /// pages in 16 blocks.
    fn sample() -> [usize; NR_PAGE_ORDERS] {
        let mut nr_free = [0; NR_PAGE_ORDERS];
        nr_free[0] = 10;
        nr_free[1] = 5;
        nr_free[3] = 1;
        nr_free
    }

    #[test]
    fn contig_page_info_counts_as_the_kernel() {
        let f = sample();
        assert_eq!(
            fill_contig_page_info(&f, 0),
            ContigPageInfo { free_pages: 28, free_blocks_total: 16, free_blocks_suitable: 28 }
        );
        // Order 1: the five order-1 blocks and the four in the order-3 one.
        assert_eq!(fill_contig_page_info(&f, 1).free_blocks_suitable, 9);
        assert_eq!(fill_contig_page_info(&f, 2).free_blocks_suitable, 2);
        assert_eq!(fill_contig_page_info(&f, 3).free_blocks_suitable, 1);
        assert_eq!(fill_contig_page_info(&f, 4).free_blocks_suitable, 0);
    }

    #[test]
    fn unusable_index_by_hand() {
        let f = sample();
        let u = |o| unusable_free_index(o, &fill_contig_page_info(&f, o));
        // (28 - 9 * 2) * 1000 / 28 = 357; (28 - 2 * 4) * 1000 / 28 = 714;
        // (28 - 1 * 8) * 1000 / 28 = 714; nothing of order 4 or more.
        assert_eq!([u(0), u(1), u(2), u(3), u(4), u(10)], [0, 357, 714, 714, 1000, 1000]);
        assert_eq!(unusable_free_index(0, &ContigPageInfo::default()), 1000);
    }

    #[test]
    fn fragmentation_index_by_hand() {
        let f = sample();
        let x = |o| fragmentation_index(o, &fill_contig_page_info(&f, o));
        // Orders 0..=3 would succeed. Order 4: 1000 - (1000 + 28000 / 16)
        // / 16 = 1000 - 2750 / 16 = 829; order 10: 1000 - (1000 + 28000
        // / 1024) / 16 = 1000 - 1027 / 16 = 936.
        assert_eq!([x(0), x(3), x(4), x(10)], [-1000, -1000, 829, 936]);
        assert_eq!(fragmentation_index(4, &ContigPageInfo::default()), 0);
        assert_eq!(fragmentation_index(11, &fill_contig_page_info(&f, 0)), 0);
    }

    #[test]
    fn lines_match_the_kernel() {
        let mut s = String::new();
        unusable_index_line(&mut s, 1, "Normal", &sample()).unwrap();
        assert_eq!(
            s,
            "Node 1, zone   Normal 0.000 0.357 0.714 0.714 1.000 1.000 1.000 1.000 1.000 1.000 1.000 \n"
        );
        s.clear();
        extfrag_index_line(&mut s, 0, "DMA32", &sample()).unwrap();
        assert_eq!(
            s,
            "Node 0, zone    DMA32 -1.000 -1.000 -1.000 -1.000  0.829  0.883  0.911  0.924  0.931  0.935  0.936 \n"
        );
        s.clear();
        extfrag_index_line(&mut s, 0, "DMA", &[0; NR_PAGE_ORDERS]).unwrap();
        assert_eq!(s, std::format!("Node 0, zone      DMA {}\n", " 0.000 ".repeat(NR_PAGE_ORDERS)));
    }
}
