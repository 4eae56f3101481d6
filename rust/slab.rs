// SPDX-License-Identifier: GPL-2.0

//! The slab layer: `kmem_cache`-style object caches on buddy-pool pages.
//!
//! Mirrors the SLAB allocator the seed notes describe, with `mm/slub.c`'s
//! names and debug layout: a cache grows slabs of `2^order` pool pages
//! (`calculate_order()`), coloured by a cache line per slab; each node
//! keeps its slabs on full, partial and free lists; each CPU keeps an
//! `array_cache` of free objects with `limit` and `batchcount`, refilled
//! from and flushed to the node lists a batch at a time. Every page of a
//! slab points back to it through `page->private`, as `struct slab`
//! overlays `struct page`, so freeing finds the slab and the cache in
//! O(1). The arithmetic is the core's (`slab`).
//!
//! Every CPU's array cache is a [`PerCpu`], entered with a local trylock
//! (as SLUB's sheaves are): the hit path takes no lock and does no atomic
//! read-modify-write, and an interrupt that finds its CPU's cache in use
//! goes to the node lists instead. The node lists are under an
//! interrupt-safe spinlock. A slab descriptor is freed only after an RCU
//! grace period once its pages' owner words are cleared, so a free can
//! look a pointer up with preemption disabled (an RCU read-side section)
//! without ever reading freed memory, however stale or foreign the
//! pointer.
//!
//! Empty slabs go back to the pool on `kmem_cache_shrink()`, and to the
//! pool's reclaim (zonemm's kswapd and direct reclaim, and through them
//! the kernel's shrinker) through a [`Shrinker`]: a scan takes free slabs
//! off the lists and out of their pages' owner words, never waiting for
//! a lock, and queues the cache's [`RcuWork`]; after a grace period the
//! pool's kswapd flushes every CPU's cache (dropping what a stale free
//! put there meanwhile) and frees the slabs.
//!
//! Lock order: a CPU's array cache (the local trylock), then a node's list
//! lock, then the buddy pool's (a CPU's lists, then a zone lock). Growing
//! a slab allocates with no lock held, and adds it with a "need alloc"
//! retry so no list ever allocates under its lock. Allocation and free
//! run in any context but NMI (allocation sleeps only if its flags allow);
//! the functions that reach every CPU's cache sleep, and say so.

use core::{
    marker::PhantomPinned,
    panic::Location,
    ptr::NonNull,
};

use kernel::{
    prelude::*,
    str::CString,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        LockedBy,
        SetOnce,
    },
};

use crate::compat::{
    self,
    new_spinlock_irq,
    SpinLockIrq,
    SpinLockIrqGuard, //
};

use crate::{
    once::OnceWord,
    buddy::{
        Flags,
        PageBlock,
        Pool, //
    },
    helpers::*,
    page_alloc::MigrateType,
    percpu::{
        CpuGuard,
        PerCpu, //
    },
    pfn::Pfn,
    slub::{
        default_limit,
        ArrayCache,
        DebugFlags,
        Freelist,
        Layout,
        ObjectError,
        SlabList,
        SlabLists,
        ARRAY_CACHE_MAX, //
    },
    zone::ZoneType,
};

mod debug;
pub(crate) mod kmalloc;
mod reclaim;
mod stats;

use stats::CacheStats;

/// A constructor: runs on each object when its slab is built, with the
/// object and its size.
///
/// # Safety
///
/// Called only with an object of the cache: `size` writable bytes.
pub(crate) type Ctor = unsafe fn(obj: *mut u8, size: usize);

/// The `ctor=zero` constructor.
///
/// # Safety
///
/// `obj` must be valid for writes of `size` bytes.
pub(crate) unsafe fn ctor_zero(obj: *mut u8, size: usize) {
    // SAFETY: By the caller's guarantee.
    unsafe { core::ptr::write_bytes(obj, 0, size) };
}

/// The `ctor=pattern` constructor: `0xc7` ("constructed") throughout.
///
/// # Safety
///
/// `obj` must be valid for writes of `size` bytes.
pub(crate) unsafe fn ctor_pattern(obj: *mut u8, size: usize) {
    // SAFETY: By the caller's guarantee.
    unsafe { core::ptr::write_bytes(obj, 0xc7, size) };
}

/// The bounds of a cache's `min_partial` (`MIN_PARTIAL`, `MAX_PARTIAL`).
const MIN_PARTIAL: usize = 5;
const MAX_PARTIAL: usize = 10;

/// Marks a live [`Slab`], checked before trusting `page->private`.
const SLAB_MAGIC: usize = 0x5a6f_6e65_536c_6162;

