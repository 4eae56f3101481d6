// SPDX-License-Identifier: GPL-2.0

//! Host tests of the compaction scanners: hand-computed runs, and a model
//! of what the movable pages allow.

extern crate std;

use std::{vec, vec::Vec};

use proptest::prelude::*;

use super::*;
use crate::pfn::NR_PAGE_ORDERS;

type Z = Zone<Vec<PageMeta>>;

fn order(o: u32) -> Order {
    Order::new(o).unwrap()
}

/// A test zone whose pages carry a "content" (the owner's data), and the
/// owner map that `migrate` repoints.
struct Env {
    zone: Z,
    /// Content of each page (the owner's bytes, one word here).
    content: Vec<u64>,
    /// Owner handle -> page, and page -> owner handle.
    handle_page: Vec<usize>,
    page_handle: Vec<Option<usize>>,
    /// Pages whose owner refuses to move them (busy).
    busy: Vec<bool>,
    /// Break the run on purpose: migrate without repointing the owner.
    forget_owner: bool,
}

impl CompactEnv<Vec<PageMeta>> for Env {
    fn with_zone<R>(&mut self, f: impl FnOnce(&mut Z) -> R) -> R {
        f(&mut self.zone)
    }

    fn migrate(&mut self, src: usize, dst: usize) -> bool {
        if self.busy[src] {
            return false;
        }
        let Some(h) = self.page_handle[src] else { return false };
        self.content[dst] = self.content[src];
        self.content[src] = 0xdead;
        if !self.forget_owner {
            self.handle_page[h] = dst;
            self.page_handle[dst] = Some(h);
            self.page_handle[src] = None;
        }
        self.zone.free(src, Order::ZERO).unwrap();
        true
    }
}

/// Page kinds for building a zone.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Free,
    Movable,
}

/// A zone of `kinds.len()` pages (a multiple of 1024), all pageblocks
/// movable, with a movable single page wherever `kinds` says, each owned
/// by a handle whose content is its first page index.
fn env(kinds: &[Kind]) -> Env {
    let n = kinds.len();
    let mut zone = Zone::new(vec![PageMeta::RESERVED; n]);
    assert!(zone.add_span(0, n, MigrateType::Movable));
    for _ in 0..n {
        zone.rmqueue(Order::ZERO, MigrateType::Movable).unwrap();
    }
    let mut e = Env {
        zone,
        content: vec![0; n],
        handle_page: Vec::new(),
        page_handle: vec![None; n],
        busy: vec![false; n],
        forget_owner: false,
    };
    for (i, &k) in kinds.iter().enumerate() {
        match k {
            Kind::Free => e.zone.free(i, Order::ZERO).unwrap(),
            Kind::Movable => {
                e.page_handle[i] = Some(e.handle_page.len());
                e.content[i] = 1000 + e.handle_page.len() as u64;
                e.handle_page.push(i);
            }
        }
    }
    e.zone.check().unwrap();
    e
}

fn nr_free(z: &Z) -> [usize; NR_PAGE_ORDERS] {
    core::array::from_fn(|o| z.free_area(order(o as u32)).nr_free())
}

fn largest_free_order(z: &Z) -> Option<u32> {
    (0..NR_PAGE_ORDERS as u32).rev().find(|&o| z.free_area(order(o)).nr_free() > 0)
}

/// Every handle still reaches its content, on a page allocated as movable.
fn check_handles(e: &Env) {
    for (h, &p) in e.handle_page.iter().enumerate() {
        assert_eq!(e.content[p], 1000 + h as u64, "handle {h} lost its content");
        assert_eq!(e.page_handle[p], Some(h));
        assert_eq!(e.zone.meta()[p].state(), PageState::Allocated);
    }
}

fn compact(e: &mut Env, order: Option<Order>) -> (CompactResult, CompactControl) {
    let mut cc = CompactControl::new(e.zone.spanned(), order, MigrateType::Movable, 0);
    let r = cc.compact_zone(e);
    e.zone.check().unwrap();
    (r, cc)
}

