// SPDX-License-Identifier: GPL-2.0

//! zonemm: a second memory manager beside the kernel's.
//!
//! A zoned buddy pool over CMA-reserved pages, slab caches, virtually
//! contiguous regions and a same-page merger, each layer using only the one
//! below it. See `Documentation/design.rst`.

// Without KUnit (a distribution kernel) the #[kunit_tests] modules compile
// out, and with them the only users of a few test helpers.
#![cfg_attr(not(CONFIG_KUNIT = "y"), allow(dead_code))]

use core::ptr::NonNull;

use kernel::{
    debugfs::{
        Dir,
        Scope, //
    },
    new_mutex,
    prelude::*,
    sync::Mutex, //
};

mod buddy;
mod compat;
mod debugfs;
mod dev;
mod fault;
mod ffi;
mod helpers;
mod merge;
mod once;
mod percpu;
mod region;
mod slab;
mod source;
mod stress;

// The `no_std` algorithm core, shared with the host crate in `core/`. The
// module uses a subset of it; the host crate's tests cover all of it.
#[path = "core/src/cmd.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod cmd;
#[path = "core/src/compaction.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod compaction;
#[path = "core/src/extfrag.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod extfrag;
#[path = "core/src/fault.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod fault_core;
#[path = "core/src/ksm.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod ksm;
#[path = "core/src/page_alloc.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod page_alloc;
#[path = "core/src/pcp.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod pcp;
#[path = "core/src/pfn.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod pfn;
#[path = "core/src/procfs.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod procfs;
#[path = "core/src/slub.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod slub;
#[path = "core/src/vmap.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod vmap;
#[path = "core/src/watermark.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod watermark;
#[path = "core/src/zone.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod zone;
#[path = "core/src/zonelist.rs"]
#[allow(dead_code)]
#[expect(unreachable_pub)]
mod zonelist;

module! {
    type: ZoneMm,
    name: "zonemm",
    authors: ["zonemm developers"],
    description: "A zoned buddy pool, slab caches, regions and a page merger over CMA",
    license: "GPL",
    params: {
        pool_mb: u64 {
            default: 32,
            description: "MiB to take from every reachable CMA area",
        },
        node_mb: u64 {
            default: 16,
            description: "MiB to take from the page allocator on each node without CMA (multiple of 4)",
        },
        movable_mb: u64 {
            default: 0,
            description: "MiB at the top of each node's pool pages that form its Movable zone (multiple of 4)",
        },
        region_cache: u32 {
            default: 1,
            description: "Keep freed region mappings of up to 1 MiB, with their pages, for reuse (1) or not (0)",
        },
        dev_mode: u32 {
            default: 0o600,
            description: "Permissions of /dev/zonemm (at most 0777; owner and group root)",
        },
        max_pool_mb: u64 {
            default: 0,
            description: "MiB the pool may grow to under pressure, and shrink back from (0: fixed size; else at least its starting size plus 4)",
        },
        fail_source: u32 {
            default: 0,
            description: "Fail the Nth chance at the source site while loading (0: never), as fail_page_alloc's interval with times=1",
        },
    },
}

/// Everything the debugfs files reach, layer by layer.
#[pin_data]
pub(crate) struct State {
    pub(crate) pool: &'static buddy::Pool,
    #[pin]
    pub(crate) buddy_allocs: Mutex<debugfs::buddy::Allocations>,
    pub(crate) kmalloc: slab::kmalloc::Kmalloc<'static>,
    /// `zonemm/slab/`, where `create` adds a directory per cache.
    pub(crate) slab_dir: Dir,
    #[pin]
    pub(crate) caches: Mutex<KVec<Pin<KBox<Scope<debugfs::slab::SlabEntry>>>>>,
    pub(crate) regions: region::Regions<'static>,
}

/// A pinned value owned by the module and lent out as `&'static`.
///
/// # Invariants
///
/// `0` came from `KBox::into_raw` of a pinned box; every `&'static` borrow
/// of it is dropped before this is (the module's field order sees to it).
struct Leaked<T>(NonNull<T>);

// SAFETY: Only shared references to a `Sync` value are handed out.
unsafe impl<T: Sync> Send for Leaked<T> {}

// SAFETY: As above.
unsafe impl<T: Sync> Sync for Leaked<T> {}

impl<T> Leaked<T> {
    fn new(value: Pin<KBox<T>>) -> Self {
        // SAFETY: The value is never moved out of its box: it is only ever
        // borrowed, then dropped in place by `Drop`.
        let boxed = unsafe { Pin::into_inner_unchecked(value) };
        // INVARIANT: from `KBox::into_raw`.
        Self(NonNull::from(KBox::leak(boxed)))
    }

