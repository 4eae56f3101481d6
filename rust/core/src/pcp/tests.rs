// SPDX-License-Identifier: GPL-2.0

//! Host tests of the per-CPU page lists, their numbers worked out by hand
//! from the kernel's `nr_pcp_alloc()`, `nr_pcp_high()`, `nr_pcp_free()`,
//! `decay_pcp_high()` and `zone_highsize()`.

extern crate std;

use std::{vec, vec::Vec};

use proptest::prelude::*;

use super::*;
use crate::pfn::MAX_PAGE_ORDER;

fn pcp(high_min: usize, high_max: usize, batch: usize) -> Result<PerCpuPages<Vec<u32>>, &'static str> {
    PerCpuPages::new(vec![0; PCP_SLOTS], high_min, high_max, batch)
}

const M: MigrateType = MigrateType::Movable;
const U: MigrateType = MigrateType::Unmovable;

fn o(order: u32) -> Order {
    Order::new(order).unwrap()
}

/// A refill of order 0 whose zone has nothing: it tunes `high` and
/// `alloc_factor` all the same.
fn dry_refill(p: &mut PerCpuPages<Vec<u32>>) {
    assert_eq!(p.refill(o(0), M, false, || None), None);
}

/// Pages on the lists, counted list by list.
fn listed(p: &PerCpuPages<Vec<u32>>) -> usize {
    (0..NR_PCP_LISTS).map(|i| p.lists[i].len as usize * pindex_order(i).unwrap().nr_pages()).sum()
}

#[test]
fn defaults_are_kernel_shaped() {
    assert_eq!(default_batch(0), 1);
    assert_eq!(default_batch(4096), 15);
    assert_eq!(default_batch(8192), 31);
    assert_eq!(default_batch(12288), 31);
    assert_eq!(default_batch(1 << 30), 63);
}

#[test]
fn defaults_at_their_edges() {
    // managed >> 8 of 63 rounds down to 31; 64 and more give 63.
    assert_eq!(default_batch(63 << 8), 31);
    assert_eq!(default_batch(64 << 8), 63);
    assert_eq!(default_batch(65 << 8), 63);
    assert_eq!(default_batch(2 << 8), 1);
    assert_eq!(default_batch(4 << 8), 3);
}

#[test]
fn zone_highsize_splits_over_the_nodes_cpus() {
    // total / cpus, at least batch * 4, at most the lists' room.
    assert_eq!(zone_highsize(80, 15, 1), 80);
    assert_eq!(zone_highsize(80, 15, 2), 60, "40 is under 15 * 4");
    assert_eq!(zone_highsize(4096 / 8, 15, 1), 512);
    assert_eq!(zone_highsize(4096 / 8, 15, 4), 128);
    assert_eq!(zone_highsize(12288 / 8, 31, 1), PCP_HIGH_MAX, "1536 is capped");
    assert_eq!(zone_highsize(12288 / 8, 31, 2), 768);
    assert_eq!(zone_highsize(100, 3, 0), 100, "no CPUs counts as one");
    assert_eq!(zone_highsize(0, 63, 1), 252);
    // The default pool: DMA32 of 4096 pages on node 0 and Normal of 12288
    // on node 1, min_free_kbytes 1024, one CPU a node: low watermarks 80
    // and 240 (watermark.rs' numbers for these zones).
    let kbytes = crate::watermark::default_min_free_kbytes(16384);
    let low = |managed| crate::watermark::Watermarks::new(kbytes, managed, 16384, false).low;
    assert_eq!((kbytes, low(4096), low(12288)), (1024, 80, 240));
    assert_eq!((default_batch(4096), default_batch(12288)), (15, 31));
    assert_eq!(default_high_bounds(80, 4096, 15, 1), (80, 512));
    assert_eq!(default_high_bounds(240, 12288, 31, 1), (240, 961));
    assert_eq!(default_high_bounds(240, 12288, 31, 2), (124, 768));
    // A low watermark over managed / 8: both at high_max.
    assert_eq!(default_high_bounds(900, 4096, 15, 1), (512, 512));
    assert_eq!(default_high_bounds(0, 0, 1, 1), (4, 4));
}

