// SPDX-License-Identifier: GPL-2.0

//! The line formats of the kernel's memory views, so zonemm's debugfs
//! files read exactly like them.
//!
//! Mirrors `mm/vmstat.c`: `frag_show_print()` (`/proc/buddyinfo`) and
//! `pagetypeinfo_show()` with its free-count and block-count parts
//! (`/proc/pagetypeinfo`).

use core::fmt::{
    Result,
    Write, //
};

use crate::{
    page_alloc::{
        MIGRATETYPE_NAMES,
        PAGEBLOCK_NR_PAGES,
        PAGEBLOCK_ORDER, //
    },
    pfn::NR_PAGE_ORDERS,
};

/// One `/proc/buddyinfo` line: free blocks per order.
pub fn buddyinfo_line(w: &mut impl Write, nid: usize, zone: &str, nr_free: &[usize; NR_PAGE_ORDERS]) -> Result {
    write!(w, "Node {nid}, zone {zone:>8} ")?;
    for n in nr_free {
        write!(w, "{n:6} ")?;
    }
    writeln!(w)
}

/// The head of one node's `/proc/pagetypeinfo`, up to and including the
/// free-count header line.
pub fn pagetypeinfo_head(w: &mut impl Write) -> Result {
    writeln!(w, "Page block order: {PAGEBLOCK_ORDER}")?;
    writeln!(w, "Pages per block:  {PAGEBLOCK_NR_PAGES}")?;
    writeln!(w)?;
    write!(w, "{:<43} ", "Free pages count per migrate type at order")?;
    for order in 0..NR_PAGE_ORDERS {
        write!(w, "{order:6} ")?;
    }
    writeln!(w)
}

/// One free-count line: free blocks of one migrate type per order (the
/// kernel caps its list walk at 100000 and prints `>100000`).
pub fn pagetypeinfo_free_line(
    w: &mut impl Write,
    nid: usize,
    zone: &str,
    mt: &str,
    counts: &[usize; NR_PAGE_ORDERS],
) -> Result {
    write!(w, "Node {nid:4}, zone {zone:>8}, type {mt:>12} ")?;
    for &n in counts {
        if n >= 100000 {
            write!(w, ">{:6} ", 100000)?;
        } else {
            write!(w, "{n:6} ")?;
        }
    }
    writeln!(w)
}

/// The block-count header line (after an empty line).
pub fn pagetypeinfo_blocks_head(w: &mut impl Write) -> Result {
    write!(w, "\n{:<23}", "Number of blocks type ")?;
    for name in MIGRATETYPE_NAMES {
        write!(w, "{name:>12} ")?;
    }
    writeln!(w)
}

/// One block-count line: pageblocks of each migrate type.
pub fn pagetypeinfo_blocks_line(
    w: &mut impl Write,
    nid: usize,
    zone: &str,
    counts: &[usize; MIGRATETYPE_NAMES.len()],
) -> Result {
    write!(w, "Node {nid}, zone {zone:>8} ")?;
    for n in counts {
        write!(w, "{n:12} ")?;
    }
    writeln!(w)
}

/// One cache's `/proc/slabinfo` numbers (`struct slabinfo`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabInfo {
    /// Objects in use.
    pub active_objs: usize,
    /// Objects in all slabs.
    pub num_objs: usize,
    /// Bytes per object slot (`s->size`).
    pub objsize: usize,
    /// Objects per slab.
    pub objperslab: usize,
    /// Pages per slab.
    pub pagesperslab: usize,
    /// Per-CPU cache `limit`.
    pub limit: usize,
    /// Per-CPU cache `batchcount`.
    pub batchcount: usize,
    /// Slabs with objects in use.
    pub active_slabs: usize,
    /// All slabs.
    pub num_slabs: usize,
}

/// The `/proc/slabinfo` header (`print_slabinfo_header()`).
pub fn slabinfo_header(w: &mut impl Write) -> Result {
    writeln!(w, "slabinfo - version: 2.1")?;
    write!(w, "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>")?;
    write!(w, " : tunables <limit> <batchcount> <sharedfactor>")?;
    writeln!(w, " : slabdata <active_slabs> <num_slabs> <sharedavail>")
}

/// One `/proc/slabinfo` row (`cache_show()`); zonemm has no shared caches.
pub fn slabinfo_line(w: &mut impl Write, name: &str, i: &SlabInfo) -> Result {
    write!(
        w,
        "{:<17} {:6} {:6} {:6} {:4} {:4}",
        name, i.active_objs, i.num_objs, i.objsize, i.objperslab, i.pagesperslab
    )?;
    write!(w, " : tunables {:4} {:4} {:4}", i.limit, i.batchcount, 0)?;
    writeln!(w, " : slabdata {:6} {:6} {:6}", i.active_slabs, i.num_slabs, 0)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::String;

    use super::*;

    #[test]
    fn buddyinfo_matches_the_kernel() {
        let mut s = String::new();
        let mut free = [0; NR_PAGE_ORDERS];
        free[0] = 3;
        free[10] = 1234567;
        buddyinfo_line(&mut s, 1, "Normal", &free).unwrap();
        assert_eq!(
            s,
            "Node 1, zone   Normal      3      0      0      0      0      0      0      0      0      0 1234567 \n"
        );
    }

    #[test]
    fn slabinfo_matches_the_kernel() {
        let mut s = String::new();
        slabinfo_header(&mut s).unwrap();
        let info = SlabInfo {
            active_objs: 3,
            num_objs: 64,
            objsize: 64,
            objperslab: 64,
            pagesperslab: 1,
            limit: 120,
            batchcount: 60,
            active_slabs: 1,
            num_slabs: 1,
        };
        slabinfo_line(&mut s, "kmalloc-64", &info).unwrap();
        assert_eq!(
            s,
            "slabinfo - version: 2.1\n\
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n\
kmalloc-64             3     64     64   64    1 : tunables  120   60    0 : slabdata      1      1      0\n"
        );
    }

    #[test]
    fn pagetypeinfo_matches_the_kernel() {
        let mut s = String::new();
        pagetypeinfo_head(&mut s).unwrap();
        let mut counts = [0; NR_PAGE_ORDERS];
        counts[9] = 2;
        counts[10] = 100001;
        pagetypeinfo_free_line(&mut s, 0, "DMA32", "Movable", &counts).unwrap();
        pagetypeinfo_blocks_head(&mut s).unwrap();
        pagetypeinfo_blocks_line(&mut s, 0, "DMA32", &[1, 7, 0, 0, 0, 0]).unwrap();
        let want = "Page block order: 9\n\
Pages per block:  512\n\
\n\
Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 \n\
Node    0, zone    DMA32, type      Movable      0      0      0      0      0      0      0      0      0      2 >100000 \n\
\n\
Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic          CMA      Isolate \n\
Node 0, zone    DMA32            1            7            0            0            0            0 \n";
        assert_eq!(s, want);
    }
}
