// SPDX-License-Identifier: GPL-2.0

//! Zone types and the physical boundaries between them.
//!
//! Mirrors `enum zone_type` of `include/linux/mmzone.h`, its names in
//! `mm/page_alloc.c` (`zone_names[]`), and the x86-64 limits
//! `MAX_DMA_PFN` and `MAX_DMA32_PFN` of `arch/x86/include/asm/dma.h`.

use crate::pfn::{
    Pfn,
    PfnRange, //
};

/// The first frame above the DMA zone: 16 MiB (`MAX_DMA_PFN`).
pub const MAX_DMA_PFN: Pfn = Pfn((16 << 20) >> crate::pfn::PAGE_SHIFT);

/// The first frame above the DMA32 zone: 4 GiB (`MAX_DMA32_PFN`).
pub const MAX_DMA32_PFN: Pfn = Pfn(1 << (32 - crate::pfn::PAGE_SHIFT));

/// A zone type, in the kernel's order: lower zones first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZoneType {
    /// Below 16 MiB, for ISA-style DMA.
    Dma,
    /// Below 4 GiB, for 32-bit DMA.
    Dma32,
    /// Everything else.
    Normal,
    /// Carved out of a node's memory by configuration, for movable pages.
    Movable,
}

/// Number of zone types (`MAX_NR_ZONES`).
pub const MAX_NR_ZONES: usize = 4;

impl ZoneType {
    /// Every zone type, lowest first.
    pub const ALL: [Self; MAX_NR_ZONES] = [Self::Dma, Self::Dma32, Self::Normal, Self::Movable];

    /// The kernel's name for the zone (`zone_names[]`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Dma => "DMA",
            Self::Dma32 => "DMA32",
            Self::Normal => "Normal",
            Self::Movable => "Movable",
        }
    }

    /// The zone type called `name`, as the kernel spells it (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|zone| zone.name().eq_ignore_ascii_case(name))
    }

    /// The zone's index (`zone_idx`).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The zone a frame falls in by address alone. Never `Movable`: that
    /// zone is carved out by configuration, not by address.
    pub const fn for_pfn(pfn: Pfn) -> Self {
        if pfn.0 < MAX_DMA_PFN.0 {
            Self::Dma
        } else if pfn.0 < MAX_DMA32_PFN.0 {
            Self::Dma32
        } else {
            Self::Normal
        }
    }

    /// The address zone of a whole range, or `None` if it is empty or
    /// straddles a zone boundary.
    pub const fn for_range(range: &PfnRange) -> Option<Self> {
        if range.nr_pages == 0 {
            return None;
        }
        let first = Self::for_pfn(range.start);
        let last = Self::for_pfn(Pfn(range.end().0 - 1));
        if first as usize == last as usize {
            Some(first)
        } else {
            None
        }
    }
}

/// What the source layer takes from a node without a CMA chunk, by the
/// node's memory states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeSource {
    /// A CMA chunk already covers the node.
    Cma,
    /// No memory (not in `N_MEMORY`): nothing; its CPUs allocate from the
    /// nearest node with memory (`numa_mem_id()`).
    Memoryless,
    /// Memory only in `ZONE_MOVABLE` (`N_MEMORY` without
    /// `N_NORMAL_MEMORY`): nothing, since pages taken for good are
    /// unmovable.
    MovableOnly,
    /// `node_mb` from the page allocator.
    Pages,
}

/// The walk of `for_each_node_state(nid, N_MEMORY)`, for one node.
pub const fn node_source(has_memory: bool, has_normal_memory: bool, has_cma_chunk: bool) -> NodeSource {
    if has_cma_chunk {
        NodeSource::Cma
    } else if !has_memory {
        NodeSource::Memoryless
    } else if !has_normal_memory {
        NodeSource::MovableOnly
    } else {
        NodeSource::Pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pfn::{
        Order,
        MAX_ORDER_NR_PAGES, //
    };

    #[test]
    fn nodes_give_pages_only_with_normal_memory() {
        use NodeSource::*;
        // (N_MEMORY, N_NORMAL_MEMORY, CMA chunk) -> what is taken.
        for (memory, normal, cma, want) in [
            (true, true, true, Cma),
            (true, true, false, Pages),
            (true, false, false, MovableOnly),
            (false, false, false, Memoryless),
            (true, false, true, Cma),
        ] {
            assert_eq!(node_source(memory, normal, cma), want, "{memory} {normal} {cma}");
        }
    }

    #[test]
    fn boundaries_match_the_kernel() {
        assert_eq!(ZoneType::for_pfn(Pfn(0)), ZoneType::Dma);
        assert_eq!(ZoneType::for_pfn(Pfn(4095)), ZoneType::Dma);
        assert_eq!(ZoneType::for_pfn(Pfn(4096)), ZoneType::Dma32);
        assert_eq!(ZoneType::for_pfn(Pfn::from_phys((4 << 30) - 1)), ZoneType::Dma32);
        assert_eq!(ZoneType::for_pfn(Pfn::from_phys(4 << 30)), ZoneType::Normal);
    }

    #[test]
    fn names_round_trip() {
        for zone in ZoneType::ALL {
            assert_eq!(ZoneType::from_name(zone.name()), Some(zone));
            assert_eq!(ZoneType::ALL[zone.index()], zone);
        }
        assert_eq!(ZoneType::from_name("normal"), Some(ZoneType::Normal));
        assert_eq!(ZoneType::from_name("HighMem"), None);
    }

    #[test]
    fn ranges_straddling_a_boundary_have_no_zone() {
        let below = PfnRange::new(Pfn(MAX_DMA32_PFN.0 - 8), 8).unwrap();
        assert_eq!(ZoneType::for_range(&below), Some(ZoneType::Dma32));
        let across = PfnRange::new(Pfn(MAX_DMA32_PFN.0 - 8), 9).unwrap();
        assert_eq!(ZoneType::for_range(&across), None);
        assert_eq!(ZoneType::for_range(&PfnRange::new(Pfn(0), 0).unwrap()), None);
    }

    #[test]
    fn max_order_blocks_never_straddle_zones() {
        // Both boundaries are multiples of the largest block.
        for boundary in [MAX_DMA_PFN, MAX_DMA32_PFN] {
            assert!(boundary.is_aligned(Order::MAX));
            let block = PfnRange::new(Pfn(boundary.0 - MAX_ORDER_NR_PAGES), MAX_ORDER_NR_PAGES);
            assert!(ZoneType::for_range(&block.unwrap()).is_some());
        }
    }
}
