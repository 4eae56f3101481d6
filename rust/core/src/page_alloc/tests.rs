// SPDX-License-Identifier: GPL-2.0

//! Host tests of the buddy free lists.

extern crate std;

use std::{vec, vec::Vec};

use proptest::prelude::*;

use super::*;
use crate::pfn::MAX_ORDER_NR_PAGES;

/// A zone over `spans` (start, pages), all pageblocks movable.
fn zone(len: usize, spans: &[(usize, usize)]) -> Zone<Vec<PageMeta>> {
    let mut z = Zone::new(vec![PageMeta::RESERVED; len]);
    for &(start, nr) in spans {
        assert!(z.add_span(start, nr, MigrateType::Movable));
    }
    z.check().unwrap();
    z
}

fn order(o: u32) -> Order {
    Order::new(o).unwrap()
}

fn nr_free(z: &Zone<Vec<PageMeta>>) -> [usize; NR_PAGE_ORDERS] {
    core::array::from_fn(|o| z.free_area(order(o as u32)).nr_free())
}

#[test]
fn a_chunk_seeds_maximal_blocks_and_never_merges_past_its_edge() {
    // A full chunk, then a 640-page chunk padded to the next 1024.
    let z = zone(2048, &[(0, 1024), (1024, 640)]);
    assert_eq!(z.managed(), 1664);
    assert_eq!(z.nr_free_pages(), 1664);
    let mut want = [0; NR_PAGE_ORDERS];
    want[10] = 1;
    want[9] = 1;
    want[7] = 1;
    assert_eq!(nr_free(&z), want);
    // Adding pages that are already the zone's is refused.
    let mut z = z;
    assert!(!z.add_span(1000, 100, MigrateType::Movable));
    assert!(!z.add_span(2000, 100, MigrateType::Movable));
}

#[test]
fn an_allocation_splits_exactly_as_expand_does() {
    let mut z = zone(1024, &[(0, 1024)]);
    let idx = z.rmqueue(order(0), MigrateType::Movable).unwrap();
    assert_eq!(idx, 0);
    // One free block at every order below 10.
    let mut want = [1; NR_PAGE_ORDERS];
    want[10] = 0;
    assert_eq!(nr_free(&z), want);
    assert_eq!(z.stats().splits, 10);
    z.free(idx, order(0)).unwrap();
    let mut whole = [0; NR_PAGE_ORDERS];
    whole[10] = 1;
    assert_eq!(nr_free(&z), whole);
    assert_eq!(z.stats().merges, 10);
    z.check().unwrap();
}

#[test]
fn every_order_runs_out_exactly_at_the_zone_size() {
    for o in 0..=MAX_PAGE_ORDER {
        let mut z = zone(3072, &[(0, 1024), (2048, 1024)]);
        let mut got = Vec::new();
        while let Some(idx) = z.rmqueue(order(o), MigrateType::Movable) {
            assert_eq!(idx % (1 << o), 0);
            got.push(idx);
        }
        assert_eq!(got.len() << o, 2048, "order {o}");
        assert_eq!(z.nr_free_pages(), 0);
        for idx in got {
            z.free(idx, order(o)).unwrap();
        }
        z.check().unwrap();
        assert_eq!(z.free_area(Order::MAX).nr_free(), 2);
    }
}

#[test]
fn bad_frees_are_refused_and_change_nothing() {
    let mut z = zone(1024, &[(0, 1024)]);
    let idx = z.rmqueue(order(2), MigrateType::Movable).unwrap();
    assert_eq!(z.free(idx, order(3)), Err(FreeError::WrongOrder));
    assert_eq!(z.free(idx + 1, order(0)), Err(FreeError::NotAllocated));
    assert_eq!(z.free(5000, order(0)), Err(FreeError::OutOfRange));
    z.free(idx, order(2)).unwrap();
    assert_eq!(z.free(idx, order(2)), Err(FreeError::NotAllocated), "double free");
    z.check().unwrap();
    assert_eq!(z.nr_free_pages(), 1024);
}