type Ac = ArrayCache<KBox<[usize; ARRAY_CACHE_MAX]>>;

/// A CPU's array cache and its hit counts, touched only on its CPU (so
/// the fast path updates no shared counter).
struct CpuCache {
    ac: Ac,
    alloc_hit: u64,
    free_hit: u64,
}

impl core::ops::Deref for CpuCache {
    type Target = Ac;

    fn deref(&self) -> &Ac {
        &self.ac
    }
}

impl core::ops::DerefMut for CpuCache {
    fn deref_mut(&mut self) -> &mut Ac {
        &mut self.ac
    }
}

/// A slab's mutable state, guarded by its node's list lock.
struct SlabState {
    freelist: Freelist<KVec<u16>, KVec<u64>>,
}

/// One slab: `2^order` pool pages cut into objects (`struct slab`).
///
/// # Invariants
///
/// While the slab is listed, `page->private` of each of `block`'s pages
/// holds its address, and the slab sits at position `pos` of its node's
/// `slabs`; `base` is the first slot, inside `block`. A retired slab
/// (off the lists, owner words cleared) links the next on its node's
/// chain through `next_retired`.
struct Slab<'a> {
    magic: usize,
    cache: *const Cache<'a>,
    block: PageBlock<'a>,
    base: *mut u8,
    nid: usize,
    pos: Atomic<usize>,
    state: LockedBy<SlabState, NodeLists<'a>>,
    next_retired: usize,
}

// SAFETY: The raw pointers name the owning cache (which outlives its slabs)
// and the slab's own pages; the state is guarded by the node lock.
unsafe impl Send for Slab<'_> {}

// SAFETY: As above.
unsafe impl Sync for Slab<'_> {}

impl Slab<'_> {
    /// Clears the owner words of the slab's pages: no lookup finds the
    /// slab after this (those already in an RCU read-side section may still
    /// hold it until a grace period passes).
    fn retire(&self) {
        // SAFETY: The cache outlives its slabs.
        let pool = unsafe { &*self.cache }.pool;
        let pfn = self.block.pfn();
        for p in 0..self.block.order().nr_pages() {
            if let Some(owner) = pool.owner(Pfn(pfn.0 + p)) {
                owner.write(0);
            }
        }
    }
}

impl Drop for Slab<'_> {
    fn drop(&mut self) {
        // Normally retired already, a grace period ago (see `shrink`).
        self.retire();
    }
}

/// A node's slabs, as `[full | partial | free]` (`struct kmem_cache_node`).
///
/// # Invariants
///
/// `retired` and `detached` are 0 or the first of a chain of retired
/// slabs (from `KBox::into_raw`, linked by `next_retired`) that this
/// node owns: `retired` those shrinker scans took since the cache's RCU
/// work last detached them, `detached` those it detached, to be freed
/// after the grace period that followed.
struct NodeLists<'a> {
    slabs: KVec<KBox<Slab<'a>>>,
    lists: SlabLists,
    /// Objects in use in this node's slabs (some may sit in CPU caches).
    inuse: usize,
    retired: usize,
    detached: usize,
}

/// An object cache (`struct kmem_cache`).
pub(crate) struct Cache<'a> {
    name: CString,
    pool: &'a Pool,
    layout: Layout,
    /// The zone its slabs come from (`s->allocflags`: `Normal`, or `Dma`
    /// for `SLAB_CACHE_DMA`); callers' zone modifiers do not change it.
    zone: ZoneType,
    debug: DebugFlags,
    /// `debug.any()`, kept as one flag for the hit paths to test.
    debugging: bool,
    ctor: Option<Ctor>,
    nodes: KVec<Pin<KBox<SpinLockIrq<NodeLists<'a>>>>>,
    cpus: PerCpu<CpuCache>,
    /// `limit` and `batchcount`, the same on every CPU.
    tunables: [Atomic<usize>; 2],
    colour_next: Atomic<usize>,
    stats: CacheStats,
    /// Free slabs a node keeps from reclaim, for reuse (`s->min_partial`,
    /// `set_min_partial()`: half the log of the slot size, 5 to 10).
    min_partial: usize,
    /// Set once the cache is pinned (until then its scans give nothing).
    reclaim: SetOnce<reclaim::Reclaim<'a>>,
    /// Pinned (`!Unpin`): the pool's shrinker list and RCU work reach the
    /// cache by shared reference until its drop has unregistered them, so
    /// the `&mut` the drop gets must not claim it is the only one.
    _pin: PhantomPinned,
}

