// SPDX-License-Identifier: GPL-2.0

//! Zonelists: the zones an allocation may use, best first.
//!
//! Mirrors `build_zonelists()` in `mm/page_alloc.c` with node ordering:
//! the preferred node's zones from the highest the allocation allows down
//! (`MOVABLE`, `NORMAL`, `DMA32`, `DMA`), then each other node's the same
//! way; and `__GFP_THISNODE`, which stops after the preferred node. With
//! no SLIT distances to go by, other nodes follow in id order from the
//! preferred one.

use crate::zone::ZoneType;

/// The `(node, zone)` pairs to try for an allocation preferring node
/// `preferred` (of `nr_nodes`) whose highest usable zone is `highest`.
pub fn zonelist(
    preferred: usize,
    nr_nodes: usize,
    highest: ZoneType,
    this_node: bool,
) -> impl Iterator<Item = (usize, ZoneType)> {
    let nodes = if this_node { 1.min(nr_nodes) } else { nr_nodes };
    (0..nodes).flat_map(move |i| {
        let nid = (preferred + i) % nr_nodes;
        ZoneType::ALL[..=highest.index()].iter().rev().map(move |&zone| (nid, zone))
    })
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec::Vec;

    use super::*;
    use ZoneType::*;

    #[test]
    fn local_node_first_highest_zone_first() {
        let list: Vec<_> = zonelist(1, 2, Movable, false).collect();
        assert_eq!(
            list,
            [
                (1, Movable),
                (1, Normal),
                (1, Dma32),
                (1, Dma),
                (0, Movable),
                (0, Normal),
                (0, Dma32),
                (0, Dma)
            ]
        );
    }

    #[test]
    fn highest_zone_and_this_node_restrict() {
        let list: Vec<_> = zonelist(0, 2, Dma32, true).collect();
        assert_eq!(list, [(0, Dma32), (0, Dma)]);
        assert_eq!(zonelist(0, 0, Normal, false).count(), 0);
    }
}