#[test]
fn a_split_block_frees_page_by_page_and_merges_back() {
    let mut z = zone(1024, &[(0, 1024)]);
    let idx = z.rmqueue(order(4), MigrateType::Movable).unwrap();
    assert_eq!(z.split(idx + 1, order(4)), Err(FreeError::NotAllocated));
    z.split(idx, order(4)).unwrap();
    assert_eq!(z.free(idx, order(4)), Err(FreeError::WrongOrder), "now single pages");
    z.check().unwrap();
    for p in (idx..idx + 16).rev() {
        z.free(p, order(0)).unwrap();
    }
    z.check().unwrap();
    assert_eq!(z.free_area(Order::MAX).nr_free(), 1);
}

#[test]
fn unmovable_claims_a_whole_movable_block_when_large() {
    let mut z = zone(1024, &[(0, 1024)]);
    let idx = z.rmqueue(order(0), MigrateType::Unmovable).unwrap();
    // The order-10 block was taken whole: both its pageblocks change type.
    assert_eq!(z.pageblock_counts(), [2, 0, 0]);
    assert_eq!(z.stats().fallbacks, 1);
    assert_eq!(z.stats().claims, 1);
    assert_eq!(z.free_area(order(9)).nr_free_of(MigrateType::Unmovable), 1);
    z.check().unwrap();
    z.free(idx, order(0)).unwrap();
    z.check().unwrap();
}

#[test]
fn every_pageblock_type_change_is_counted() {
    // Two pageblocks, one max-order block: seeding counts each once.
    let mut z = zone(1024, &[(0, 1024)]);
    let seeded = z.pageblock_changes();
    assert_eq!(seeded, 0, "movable over reserved-as-movable changes nothing");
    // An unmovable claim of the whole block retypes both pageblocks.
    let idx = z.rmqueue(order(0), MigrateType::Unmovable).unwrap();
    assert_eq!(z.pageblock_mt(0), MigrateType::Unmovable);
    let claimed = z.pageblock_changes();
    assert!(claimed > seeded);
    // A free that merges back across both pageblocks keeps them unmovable
    // (no change); a movable claim afterwards changes them again.
    z.free(idx, order(0)).unwrap();
    assert_eq!(z.pageblock_changes(), claimed);
    let idx = z.rmqueue(order(9), MigrateType::Movable).unwrap();
    if z.pageblock_mt(idx) == MigrateType::Movable {
        assert!(z.pageblock_changes() > claimed);
    }
    z.free(idx, order(9)).unwrap();
    z.check().unwrap();
}

#[test]
fn small_movable_fallbacks_steal_without_claiming() {
    let mut z = zone(1024, &[(0, 1024)]);
    // Make everything unmovable, then use all but one order-2 block.
    let first = z.rmqueue(order(0), MigrateType::Unmovable).unwrap();
    let mut held = vec![(first, 0)];
    while z.nr_free_pages() > 4 {
        let o = (0..=MAX_PAGE_ORDER).rev().find(|&o| (1 << o) <= z.nr_free_pages() - 4).unwrap();
        let Some(idx) = z.rmqueue_smallest(order(o), MigrateType::Unmovable) else { break };
        held.push((idx, o));
    }
    assert_eq!(z.nr_free_pages(), 4);
    let claims = z.stats().claims;
    // A movable order-0 page: order < pageblock_order / 2, so no claim.
    let idx = z.rmqueue(order(0), MigrateType::Movable).unwrap();
    assert_eq!(z.stats().claims, claims);
    assert_eq!(z.pageblock_counts(), [2, 0, 0]);
    // The rest of the stolen block stays on the unmovable lists.
    assert_eq!(z.free_area(order(0)).nr_free_of(MigrateType::Unmovable), 1);
    assert_eq!(z.free_area(order(1)).nr_free_of(MigrateType::Unmovable), 1);
    z.check().unwrap();
    z.free(idx, order(0)).unwrap();
    for (idx, o) in held {
        z.free(idx, order(o)).unwrap();
    }
    z.check().unwrap();
    assert_eq!(z.free_area(Order::MAX).nr_free(), 1);
}