#[test]
fn orders_up_to_costly_use_the_lists() {
    for order in 0..=PAGE_ALLOC_COSTLY_ORDER {
        assert!(pcp_allowed_order(o(order)), "order {order}");
    }
    for order in PAGE_ALLOC_COSTLY_ORDER + 1..=MAX_PAGE_ORDER {
        assert!(!pcp_allowed_order(o(order)), "order {order}");
    }
}

#[test]
fn bad_high_batch_is_refused() {
    assert!(pcp(32, 32, 8).is_ok(), "high == 4 * batch is allowed");
    assert!(pcp(31, 32, 8).is_err(), "high_min under 4 * batch");
    assert!(pcp(0, 0, 0).is_err());
    assert!(pcp(50, 40, 5).is_err(), "high_min over high_max");
    assert!(pcp(100, PCP_HIGH_MAX + 1, 31).is_err());
    assert!(pcp(300, 300, 64).is_err());
    assert!(pcp(PCP_HIGH_MAX, PCP_HIGH_MAX, PCP_BATCH_MAX).is_ok());
    let mut p = pcp(100, 200, 10).unwrap();
    assert!(p.set_high_batch(20, 200, 10).is_err());
    assert_eq!((p.high_min(), p.high(), p.high_max(), p.batch()), (100, 100, 200, 10));
    // A new range clamps high at once.
    p.set_high_batch(150, 300, 10).unwrap();
    assert_eq!(p.high(), 150);
    p.set_high_batch(40, 60, 10).unwrap();
    assert_eq!(p.high(), 60);
}

#[test]
fn each_list_keeps_its_own_blocks_and_counts() {
    let mut p = pcp(50, 50, 8).unwrap();
    // One block on each of several lists: none overwrites another.
    let lists = [(0, M), (0, U), (1, M), (3, MigrateType::Reclaimable)];
    for (i, &(order, mt)) in lists.iter().enumerate() {
        assert_eq!(p.push(100 + i as u32, o(order), mt, false), 0);
    }
    assert_eq!(p.count(), 1 + 1 + 2 + 8);
    let mut count = p.count();
    for (i, &(order, mt)) in lists.iter().enumerate().rev() {
        assert_eq!(p.pop(o(order), mt), Some(100 + i as u32));
        assert_eq!(p.pop(o(order), mt), None, "one block was on list {order}/{mt:?}");
        count -= 1 << order;
        assert_eq!(p.count(), count);
    }
    assert_eq!(p.count(), 0);
    assert_eq!(p.stats().hits, 4);
    // A refill of order 1 takes batch >> 1 = 4 blocks, keeps 3: 6 pages,
    // first taken first out, and a freed block goes before them.
    let mut next = 0;
    let got = p.refill(o(1), M, false, || {
        next += 2;
        Some(next)
    });
    assert_eq!((got, p.count(), p.len(o(1), M)), (Some(2), 6, 3));
    p.push(7, o(1), M, false);
    for want in [7, 4, 6, 8] {
        assert_eq!(p.pop(o(1), M), Some(want));
    }
    assert_eq!((p.pop(o(1), M), p.count(), p.len(o(1), M)), (None, 0, 0));
    // Order 2 takes batch >> 2 = 2 blocks.
    let mut n = 0;
    p.refill(o(2), M, false, || {
        n += 1;
        Some(n)
    });
    assert_eq!(n, 2);
    assert_eq!(p.refill(o(3), M, false, || None), None);
    assert_eq!(p.stats().refills, 2);
}

