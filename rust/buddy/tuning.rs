// SPDX-License-Identifier: GPL-2.0

//! The pool's tuning and bookkeeping: `min_free_kbytes` and what follows
//! from it (`min_free_kbytes_sysctl_handler()` calling
//! `setup_per_zone_wmarks()`, which ends in `zone_pcp_update()`, and
//! `setup_per_zone_lowmem_reserve()`), the per-CPU lists' `high` and
//! `batch` (`percpu_pagelist_high_fraction`'s handler: a `high` set by hand
//! makes `high_min == high_max`, which stops its auto-tuning), and the
//! bytes of metadata kept per page.
//!
//! The writers take `Pool::tuning`, a mutex: they sleep, and are called
//! from process context only (debugfs writes, `Pool::new`).

use kernel::{
    prelude::*,
    sync::atomic::Relaxed,
};

use super::{
    zone::Zone,
    Pool,
};
use crate::{
    pfn::PAGE_SHIFT,
    watermark::{
        lowmem_reserve,
        Watermarks, //
    },
    zone::{
        ZoneType,
        MAX_NR_ZONES, //
    },
};

/// Bytes of bookkeeping the pool keeps, by kind.
#[derive(Default, Clone, Copy)]
pub(crate) struct Metadata {
    /// The zones' page arrays (`PageMeta`, padding included).
    pub(crate) page_meta: usize,
    /// The source layer's owner words (`page->private`'s counterpart).
    pub(crate) owner_words: usize,
    /// Per-CPU lists: their locks, headers and rings.
    pub(crate) pcp: usize,
    /// Slot maps, chunk and node tables, zone headers.
    pub(crate) maps: usize,
}

impl Metadata {
    /// All of it.
    pub(crate) fn total(&self) -> usize {
        self.page_meta + self.owner_words + self.pcp + self.maps
    }
}

impl Pool {
    /// Managed pages of every zone but the Movable ones (the kernel's
    /// `lowmem_pages`, without highmem): they share `min_free_kbytes`.
    pub(super) fn lowmem_pages(&self) -> usize {
        self.zones().filter(|z| z.ztype() != ZoneType::Movable).map(|z| z.managed()).sum()
    }

    /// `min_free_kbytes`.
    pub(crate) fn min_free_kbytes(&self) -> usize {
        self.min_free_kbytes.load(Relaxed)
    }

    /// Sets `min_free_kbytes` and recomputes every zone's watermarks.
    /// Refuses (`EINVAL`) more than the pool holds.
    pub(crate) fn set_min_free_kbytes(&self, kbytes: usize) -> Result {
        if kbytes > self.managed() << (PAGE_SHIFT - 10) {
            pr_err!("min_free_kbytes={kbytes}: more than the pool holds\n");
            return Err(EINVAL);
        }
        let _guard = self.tuning.lock();
        self.growth.set_user_min_free_kbytes(kbytes);
        self.setup_watermarks(kbytes);
        Ok(())
    }

    /// `setup_per_zone_wmarks()` (with its `zone_pcp_update()`: `high_min`
    /// follows the low watermark) and `setup_per_zone_lowmem_reserve()`.
    /// Sleeps.
    pub(super) fn setup_watermarks(&self, kbytes: usize) {
        self.setup_watermarks_with(kbytes, true);
    }

    /// [`Pool::setup_watermarks`], the per-CPU bounds only with `pcp`
    /// (which sleeps; without it, nothing here sleeps or waits).
    pub(super) fn setup_watermarks_with(&self, kbytes: usize, pcp: bool) {
        self.min_free_kbytes.store(kbytes, Relaxed);
        let lowmem = self.lowmem_pages();
        for node in self.nodes.iter() {
            let managed = core::array::from_fn(|i| node[i].as_ref().map_or(0, |z| z.managed()));
            let reserve = lowmem_reserve(&managed);
            for zone in node.iter().flatten() {
                let movable = zone.ztype() == ZoneType::Movable;
                zone.set_watermarks(Watermarks::new(kbytes, zone.managed(), lowmem, movable));
                zone.set_lowmem_reserve(&reserve[zone.ztype().index()]);
                if pcp {
                    zone.pcp_update();
                }
            }
        }
    }

    /// Sets `high` and `batch` of every per-CPU list (`None` keeps it). A
    /// `high` set by hand is every CPU's `high_min` and `high_max` alike
    /// (no auto-tuning); `high` 0 tunes it again between each zone's own
    /// bounds, and `batch` 0 is each zone's own default, as
    /// `percpu_pagelist_high_fraction=0` does. A refusal (`EINVAL`)
    /// changes nothing.
    pub(crate) fn set_pcp_high_batch(&self, high: Option<usize>, batch: Option<usize>) -> Result {
        let _guard = self.tuning.lock();
        let wanted = |z: &Zone| {
            let b = match batch {
                Some(0) => crate::pcp::default_batch(z.managed()),
                Some(b) => b,
                None => z.pageset().2,
            };
            (high.unwrap_or(z.pageset_high_set()), b)
        };
        // Check every zone first, so a refusal changes nothing.
        for zone in self.zones() {
            let (h, b) = wanted(zone);
            if let Err(why) = zone.pageset_bounds(h, b) {
                pr_err!("pcp high={h} batch={b}: {why}\n");
                return Err(EINVAL);
            }
        }
        for zone in self.zones() {
            let (h, b) = wanted(zone);
            zone.set_pageset(h, b).map_err(|_| EINVAL)?;
        }
        Ok(())
    }

    /// The per-CPU lists' `high` and `batch` for `buddy/pcp_high` and
    /// `buddy/pcp_batch`: the `high` set by hand (0 while it tunes itself)
    /// and the `batch` every zone has, each 0 where zones differ (each its
    /// own default), so that what is read can be written back without
    /// changing anything.
    pub(crate) fn pcp_high_batch(&self) -> (usize, usize) {
        let mut values = self.zones().map(|z| (z.pageset_high_set(), z.pageset().2));
        let Some(first) = values.next() else { return (0, 0) };
        values.fold(first, |(h, b), (zh, zb)| (if zh == h { h } else { 0 }, if zb == b { b } else { 0 }))
    }

    /// Everything the pool and its source keep per managed page, summed
    /// (for `source/metadata`).
    pub(crate) fn metadata(&self) -> Metadata {
        let (owner_words, source_maps) = self.source.metadata_bytes();
        let mut m = Metadata { owner_words, maps: source_maps, ..Metadata::default() };
        for zone in self.zones() {
            let (meta, pcp, maps) = zone.metadata_bytes();
            m.page_meta += meta;
            m.pcp += pcp;
            m.maps += maps;
        }
        m.maps += self.nodes.capacity() * core::mem::size_of::<[Option<Pin<KBox<Zone>>>; MAX_NR_ZONES]>();
        m
    }
}