    fn get(&self) -> &'static T {
        // SAFETY: The value lives until `self` is dropped, which happens
        // only after every holder of this reference is gone.
        unsafe { self.0.as_ref() }
    }
}

impl<T> Drop for Leaked<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the pointer came from
        // `KBox::into_raw` and nothing borrows it any more; it is dropped
        // in place, never moved.
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(self.0.as_ptr())) });
    }
}

struct ZoneMm {
    // Field order is drop order: the device first (no new open; an open
    // file or a mapping holds the module, so none is left by then), the
    // debugfs files (removing them waits
    // for readers, and slabinfo reads the API's caches), then the exported
    // API (no user module is left by then), then the merger (its scanner
    // stopped first), then the state, then the pool's shrinker for the
    // kernel (freeing it waits for a scan), then the pool's kswapd threads, then
    // the pool whose pages everything above holds (its callbacks from the
    // kernel removed just before), and last the per-CPU workqueue the pool
    // drains with.
    _dev: dev::Device,
    _tree: debugfs::Tree,
    _api: Leaked<ffi::Api>,
    _merger: Leaked<merge::Merger<'static, 'static>>,
    // Unregistering waits for a compaction run in flight.
    _movable: buddy::MovableRegistration<'static>,
    _state: Leaked<State>,
    _shrinker: buddy::PoolShrinker,
    _kswapd: buddy::Kswapd,
    _hooks: PoolHooks,
    _pool: Leaked<buddy::Pool>,
    _workqueue: PerCpuWork,
}

/// The pool the callbacks below work on (a `&'static buddy::Pool`, or 0).
static HOOKED_POOL: once::OnceWord = once::OnceWord::new(0);

/// The pool's callbacks from the rest of the kernel: the CPU-dead callback
/// (`page_alloc_cpu_dead()`'s place) and the tick (`vmstat_update()`'s
/// place, for `decay_pcp_high()`). Registered at load, removed on drop.
///
/// # Invariants
///
/// While it lives, `HOOKED_POOL` holds a pool that outlives it.
struct PoolHooks;

impl PoolHooks {
    /// Registers the callbacks for `pool`, which must outlive the result.
    /// Sleeps.
    fn new(pool: &buddy::Pool) -> Result<Self> {
        unsafe extern "C" fn dead(cpu: c_uint) -> c_int {
            let pool = HOOKED_POOL.load_acquire() as *const buddy::Pool;
            // The pool was published before the callback was registered
            // and lives until it is removed (type invariant); `helpers.c`
            // calls this once `cpu` is dead, hotplug held, under its mutex.
            // SAFETY: So the pool is live and `cpu_dead`'s conditions hold.
            unsafe { (*pool).cpu_dead(cpu as usize) };
            0
        }
        unsafe extern "C" fn tick() {
            let pool = HOOKED_POOL.load_acquire() as *const buddy::Pool;
            // SAFETY: As in `dead`: live until the tick is stopped.
            unsafe { (*pool).decay_local() };
        }
        // INVARIANT: the caller keeps `pool` alive while we live.
        HOOKED_POOL.store_release(core::ptr::from_ref(pool) as usize);
        // SAFETY: `dead` may run from now on, and its pool is published.
        kernel::error::to_result(unsafe { helpers::zonemm_cpuhp_add(dead) })?;
        // SAFETY: As above, for `tick`; stopped in `drop`.
        if let Err(e) = kernel::error::to_result(unsafe { helpers::zonemm_tick_start(tick) }) {
            // SAFETY: Registered just above.
            unsafe { helpers::zonemm_cpuhp_remove() };
            HOOKED_POOL.store_release(0);
            return Err(e);
        }
        Ok(Self)
    }
}

impl Drop for PoolHooks {
    fn drop(&mut self) {
        // SAFETY: Started and registered by `new`; neither callback runs
        // once these return.
        unsafe {
            helpers::zonemm_tick_stop();
            helpers::zonemm_cpuhp_remove();
        }
        HOOKED_POOL.store_release(0);
    }
}

/// zonemm's per-CPU workqueue (`helpers.c`), destroyed on drop.
struct PerCpuWork;

impl PerCpuWork {
    fn new() -> Result<Self> {
        // SAFETY: Called once, at load; balanced by `drop`.
        kernel::error::to_result(unsafe { helpers::zonemm_helpers_init() })?;
        Ok(Self)
    }
}

