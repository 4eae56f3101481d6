// SPDX-License-Identifier: GPL-2.0

//! A cache's numbers and knobs: its `/proc/slabinfo` row, its event
//! counters (`<cache>/stats`) and its per-CPU `limit`/`batchcount`
//! (`<cache>/tunables`, as SLAB's `/proc/slabinfo` writes set them).

use kernel::{
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

use super::Cache;
use crate::procfs::SlabInfo;

/// Event counts for `<cache>/stats`.
pub(super) struct CacheStats {
    pub(super) alloc_miss: Atomic<u64>,
    pub(super) free_miss: Atomic<u64>,
    pub(super) refills: Atomic<u64>,
    pub(super) flushes: Atomic<u64>,
    pub(super) grown: Atomic<u64>,
    pub(super) reaped: Atomic<u64>,
    pub(super) ctor_runs: Atomic<u64>,
    pub(super) corruptions: Atomic<u64>,
}

impl CacheStats {
    pub(super) const fn new() -> Self {
        Self {
            alloc_miss: Atomic::new(0),
            free_miss: Atomic::new(0),
            refills: Atomic::new(0),
            flushes: Atomic::new(0),
            grown: Atomic::new(0),
            reaped: Atomic::new(0),
            ctor_runs: Atomic::new(0),
            corruptions: Atomic::new(0),
        }
    }
}

impl Cache<'_> {
    /// Sets every CPU cache's `limit` and `batchcount`. Sleeps.
    pub(crate) fn set_tunables(&self, limit: usize, batchcount: usize) -> Result {
        if let Err(why) = crate::slub::check_tunables(limit, batchcount) {
            pr_warn!("{}/tunables {limit} {batchcount}: {why}\n", self.name());
            return Err(EINVAL);
        }
        let failed = Atomic::new(false);
        self.cpus.on_each_cpu(|_, ac| {
            if ac.set_tunables(limit, batchcount).is_err() {
                failed.store(true, Relaxed);
            } else if ac.avail() > limit {
                self.flush_array(ac, false);
            }
        });
        if failed.load(Relaxed) {
            return Err(EINVAL);
        }
        self.tunables[0].store(limit, Relaxed);
        self.tunables[1].store(batchcount, Relaxed);
        Ok(())
    }

    /// `limit` and `batchcount` (the same on every CPU).
    pub(crate) fn tunables(&self) -> (usize, usize) {
        (self.tunables[0].load(Relaxed), self.tunables[1].load(Relaxed))
    }

    /// The numbers of its `/proc/slabinfo` row. Sleeps.
    pub(crate) fn slabinfo(&self) -> SlabInfo {
        let mut info = SlabInfo {
            objsize: self.layout.slot,
            objperslab: self.layout.objects,
            pagesperslab: self.layout.order.nr_pages(),
            ..SlabInfo::default()
        };
        (info.limit, info.batchcount) = self.tunables();
        for node in self.nodes.iter() {
            let n = node.lock();
            let (full, partial, _) = n.lists.counts();
            info.num_slabs += n.lists.len();
            info.active_slabs += full + partial;
        }
        info.num_objs = info.num_slabs * self.layout.objects;
        info.active_objs = self.active_objects();
        info
    }

    /// The event counters, as `name value` lines. Sleeps.
    pub(crate) fn show_stats(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        let alloc_hit = self.cpus.sum(|c| c.alloc_hit);
        let free_hit = self.cpus.sum(|c| c.free_hit);
        writeln!(f, "alloc_hit {alloc_hit}")?;
        writeln!(f, "alloc_miss {}", self.stats.alloc_miss.load(Relaxed))?;
        writeln!(f, "free_hit {free_hit}")?;
        let s = &self.stats;
        let all = [
            ("free_miss", &s.free_miss),
            ("refills", &s.refills),
            ("flushes", &s.flushes),
            ("slabs_grown", &s.grown),
            ("slabs_reaped", &s.reaped),
            ("ctor_runs", &s.ctor_runs),
            ("corruptions", &s.corruptions),
        ];
        for (name, v) in all {
            writeln!(f, "{name} {}", v.load(Relaxed))?;
        }
        Ok(())
    }

    /// Constructor runs so far.
    pub(crate) fn ctor_runs(&self) -> u64 {
        self.stats.ctor_runs.load(Relaxed)
    }

    /// Corruptions, double frees and foreign frees reported so far.
    pub(crate) fn corruptions(&self) -> u64 {
        self.stats.corruptions.load(Relaxed)
    }
}
