// SPDX-License-Identifier: GPL-2.0

//! Host tests of the slab arithmetic and bookkeeping.

extern crate std;

use std::{boxed::Box, vec, vec::Vec};

use proptest::prelude::*;

use super::*;

#[test]
fn kmalloc_classes_pick_the_smallest_that_fits() {
    assert_eq!(kmalloc_index(0), None);
    assert_eq!(kmalloc_index(1), Some(0));
    assert_eq!(kmalloc_index(8), Some(0));
    assert_eq!(kmalloc_index(9), Some(1));
    assert_eq!(kmalloc_index(65), Some(4), "96");
    assert_eq!(kmalloc_index(129), Some(6), "192");
    assert_eq!(kmalloc_index(8192), Some(12));
    assert_eq!(kmalloc_index(8193), None);
    for size in 1..=KMALLOC_MAX_CACHE_SIZE {
        let i = kmalloc_index(size).unwrap();
        assert!(KMALLOC_SIZES[i] >= size && (i == 0 || KMALLOC_SIZES[i - 1] < size));
    }
}

#[test]
fn orders_keep_waste_small() {
    for slot in (8..=8192).step_by(8) {
        let (order, objects) = calculate_order(slot).unwrap();
        let bytes = PAGE_SIZE << order.get();
        assert_eq!(objects, bytes / slot);
        assert!(objects >= 1);
        assert!(bytes % slot <= bytes / 4 || order.get() == SLAB_MAX_ORDER, "slot {slot}");
    }
    // Small objects fit a page; a page of 384-byte slots holds fewer than
    // the 12-object minimum, so order 1; 8 KiB objects take order 3, as
    // kmalloc-8k does.
    assert_eq!(calculate_order(64).unwrap(), (Order::ZERO, 64));
    assert_eq!(calculate_order(384).unwrap(), (Order::new(1).unwrap(), 21));
    assert_eq!(calculate_order(8192).unwrap(), (Order::new(3).unwrap(), 4));
    assert_eq!(calculate_order(0), None);
    assert_eq!(calculate_order((PAGE_SIZE << SLAB_MAX_ORDER) + 1), None);
}

#[test]
fn layout_places_red_zones_and_caller() {
    let plain = Layout::new(100, 0, DebugFlags::default(), false).unwrap();
    assert_eq!((plain.align, plain.object_offset, plain.slot), (64, 0, 128));
    let debug = DebugFlags { redzone: true, poison: true, store_user: true };
    let l = Layout::new(100, 8, debug, false).unwrap();
    assert_eq!(l.object_offset, 8);
    assert_eq!(l.red_right, 4 + 8);
    assert_eq!(l.track_offset, Some(120));
    assert_eq!(l.slot, 128);
    assert!(l.poison);
    assert!(!Layout::new(100, 8, debug, true).unwrap().poison, "no poison with a ctor");
    assert_eq!(Layout::new(0, 0, debug, false), None);
    assert_eq!(Layout::new(8, 3, debug, false), None);
    assert_eq!(DebugFlags::parse("poison,redzone"), Some(DebugFlags { redzone: true, poison: true, store_user: false }));
    assert_eq!(DebugFlags::parse("poison,bogus"), None);
}

#[test]
fn debug_flags_each_count() {
    let none = DebugFlags::default();
    assert!(!none.any());
    for (word, flags) in [
        ("redzone", DebugFlags { redzone: true, ..none }),
        ("poison", DebugFlags { poison: true, ..none }),
        ("store_user", DebugFlags { store_user: true, ..none }),
    ] {
        assert_eq!(DebugFlags::parse(word), Some(flags), "{word}");
        assert!(flags.any(), "{word} alone");
    }
    let all = DebugFlags::parse("store_user,redzone,poison").unwrap();
    assert!(all.redzone && all.poison && all.store_user && all.any());
    assert_eq!(DebugFlags::parse("Redzone"), None);
}

#[test]
fn colours_cycle_through_the_leftover() {
    // 8192 / 384 = 21 objects, 128 bytes left: 3 colours of 64.
    let l = Layout::new(384, 64, DebugFlags::default(), false).unwrap();
    assert_eq!((l.objects, l.colours, l.colour_off), (21, 3, 64));
    let offsets: Vec<_> = (0..4).map(|n| l.colour(n)).collect();
    assert_eq!(offsets, [0, 64, 128, 0]);
    for n in 0..l.colours {
        assert!(l.colour(n) + l.objects * l.slot <= l.slab_bytes());
    }
}