#[test]
fn alloc_factor_doubles_refills_and_a_free_halves_it() {
    let mut p = pcp(40, 900, 10).unwrap();
    let mut next = 0;
    let mut sizes = Vec::new();
    for _ in 0..7 {
        let before = next;
        assert!(p.refill(o(0), M, false, || {
            next += 1;
            Some(next)
        })
        .is_some());
        sizes.push(next - before);
        if sizes.len() < 7 {
            while p.pop(o(0), M).is_some() {}
        }
    }
    // batch << alloc_factor, the factor stopping at PCP_BATCH_SCALE_MAX.
    assert_eq!(sizes, [10, 20, 40, 80, 160, 320, 320]);
    assert_eq!(p.alloc_factor, PCP_BATCH_SCALE_MAX);
    // Each refill raised high by what it asked for: 40 + 10 + 20 + ... +
    // 320 + 320 is past 900, so high_max.
    assert_eq!(p.high(), 900);
    // A free halves the factor: 5 >> 1.
    assert_eq!(p.push(5000, o(0), M, false), 0);
    assert_eq!(p.alloc_factor, 2);
    while p.pop(o(0), M).is_some() {}
    let before = next;
    p.refill(o(0), M, false, || {
        next += 1;
        Some(next)
    });
    assert_eq!(next - before, 40);
    // No more than keeps a batch of room under high: with 850 pages held
    // and high 900, max(900 - 850 - 10, 10) = 40 of the 80 asked for.
    let mut p = pcp(40, 900, 10).unwrap();
    while p.high() < 900 {
        dry_refill(&mut p);
    }
    for i in 0..850 {
        assert_eq!(p.push(i, o(0), U, false), 0);
    }
    p.alloc_factor = 3;
    let mut n = 0;
    p.refill(o(0), M, false, || {
        n += 1;
        Some(n)
    });
    assert_eq!((n, p.alloc_factor), (40, 3), "not doubled when capped");
}

#[test]
fn high_grows_towards_high_max_on_refills_and_frees() {
    // Refills: high + (batch << alloc_factor), at most high_max.
    let mut p = pcp(40, 400, 10).unwrap();
    let mut highs = Vec::new();
    for _ in 0..7 {
        dry_refill(&mut p);
        highs.push(p.high());
    }
    assert_eq!(highs, [50, 70, 110, 190, 350, 400, 400]);

    // Frees over high: high becomes free_count + batch (need_high); the
    // free itself is measured against the old high, and gives back
    // free_count clamped to [batch, high - batch].
    let mut p = pcp(40, 200, 10).unwrap();
    let mut seen = Vec::new();
    let mut i = 0;
    while seen.len() < 5 {
        i += 1;
        let to_free = p.push(i, o(0), M, false);
        if to_free > 0 {
            seen.push((p.count(), to_free, p.high()));
            assert_eq!(p.free_bulk(to_free, o(0), M, |_, _| {}), to_free);
        }
        assert!((40..=200).contains(&p.high()));
    }
    assert_eq!(seen, [(40, 30, 50), (50, 40, 90), (90, 80, 170), (170, 160, 200), (200, 190, 200)]);
}

#[test]
fn below_high_shrinks_high_and_frees_give_back_more() {
    let mut tuned = pcp(40, 400, 10).unwrap();
    for _ in 0..6 {
        dry_refill(&mut tuned);
    }
    assert_eq!(tuned.high(), 400);
    let mut below = pcp(40, 400, 10).unwrap();
    for _ in 0..6 {
        dry_refill(&mut below);
    }
    // While the zone is below its high watermark, refills leave high be.
    assert_eq!(below.refill(o(0), M, true, || None), None);
    assert_eq!(below.high(), 400);
    for i in 0..39 {
        assert_eq!(tuned.push(i, o(0), M, false), 0);
        assert_eq!(below.push(i, o(0), M, true), 0);
    }
    // Each free took max(free_count, batch) off high: 10 times 10, then
    // 11, 12, ... down to high_min.
    assert_eq!((tuned.high(), below.high()), (400, 40));
    // Over high_min every free gives back.
    assert_eq!(tuned.push(39, o(0), M, false), 0);
    assert_eq!(below.push(39, o(0), M, true), 30);
}