#[test]
fn every_other_page_movable_packs_into_the_top_half() {
    // 2048 pages, four pageblocks, a movable page at every even index:
    // 256 movable and 256 free pages per pageblock. The migrate scanner
    // empties pageblocks 0 and 1 (512 pages) into the free pages of 3
    // then 2 (256 each), and they meet at pageblock 2.
    let kinds: Vec<Kind> = (0..2048).map(|i| if i % 2 == 0 { Kind::Movable } else { Kind::Free }).collect();
    let mut e = env(&kinds);
    let mut before = [0; NR_PAGE_ORDERS];
    before[0] = 1024;
    assert_eq!(nr_free(&e.zone), before);
    // The model: emptying pageblock 0 needs 256 free pages above
    // pageblock 1 (pageblocks 2 and 3 have 512); emptying 0 and 1 needs
    // 512 above pageblock 2 (3 has 256). So at least pageblock 0 comes
    // free: order 9. The scanners do better (their meeting point is not
    // kept free as the model's slack).
    assert_eq!(model_largest_order(&e.zone, &mut vec![PageblockCount::default(); 16]), Some(9));
    let (r, cc) = compact(&mut e, None);
    assert_eq!(r, CompactResult::Complete);
    assert_eq!(cc.migrated, 512);
    assert_eq!(cc.migrate_failed, 0);
    // Pageblocks 0 and 1 merged into one order-10 block; 2 and 3 full.
    let mut after = [0; NR_PAGE_ORDERS];
    after[10] = 1;
    assert_eq!(nr_free(&e.zone), after);
    // Free pages isolated: 512 used. The migrate scanner stopped at page
    // 1023, the last free page of pageblock 1: isolating pageblock 2's
    // last free page moved the free scanner below pageblock 2, where it
    // met the migrate scanner before its next round.
    assert_eq!(cc.migrate_scanned, 1023);
    assert_eq!(cc.isolated, 512 + 512);
    check_handles(&e);
    // The top pageblock's odd pages got the first movers, in order: the
    // free list is first in, first out.
    assert_eq!(e.handle_page[0], 1537);
    assert_eq!(e.handle_page[1], 1539);
}

#[test]
fn an_order_asked_for_stops_at_success() {
    let kinds: Vec<Kind> = (0..2048).map(|i| if i % 2 == 0 { Kind::Movable } else { Kind::Free }).collect();
    let mut e = env(&kinds);
    // Order 3: the first free order-3 block comes once 8 aligned pages at
    // the bottom are empty: the first round of 32 pages makes several.
    let (r, cc) = compact(&mut e, Some(order(3)));
    assert_eq!(r, CompactResult::Success);
    assert_eq!(cc.migrated, 32);
    assert!(e.zone.free_area(order(6)).nr_free() == 1);
    check_handles(&e);
}

#[test]
fn busy_pages_are_skipped_and_their_block_stays_split() {
    let kinds: Vec<Kind> = (0..2048).map(|i| if i % 2 == 0 { Kind::Movable } else { Kind::Free }).collect();
    let mut e = env(&kinds);
    e.busy[100] = true;
    let (r, cc) = compact(&mut e, None);
    assert_eq!(r, CompactResult::Complete);
    assert_eq!(cc.migrate_failed, 1);
    assert_eq!(cc.migrated, 511);
    // Page 100 pins its buddies: no order-10 block, but the rest of
    // pageblock 0 and all of pageblock 1 are free around it.
    assert_eq!(largest_free_order(&e.zone), Some(9));
    // Free pages are only ever moved: the one isolated for page 100 went
    // back.
    assert_eq!(e.zone.nr_free_pages(), 1024);
    check_handles(&e);
}

#[test]
fn unmovable_pageblocks_are_neither_source_nor_target() {
    // Pageblock 1 claimed by an unmovable order-9 allocation, freed, then
    // one unmovable page taken from it: a MIGRATE_UNMOVABLE pageblock
    // with 511 free pages.
    let kinds: Vec<Kind> = (0..2048)
        .map(|i| if (512..1024).contains(&i) || i % 4 != 0 { Kind::Free } else { Kind::Movable })
        .collect();
    let mut e = env(&kinds);
    let pb1 = e.zone.rmqueue(order(9), MigrateType::Unmovable).unwrap();
    assert_eq!(pb1, 512);
    assert_eq!(e.zone.pageblock_mt(512), MigrateType::Unmovable);
    e.zone.free(pb1, order(9)).unwrap();
    let u = e.zone.rmqueue(Order::ZERO, MigrateType::Unmovable).unwrap();
    assert!((512..1024).contains(&u));
    let unmovable_free = e.zone.free_area(order(8)).nr_free_of(MigrateType::Unmovable);
    let (r, cc) = compact(&mut e, None);
    assert_eq!(r, CompactResult::Complete);
    // 128 movable pages in pageblock 0, 128 in 2, 128 in 3: pageblock 0
    // and 2 empty into 3's free pages (384, enough for 256), pageblock 1
    // untouched.
    assert_eq!(cc.migrated, 256);
    assert_eq!(e.zone.pageblock_mt(512), MigrateType::Unmovable);
    assert_eq!(e.zone.free_area(order(8)).nr_free_of(MigrateType::Unmovable), unmovable_free);
    assert_eq!(e.zone.free_area(order(9)).nr_free_of(MigrateType::Movable), 2);
    check_handles(&e);
}