#[test]
fn poison_and_red_zone_checks_find_the_first_bad_byte() {
    let mut obj = vec![0u8; 32];
    poison(&mut obj);
    assert_eq!(obj[0], POISON_FREE);
    assert_eq!(obj[31], POISON_END);
    assert_eq!(find_bad_poison(&obj), None);
    obj[7] = 0;
    assert_eq!(find_bad_poison(&obj), Some(7));
    poison(&mut obj);
    obj[31] = 0;
    assert_eq!(find_bad_poison(&obj), Some(31));
    assert_eq!(find_not(&[RED_ACTIVE; 8], RED_ACTIVE), None);
    assert_eq!(find_not(&[RED_ACTIVE, 1], RED_ACTIVE), Some(1));
}

#[test]
fn freelist_refuses_double_and_bad_frees() {
    let mut f = Freelist::new(vec![0u16; 10], vec![0u64; 1], 10).unwrap();
    assert_eq!(f.pop(), Some(0));
    assert_eq!(f.pop(), Some(1));
    assert_eq!(f.inuse(), 2);
    assert_eq!(f.push(1), Ok(()));
    assert_eq!(f.push(1), Err(ObjectError::AlreadyFree));
    assert_eq!(f.push(5), Err(ObjectError::AlreadyFree));
    assert_eq!(f.push(10), Err(ObjectError::NotAnObject));
    assert_eq!(f.nr_free(), 9);
    assert!(Freelist::new(vec![0u16; 5], vec![0u64; 1], 10).is_none());
}

#[test]
fn array_cache_flushes_the_coldest_batch() {
    let mut ac = ArrayCache::new(Box::new([0usize; ARRAY_CACHE_MAX]), 4, 2).unwrap();
    for obj in 1..=4 {
        assert!(ac.push(obj));
    }
    assert!(!ac.push(5));
    let mut out = Vec::new();
    assert_eq!(ac.flush(false, |o| out.push(o)), 2);
    assert_eq!(out, [1, 2]);
    assert_eq!(ac.pop(), Some(4));
    assert!(ac.set_tunables(1, 2).is_err());
    ac.set_tunables(1, 1).unwrap();
    assert_eq!(ac.flush(false, |o| out.push(o)), 1, "a batch of one");
    assert_eq!(ac.flush(true, |o| out.push(o)), 0);
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(default_limit(64), (120, 60));
    assert_eq!(default_limit(8192), (8, 4));
}

#[test]
fn orders_at_their_edges() {
    // Exactly MIN_OBJECTS in a page is enough.
    assert_eq!(calculate_order(336).unwrap(), (Order::ZERO, 12));
    // 632: order 1 holds 12 but wastes 608 > 8192 / 16; order 2 holds 25
    // and wastes 584 <= 1024.
    assert_eq!(calculate_order(632).unwrap(), (Order::new(2).unwrap(), 25));
    // 1096: order 2's 14 waste 1040 > 1024; order 3's 29 waste 984.
    assert_eq!(calculate_order(1096).unwrap(), (Order::new(3).unwrap(), 29));
}

#[test]
fn cpu_cache_limits_by_size() {
    for (slot, want) in [
        (256, (120, 60)),
        (257, (96, 48)),
        (1024, (96, 48)),
        (1025, (24, 12)),
        (PAGE_SIZE, (24, 12)),
        (PAGE_SIZE + 1, (8, 4)),
        (131072, (8, 4)),
        (131073, (1, 1)),
    ] {
        assert_eq!(default_limit(slot), want, "slot {slot}");
    }
    assert!(check_tunables(ARRAY_CACHE_MAX, 1).is_ok());
    assert!(check_tunables(ARRAY_CACHE_MAX + 1, 1).is_err());
}

#[test]
fn freelist_counts_and_its_last_bit() {
    let mut f = Freelist::new(vec![0u16; 64], vec![0u64; 1], 64).unwrap();
    assert_eq!((f.objects(), f.nr_free(), f.inuse()), (64, 64, 0));
    assert!(f.is_free(63));
    assert!(!f.is_free(64), "past the last object");
    f.pop().unwrap();
    assert_eq!((f.objects(), f.nr_free(), f.inuse()), (64, 63, 1));
}

