// SPDX-License-Identifier: GPL-2.0

//! A zone's per-CPU list bounds and counts: `zone_set_pageset_high_and_batch()`
//! and `zone_pcp_update()` of `mm/page_alloc.c`, and the per-CPU counts
//! `/proc/zoneinfo` prints. Split out of `zone.rs`; the lock rules are
//! that file's (the functions that say so reach every CPU's lists and
//! sleep).

use super::*;

impl Zone {
    /// The zone's `(high_min, high_max, batch)`, every CPU's
    /// (`pageset_high_min`, `pageset_high_max`, `pageset_batch`).
    pub(crate) fn pageset(&self) -> (usize, usize, usize) {
        (self.pageset[0].read(), self.pageset[1].read(), self.pageset[2].read())
    }

    /// The `high` set by hand, 0 while `high` tunes itself.
    pub(crate) fn pageset_high_set(&self) -> usize {
        self.pageset_high_set.read()
    }

    /// `(high_min, high_max)` of `zone_set_pageset_high_and_batch()` for
    /// `batch`: `high_set` for both when set by hand (no auto-tuning),
    /// else from the low watermark and an eighth of the zone
    /// (`zone_highsize()`), or why they may not be set.
    pub(crate) fn pageset_bounds(&self, high_set: usize, batch: usize) -> Result<(usize, usize), &'static str> {
        let (high_min, high_max) = if high_set == 0 {
            default_high_bounds(self.watermarks().low, self.managed(), batch, self.nr_split_cpus)
        } else {
            (high_set, high_set)
        };
        check_high_batch(high_min, high_max, batch)?;
        Ok((high_min, high_max))
    }

    /// `zone_set_pageset_high_and_batch()`: sets every CPU's `high_min`,
    /// `high_max` and `batch` from `high_set` (0: tuned) and `batch`,
    /// giving back what is then over a CPU's `high` (the kernel leaves
    /// that to the next free or decay). Nothing changes if they are
    /// refused or the same as before. Callers hold `Pool::tuning`. Sleeps.
    pub(crate) fn set_pageset(&self, high_set: usize, batch: usize) -> Result<(), &'static str> {
        let (high_min, high_max) = self.pageset_bounds(high_set, batch)?;
        self.pageset_high_set.write(high_set);
        if self.pageset() == (high_min, high_max, batch) {
            return Ok(());
        }
        self.pageset[0].write(high_min);
        self.pageset[1].write(high_max);
        self.pageset[2].write(batch);
        let failed = Atomic::new(false);
        self.cpus.on_each_cpu(|_, c| {
            if c.pcp.set_high_batch(high_min, high_max, batch).is_err() {
                failed.store(true, Relaxed);
            } else if c.pcp.over_high() > 0 {
                let mut lists = self.lock.lock();
                let over = c.pcp.over_high();
                c.pcp.free_bulk(over, Order::ZERO, MigrateType::Unmovable, |i, o| Self::free_one(&mut lists, i, o));
                self.publish(&lists);
            }
        });
        if failed.load(Relaxed) {
            return Err("bad high or batch");
        }
        Ok(())
    }

    /// `zone_pcp_update()`: `high_min` and `high_max` again after the
    /// watermarks changed, `high` as set by hand and `batch` kept. Callers
    /// hold `Pool::tuning` (or own the pool alone). Sleeps.
    pub(crate) fn pcp_update(&self) {
        let (_, _, batch) = self.pageset();
        if let Err(why) = self.set_pageset(self.pageset_high_set(), batch) {
            pr_err!("zone {} of node {}: pcp high and batch kept: {}\n", self.ztype.name(), self.nid, why);
        }
    }

    /// Per CPU: pages on its lists, `high`, `batch`, `high_min` and
    /// `high_max`. Sleeps.
    pub(crate) fn pcp_counts(&self) -> KVec<PcpCounts> {
        let counts: KVec<[Atomic<usize>; 5]> = (0..self.cpus.len())
            .map(|_| [const { Atomic::new(0) }; 5])
            .try_fold(KVec::new(), |mut v, e| v.push(e, GFP_KERNEL).map(|_| v))
            .unwrap_or_default();
        self.cpus.on_each_cpu(|cpu, c| {
            if let Some(slot) = counts.get(cpu) {
                let p = &c.pcp;
                for (s, v) in slot.iter().zip([p.count(), p.high(), p.batch(), p.high_min(), p.high_max()]) {
                    s.store(v, Relaxed);
                }
            }
        });
        let mut v = KVec::new();
        for slot in counts.iter() {
            let [count, high, batch, high_min, high_max] = core::array::from_fn(|i| slot[i].load(Relaxed));
            if v.push(PcpCounts { count, high, batch, high_min, high_max }, GFP_KERNEL).is_err() {
                break;
            }
        }
        v
    }

    /// Blocks on this CPU's list of `order` and `mt` (`None` while an
    /// interrupted user holds them).
    pub(crate) fn pcp_len_here(&self, order: Order, mt: MigrateType) -> Option<usize> {
        self.cpus.try_with(|c| c.pcp.len(order, mt))
    }

    /// Pages on all CPUs' lists. Sleeps.
    pub(crate) fn pcp_pages(&self) -> usize {
        self.cpus.sum(|c| c.pcp.count() as u64) as usize
    }

    /// The per-CPU lists' event counts, summed. Sleeps.
    pub(crate) fn pcp_stats(&self) -> PcpStats {
        let sum: [Atomic<u64>; 3] = [const { Atomic::new(0) }; 3];
        // The CPUs run one after another: loads and stores add up.
        self.cpus.on_each_cpu(|_, c| {
            let s = c.pcp.stats();
            for (acc, v) in sum.iter().zip([s.hits, s.refills, s.drains]) {
                acc.store(acc.load(Relaxed) + v, Relaxed);
            }
        });
        PcpStats { hits: sum[0].load(Relaxed), refills: sum[1].load(Relaxed), drains: sum[2].load(Relaxed) }
    }
}
