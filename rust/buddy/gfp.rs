// SPDX-License-Identifier: GPL-2.0

//! The buddy layer's allocation flags: the parts of `gfp_t`
//! (`include/linux/gfp_types.h`) that matter to zonemm, and
//! `numa_mem_id()` for the preferred node.

use crate::{
    helpers::zonemm_numa_mem_id,
    page_alloc::MigrateType,
    zone::ZoneType,
};

/// How to allocate: the GFP flags that matter to zonemm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags {
    /// The highest zone that may be used (`gfp_zone()`).
    pub(crate) highest: ZoneType,
    /// The migrate type (`gfp_migratetype()`).
    pub(crate) mt: MigrateType,
    /// Zero the block (`__GFP_ZERO`).
    pub(crate) zero: bool,
    /// May dip below the min watermark, as `GFP_ATOMIC` does. (No
    /// allocation here ever sleeps, atomic or not.)
    pub(crate) atomic: bool,
    /// The preferred node (`alloc_pages_node()`); else the current CPU's.
    pub(crate) node: Option<usize>,
    /// Only the preferred node (`__GFP_THISNODE`).
    pub(crate) this_node: bool,
}

impl Flags {
    /// `GFP_KERNEL`: unmovable, up to `Normal`, any node.
    pub(crate) const KERNEL: Self = Self {
        highest: ZoneType::Normal,
        mt: MigrateType::Unmovable,
        zero: false,
        atomic: false,
        node: None,
        this_node: false,
    };

    /// `GFP_HIGHUSER_MOVABLE`: movable, up to `Movable`.
    pub(crate) const MOVABLE: Self =
        Self { highest: ZoneType::Movable, mt: MigrateType::Movable, ..Self::KERNEL };

    /// `GFP_ATOMIC`.
    pub(crate) const ATOMIC: Self = Self { atomic: true, ..Self::KERNEL };

    /// The same, up to zone `highest` (`GFP_DMA32` and the like).
    pub(crate) const fn zone(self, highest: ZoneType) -> Self {
        Self { highest, ..self }
    }

    /// The same, as migrate type `mt`.
    pub(crate) const fn migratetype(self, mt: MigrateType) -> Self {
        Self { mt, ..self }
    }

    /// The same, preferring node `nid`.
    pub(crate) const fn node(self, nid: usize) -> Self {
        Self { node: Some(nid), ..self }
    }

    /// The same, only on node `nid`.
    pub(crate) const fn this_node(self, nid: usize) -> Self {
        Self { node: Some(nid), this_node: true, ..self }
    }

    /// The same, zeroed.
    pub(crate) const fn zeroed(self) -> Self {
        Self { zero: true, ..self }
    }

    /// The node to start the zonelist from: the one asked for, else the
    /// current CPU's, or the nearest with memory (`numa_mem_id()`).
    pub(super) fn preferred_node(&self) -> usize {
        // SAFETY: No preconditions.
        self.node.unwrap_or_else(|| unsafe { zonemm_numa_mem_id() } as usize)
    }
}