#[test]
fn array_cache_reports_and_flushes_over_its_limit() {
    let mut ac = ArrayCache::new(Box::new([0usize; ARRAY_CACHE_MAX]), 6, 3).unwrap();
    assert_eq!((ac.avail(), ac.limit(), ac.batchcount()), (0, 6, 3));
    for obj in 1..=5 {
        assert!(ac.has_room());
        assert!(ac.push(obj));
    }
    assert!(ac.has_room(), "5 of 6");
    assert!(ac.push(6));
    assert!(!ac.has_room(), "6 of 6");
    assert_eq!(ac.avail(), 6);
    // A lower limit leaves 4 over it: a flush gives exactly those, coldest
    // first, not a batch.
    ac.set_tunables(2, 1).unwrap();
    assert_eq!((ac.limit(), ac.batchcount()), (2, 1));
    let mut out = Vec::new();
    assert_eq!(ac.flush(false, |o| out.push(o)), 4);
    assert_eq!(out, [1, 2, 3, 4]);
    assert_eq!(ac.avail(), 2);
    assert_eq!((ac.pop(), ac.pop(), ac.pop()), (Some(6), Some(5), None));
}

#[test]
fn slab_lists_count_and_find() {
    assert_eq!(SlabList::of(0, 8), SlabList::Free);
    assert_eq!(SlabList::of(8, 8), SlabList::Full);
    assert_eq!(SlabList::of(3, 8), SlabList::Partial);
    let mut lists = SlabLists::default();
    assert!(lists.is_empty());
    assert_eq!((lists.first_partial(), lists.last_free()), (None, None));
    assert!(!lists.pop_free());
    for _ in 0..3 {
        lists.push_free();
    }
    assert_eq!((lists.len(), lists.is_empty()), (3, false));
    assert_eq!((lists.first_partial(), lists.last_free()), (None, Some(2)));
    // [full | partial | free]: slab 2 fills, then slab at 1 turns partial.
    let mut array = [0, 1, 2];
    let pos = lists.move_to(2, SlabList::Full, |a, b| array.swap(a, b));
    assert_eq!((pos, array[pos]), (0, 2));
    let pos = lists.move_to(2, SlabList::Partial, |a, b| array.swap(a, b));
    assert_eq!(pos, 1);
    assert_eq!(lists.counts(), (1, 1, 1));
    assert_eq!((lists.first_partial(), lists.last_free()), (Some(1), Some(2)));
    assert!(lists.pop_free());
    assert_eq!((lists.len(), lists.last_free()), (2, None));
    assert!(!lists.pop_free(), "no free slab left");
    assert_eq!(lists.len(), 2);
}

proptest! {
    #[test]
    fn slab_lists_stay_partitioned(moves in proptest::collection::vec((0usize..8, 0u8..3), 1..200)) {
        // Model: each slab's list; the array: slab ids by position.
        let mut lists = SlabLists::default();
        let mut array: Vec<usize> = Vec::new();
        let mut list_of: Vec<SlabList> = Vec::new();
        for id in 0..8 {
            let pos = lists.push_free();
            prop_assert_eq!(pos, array.len());
            array.push(id);
            list_of.push(SlabList::Free);
        }
        for (id, to) in moves {
            let to = [SlabList::Full, SlabList::Partial, SlabList::Free][to as usize];
            let pos = array.iter().position(|&s| s == id).unwrap();
            let new = lists.move_to(pos, to, |a, b| array.swap(a, b));
            list_of[id] = to;
            prop_assert_eq!(array[new], id);
            for (p, &s) in array.iter().enumerate() {
                prop_assert_eq!(lists.list_of(p), list_of[s]);
            }
        }
        let (f, p, e) = lists.counts();
        prop_assert_eq!(f + p + e, 8);
    }
}