impl<'a> Cache<'a> {
    /// `kmem_cache_create()`: a cache of `size`-byte objects aligned to
    /// `align` (0: the default) over `pool`. `EINVAL` for an unusable size
    /// or alignment.
    ///
    /// Must not be called from atomic context.
    pub(crate) fn create(
        pool: &'a Pool,
        name: &str,
        size: usize,
        align: usize,
        debug: DebugFlags,
        ctor: Option<Ctor>,
    ) -> Result<Pin<KBox<Self>>> {
        Self::create_in(pool, name, size, align, debug, ctor, ZoneType::Normal)
    }

    /// [`Cache::create`] of a cache whose slabs come from zone `zone`
    /// (`SLAB_CACHE_DMA` for `ZoneType::Dma`).
    ///
    /// Must not be called from atomic context.
    pub(crate) fn create_in(
        pool: &'a Pool,
        name: &str,
        size: usize,
        align: usize,
        debug: DebugFlags,
        ctor: Option<Ctor>,
        zone: ZoneType,
    ) -> Result<Pin<KBox<Self>>> {
        let layout = Layout::new(size, align, debug, ctor.is_some()).ok_or(EINVAL)?;
        let mut nodes = KVec::new();
        for _ in 0..pool.nr_nodes() {
            let lists = NodeLists { slabs: KVec::new(), lists: SlabLists::default(), inuse: 0, retired: 0, detached: 0 };
            nodes.push(KBox::pin_init(new_spinlock_irq!(lists, "Cache::node"), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let (limit, batchcount) = default_limit(layout.slot);
        let cpus = PerCpu::new(|_| {
            let entries = KBox::init(pin_init::init_zeroed(), GFP_KERNEL)?;
            let ac = Ac::new(entries, limit, batchcount).map_err(|_| EINVAL)?;
            Ok(CpuCache { ac, alloc_hit: 0, free_hit: 0 })
        })?;
        let cache = Self {
            name: CString::try_from_fmt(fmt!("{name}"))?,
            pool,
            layout,
            zone,
            debug,
            debugging: debug.any(),
            ctor,
            nodes,
            cpus,
            tunables: [Atomic::new(limit), Atomic::new(batchcount)],
            colour_next: Atomic::new(0),
            stats: CacheStats::new(),
            min_partial: ((layout.slot.ilog2() / 2) as usize).clamp(MIN_PARTIAL, MAX_PARTIAL),
            reclaim: SetOnce::new(),
            _pin: PhantomPinned,
        };
        let cache = KBox::pin(cache, GFP_KERNEL)?;
        cache.as_ref().register_reclaim()?;
        Ok(cache)
    }

    /// The cache's name.
    pub(crate) fn name(&self) -> &str {
        self.name.to_str().unwrap_or("?")
    }

    /// The layout (object size, slot, order, objects per slab, colours).
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    fn local_nid(&self) -> usize {
        // SAFETY: No preconditions.
        let nid = unsafe { zonemm_numa_mem_id() } as usize;
        nid.min(self.nodes.len() - 1)
    }

    /// The address of object `i` of `slab`.
    fn object(&self, slab: &Slab<'a>, i: usize) -> *mut u8 {
        // SAFETY: `i` is below `objects`, so the slot lies in the slab.
        unsafe { slab.base.add(i * self.layout.slot + self.layout.object_offset) }
    }

    /// `kmem_cache_alloc()`: an object, from this CPU's cache when it has
    /// one. Any context but NMI if `flags` may not sleep (a new slab's
    /// descriptor is then allocated with `GFP_ATOMIC` or `GFP_NOWAIT`);
    /// may sleep otherwise.
    #[track_caller]
    #[inline(always)]
    pub(crate) fn alloc(&self, flags: Flags) -> Result<NonNull<u8>> {
        let guard = CpuGuard::new();
        let obj = self.alloc_hit(&guard);
        drop(guard);
        match NonNull::new(obj) {
            Some(obj) => {
                self.zero_if(obj, flags.zero);
                Ok(obj)
            }
            None => self.alloc_miss(flags),
        }
    }

    /// [`Cache::alloc`] after a miss on the hit path, out of line: the
    /// injected fault's chance (`should_failslab()`, which spares a
    /// `nofail` caller), then the slow path, then `__GFP_ZERO`.
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(crate) fn alloc_miss(&self, flags: Flags) -> Result<NonNull<u8>> {
        if !flags.nofail && crate::fault::should_fail(crate::fault::Site::Slab, self.layout.object_size) {
            return Err(ENOMEM);
        }
        self.alloc_slow(flags).inspect(|&obj| self.zero_if(obj, flags.zero))
    }

    /// `__GFP_ZERO` (`zero`): clears the object (`kmem_cache_zalloc()`).
    #[inline(always)]
    pub(crate) fn zero_if(&self, obj: NonNull<u8>, zero: bool) {
        if zero {
            // SAFETY: A fresh object of ours: `object_size` bytes.
            unsafe { core::ptr::write_bytes(obj.as_ptr(), 0, self.layout.object_size) };
        }
    }

    /// The hit path of [`Cache::alloc`]: an object from this CPU's cache
    /// (no lock, no atomic read-modify-write, no call), or null for a miss
    /// that [`Cache::alloc_miss`] takes: an empty cache, a debug cache,
    /// fault injection armed (the chance is taken there), or an
    /// interrupted user holding this CPU's cache.
    #[inline(always)]
    pub(crate) fn alloc_hit(&self, guard: &CpuGuard) -> *mut u8 {
        if crate::fault::armed(crate::fault::Site::Slab) | self.debugging {
            return core::ptr::null_mut();
        }
        let Some(mut ac) = self.cpus.try_lock_in(guard) else { return core::ptr::null_mut() };
        match ac.pop() {
            Some(obj) => {
                ac.alloc_hit = ac.alloc_hit.wrapping_add(1);
                obj as *mut u8
            }
            None => core::ptr::null_mut(),
        }
    }

    /// [`Cache::alloc`] after a miss on the hit path: refill this CPU's
    /// cache from the node lists, growing a slab if they are empty.
    #[track_caller]
    pub(crate) fn alloc_slow(&self, flags: Flags) -> Result<NonNull<u8>> {
        let caller = Location::caller();
        let mut nid = None;
        loop {
            if !self.debugging {
                let got = self.cpus.try_with(|ac| {
                    if let Some(obj) = ac.pop() {
                        ac.alloc_hit = ac.alloc_hit.wrapping_add(1);
                        return Some(obj as *mut u8);
                    }
                    let node = *nid.get_or_insert_with(|| self.local_nid());
                    let mut n = self.nodes[node].lock();
                    for _ in 0..ac.batchcount() {
                        let Some(obj) = self.take_one(&mut n) else { break };
                        ac.push(obj as usize);
                    }
                    drop(n);
                    let obj = ac.pop()?;
                    self.stats.alloc_miss.add(1, Relaxed);
                    self.stats.refills.add(1, Relaxed);
                    Some(obj as *mut u8)
                });
                match got {
                    Some(Some(obj)) => return NonNull::new(obj).ok_or(EINVAL),
                    Some(None) => {}
                    None => {
                        // An interrupted user holds this CPU's cache.
                        let node = *nid.get_or_insert_with(|| self.local_nid());
                        let obj = self.take_one(&mut self.nodes[node].lock());
                        if let Some(obj) = obj {
                            self.stats.alloc_miss.add(1, Relaxed);
                            return NonNull::new(obj).ok_or(EINVAL);
                        }
                    }
                }
            } else {
                let nid = *nid.get_or_insert_with(|| self.local_nid());
                let mut n = self.nodes[nid].lock();
                if let Some(obj) = self.take_one(&mut n) {
                    drop(n);
                    self.stats.alloc_miss.add(1, Relaxed);
                    self.on_alloc(obj, caller);
                    return NonNull::new(obj).ok_or(EINVAL);
                }
            }
            let node = *nid.get_or_insert_with(|| self.local_nid());
            nid = Some(match self.grow(node, flags) {
                Ok(n) => n,
                // `__GFP_NOFAIL`: the pages wait in the pool's slow path;
                // a descriptor the kernel could not give is tried again.
                // SAFETY: No preconditions.
                Err(_) if flags.nofail && flags.may_sleep && unsafe { zonemm_in_task_context() } => {
                    kernel::time::delay::fsleep(kernel::time::Delta::from_millis(10));
                    continue;
                }
                Err(e) => return Err(e),
            });
        }
    }

    /// Takes a free object from the node's partial, else free, slabs.
    fn take_one(&self, n: &mut NodeLists<'a>) -> Option<*mut u8> {
        let pos = n.lists.first_partial().or(n.lists.last_free())?;
        let slab: *const Slab<'a> = &*n.slabs[pos];
        // SAFETY: The slab stays in `n.slabs` while we hold the node lock.
        let slab = unsafe { &*slab };
        let st = slab.state.access_mut(n);
        let i = st.freelist.pop()?;
        let to = SlabList::of(st.freelist.inuse(), st.freelist.objects());
        n.inuse += 1;
        Self::relist(n, pos, to);
        Some(self.object(slab, i))
    }

    /// Moves the slab at `pos` to list `to`, keeping every slab's `pos`.
    fn relist(n: &mut NodeLists<'a>, pos: usize, to: SlabList) {
        let NodeLists { slabs, lists, .. } = n;
        lists.move_to(pos, to, |a, b| {
            slabs.swap(a, b);
            slabs[a].pos.store(a, Relaxed);
            slabs[b].pos.store(b, Relaxed);
        });
    }

    /// `cache_grow()`: a new slab on node `nid` (or wherever the pool finds
    /// pages), added to its node's free list. Returns that node.
    fn grow(&self, nid: usize, flags: Flags) -> Result<usize> {
        // A GFP_NOFS or GFP_NOIO caller's reclaim rules hold for the
        // descriptor's allocations too.
        let _scope = flags.memalloc_scope();
        let gfp = flags.kernel_gfp();
        if !matches!(flags.highest, ZoneType::Normal | ZoneType::Dma) {
            warn_slab_zone();
        }
        // The cache's zone, not the caller's (`s->allocflags`).
        let page_flags = Flags { mt: MigrateType::Unmovable, zero: false, ..flags }.zone(self.zone).node(nid);
        let block = self.pool.alloc_pages(self.layout.order, page_flags)?;
        // A failure with the pages taken: they must go back.
        if !flags.nofail {
            crate::fault::inject(crate::fault::Site::Slab, block.size())?;
        }
        let objects = self.layout.objects;
        let freelist = Freelist::new(
            KVec::from_elem(0u16, objects, gfp)?,
            KVec::from_elem(0u64, objects.div_ceil(64), gfp)?,
            objects,
        )
        .ok_or(ENOMEM)?;
        let colour = self.layout.colour(self.colour_next.fetch_add(1, Relaxed));
        // SAFETY: The colour offset plus every slot fits the slab.
        let base = unsafe { block.as_mut_ptr().add(colour) };
        let nid = block.zone().nid();
        let node = &self.nodes[nid.min(self.nodes.len() - 1)];
        let slab = KBox::new(
            Slab {
                magic: SLAB_MAGIC,
                cache: self,
                block,
                base,
                nid,
                pos: Atomic::new(0),
                state: LockedBy::new(node, SlabState { freelist }),
                next_retired: 0,
            },
            gfp,
        )?;
        for i in 0..objects {
            self.init_object(self.object(&slab, i));
        }
        let mut slab = Some(slab);
        loop {
            let mut n = node.lock();
            if n.slabs.len() < n.slabs.capacity() {
                let pos = n.lists.push_free();
                if let Some(s) = slab.take() {
                    s.pos.store(pos, Relaxed);
                    let (addr, pfn, nr) = (&*s as *const Slab<'a> as usize, s.block.pfn(), s.block.order().nr_pages());
                    if n.slabs.push_within_capacity(s).is_err() {
                        return Err(ENOMEM);
                    }
                    // Published only now, listed and whole (the release
                    // orders the descriptor's fields before the word): a
                    // slab that failed to grow was never visible, so its
                    // descriptor goes without a grace period.
                    for p in 0..nr {
                        // INVARIANT: every page of the slab points back to it.
                        if let Some(owner) = self.pool.owner(Pfn(pfn.0 + p)) {
                            owner.store_release(addr);
                        }
                    }
                }
                self.stats.grown.add(1, Relaxed);
                return Ok(nid);
            }
            // Need room: allocate a bigger array with no lock held.
            let want = n.slabs.capacity() * 2 + 4;
            drop(n);
            let mut bigger = KVec::with_capacity(want, gfp)?;
            let mut n = node.lock();
            if n.slabs.capacity() < want {
                for s in n.slabs.drain_all() {
                    if let Err(e) = bigger.push_within_capacity(s) {
                        drop(e);
                    }
                }
                core::mem::swap(&mut n.slabs, &mut bigger);
            }
            drop(n);
            // The old, empty array is freed here, outside the lock.
        }
    }

    /// Finds the slab and object index `ptr` names, if it is an object of
    /// this cache (`virt_to_slab()` plus checks).
    #[inline(always)]
    fn lookup(&self, ptr: *const u8) -> Option<(&Slab<'a>, usize)> {
        let slab = slab_of(self.pool, ptr)?;
        if !core::ptr::eq(slab.cache, self) {
            return None;
        }
        Some((slab, self.index_in(slab, ptr)?))
    }

    /// `kmem_cache_free()`: gives `ptr` back. A pointer that is not an
    /// object of this cache, or (in a debug cache) a double free, is
    /// reported and ignored. Any context but NMI.
    pub(crate) fn free(&self, ptr: NonNull<u8>) {
        self.free_in(&CpuGuard::new(), ptr);
    }

    /// [`Cache::free`] with preemption disabled by `guard`: the RCU
    /// read-side section that keeps the slab found readable (see
    /// `shrink`).
    #[inline(always)]
    pub(crate) fn free_in(&self, guard: &CpuGuard, ptr: NonNull<u8>) {
        let hit = self.lookup(ptr.as_ptr()).is_some() && self.free_hit(guard, ptr);
        if !hit {
            self.free_in_slow(guard, ptr);
        }
    }

    /// [`Cache::free_in`] after a miss on the hit path, out of line: the
    /// lookup again, then a debug cache's checks, a full or busy CPU
    /// cache, or the report of a pointer that is not one of ours.
    #[cold]
    #[inline(never)]
    fn free_in_slow(&self, guard: &CpuGuard, ptr: NonNull<u8>) {
        match self.lookup(ptr.as_ptr()) {
            Some((slab, i)) => self.free_object(guard, slab, i, ptr),
            None => self.report(ptr.as_ptr(), 0, "free of a pointer that is not one of its objects"),
        }
    }

    /// The index of `ptr` in `slab` (one of ours), if it starts an object.
    #[inline(always)]
    fn index_in(&self, slab: &Slab<'a>, ptr: *const u8) -> Option<usize> {
        // Wrapping: a pointer below the first object wraps to an offset
        // past the slots, which `index_of` refuses.
        let off = (ptr as usize).wrapping_sub((slab.base as usize).wrapping_add(self.layout.object_offset));
        // `obj_to_index()`: a multiply by the slot's reciprocal, no divide.
        self.layout.index_of(off)
    }

    /// Whether `slab` is still on its node's lists (not being given back
    /// by a shrink that a stale pointer's free raced with).
    fn listed(n: &NodeLists<'a>, slab: &Slab<'a>) -> bool {
        n.slabs.get(slab.pos.load(Relaxed)).is_some_and(|s| core::ptr::eq(&**s, slab))
    }

    /// The hit path of a free: `ptr`, an object of ours, onto this CPU's
    /// cache (no lock, no atomic read-modify-write, no call). `false`,
    /// having changed nothing, for a debug cache, a full cache, or an
    /// interrupted user holding it.
    #[inline(always)]
    fn free_hit(&self, guard: &CpuGuard, ptr: NonNull<u8>) -> bool {
        if self.debugging {
            return false;
        }
        let Some(mut ac) = self.cpus.try_lock_in(guard) else { return false };
        if !ac.push(ptr.as_ptr() as usize) {
            return false;
        }
        ac.free_hit = ac.free_hit.wrapping_add(1);
        true
    }

    /// Frees object `i` of `slab`, found from `ptr` under `guard`.
    #[inline(always)]
    fn free_object(&self, guard: &CpuGuard, slab: &Slab<'a>, i: usize, ptr: NonNull<u8>) {
        if self.debugging {
            return self.free_object_debug(slab, i, ptr);
        }
        // The hit path: this CPU's cache, no lock.
        let Some(mut ac) = self.cpus.try_lock_in(guard) else {
            return self.free_object_locked(slab, i);
        };
        if !ac.push(ptr.as_ptr() as usize) {
            drop(ac);
            return self.free_object_flush(guard, slab, i, ptr);
        }
        ac.free_hit = ac.free_hit.wrapping_add(1);
    }

    /// [`Cache::free_object`] into a full CPU cache: its coldest batch goes
    /// back to the slabs first.
    #[cold]
    fn free_object_flush(&self, guard: &CpuGuard, slab: &Slab<'a>, i: usize, ptr: NonNull<u8>) {
        self.stats.free_miss.add(1, Relaxed);
        self.stats.flushes.add(1, Relaxed);
        let done = self.cpus.try_with_in(guard, |ac| {
            self.flush_array(ac, false);
            ac.push(ptr.as_ptr() as usize);
        });
        if done.is_none() {
            // Entered just now with preemption still off, so not expected;
            // the node lists take the object all the same.
            self.free_object_locked(slab, i);
        }
    }

    /// [`Cache::free_object`] when an interrupted user holds this CPU's
    /// cache: straight to the node lists.
    #[cold]
    fn free_object_locked(&self, slab: &Slab<'a>, i: usize) {
        self.stats.free_miss.add(1, Relaxed);
        let mut n = self.nodes[slab.nid].lock();
        if Self::listed(&n, slab) {
            self.free_to_slab(&mut n, slab, i);
        }
    }

    /// [`Cache::free_object`] of a debug cache: checked under the node lock,
    /// as SLUB's debug caches free.
    #[cold]
    fn free_object_debug(&self, slab: &Slab<'a>, i: usize, ptr: NonNull<u8>) {
        let mut n = self.nodes[slab.nid].lock();
        if !Self::listed(&n, slab) {
            drop(n);
            self.report(ptr.as_ptr(), 0, "free into a slab being given back");
            return;
        }
        if slab.state.access(&*n).freelist.is_free(i) {
            drop(n);
            self.report(ptr.as_ptr(), 0, "double free");
            return;
        }
        self.on_free(ptr.as_ptr());
        self.free_to_slab(&mut n, slab, i);
        self.stats.free_miss.add(1, Relaxed);
    }

    /// `cache_flusharray()` with `free_block()`: the coldest batch of `ac`
    /// (or all of it) back to the slabs, each node's lock held across a
    /// run of objects of that node rather than taken per object. A slab
    /// cannot go away while an object of it is cached (it counts as in
    /// use); an entry a stale free left there is looked up like any
    /// pointer, and dropped if its slab is gone. Runs with preemption
    /// disabled.
    fn flush_array(&self, ac: &mut CpuCache, all: bool) {
        let mut held: Option<(usize, SpinLockIrqGuard<'_, NodeLists<'a>>)> = None;
        ac.flush(all, |obj| {
            let Some((slab, i)) = self.lookup(obj as *const u8) else { return };
            if held.as_ref().map(|(nid, _)| *nid) != Some(slab.nid) {
                // The old node's lock goes before the next one is taken.
                drop(held.take());
                held = Some((slab.nid, self.nodes[slab.nid].lock()));
            }
            if let Some((_, n)) = held.as_mut() {
                self.free_to_slab(n, slab, i);
            }
        });
    }

    fn free_to_slab(&self, n: &mut NodeLists<'a>, slab: &Slab<'a>, i: usize) {
        let st = slab.state.access_mut(n);
        match st.freelist.push(i) {
            Ok(()) => {
                let to = SlabList::of(st.freelist.inuse(), st.freelist.objects());
                n.inuse -= 1;
                Self::relist(n, slab.pos.load(Relaxed), to);
                if to == SlabList::Free && n.lists.counts().2 > self.min_partial {
                    // Reclaimable now: a hopeless kswapd may try again.
                    self.pool.note_reclaimable();
                }
            }
            Err(ObjectError::AlreadyFree | ObjectError::NotAnObject) => {}
        }
    }

    /// Gives every CPU's cached objects back to their slabs, from an
    /// interrupt on each CPU (`flush_all()` queues work on each; an
    /// interrupt does not wait for the CPU's task to yield: the node locks
    /// are interrupt-safe and nothing here sleeps). Sleeps: process
    /// context with interrupts on.
    pub(crate) fn flush_cpu_caches(&self) {
        self.cpus.on_each_cpu_irq(|_, ac| self.flush_array(ac, true));
    }

    /// `kmem_cache_shrink()`: every free slab back to the buddy pool,
    /// after the CPU caches. Returns the slabs given back. Sleeps: the
    /// slabs are taken off the lists and out of their pages' owner words,
    /// and freed only after an RCU grace period, when no free that found
    /// one can still be reading it.
    pub(crate) fn shrink(&self) -> usize {
        self.flush_cpu_caches();
        let mut reaped = 0;
        let mut retired = KVec::new();
        for node in self.nodes.iter() {
            loop {
                let mut n = node.lock();
                let Some(pos) = n.lists.last_free() else { break };
                if pos + 1 != n.slabs.len() {
                    break;
                }
                let Some(slab) = n.slabs.pop() else { break };
                n.lists.pop_free();
                drop(n);
                slab.retire();
                reaped += 1;
                if retired.reserve(1, GFP_KERNEL).is_err() {
                    // No room to batch it: wait for its grace period alone.
                    compat::synchronize_rcu();
                    drop(slab);
                } else if let Err(e) = retired.push_within_capacity(slab) {
                    // Cannot happen (room was just made); the same again.
                    compat::synchronize_rcu();
                    drop(e);
                }
            }
        }
        if !retired.is_empty() {
            compat::synchronize_rcu();
            // A stale free of an object of these slabs that read the owner
            // word before it was cleared may have put the object on a CPU's
            // cache meanwhile; the grace period waited for it to finish, so
            // this flush finds every such entry (no longer any slab's) and
            // drops it before the pages go.
            self.flush_cpu_caches();
        }
        // The pages go back to the pool with no lock held.
        drop(retired);
        self.stats.reaped.add(reaped as u64, Relaxed);
        reaped
    }

    /// Objects in use by the cache's users (not those in CPU caches).
    /// Sleeps (it counts every CPU's cache on its CPU).
    pub(crate) fn active_objects(&self) -> usize {
        let inuse: usize = self.nodes.iter().map(|n| n.lock().inuse).sum();
        let cached = self.cpus.sum(|c| c.avail() as u64) as usize;
        inuse.saturating_sub(cached)
    }

    /// `kmem_cache_destroy()`'s check: with objects still in use, lists
    /// them (up to 16) in the kernel log and refuses with `EBUSY`, freeing
    /// nothing. Otherwise gives every slab back; the caller then drops the
    /// cache.
    pub(crate) fn prepare_destroy(&self) -> Result {
        self.flush_cpu_caches();
        let live = self.active_objects();
        if live > 0 {
            pr_err!("kmem_cache_destroy {}: {} objects still in use\n", self.name(), live);
            self.list_live(16);
            return Err(EBUSY);
        }
        self.shrink();
        Ok(())
    }
}

impl Drop for Cache<'_> {
    fn drop(&mut self) {
        self.stop_reclaim();
        self.flush_cpu_caches();
        let live = self.active_objects();
        if live > 0 {
            pr_err!("cache {}: {} objects leaked at teardown\n", self.name(), live);
        }
        // The node lists drop their slabs, which give their pages back.
    }
}

/// `kmalloc_fix_flags()`'s warning, once: `__GFP_DMA32` and `__GFP_HIGHMEM`
/// (`GFP_SLAB_BUG_MASK`) mean nothing to a slab allocation, which takes
/// its cache's zone.
#[cold]
pub(crate) fn warn_slab_zone() {
    static WARNED: OnceWord = OnceWord::new(0);
    if WARNED.xchg(1) == 0 {
        pr_warn!("unexpected __GFP_DMA32 or __GFP_HIGHMEM for a slab allocation: ignored\n");
    }
}

/// The slab that `ptr` lies in, if it is in a slab of `pool`. The caller
/// is in an RCU read-side section (a [`CpuGuard`]) or owns an object of
/// the slab, and must not use the slab after leaving it.
#[inline(always)]
fn slab_of<'a>(pool: &'a Pool, ptr: *const u8) -> Option<&'a Slab<'a>> {
    slab_of_word(owner_of(pool, ptr)?.load_acquire())
}

/// The slab an owner word names, if it names one; as for [`slab_of`].
#[inline(always)]
fn slab_of_word<'a>(private: usize) -> Option<&'a Slab<'a>> {
    if private == 0 || private & 1 != 0 {
        return None;
    }
    // Only a listed slab puts a non-zero word with a clear low bit in its
    // pages' owner words, cleared a grace period before it is freed.
    // SAFETY: So, the caller being in an RCU reader or owning an object, live.
    let slab = unsafe { &*(private as *const Slab<'a>) };
    (slab.magic == SLAB_MAGIC).then_some(slab)
}

/// The hit path of `kfree()`: `ptr`, if `owner` (the owner word of its
/// page, read under `guard`) names a slab and `ptr` starts one of its
/// objects, onto this CPU's cache of that slab's cache. `false`, having
/// changed nothing, for anything [`free_any`] must look at.
#[inline(always)]
pub(crate) fn free_hit_any(guard: &CpuGuard, owner: usize, ptr: NonNull<u8>) -> bool {
    let Some(slab) = slab_of_word(owner) else { return false };
    // SAFETY: As in `free_any`.
    let cache = unsafe { &*slab.cache };
    cache.index_in(slab, ptr.as_ptr()).is_some() && cache.free_hit(guard, ptr)
}

/// `kfree()` of a slab object: frees `ptr` if `owner`, the owner word of
/// its page, names a slab (reporting it if it does not start an object).
/// Returns whether it did. `guard` must have been taken before `owner`
/// was read: it is the RCU read-side section that keeps the slab readable
/// (see `Cache::shrink`). Any context but NMI.
#[inline(always)]
pub(crate) fn free_any(guard: &CpuGuard, owner: usize, ptr: NonNull<u8>) -> bool {
    let Some(slab) = slab_of_word(owner) else { return false };
    // SAFETY: A cache outlives its slabs: it is dropped only after its
    // shrink, whose grace period has waited for this reader.
    let cache = unsafe { &*slab.cache };
    match cache.index_in(slab, ptr.as_ptr()) {
        Some(i) => cache.free_object(guard, slab, i, ptr),
        None => cache.report(ptr.as_ptr(), 0, "kfree of a pointer inside an object"),
    }
    true
}

/// The owner word of the pool page holding `ptr`, if it is one.
#[inline(always)]
fn owner_of<'a>(pool: &'a Pool, ptr: *const u8) -> Option<&'a OnceWord> {
    pool.owner_of_addr(ptr)
}

mod tests;