impl Drop for PerCpuWork {
    fn drop(&mut self) {
        // SAFETY: Created by `new`; everything that queued work is gone.
        unsafe { helpers::zonemm_helpers_exit() };
    }
}

impl ZoneMm {
    /// Takes the pool's pages, failing the `nth` chance at the `source`
    /// fault site if asked (`fail_source=`): a load that must give back
    /// everything it took so far.
    fn take_source(params: source::Params, nth: u32) -> Result<source::Source> {
        if nth == 0 {
            return source::Source::new(params);
        }
        let attr = fault::FaultAttr { probability: 100, interval: nth.into(), times: 1, ..fault::FaultAttr::OFF };
        fault::set(attr);
        fault::set_sites(fault::Site::Source as u32);
        let source = source::Source::new(params);
        fault::set_sites(0);
        fault::set(fault::FaultAttr::OFF);
        source
    }
}

impl kernel::Module for ZoneMm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if cfg!(CONFIG_PREEMPT_RT) {
            // The hit paths disable preemption and take spinlock_t locks
            // inside, which sleep on PREEMPT_RT.
            pr_err!("PREEMPT_RT kernels are not supported\n");
            return Err(ENODEV);
        }
        let region_cache = match compat::param(module_parameters::region_cache.value()) {
            0 => false,
            1 => true,
            v => {
                pr_err!("region_cache={v}: must be 0 or 1\n");
                return Err(EINVAL);
            }
        };
        let dev_mode = compat::param(module_parameters::dev_mode.value());
        if dev_mode > 0o777 {
            pr_err!("dev_mode={dev_mode:#o}: must be a file mode, at most 0777\n");
            return Err(EINVAL);
        }
        let workqueue = PerCpuWork::new()?;
        let params = source::Params::new(
            compat::param(module_parameters::pool_mb.value()),
            compat::param(module_parameters::node_mb.value()),
        )?
        .max_pool_mb(compat::param(module_parameters::max_pool_mb.value()))?;
        let source = Self::take_source(params, compat::param(module_parameters::fail_source.value()))?;
        let chunks = source.chunks();
        let pages: usize = chunks.iter().map(|c| c.range().nr_pages).sum();
        pr_info!("took {} pages in {} chunks\n", pages, chunks.len());
        let pool = buddy::Pool::new(source, compat::param(module_parameters::movable_mb.value()))?;
        let pool_owner = Leaked::new(KBox::pin(pool, GFP_KERNEL)?);
        let pool = pool_owner.get();
        let hooks = PoolHooks::new(pool)?;
        let kswapd = pool.start_kswapd()?;
        let shrinker = buddy::PoolShrinker::new(pool)?;
        let root = Dir::new(c"zonemm");
        let slab_dir = root.subdir(c"slab");
        let kmalloc = slab::kmalloc::Kmalloc::new(pool)?;
        let caches_dir = slab_dir.clone();
        let regions = region::Regions::new(pool, region_cache)?;
        let state = KBox::pin_init(
            try_pin_init!(State {
                pool,
                buddy_allocs <- new_mutex!(debugfs::buddy::Allocations::new(), "State::buddy_allocs"),
                kmalloc,
                slab_dir: caches_dir,
                caches <- new_mutex!(KVec::new(), "State::caches"),
                regions,
            }? Error),
            GFP_KERNEL,
        )?;
        let state_owner = Leaked::new(state);
        // SAFETY: The regions are pinned in the state, which is dropped
        // only after the registration (field order).
        let movable = unsafe { state_owner.get().regions.register_movable() }?;
        let merger = merge::Merger::new(&state_owner.get().regions)?;
        let merger_owner = Leaked::new(KBox::pin(merger, GFP_KERNEL)?);
        merger_owner.get().start()?;
        let tree = debugfs::Tree::new(root, slab_dir, state_owner.get(), merger_owner.get())?;
        let api = Leaked::new(KBox::pin_init(ffi::Api::new(state_owner.get())?, GFP_KERNEL)?);
        ffi::Api::publish(api.get());
        let dev = dev::Device::new(&state_owner.get().regions, dev_mode)?;
        Ok(Self {
            _dev: dev,
            _tree: tree,
            _api: api,
            _merger: merger_owner,
            _movable: movable,
            _state: state_owner,
            _shrinker: shrinker,
            _kswapd: kswapd,
            _hooks: hooks,
            _pool: pool_owner,
            _workqueue: workqueue,
        })
    }
}