#[test]
fn a_mostly_free_pageblock_is_claimed_for_small_unmovable() {
    // Two chunks of one pageblock each: the first stays movable.
    let mut z = zone(2048, &[(0, 512), (1024, 512)]);
    let m = z.rmqueue(order(9), MigrateType::Movable).unwrap();
    // The other pageblock is wholly free: an unmovable page claims it.
    let u = z.rmqueue(order(0), MigrateType::Unmovable).unwrap();
    assert_ne!(m >> 9, u >> 9);
    assert_eq!(z.pageblock_counts(), [1, 1, 0]);
    assert_eq!(z.stats().claims, 1);
    z.check().unwrap();
}

/// One unmovable pageblock (512 pages) cut into blocks of `o`, every
/// other one allocated but for `extra_held` more: its free pages are all
/// of order `o`, none can merge. Returns the zone.
fn unmovable_pageblock_free_at(o: u32, extra_held: usize) -> Zone<Vec<PageMeta>> {
    let mut z = zone(1024, &[(0, PAGEBLOCK_NR_PAGES)]);
    let first = z.rmqueue(order(o), MigrateType::Unmovable).unwrap();
    let mut held = vec![first];
    while let Some(idx) = z.rmqueue_smallest(order(o), MigrateType::Unmovable) {
        held.push(idx);
    }
    assert_eq!(held.len(), PAGEBLOCK_NR_PAGES >> o);
    assert_eq!(z.pageblock_counts(), [1, 0, 0]);
    let mut kept = 0;
    for idx in held {
        if (idx >> o) % 2 == 1 && kept >= extra_held {
            z.free(idx, order(o)).unwrap();
        } else if (idx >> o) % 2 == 1 {
            kept += 1;
        }
    }
    z.check().unwrap();
    assert_eq!(z.nr_free_pages(), (PAGEBLOCK_NR_PAGES / 2) - (extra_held << o));
    z
}

#[test]
fn movable_fallbacks_claim_from_half_a_pageblock_order_up() {
    // should_try_claim_block(): a movable allocation claims only from a
    // fallback block of at least pageblock_order / 2 (order 4 here).
    let mut z = unmovable_pageblock_free_at(PAGEBLOCK_ORDER / 2, 0);
    let before = *z.stats();
    z.rmqueue(order(0), MigrateType::Movable).unwrap();
    assert_eq!(z.stats().claims - before.claims, 1, "order-4 fallback: claimed");
    assert_eq!(z.pageblock_counts(), [0, 1, 0]);
    z.check().unwrap();

    let mut z = unmovable_pageblock_free_at(PAGEBLOCK_ORDER / 2 - 1, 0);
    let before = *z.stats();
    z.rmqueue(order(0), MigrateType::Movable).unwrap();
    assert_eq!(z.stats().claims - before.claims, 0, "order-3 fallback: stolen, not claimed");
    assert_eq!(z.stats().fallbacks - before.fallbacks, 1);
    assert_eq!(z.pageblock_counts(), [1, 0, 0]);
    z.check().unwrap();
}

#[test]
fn a_pageblock_is_claimed_with_half_of_it_free_or_alike() {
    // try_to_claim_block(): free + alike >= pageblock / 2 claims. Exactly
    // half free (256 pages) claims; one order-4 block less does not.
    let mut z = unmovable_pageblock_free_at(4, 0);
    let before = *z.stats();
    z.rmqueue(order(4), MigrateType::Movable).unwrap();
    assert_eq!(z.stats().claims - before.claims, 1);
    let mut z = unmovable_pageblock_free_at(4, 1);
    let before = *z.stats();
    z.rmqueue(order(4), MigrateType::Movable).unwrap();
    assert_eq!(z.stats().claims - before.claims, 0, "240 of 512 free, none alike: not claimed");
    assert_eq!(z.pageblock_counts(), [1, 0, 0]);
    // The block was stolen from the unmovable lists.
    assert_eq!(z.stats().fallbacks - before.fallbacks, 1);
    z.check().unwrap();
}