#[test]
fn nr_pcp_free_keeps_free_count_between_batch_and_high_minus_batch() {
    let mut p = pcp(100, 100, 10).unwrap();
    for (free_count, want) in [(0, 10), (3, 10), (10, 10), (50, 50), (90, 90), (91, 90), (320, 90)] {
        p.free_count = free_count;
        assert_eq!(p.nr_pcp_free(100, false), want, "free_count {free_count}");
    }
    // A run of 100 frees fills the lists to high: 100 - 10 go back.
    p.free_count = 0;
    let mut to_free = 0;
    for i in 0..100 {
        to_free = p.push(i, o(0), M, false);
    }
    assert_eq!((p.count(), to_free), (100, 90));
    // Allocations halve the run: 100 -> 50 -> 25.
    p.pop(o(0), M);
    p.pop(o(0), M);
    assert_eq!(p.free_count, 25);
}

#[test]
fn free_high_gives_everything_back_after_high_order_frees() {
    // free_count must reach batch + high_min / 2 = 30 by the frees before.
    for (order, first) in [(1, 16), (2, 9), (3, 5)] {
        let mut p = pcp(40, 400, 10).unwrap();
        let pages = 1usize << order;
        for k in 1..first {
            assert_eq!(p.push(k as u32, o(order), M, false), 0, "order {order} free {k}");
        }
        let to_free = p.push(first as u32, o(order), M, false);
        assert_eq!(to_free, first * pages, "order {order}");
        assert_eq!(p.high(), 40);
        assert_eq!(p.free_bulk(to_free, o(order), M, |_, _| {}), to_free);
        assert_eq!(p.count(), 0);
    }
    // An order-0 free in between holds it off for one free.
    let mut p = pcp(40, 400, 10).unwrap();
    for k in 0..15 {
        assert_eq!(p.push(k, o(1), M, false), 0);
    }
    assert_eq!(p.push(100, o(0), M, false), 0);
    assert_eq!(p.push(101, o(1), M, false), 0);
    assert_eq!(p.push(102, o(1), M, false), 35);
    // Order 0 never does it.
    let mut p = pcp(40, 400, 10).unwrap();
    for k in 0..39 {
        assert_eq!(p.push(k, o(0), M, false), 0);
    }
}

#[test]
fn free_bulk_starts_at_the_freed_blocks_list_and_goes_round() {
    let mut p = pcp(400, 400, 10).unwrap();
    for i in 10..13 {
        p.push(i, o(0), M, false);
    }
    p.push(20, o(1), U, false);
    p.push(21, o(1), U, false);
    p.push(30, o(0), U, false);
    let mut freed = Vec::new();
    assert_eq!(p.free_bulk(4, o(1), U, |i, ord| freed.push((i, ord.get()))), 4);
    assert_eq!(freed, [(20, 1), (21, 1)], "that list first, coldest first");
    freed.clear();
    assert_eq!(p.free_bulk(2, o(0), M, |i, ord| freed.push((i, ord.get()))), 2);
    assert_eq!(freed, [(10, 0), (11, 0)]);
    freed.clear();
    // Past the end of the lists, round to order 0 Unmovable; capped at
    // what the lists hold.
    assert_eq!(p.free_bulk(5, o(0), M, |i, ord| freed.push((i, ord.get()))), 2);
    assert_eq!(freed, [(12, 0), (30, 0)]);
    assert_eq!(p.count(), 0);
    assert_eq!(p.free_bulk(5, o(0), M, |_, _| panic!("nothing to give")), 0);
    assert_eq!(p.stats().drains, 3);
    // drain_all empties every list.
    p.push(1, o(3), MigrateType::Reclaimable, false);
    p.push(2, o(0), U, false);
    assert_eq!(p.drain_all(|_, _| {}), 9);
    assert_eq!(p.count(), 0);
}

