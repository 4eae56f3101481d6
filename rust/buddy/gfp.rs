// SPDX-License-Identifier: GPL-2.0

//! The buddy layer's allocation flags: the parts of `gfp_t`
//! (`include/linux/gfp_types.h`) that matter to zonemm, what
//! `gfp_to_alloc_flags()` makes of them, and `numa_mem_id()` for the
//! preferred node.

use kernel::{
    bindings,
    prelude::*, //
};

use crate::{
    helpers::{
        zonemm_memalloc_restore,
        zonemm_memalloc_save,
        zonemm_numa_mem_id, //
    },
    page_alloc::MigrateType,
    watermark::Reserves,
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
    /// May use the reserves under the min watermark (`__GFP_HIGH`).
    pub(crate) high: bool,
    /// May sleep (`__GFP_DIRECT_RECLAIM`): a failing allocation then
    /// drains every CPU's lists, which waits for each CPU.
    pub(crate) may_sleep: bool,
    /// The preferred node (`alloc_pages_node()`); else `numa_mem_id()`.
    pub(crate) node: Option<usize>,
    /// Only the preferred node (`__GFP_THISNODE`).
    pub(crate) this_node: bool,
    /// May start I/O (`__GFP_IO`) and call into file systems (`__GFP_FS`)
    /// to reclaim: without them (`GFP_NOIO`, `GFP_NOFS`) the allocations
    /// made on the caller's behalf run in a `memalloc_noio_save()` or
    /// `memalloc_nofs_save()` scope.
    pub(crate) io: bool,
    pub(crate) fs: bool,
    /// Never fail (`__GFP_NOFAIL`): a caller that may sleep is retried
    /// until it succeeds; one that may not gets a warning and may fail, as
    /// `__alloc_pages_slowpath()` treats it.
    pub(crate) nofail: bool,
    /// Wake the pool's kswapd when the zones run low
    /// (`__GFP_KSWAPD_RECLAIM`: part of `GFP_KERNEL`, `GFP_ATOMIC` and
    /// `GFP_NOWAIT` alike).
    pub(crate) wake_kswapd: bool,
}

/// A `memalloc_noio/nofs_save()` scope, ended on drop.
pub(crate) struct MemallocScope(c_uint);

impl Drop for MemallocScope {
    fn drop(&mut self) {
        if self.0 != 0 {
            // SAFETY: Ends the scope `zonemm_memalloc_save()` began, on the
            // same task (the scope is not `Send`: it holds nothing, but is
            // only made and dropped in one function).
            unsafe { zonemm_memalloc_restore(self.0) };
        }
    }
}

impl Flags {
    /// `GFP_KERNEL`: unmovable, up to `Normal`, any node.
    pub(crate) const KERNEL: Self = Self {
        highest: ZoneType::Normal,
        mt: MigrateType::Unmovable,
        zero: false,
        high: false,
        may_sleep: true,
        node: None,
        this_node: false,
        io: true,
        fs: true,
        nofail: false,
        wake_kswapd: true,
    };

    /// `GFP_HIGHUSER_MOVABLE`: movable, up to `Movable`.
    pub(crate) const MOVABLE: Self =
        Self { highest: ZoneType::Movable, mt: MigrateType::Movable, ..Self::KERNEL };

    /// `GFP_ATOMIC`: never sleeps, may use reserves.
    pub(crate) const ATOMIC: Self = Self { high: true, may_sleep: false, ..Self::KERNEL };

    /// `GFP_NOWAIT`: never sleeps, no reserves.
    pub(crate) const NOWAIT: Self = Self { may_sleep: false, ..Self::KERNEL };