#[test]
fn an_unmovable_claim_counts_free_pages_against_movable_ones() {
    // A movable pageblock holding k movable pages: an unmovable page
    // claims it while at least half of it is free (movable pages are not
    // alike an unmovable allocation).
    for (k, claimed) in [(256, true), (257, false)] {
        let mut z = zone(1024, &[(0, PAGEBLOCK_NR_PAGES)]);
        for _ in 0..k {
            z.rmqueue_smallest(order(0), MigrateType::Movable).unwrap();
        }
        z.rmqueue(order(0), MigrateType::Unmovable).unwrap();
        assert_eq!(z.stats().claims, u64::from(claimed), "{k} movable pages held");
        let want = if claimed { [1, 0, 0] } else { [0, 1, 0] };
        assert_eq!(z.pageblock_counts(), want, "{k} movable pages held");
        z.check().unwrap();
    }
}

#[test]
fn migrate_types_by_name() {
    let names: Vec<&str> = MigrateType::ALL.iter().map(|mt| mt.name()).collect();
    assert_eq!(names, ["Unmovable", "Movable", "Reclaimable"]);
    assert_eq!(MigrateType::from_name("MOVABLE"), Some(MigrateType::Movable));
    assert_eq!(MigrateType::from_name("reclaimable"), Some(MigrateType::Reclaimable));
    assert_eq!(MigrateType::from_name("unmovable"), Some(MigrateType::Unmovable));
    assert_eq!(MigrateType::from_name("cma"), None);
    assert_eq!(MigrateType::from_name(""), None);
}

#[test]
fn free_counts_are_per_type() {
    let mut z = zone(2048, &[(0, 2048)]);
    assert_eq!(z.spanned(), 2048);
    assert_eq!(z.free_area(Order::MAX).nr_free_of(MigrateType::Movable), 2);
    assert_eq!(z.free_area(Order::MAX).nr_free_of(MigrateType::Unmovable), 0);
    z.rmqueue(order(0), MigrateType::Movable).unwrap();
    assert_eq!(z.free_area(Order::MAX).nr_free_of(MigrateType::Movable), 1);
    assert_eq!(z.free_area(order(0)).nr_free_of(MigrateType::Movable), 1);
}

#[test]
fn a_span_sets_every_pageblock_it_touches() {
    let mut z = Zone::new(vec![PageMeta::RESERVED; 2048]);
    // [300, 1300): pageblocks 0, 512 and 1024, though 300 starts none.
    assert!(z.add_span(300, 1000, MigrateType::Reclaimable));
    for idx in [300, 511, 512, 1024, 1299] {
        assert_eq!(z.pageblock_mt(idx), MigrateType::Reclaimable, "page {idx}");
    }
    assert_ne!(z.pageblock_mt(1536), MigrateType::Reclaimable, "untouched");
    assert_eq!((z.managed(), z.nr_free_pages()), (1000, 1000));
    z.check().unwrap();
}

#[test]
fn two_max_order_buddies_stay_apart() {
    let z = zone(2048, &[(0, 2048)]);
    assert_eq!(z.free_area(Order::MAX).nr_free(), 2);
    assert_eq!(z.check(), Ok(()));
}

/// `check()` of a zone with one free page at 1 and one allocated at 0
/// (and free blocks of each order from 2 to 256 above), after `f` broke it.
fn broken(f: impl FnOnce(&mut Zone<Vec<PageMeta>>)) -> Result<(), &'static str> {
    let mut z = zone(1100, &[(0, 1024)]);
    assert_eq!(z.rmqueue(order(0), MigrateType::Movable), Some(0));
    z.check().unwrap();
    f(&mut z);
    z.check()
}