proptest! {
    #[test]
    fn freelist_alloc_free_sequences_never_hand_out_twice(ops in proptest::collection::vec(any::<(bool, u8)>(), 1..400)) {
        let objects = 37;
        let mut f = Freelist::new(vec![0u16; objects], vec![0u64; 1], objects).unwrap();
        let mut held: Vec<usize> = Vec::new();
        for (alloc, pick) in ops {
            if alloc {
                match f.pop() {
                    Some(i) => {
                        prop_assert!(!held.contains(&i), "object {} handed out twice", i);
                        prop_assert!(!f.is_free(i));
                        held.push(i);
                    }
                    None => prop_assert_eq!(held.len(), objects),
                }
            } else if !held.is_empty() {
                let i = held.swap_remove(pick as usize % held.len());
                prop_assert_eq!(f.push(i), Ok(()));
                prop_assert_eq!(f.push(i), Err(ObjectError::AlreadyFree));
            }
            prop_assert_eq!(f.inuse(), held.len());
            prop_assert_eq!(f.nr_free() + held.len(), objects);
        }
    }

    /// Every valid size and alignment gets a layout unless its debugging
    /// bytes cannot fit the largest slab (a `None` had let the checks below
    /// pass by checking nothing), and every
    /// object of every colour is aligned, inside its slab, and clear of its
    /// neighbours' red zones and caller words.
    #[test]
    fn every_layout_fits_its_slab(size in 1usize..=32768, align_shift in 0u32..13, debug in any::<(bool, bool, bool)>()) {
        let flags = DebugFlags { redzone: debug.0, poison: debug.1, store_user: debug.2 };
        let align = if align_shift == 0 { 0 } else { 1 << align_shift };
        let Some(l) = Layout::new(size, align, flags, false) else {
            // Only debugging can push a valid object past the largest slab:
            // its red zones and caller word alone must not fit.
            // The alignment Layout::new documents: a cache line by default
            // for objects of 32 bytes or more, else at least 8.
            let a = match align {
                0 if size >= 32 => 64,
                a => a.max(8),
            };
            let offset = if flags.redzone { RED_ZONE.div_ceil(a) * a } else { 0 };
            let least = offset + size + if flags.redzone { RED_ZONE } else { 0 } + if flags.store_user { 8 } else { 0 };
            prop_assert!(least.div_ceil(a) * a > PAGE_SIZE << SLAB_MAX_ORDER,
                "no layout for size {} align {} {:?}", size, align, flags);
            return Ok(());
        };
        prop_assert!(l.align >= align.max(8));
        prop_assert!(l.slot >= size + l.object_offset);
        prop_assert_eq!(l.slot % l.align, 0);
        prop_assert_eq!(l.object_offset % l.align, 0);
        if flags.redzone {
            prop_assert!(l.object_offset >= RED_ZONE && l.red_right >= RED_ZONE);
        }
        if let Some(t) = l.track_offset {
            prop_assert!(t >= l.object_offset + size + l.red_right && t + 8 <= l.slot);
        }
        prop_assert!(l.objects >= 1);
        for n in 0..l.colours {
            let first = l.colour(n) + l.object_offset;
            prop_assert_eq!(first % l.align, 0);
            prop_assert!(l.colour(n) + l.objects * l.slot <= l.slab_bytes());
        }
    }

    /// Sizes past the largest cache, zero, and alignments that are not a
    /// power of two or exceed a page get no layout.
    #[test]
    fn bad_sizes_and_alignments_get_no_layout(size in 32769usize..1 << 20, align in 1usize..8192) {
        prop_assert_eq!(Layout::new(size, 0, DebugFlags::default(), false), None);
        prop_assert_eq!(Layout::new(0, align, DebugFlags::default(), false), None);
        let expect_some = align.is_power_of_two() && align <= 4096;
        prop_assert_eq!(Layout::new(64, align, DebugFlags::default(), false).is_some(), expect_some);
    }
}

#[test]
fn index_of_agrees_with_division_at_every_offset() {
    // Every slot size a cache can have (8-byte steps, the largest and
    // some odd debug layouts), every offset of its slab.
    let sizes = (8..=4096).step_by(8).chain([8192, 16384, 32768, 24, 104, 4104]);
    for size in sizes {
        let Some(l) = Layout::new(size, 0, DebugFlags::default(), false) else { continue };
        for off in 0..l.slab_bytes() + l.slot {
            let want = (off % l.slot == 0 && off / l.slot < l.objects).then_some(off / l.slot);
            assert_eq!(l.index_of(off), want, "slot {} offset {off}", l.slot);
        }
    }
}
