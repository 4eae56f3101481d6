// SPDX-License-Identifier: GPL-2.0

//! The C ABI zonemm exports to other modules (`include/zonemm.h`,
//! exported by `exports.c` with `EXPORT_SYMBOL_GPL`), over the module's
//! pool, kmalloc classes and regions.
//!
//! A module calling these depends on zonemm, so zonemm is never unloaded
//! under a user; what users leave behind (caches) is destroyed with it.

use core::{
    mem::MaybeUninit,
    ptr::NonNull, //
};

use kernel::{
    bindings,
    new_mutex,
    prelude::*,
    str::CStrExt,
    sync::Mutex,
};

use crate::compat::{
    self,
    new_srcu,
    Srcu, //
};
use crate::{
    buddy::Flags,
    once::OnceWord,
    percpu::CpuGuard,
    pfn::Order,
    region::{
        PageMap,
        RegionFlags, //
    },
    slab::{
        kmalloc::{
            free_block,
            kfree,
            kmalloc_block,
            tag_block, //
        },
        Cache,
    },
    slub::DebugFlags,
    State,
};

/// How many caches users may have at once.
const MAX_CACHES: usize = 256;

/// What slot `slot`'s keys hold while no handle names it: a value whose
/// low byte names another slot, so that nothing a caller passes (which is
/// looked up in the slot its low byte names) ever equals it.
const fn empty_key(slot: usize) -> usize {
    slot ^ 0x80
}

/// One handle slot: the cache, and the handle that names it now. Every
/// destroy bumps the generation, so a stale handle never names the slot's
/// next cache. The hit paths check a handle with one load and one compare
/// against a key.
struct CacheSlot {
    cache: OnceWord,
    /// The handle frees may use: the live cache's, or [`empty_key`].
    free_key: OnceWord,
    /// The handle allocations may use: `free_key`, or [`empty_key`] while
    /// the cache is being destroyed.
    alloc_key: OnceWord,
    /// The generation the slot's next handle gets (under `writers`).
    gen: OnceWord,
}

/// A cache handle as users see it: never an address, so that nothing a
/// user passes back is ever dereferenced before it is found in the table.
/// Bits 0..8 are the slot, bits 8..40 the generation, bit 63 set; never
/// zero and never an [`empty_key`].
#[derive(Clone, Copy, PartialEq, Eq)]
struct Handle(usize);

impl Handle {
    fn new(slot: usize, gen: u32) -> Self {
        Self((gen as usize) << 8 | slot | 1 << 63)
    }

    fn slot(self) -> usize {
        self.0 & 0xff
    }
}

/// What the API works on, published while the module is loaded.
///
/// # Invariants
///
/// `slots` has [`MAX_CACHES`] entries. A slot's `cache` is zero or a
/// pinned `KBox<Cache>` leaked by `zonemm_cache_create`, live until a
/// destroy sets the slot's keys to its [`empty_key`] and both an RCU and
/// an SRCU grace period pass. A key other than the slot's `empty_key` is
/// only set
/// (released) after `cache` holds the cache it names. Users reach a cache
/// only through a key that matched, with preemption disabled (an RCU
/// read-side section: the hit paths) or inside `srcu`'s read side (the
/// paths that may sleep).
#[pin_data(PinnedDrop)]
pub(crate) struct Api {
    state: &'static State,
    slots: KBox<[CacheSlot; MAX_CACHES]>,
    /// Readers of `slots` (any context but NMI; they may sleep).
    #[pin]
    srcu: Srcu,
    /// Serialises create and destroy.
    #[pin]
    writers: Mutex<()>,
}

/// The published [`Api`], read on every call: a [`OnceWord`].
static API: OnceWord = OnceWord::new(0);

impl Api {
    pub(crate) fn new(state: &'static State) -> Result<impl PinInit<Self, Error>> {
        // Built in place: the table is too big for the stack.
        let slots = KBox::init(
            pin_init::init_array_from_fn::<_, MAX_CACHES, _, Error>(|i| {
                kernel::try_init!(CacheSlot {
                    cache: OnceWord::new(0),
                    free_key: OnceWord::new(empty_key(i)),
                    alloc_key: OnceWord::new(empty_key(i)),
                    gen: OnceWord::new(1),
                }? Error)
            }),
            GFP_KERNEL,
        )?;
        Ok(try_pin_init!(Self {
            state,
            slots,
            srcu <- new_srcu!("Api::srcu"),
            writers <- new_mutex!((), "Api::writers"),
        }? Error))
    }

    /// Makes `api` the one the exported functions use.
    pub(crate) fn publish(api: &'static Api) {
        API.store_release(core::ptr::from_ref(api) as usize);
    }