#[test]
fn check_finds_each_broken_invariant() {
    const M: u8 = MigrateType::Movable as u8;
    let block = |state, order| PageMeta { next: NIL, prev: NIL, state, order, mt: M, pageblock_mt: 0 };
    assert_eq!(broken(|_| {}), Ok(()));
    assert_eq!(broken(|z| z.meta[1050].state = PageState::Tail), Err("a tail page outside any block"));
    // Free page 1 claims order 1: misaligned.
    assert_eq!(broken(|z| z.meta[1].order = 1), Err("a block misaligned or past the zone"));
    // Aligned, but 128 pages from 1024 run past the zone's 1100.
    assert_eq!(
        broken(|z| z.meta[1024] = block(PageState::Allocated, 7)),
        Err("a block misaligned or past the zone")
    );
    // The order-1 free block at 2 with its second page not a tail.
    assert_eq!(broken(|z| z.meta[3].state = PageState::Buddy), Err("a block's pages are not all tails"));
    assert_eq!(
        broken(|z| z.meta[512].pageblock_mt = MigrateType::Unmovable as u8),
        Err("a free block on another type's list than its pageblock")
    );
    // Page 0 freed without merging with page 1.
    assert_eq!(
        broken(|z| z.add_to_free_list(0, order(0), MigrateType::Movable)),
        Err("two free buddies left unmerged")
    );
    assert_eq!(broken(|z| z.nr_free_pages += 1), Err("nr_free_pages does not match the free blocks"));
    // The lists: a wrong back link; an entry no longer free.
    assert_eq!(broken(|z| z.meta[1].prev = 7), Err("a free list is corrupt"));
    assert_eq!(
        broken(|z| {
            z.meta[1].state = PageState::Allocated;
            z.nr_free_pages -= 1;
        }),
        Err("a free list is corrupt")
    );
    // An order-1 block on the order-0 list (counts moved with it).
    assert_eq!(
        broken(|z| {
            z.del_from_free_list(2);
            z.add_to_free_list(2, order(0), MigrateType::Movable);
            z.meta[2].order = 1;
            z.nr_free_pages += 1;
        }),
        Err("a free list is corrupt")
    );
    assert_eq!(broken(|z| z.free_area[0].count[M as usize] += 1), Err("a free list's count is wrong"));
}