#[test]
fn the_watermark_stops_the_free_scanner() {
    let kinds: Vec<Kind> = (0..2048).map(|i| if i % 2 == 0 { Kind::Movable } else { Kind::Free }).collect();
    let mut e = env(&kinds);
    // Keep 1000 of the 1024 free pages: only 24 may be isolated.
    let mut cc = CompactControl::new(2048, None, MigrateType::Movable, 1000);
    let r = cc.compact_zone(&mut e);
    assert_eq!(r, CompactResult::NoFreePages);
    assert_eq!(cc.migrated, 24);
    assert_eq!(e.zone.nr_free_pages(), 1024);
    e.zone.check().unwrap();
    check_handles(&e);
}

#[test]
fn the_free_scanner_stops_at_the_meeting_point() {
    // Seven of every eight pages movable: 448 per pageblock, 64 free. The
    // migrate scanner, in pageblock 0, can use only the 192 free pages of
    // pageblocks 3, 2 and 1; then the free scanner meets it. Pages 0..=219 (the first 192 movers and the
    // free pages among them) are free: an order-7 block at 0.
    let kinds: Vec<Kind> = (0..2048).map(|i| if i % 8 == 0 { Kind::Free } else { Kind::Movable }).collect();
    let mut e = env(&kinds);
    let (r, cc) = compact(&mut e, None);
    assert_eq!(r, CompactResult::Complete);
    assert_eq!(cc.migrated, 192);
    assert_eq!(largest_free_order(&e.zone), Some(7));
    assert_eq!(e.zone.free_area(order(7)).nr_free(), 1);
    check_handles(&e);
}

#[test]
fn not_repointing_the_owner_is_caught() {
    // The check the other tests rely on fails when the owner is left
    // pointing at the old page.
    let kinds: Vec<Kind> = (0..1024).map(|i| if i % 2 == 0 { Kind::Movable } else { Kind::Free }).collect();
    let mut e = env(&kinds);
    e.forget_owner = true;
    compact(&mut e, None);
    let lost = e.handle_page.iter().enumerate().filter(|&(h, &p)| e.content[p] != 1000 + h as u64).count();
    assert!(lost > 0);
}

#[test]
fn suitability_and_threshold() {
    assert!(compaction_suitable(100 + 2 * 512, 100, order(9)));
    assert!(!compaction_suitable(100 + 2 * 512 - 1, 100, order(9)));
    assert!(fragmented(501, 500));
    assert!(!fragmented(500, 500));
    assert!(!fragmented(-1000, 500));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Over zones fragmented with movable single pages (each pageblock
    /// movable with its own density), one run restores at least the
    /// largest order the model says the movable pages allow, keeps every
    /// free page count and every handle's content.
    #[test]
    fn compaction_restores_what_the_movable_pages_allow(
        densities in proptest::collection::vec(0u32..=4, 4..=8),
        seed in any::<u64>(),
    ) {
        let nr_pb = densities.len() & !1;
        let mut x = seed | 1;
        let mut kinds = Vec::new();
        for &d in &densities[..nr_pb] {
            for _ in 0..PAGEBLOCK_NR_PAGES {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Density d: a page is movable with probability d/4.
                kinds.push(if (x % 4) < d as u64 { Kind::Movable } else { Kind::Free });
            }
        }
        let mut e = env(&kinds);
        let model = model_largest_order(&e.zone, &mut vec![PageblockCount::default(); 16]).unwrap_or(0);
        let free_before = e.zone.nr_free_pages();
        let (r, cc) = compact(&mut e, None);
        prop_assert!(matches!(r, CompactResult::Complete | CompactResult::NoFreePages));
        prop_assert_eq!(e.zone.nr_free_pages(), free_before);
        prop_assert_eq!(cc.migrated as usize + cc.migrate_failed as usize, cc.migrated as usize);
        check_handles(&e);
        let got = largest_free_order(&e.zone).unwrap_or(0);
        prop_assert!(got >= model, "largest free order {} < model's {}", got, model);
    }
}