#[test]
fn decay_lowers_high_by_eighths_to_high_min() {
    let mut p = pcp(40, 400, 10).unwrap();
    for _ in 0..6 {
        dry_refill(&mut p);
    }
    for i in 0..200 {
        assert_eq!(p.push(i, o(0), M, false), 0);
    }
    assert!(p.decay(|_, _| panic!("under high")));
    assert_eq!(p.high(), 350);
    assert!(p.decay(|_, _| {}));
    assert_eq!(p.high(), 307);
    loop {
        let (high, count) = (p.high(), p.count());
        let want = (high - high / 8).max(40);
        let mut given = 0;
        let todo = p.decay(|_, ord| given += ord.nr_pages());
        assert_eq!(p.high(), if high > 40 { want } else { 40 });
        assert_eq!(p.count(), count.min(p.high()));
        assert_eq!(given, count - p.count());
        assert_eq!(todo, high > 40 && p.high() > 40 || given > 0);
        if !todo {
            break;
        }
    }
    assert_eq!((p.high(), p.count()), (40, 40));
    // The decrement stops `batch << PCP_BATCH_SCALE_MAX` under the count.
    let mut p = pcp(4, 400, 1).unwrap();
    while p.high() < 400 {
        dry_refill(&mut p);
    }
    for i in 0..390 {
        p.push(i, o(0), M, false);
    }
    p.decay(|_, _| {});
    assert_eq!((p.high(), p.count()), (390 - 32, 390 - 32));
}

#[test]
fn high_set_by_hand_never_tunes_itself() {
    let mut p = pcp(100, 100, 10).unwrap();
    for _ in 0..8 {
        dry_refill(&mut p);
    }
    assert_eq!(p.high(), 100);
    let mut i = 0;
    for below in [false, true] {
        for _ in 0..300 {
            i += 1;
            let to_free = p.push(i, o(i % 4), M, below);
            p.free_bulk(to_free, o(i % 4), M, |_, _| {});
            assert_eq!(p.high(), 100);
            assert!(p.count() < 100 + 8);
        }
    }
    assert!(!p.decay(|_, _| {}) || p.count() <= 100);
    assert_eq!(p.high(), 100);
}

#[test]
fn lists_never_overflow_at_the_largest_high() {
    let mut p = pcp(PCP_HIGH_MAX, PCP_HIGH_MAX, PCP_BATCH_MAX).unwrap();
    let mut held = 0;
    for i in 0..10_000 {
        let to_free = p.push(i, o(0), M, false);
        held += 1;
        held -= p.free_bulk(to_free, o(0), M, |_, _| {});
        assert!(p.len(o(0), M) < LIST_CAP);
    }
    assert_eq!(p.count(), held);
    p.drain_all(|_, _| {});
    for i in 0..PCP_HIGH_MAX - 1 {
        assert_eq!(p.push(i as u32, o(0), M, false), 0);
    }
    // Full lists, and every other list refilled: the refills keep what
    // fits, and still hand a block out.
    let mut next = 20_000;
    for order in 0..=PAGE_ALLOC_COSTLY_ORDER {
        for mt in MigrateType::ALL {
            if p.len(o(order), mt) > 0 {
                continue;
            }
            let got = p.refill(o(order), mt, false, || {
                next += 1;
                Some(next)
            });
            assert!(got.is_some());
            assert!(p.count() <= PCP_COUNT_MAX);
            assert_eq!(listed(&p), p.count());
        }
    }
    assert!(p.count() > PCP_HIGH_MAX);
}