    /// The cache `handle` names, if it is live (and, for an allocation,
    /// not being destroyed): valid while `_guard` disables preemption.
    fn cache<'g>(&self, _guard: &'g CpuGuard, handle: *mut c_void, alloc: bool) -> Option<&'g Cache<'static>> {
        let h = Handle(handle as usize);
        // No bounds check: `slot()` is below `MAX_CACHES` (type invariant).
        let slot = &self.slots[h.slot()];
        let key = if alloc { &slot.alloc_key } else { &slot.free_key };
        // A stale handle has an older generation, a forged one matches no
        // key, and no value that selects this slot is its `empty_key`.
        if key.load_acquire() != h.0 {
            return None;
        }
        // SAFETY: The key matched: `cache` holds the live cache it names,
        // kept so while preemption stays disabled (type invariant).
        Some(unsafe { &*(slot.cache.read() as *const Cache<'static>) })
    }

    /// Waits until no caller that may have seen a slot's old contents is
    /// still inside: the hit paths (RCU) and the slow paths (SRCU).
    /// Process context; sleeps.
    fn synchronize(&self) {
        compat::synchronize_rcu();
        self.srcu.synchronize();
    }

    /// Unpublishes the cache in slot `i` and waits until no caller is
    /// inside it. Process context; sleeps.
    fn unpublish(&self, i: usize) -> usize {
        let slot = &self.slots[i];
        slot.alloc_key.store_release(empty_key(i));
        slot.free_key.store_release(empty_key(i));
        slot.gen.write((slot.gen.read() as u32).wrapping_add(1).max(1) as usize);
        self.synchronize();
        slot.cache.xchg(0)
    }
}

#[pinned_drop]
impl PinnedDrop for Api {
    fn drop(self: Pin<&mut Self>) {
        API.store_release(0);
        let _w = self.writers.lock();
        for i in 0..MAX_CACHES {
            if self.slots[i].cache.read() == 0 {
                continue;
            }
            let cache = self.unpublish(i);
            if cache != 0 {
                // SAFETY: From `KBox::into_raw` of a pinned box in
                // `zonemm_cache_create`; unpublished, no reader left.
                drop(unsafe { Pin::new_unchecked(KBox::from_raw(cache as *mut Cache<'static>)) });
            }
        }
    }
}

/// Calls `f` on every cache users created through the API (for slabinfo).
/// Process context; sleeps.
pub(crate) fn for_each_cache(mut f: impl FnMut(&Cache<'static>)) {
    let Some(api) = api() else { return };
    let _w = api.writers.lock();
    for slot in api.slots.iter() {
        let cache = slot.cache.load_acquire();
        if cache != 0 {
            // SAFETY: Live while published, and create and destroy wait
            // for `writers`, which we hold.
            f(unsafe { &*(cache as *const Cache<'static>) });
        }
    }
}

fn api() -> Option<&'static Api> {
    let p = API.load_acquire() as *const Api;
    // SAFETY: A published `Api` lives until it unpublishes itself in its
    // `drop`, after every user module is gone.
    (!p.is_null()).then(|| unsafe { &*p })
}

// The hit paths' entry points share one page-aligned section of their own,
// as the kernel gathers hot code in `.text.hot`: together they fit in one
// page (`make bench` checks it), so none of them straddles a page
// boundary. (Under QEMU's TCG a jump across a guest page cannot be
// chained and costs a lookup: the same `zonemm_cache_free()` measured 201
// and 221 ns per allocation and free at two layouts of the module's text.)
core::arch::global_asm!(".pushsection .text.zonemm_hot,\"ax\",@progbits", ".balign 4096", ".popsection");

fn to_ptr<T>(r: Result<NonNull<T>>) -> *mut c_void {
    r.map_or(core::ptr::null_mut(), |p| p.as_ptr().cast())
}

/// `zonemm_alloc_pages()`: see `include/zonemm.h`.
#[no_mangle]
#[link_section = ".text.zonemm_hot"]
pub(crate) extern "C" fn zonemm_alloc_pages(gfp: bindings::gfp_t, order: c_uint) -> *mut c_void {
    let Some(api) = api() else { return core::ptr::null_mut() };
    let Some(order) = Order::new(order) else { return core::ptr::null_mut() };
    to_ptr(kmalloc_block(api.state.pool, order, Flags::from_gfp(gfp, None)))
}

/// `zonemm_alloc_pages_bulk()`: see `include/zonemm.h`.
///
/// # Safety
///
/// `addrs` must be valid for writes of `nr` pointers.
#[no_mangle]
pub(crate) unsafe extern "C" fn zonemm_alloc_pages_bulk(
    gfp: bindings::gfp_t,
    order: c_uint,
    nr: c_uint,
    addrs: *mut *mut c_void,
) -> c_uint {
    let (Some(api), Some(order)) = (api(), Order::new(order)) else { return 0 };
    if addrs.is_null() || nr == 0 {
        return 0;
    }
    let pool = api.state.pool;
    let mut done = 0usize;
    let flags = Flags::from_gfp(gfp, None);
    pool.alloc_pages_bulk(order, flags, nr as usize, |block| {
        // A failed tag (an injected fault) frees its block.
        if let Ok(addr) = tag_block(pool, block, flags.nofail) {
            // SAFETY: The pool hands out at most `nr` blocks, and the
            // caller gave room for `nr` pointers.
            unsafe { addrs.add(done).write(addr.as_ptr().cast()) };
            done += 1;
        }
    });
    done as c_uint
}

/// `zonemm_free_pages()`: see `include/zonemm.h`.
#[no_mangle]
#[link_section = ".text.zonemm_hot"]
pub(crate) extern "C" fn zonemm_free_pages(addr: *mut c_void) {
    if let (Some(api), Some(p)) = (api(), NonNull::new(addr.cast())) {
        free_block(api.state.pool, p);
    }
}

/// `zonemm_cache_create()`: see `include/zonemm.h`.
///
/// # Safety
///
/// `name` must be a NUL-terminated string.
#[no_mangle]
pub(crate) unsafe extern "C" fn zonemm_cache_create(name: *const c_char, size: usize, align: usize) -> *mut c_void {
    let Some(api) = api() else { return core::ptr::null_mut() };
    if name.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: By the caller's guarantee.
    let Ok(name) = unsafe { CStr::from_char_ptr(name) }.to_str() else { return core::ptr::null_mut() };
    let Ok(cache) = Cache::create(api.state.pool, name, size, align, DebugFlags::default(), None) else {
        return core::ptr::null_mut();
    };
    let _w = api.writers.lock();
    let Some((i, slot)) = api.slots.iter().enumerate().find(|(_, s)| s.cache.read() == 0) else {
        pr_warn!("zonemm_cache_create {name}: all {MAX_CACHES} handles in use\n");
        return core::ptr::null_mut();
    };
    // SAFETY: The cache is never moved out of its box: it is only borrowed,
    // then dropped in place by `zonemm_cache_destroy` or `Api::drop`.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(cache) });
    let h = Handle::new(i, slot.gen.read() as u32);
    // INVARIANT: a leaked pinned box, published under `writers`, the keys
    // after it.
    slot.cache.write(raw as usize);
    slot.free_key.store_release(h.0);
    slot.alloc_key.store_release(h.0);
    h.0 as *mut c_void
}

/// `zonemm_cache_alloc()`: see `include/zonemm.h`.
#[no_mangle]
#[link_section = ".text.zonemm_hot"]
pub(crate) extern "C" fn zonemm_cache_alloc(cache: *mut c_void, gfp: bindings::gfp_t) -> *mut c_void {
    let Some(api) = api() else { return core::ptr::null_mut() };
    let guard = CpuGuard::new();
    let Some(c) = api.cache(&guard, cache, true) else { return core::ptr::null_mut() };
    let obj = c.alloc_hit(&guard);
    if obj.is_null() {
        let c: *const Cache<'static> = c;
        // SAFETY: `c` was found under `guard`, which the call takes over.
        return unsafe { cache_alloc_slow(api, guard, c, gfp) };
    }
    if gfp >> bindings::___GFP_ZERO_BIT & 1 != 0 {
        // SAFETY: Not null.
        c.zero_if(unsafe { NonNull::new_unchecked(obj) }, true);
    }
    obj.cast()
}

/// [`zonemm_cache_alloc`] after a miss on the hit path, out of line.
///
/// # Safety
///
/// `c` is a cache [`Api::cache`] found under `guard`.
#[cold]
#[inline(never)]
unsafe fn cache_alloc_slow(api: &Api, guard: CpuGuard, c: *const Cache<'static>, gfp: bindings::gfp_t) -> *mut c_void {
    // The slow path may sleep: hold the cache by SRCU instead, taken
    // before preemption comes back on.
    let _srcu = api.srcu.read_lock();
    drop(guard);
    // SAFETY: Live while we are inside `srcu`'s read side (type invariant),
    // which began while the guard still kept it so.
    let c = unsafe { &*c };
    to_ptr(c.alloc_miss(Flags::from_gfp(gfp, None)))
}

/// `zonemm_cache_free()`: see `include/zonemm.h`.
#[no_mangle]
#[link_section = ".text.zonemm_hot"]
pub(crate) extern "C" fn zonemm_cache_free(cache: *mut c_void, obj: *mut c_void) {
    let (Some(api), Some(p)) = (api(), NonNull::new(obj.cast())) else { return };
    let guard = CpuGuard::new();
    match api.cache(&guard, cache, false) {
        Some(c) => c.free_in(&guard, p),
        None => {
            drop(guard);
            report_dead_cache(cache, obj);
        }
    }
}

/// The report of a free through a handle that names no live cache.
#[cold]
#[inline(never)]
fn report_dead_cache(cache: *mut c_void, obj: *mut c_void) {
    // SAFETY: No preconditions.
    if unsafe { crate::helpers::zonemm_report_ratelimit() } {
        pr_err!("zonemm_cache_free: {:#x} is not a live cache; {:#x} ignored\n", cache as usize, obj as usize);
    }
}

/// `zonemm_cache_destroy()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_cache_destroy(cache: *mut c_void) -> c_int {
    let Some(api) = api() else { return EINVAL.to_errno() };
    let h = Handle(cache as usize);
    let _w = api.writers.lock();
    let slot = &api.slots[h.slot()];
    let raw = slot.cache.read();
    if raw == 0 || slot.free_key.read() != h.0 {
        pr_err!("zonemm_cache_destroy: {:#x} is not a live cache\n", cache as usize);
        return EINVAL.to_errno();
    }
    // SAFETY: Published, and only we (holding `writers`) may unpublish it.
    let c = unsafe { &*(raw as *const Cache<'static>) };
    // No allocation from here on: once every caller inside has left, the
    // count of objects in use can only go down.
    slot.alloc_key.store_release(empty_key(h.slot()));
    api.synchronize();
    // Refuse while objects are in use, changing nothing.
    if let Err(e) = c.prepare_destroy() {
        slot.alloc_key.store_release(h.0);
        return e.to_errno();
    }
    api.unpublish(h.slot());
    // SAFETY: From `KBox::into_raw` of a pinned box in
    // `zonemm_cache_create`; unpublished, and no reader is left.
    drop(unsafe { Pin::new_unchecked(KBox::from_raw(raw as *mut Cache<'static>)) });
    0
}

/// `zonemm_kmalloc()`: see `include/zonemm.h`.
#[no_mangle]
#[link_section = ".text.zonemm_hot"]
pub(crate) extern "C" fn zonemm_kmalloc(size: usize, gfp: bindings::gfp_t) -> *mut c_void {
    let Some(api) = api() else { return core::ptr::null_mut() };
    api.state.kmalloc.kmalloc_gfp(size, gfp).cast()
}

/// `zonemm_kfree()`: see `include/zonemm.h`.
#[no_mangle]
#[link_section = ".text.zonemm_hot"]
pub(crate) extern "C" fn zonemm_kfree(ptr: *const c_void) {
    if let (Some(api), Some(p)) = (api(), NonNull::new(ptr.cast_mut().cast())) {
        kfree(api.state.pool, p);
    }
}

/// `ZONEMM_REGION_*` and `ZONEMM_MAP_WRITE` of `include/zonemm.h`.
const REGION_ZERO: c_uint = 0x1;
const REGION_MERGEABLE: c_uint = 0x2;
const REGION_HUGE: c_uint = 0x4;
const MAP_WRITE: c_uint = 0x1;

/// `struct zonemm_region_map` of `include/zonemm.h`: room for the mapping
/// guard, opaque to C.
#[repr(C)]
pub(crate) struct RegionMapC {
    opaque: [u64; 6],
}

/// `zonemm_region_alloc()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_region_alloc(size: usize, flags: c_uint) -> i64 {
    let Some(api) = api() else { return EINVAL.to_errno() as i64 };
    const KNOWN: c_uint = REGION_ZERO | REGION_MERGEABLE | REGION_HUGE;
    if flags & !KNOWN != 0 {
        pr_warn!("zonemm_region_alloc: unknown flags {:#x} (no_guard is gone: see zonemm.h)\n", flags & !KNOWN);
        return EINVAL.to_errno() as i64;
    }
    let flags = RegionFlags {
        zero: flags & REGION_ZERO != 0,
        mergeable: flags & REGION_MERGEABLE != 0,
        huge: flags & REGION_HUGE != 0,
    };
    if flags.mergeable && flags.huge {
        pr_warn!("zonemm_region_alloc: a mergeable region is never huge\n");
        return EINVAL.to_errno() as i64;
    }
    match api.state.regions.alloc_id(size, flags) {
        Ok(id) => id as i64,
        Err(e) => e.to_errno() as i64,
    }
}

/// `zonemm_region_addr()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_region_addr(handle: i64) -> *mut c_void {
    let addr = api().and_then(|a| a.state.regions.addr_of(handle as u64));
    addr.map_or(core::ptr::null_mut(), |a| a as *mut c_void)
}

/// `zonemm_region_read()`: see `include/zonemm.h`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn zonemm_region_read(handle: i64, off: usize, buf: *mut c_void, len: usize) -> c_int {
    let Some(api) = api() else { return EINVAL.to_errno() };
    if buf.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: By the caller's guarantee.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    match api.state.regions.read_id(handle as u64, off, buf) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `zonemm_region_write()`: see `include/zonemm.h`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes.
#[no_mangle]
pub(crate) unsafe extern "C" fn zonemm_region_write(handle: i64, off: usize, buf: *const c_void, len: usize) -> c_int {
    let Some(api) = api() else { return EINVAL.to_errno() };
    if buf.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: By the caller's guarantee.
    let buf = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    match api.state.regions.write_id(handle as u64, off, buf) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `zonemm_region_free()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_region_free(handle: i64) -> c_int {
    let Some(api) = api() else { return EINVAL.to_errno() };
    match api.state.regions.free_id(handle as u64) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// What `struct zonemm_region_map` holds: a mapping guard, live while
/// `live` is [`LIVE`]. Any other value (a zeroed struct, one already
/// unmapped) is empty.
#[repr(C)]
struct MapSlot {
    live: u64,
    map: MaybeUninit<PageMap<'static>>,
}

/// `MapSlot::live` of a live mapping.
const LIVE: u64 = 0x7a6d_6d61_705f_6c76;

const _: () = assert!(size_of::<MapSlot>() <= size_of::<RegionMapC>());
const _: () = assert!(align_of::<MapSlot>() <= align_of::<RegionMapC>());

/// `zonemm_region_map()`: see `include/zonemm.h`.
///
/// # Safety
///
/// `map` must be valid for reads and writes of a `struct
/// zonemm_region_map`, and not a copy of one holding a live mapping.
#[no_mangle]
pub(crate) unsafe extern "C" fn zonemm_region_map(
    handle: i64,
    index: usize,
    flags: c_uint,
    map: *mut RegionMapC,
) -> *mut c_void {
    if map.is_null() {
        return core::ptr::null_mut();
    }
    let slot = map.cast::<MapSlot>();
    // SAFETY: `map` has room and alignment for a `MapSlot` (checked at
    // build time); `live` is a plain integer, whatever the caller put there.
    let live = unsafe { &raw mut (*slot).live };
    // SAFETY: As above.
    if unsafe { live.read() } == LIVE {
        pr_warn!("zonemm_region_map: the map already holds a live mapping: unmap it first\n");
        return core::ptr::null_mut();
    }
    // SAFETY: As above. From here the slot is empty until a mapping is in.
    unsafe { live.write(0) };
    let Some(api) = api() else { return core::ptr::null_mut() };
    if flags & !MAP_WRITE != 0 {
        pr_warn!("zonemm_region_map: unknown flags {:#x}\n", flags & !MAP_WRITE);
        return core::ptr::null_mut();
    }
    let Ok(mapped) = api.state.regions.map(handle as u64, index, flags & MAP_WRITE != 0) else {
        return core::ptr::null_mut();
    };
    let ptr = mapped.as_ptr().cast();
    // SAFETY: As above; the slot is empty, so nothing is overwritten.
    unsafe {
        (&raw mut (*slot).map).write(MaybeUninit::new(mapped));
        live.write(LIVE);
    }
    ptr
}

/// `zonemm_region_unmap()`: see `include/zonemm.h`.
///
/// # Safety
///
/// As for [`zonemm_region_map`].
#[no_mangle]
pub(crate) unsafe extern "C" fn zonemm_region_unmap(map: *mut RegionMapC) {
    if map.is_null() {
        return;
    }
    let slot = map.cast::<MapSlot>();
    // SAFETY: `map` has room and alignment for a `MapSlot`; `live` is a
    // plain integer.
    let live = unsafe { &raw mut (*slot).live };
    // SAFETY: As above.
    if unsafe { live.read() } != LIVE {
        return;
    }
    // SAFETY: `live` says `map` holds a mapping `zonemm_region_map()`
    // wrote; marking it empty first makes a second unmap do nothing.
    let mapped = unsafe {
        live.write(0);
        (*slot).map.assume_init_read()
    };
    drop(mapped);
}
