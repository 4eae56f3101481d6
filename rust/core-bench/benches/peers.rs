// SPDX-License-Identifier: GPL-2.0

//! zonemm's core against peer crates, on the same operation sequences:
//! the buddy free lists against `buddy_system_allocator`; a slab's
//! freelist on its own (`slabmalloc` 0.11 builds without its "unstable"
//! feature, but its `SCAllocator` handed out no object from a refilled
//! page in this harness, so it is left out).

use std::hint::black_box;

use buddy_system_allocator::FrameAllocator;
use criterion::{
    criterion_group,
    criterion_main,
    Criterion, //
};
use zonemm_core::{
    page_alloc::{
        MigrateType,
        PageMeta,
        Zone,
    },
    pfn::Order,
    slub::Freelist,
};

const FRAMES: usize = 8192;

/// Orders of a fixed mixed workload: mostly single pages.
fn orders() -> Vec<u32> {
    (0..512u64).map(|i| [0, 0, 0, 1, 0, 2, 0, 3][(i.wrapping_mul(0x9e37_79b9) >> 7) as usize % 8]).collect()
}

fn buddy(c: &mut Criterion) {
    let mut g = c.benchmark_group("buddy");
    for (name, batch, mixed) in [("order0_single", 1, false), ("order0_bulk256", 256, false), ("mixed_bulk512", 512, true)] {
        let seq: Vec<u32> = if mixed { orders() } else { vec![0; batch] };
        g.bench_function(format!("zonemm/{name}"), |b| {
            let mut z = Zone::new(vec![PageMeta::RESERVED; FRAMES]);
            z.add_span(0, FRAMES, MigrateType::Movable);
            let mut held = Vec::with_capacity(seq.len());
            b.iter(|| {
                for &o in &seq {
                    let order = Order::new(o).unwrap();
                    held.push((z.rmqueue(order, MigrateType::Movable).unwrap(), order));
                }
                for (idx, order) in held.drain(..) {
                    z.free(black_box(idx), order).unwrap();
                }
            });
        });
        g.bench_function(format!("buddy_system_allocator/{name}"), |b| {
            let mut fa = FrameAllocator::<32>::new();
            fa.add_frame(0, FRAMES);
            let mut held = Vec::with_capacity(seq.len());
            b.iter(|| {
                for &o in &seq {
                    let n = 1usize << o;
                    held.push((fa.alloc(n).unwrap(), n));
                }
                for (start, n) in held.drain(..) {
                    fa.dealloc(black_box(start), n);
                }
            });
        });
    }
    g.finish();
}

fn slab(c: &mut Criterion) {
    let mut g = c.benchmark_group("slab");
    for size in [64usize, 256, 1024] {
        let objects = 4096 / size;
        g.bench_function(format!("zonemm/size{size}"), |b| {
            let mut f = Freelist::new(vec![0u16; objects], vec![0u64; 1], objects).unwrap();
            b.iter(|| {
                for _ in 0..objects {
                    black_box(f.pop().unwrap());
                }
                for i in 0..objects {
                    f.push(black_box(i)).unwrap();
                }
            });
        });
    }
    g.finish();
}

criterion_group!(benches, buddy, slab);
criterion_main!(benches);