    /// The flags of a C caller's `gfp_t`: the zone modifiers as
    /// `gfp_zone()` reads them (`__GFP_DMA`, `__GFP_DMA32`, and
    /// `__GFP_MOVABLE` only with `__GFP_HIGHMEM` for `ZONE_MOVABLE`),
    /// `__GFP_MOVABLE` for the migrate type, `__GFP_DIRECT_RECLAIM`,
    /// `__GFP_HIGH`, `__GFP_IO`, `__GFP_FS`, `__GFP_ZERO` and
    /// `__GFP_THISNODE` (with `node`, else `numa_mem_id()`'s node),
    /// `__GFP_NOFAIL` and `__GFP_KSWAPD_RECLAIM`. Other bits are ignored.
    pub(crate) fn from_gfp(gfp: u32, node: Option<usize>) -> Self {
        let bit = |b: u32| gfp >> b & 1 != 0;
        let movable = bit(bindings::___GFP_MOVABLE_BIT);
        let highest = if bit(bindings::___GFP_DMA_BIT) {
            ZoneType::Dma
        } else if bit(bindings::___GFP_DMA32_BIT) {
            ZoneType::Dma32
        } else if movable && bit(bindings::___GFP_HIGHMEM_BIT) {
            ZoneType::Movable
        } else {
            ZoneType::Normal
        };
        Self {
            highest,
            mt: if movable { MigrateType::Movable } else { MigrateType::Unmovable },
            zero: bit(bindings::___GFP_ZERO_BIT),
            high: bit(bindings::___GFP_HIGH_BIT),
            may_sleep: bit(bindings::___GFP_DIRECT_RECLAIM_BIT),
            node,
            this_node: bit(bindings::___GFP_THISNODE_BIT),
            io: bit(bindings::___GFP_IO_BIT),
            fs: bit(bindings::___GFP_FS_BIT),
            nofail: bit(bindings::___GFP_NOFAIL_BIT),
            wake_kswapd: bit(bindings::___GFP_KSWAPD_RECLAIM_BIT),
        }
    }

    /// The `memalloc_noio/nofs_save()` scope a caller without `__GFP_IO`
    /// or `__GFP_FS` needs around allocations made for it with
    /// [`Flags::kernel_gfp`]; nothing for others.
    pub(crate) fn memalloc_scope(&self) -> MemallocScope {
        if !self.may_sleep || (self.io && self.fs) {
            return MemallocScope(0);
        }
        let gfp = (self.io as u32) << bindings::___GFP_IO_BIT | (self.fs as u32) << bindings::___GFP_FS_BIT;
        // SAFETY: No preconditions; ended by the scope's drop.
        MemallocScope(unsafe { zonemm_memalloc_save(gfp) })
    }

    /// The slow path's reserves (`gfp_to_alloc_flags()`): `__GFP_HIGH`
    /// gives `ALLOC_MIN_RESERVE`, and without `__GFP_DIRECT_RECLAIM` also
    /// `ALLOC_NON_BLOCK`.
    pub(crate) fn reserves(&self) -> Reserves {
        match (self.high, self.may_sleep) {
            (false, _) => Reserves::None,
            (true, true) => Reserves::Min,
            (true, false) => Reserves::Atomic,
        }
    }

    /// The flags for the kernel allocator's own bookkeeping allocations
    /// made on behalf of an allocation with these flags (inside
    /// [`Flags::memalloc_scope`], which narrows `GFP_KERNEL` as the caller's
    /// `__GFP_IO`/`__GFP_FS` ask).
    ///
    /// `__GFP_NOFAIL` is not passed on (the kernel crate's flags have no
    /// such bit): these are small `GFP_KERNEL` allocations, which the
    /// kernel's allocator does not fail ("too small to fail").
    pub(crate) fn kernel_gfp(&self) -> kernel::alloc::Flags {
        match (self.may_sleep, self.high) {
            (true, _) => kernel::alloc::flags::GFP_KERNEL,
            (false, true) => kernel::alloc::flags::GFP_ATOMIC,
            (false, false) => kernel::alloc::flags::GFP_NOWAIT,
        }
    }


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

    /// The same without reclaim: no sleep, no kswapd wakeup (an
    /// opportunistic try with a fallback, `__GFP_DIRECT_RECLAIM` and
    /// `__GFP_KSWAPD_RECLAIM` cleared).
    pub(crate) const fn no_reclaim(self) -> Self {
        Self { may_sleep: false, wake_kswapd: false, ..self }
    }

    /// The node to start the zonelist from: the one asked for, else
    /// `numa_mem_id()` (this CPU's node, or the nearest with memory if it
    /// has none).
    pub(super) fn preferred_node(&self) -> usize {
        // SAFETY: No preconditions.
        self.node.unwrap_or_else(|| unsafe { zonemm_numa_mem_id() } as usize)
    }
}