#[derive(Clone, Debug)]
enum Op {
    Push(u32, u8, bool, u16),
    Pop(u32, u8, u16),
    Refill(u32, u8, bool, u16),
    Decay,
    Drain,
    Set(u16, u16, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..4u32, 0..3u8, any::<bool>(), 1..200u16).prop_map(|(o, m, b, n)| Op::Push(o, m, b, n)),
        3 => (0..4u32, 0..3u8, 1..200u16).prop_map(|(o, m, n)| Op::Pop(o, m, n)),
        3 => (0..4u32, 0..3u8, any::<bool>(), 0..400u16).prop_map(|(o, m, b, n)| Op::Refill(o, m, b, n)),
        1 => Just(Op::Decay),
        1 => Just(Op::Drain),
        1 => (0..1000u16, 0..1000u16, 1..64u8).prop_map(|(a, b, c)| Op::Set(a, b, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn no_sequence_overflows_a_list_or_loses_a_page(
        start in (1..64usize, 0..1000usize, 0..1000usize),
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let (batch, a, b) = start;
        let high_min = (batch << 2).max(a.min(b)).min(PCP_HIGH_MAX);
        let high_max = a.max(b).clamp(high_min, PCP_HIGH_MAX);
        let mut p = pcp(high_min, high_max, batch).unwrap();
        // Pages the lists hold, by the caller's count.
        let mut held = 0usize;
        let mut next = 0u32;
        for op in ops {
            match op {
                Op::Push(ord, mt, below, n) => {
                    for _ in 0..n {
                        next += 1;
                        let to_free = p.push(next, o(ord), MigrateType::ALL[mt as usize], below);
                        held += 1 << ord;
                        held -= p.free_bulk(to_free, o(ord), MigrateType::ALL[mt as usize], |_, _| {});
                        prop_assert!(p.count() <= PCP_COUNT_MAX);
                    }
                }
                Op::Pop(ord, mt, n) => {
                    for _ in 0..n {
                        if p.pop(o(ord), MigrateType::ALL[mt as usize]).is_some() {
                            held -= 1 << ord;
                        }
                    }
                }
                Op::Refill(ord, mt, below, n) => {
                    let mt = MigrateType::ALL[mt as usize];
                    if p.len(o(ord), mt) == 0 {
                        let mut left = n;
                        let got = p.refill(o(ord), mt, below, || {
                            left = left.checked_sub(1)?;
                            next += 1;
                            Some(next)
                        });
                        let taken = usize::from(n - left);
                        if got.is_some() {
                            held += (taken - 1) << ord;
                        }
                    }
                }
                Op::Decay => {
                    let mut given = 0;
                    p.decay(|_, ord| given += ord.nr_pages());
                    held -= given;
                }
                Op::Drain => {
                    held -= p.drain_all(|_, _| {});
                    prop_assert_eq!(held, 0);
                }
                Op::Set(a, b, c) => {
                    let (a, b, c) = (usize::from(a), usize::from(b), usize::from(c));
                    let ok = check_high_batch(a, b, c).is_ok();
                    let before = (p.high_min(), p.high_max(), p.batch());
                    prop_assert_eq!(p.set_high_batch(a, b, c).is_ok(), ok);
                    if !ok {
                        prop_assert_eq!((p.high_min(), p.high_max(), p.batch()), before);
                    }
                    let over = p.over_high();
                    held -= p.free_bulk(over, o(0), M, |_, _| {});
                }
            }
            prop_assert_eq!(p.count(), held);
            prop_assert_eq!(listed(&p), held);
            prop_assert!(p.count() <= PCP_COUNT_MAX);
            prop_assert!(p.lists.iter().all(|l| (l.len as usize) < LIST_CAP));
            prop_assert!(p.high_min() <= p.high() && p.high() <= p.high_max());
            prop_assert!(p.high_max() <= PCP_HIGH_MAX && p.batch() << 2 <= p.high_min());
            prop_assert!(p.alloc_factor <= PCP_BATCH_SCALE_MAX);
        }
    }
}