#[test]
fn claims_count_pages_alike_the_allocation() {
    // An unmovable pageblock, 240 pages free in order-4 blocks; the one
    // extra allocated order-4 block is movable (stolen earlier): free plus
    // alike is half, so a movable allocation claims it.
    let mut z = unmovable_pageblock_free_at(4, 1);
    let stolen = (0..PAGEBLOCK_NR_PAGES)
        .step_by(16)
        .find(|&i| (i >> 4) % 2 == 1 && z.meta[i].state == PageState::Allocated)
        .unwrap();
    z.meta[stolen].mt = MigrateType::Movable as u8;
    let before = z.stats().claims;
    z.rmqueue(order(0), MigrateType::Movable).unwrap();
    assert_eq!(z.stats().claims - before, 1, "240 free + 16 movable of 512");
    assert_eq!(z.pageblock_counts(), [0, 1, 0]);
    z.check().unwrap();

    // A movable pageblock with 300 pages allocated, 200 of them unmovable
    // (stolen): 212 free + 200 alike an unmovable allocation claim it.
    let mut z = zone(1024, &[(0, PAGEBLOCK_NR_PAGES)]);
    for i in 0..300 {
        let idx = z.rmqueue_smallest(order(0), MigrateType::Movable).unwrap();
        if i < 200 {
            z.meta[idx].mt = MigrateType::Unmovable as u8;
        }
    }
    z.rmqueue(order(0), MigrateType::Unmovable).unwrap();
    assert_eq!(z.stats().claims, 1, "212 free + 200 unmovable of 512");
    assert_eq!(z.pageblock_counts(), [1, 0, 0]);
    z.check().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Alloc(u32, u8),
    Free(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..=MAX_PAGE_ORDER, 0u8..3).prop_map(|(o, mt)| Op::Alloc(o, mt)),
        any::<usize>().prop_map(Op::Free),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_alloc_free_keeps_every_invariant(ops in proptest::collection::vec(op(), 1..300)) {
        let spans = [(0, 1024), (1024, 300), (2048, 1024), (3072 + 512, 512)];
        let mut z = zone(4096, &spans);
        let total = z.managed();
        let mut owner = vec![false; 4096];
        let mut held: Vec<(usize, u32)> = Vec::new();
        for op in ops {
            match op {
                Op::Alloc(o, mt) => {
                    let mt = MigrateType::ALL[mt as usize];
                    if let Some(idx) = z.rmqueue(order(o), mt) {
                        for p in idx..idx + (1 << o) {
                            prop_assert!(!owner[p], "page {} handed out twice", p);
                            owner[p] = true;
                        }
                        held.push((idx, o));
                    } else {
                        // Nothing of that order may be left anywhere.
                        for big in o..=MAX_PAGE_ORDER {
                            prop_assert_eq!(z.free_area(order(big)).nr_free(), 0);
                        }
                    }
                }
                Op::Free(i) if !held.is_empty() => {
                    let (idx, o) = held.swap_remove(i % held.len());
                    z.free(idx, order(o)).unwrap();
                    owner[idx..idx + (1 << o)].iter_mut().for_each(|p| *p = false);
                }
                Op::Free(_) => {}
            }
            let allocated: usize = held.iter().map(|&(_, o)| 1usize << o).sum();
            prop_assert_eq!(z.nr_free_pages() + allocated, total);
            prop_assert_eq!(z.check(), Ok(()));
        }
        for (idx, o) in held {
            z.free(idx, order(o)).unwrap();
        }
        // Everything coalesces back to the largest blocks the spans allow.
        prop_assert_eq!(nr_free(&z), nr_free(&zone(4096, &spans)));
        prop_assert_eq!(z.free_area(Order::MAX).nr_free() * MAX_ORDER_NR_PAGES, 2048);
    }
}

#[test]
fn a_whole_free_block_comes_out_and_goes_back_in() {
    let max = order(MAX_PAGE_ORDER);
    let mut z = zone(3 * MAX_ORDER_NR_PAGES, &[(0, MAX_ORDER_NR_PAGES), (2 * MAX_ORDER_NR_PAGES, MAX_ORDER_NR_PAGES)]);
    // Not a block head, a reserved slot, a wrong order, past the end.
    assert!(!z.remove_free_block(1, max));
    assert!(!z.remove_free_block(MAX_ORDER_NR_PAGES, max));
    assert!(!z.remove_free_block(0, order(9)));
    assert!(!z.remove_free_block(3 * MAX_ORDER_NR_PAGES, max));
    // A block with one page allocated is not wholly free.
    let page = z.rmqueue(order(0), MigrateType::Unmovable).unwrap();
    let busy = page & !(MAX_ORDER_NR_PAGES - 1);
    assert!(!z.remove_free_block(busy, max));
    let other = busy ^ 2 * MAX_ORDER_NR_PAGES;
    assert!(z.remove_free_block(other, max));
    z.check().unwrap();
    assert_eq!(z.managed(), MAX_ORDER_NR_PAGES);
    assert_eq!(z.nr_free_pages(), MAX_ORDER_NR_PAGES - 1);
    assert!(z.meta()[other..other + MAX_ORDER_NR_PAGES].iter().all(|m| m.state() == PageState::Reserved));
    // Added back, it is a free block again.
    assert!(z.add_span(other, MAX_ORDER_NR_PAGES, MigrateType::Movable));
    z.free(page, order(0)).unwrap();
    z.check().unwrap();
    assert_eq!(z.managed(), 2 * MAX_ORDER_NR_PAGES);
    assert_eq!(nr_free(&z)[MAX_PAGE_ORDER as usize], 2);
    assert!(z.remove_free_block(busy, max));
    assert!(z.remove_free_block(other, max));
    assert_eq!((z.managed(), z.nr_free_pages()), (0, 0));
    z.check().unwrap();
}
