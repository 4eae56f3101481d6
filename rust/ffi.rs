// SPDX-License-Identifier: GPL-2.0

//! The C ABI zonemm exports to other modules (`include/zonemm.h`,
//! exported by `exports.c` with `EXPORT_SYMBOL_GPL`), over the module's
//! pool, kmalloc classes and regions.
//!
//! A module calling these depends on zonemm, so zonemm is never unloaded
//! under a user; what users leave behind (caches) is destroyed with it.

use core::ptr::NonNull;

use kernel::{
    new_mutex,
    prelude::*,
    str::CStrExt,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex,
    },
};

use crate::{
    buddy::Flags,
    pfn::Order,
    region::RegionFlags,
    slab::{
        kmalloc::{
            kfree,
            kmalloc_block,
            tag_block, //
        },
        Cache,
    },
    slub::DebugFlags,
    State,
};

/// What the API works on, published while the module is loaded.
pub(crate) struct Api {
    state: &'static State,
    /// Caches users created, by address, for checks and for cleanup.
    caches: Pin<KBox<Mutex<KVec<usize>>>>,
}

static API: Atomic<*mut Api> = Atomic::new(core::ptr::null_mut());

impl Api {
    pub(crate) fn new(state: &'static State) -> Result<Self> {
        Ok(Self { state, caches: KBox::pin_init(new_mutex!(KVec::new(), "Api::caches"), GFP_KERNEL)? })
    }

    /// Makes `api` the one the exported functions use.
    pub(crate) fn publish(api: &'static Api) {
        API.store(core::ptr::from_ref(api).cast_mut(), Relaxed);
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        API.store(core::ptr::null_mut(), Relaxed);
        for addr in self.caches.lock().drain_all() {
            // SAFETY: Registered caches came from `KBox::into_raw` of a
            // pinned box in `zonemm_cache_create`, and no user is left.
            drop(unsafe { Pin::new_unchecked(KBox::from_raw(addr as *mut Cache<'static>)) });
        }
    }
}

/// Calls `f` on every cache users created through the API (for slabinfo).
pub(crate) fn for_each_cache(mut f: impl FnMut(&Cache<'static>)) {
    let Some(api) = api() else { return };
    for &addr in api.caches.lock().iter() {
        // SAFETY: A registered handle is a live cache until destroyed, and
        // it stays registered while the lock is held.
        f(unsafe { &*(addr as *const Cache<'static>) });
    }
}

fn api() -> Option<&'static Api> {
    let p = API.load(Relaxed);
    // SAFETY: A published `Api` lives until it unpublishes itself in its
    // `Drop`, after every user module is gone.
    (!p.is_null()).then(|| unsafe { &*p })
}

fn to_ptr<T>(r: Result<NonNull<T>>) -> *mut c_void {
    r.map_or(core::ptr::null_mut(), |p| p.as_ptr().cast())
}

/// `zonemm_alloc_pages()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_alloc_pages(order: c_uint, zero: bool) -> *mut c_void {
    let Some(api) = api() else { return core::ptr::null_mut() };
    let Some(order) = Order::new(order) else { return core::ptr::null_mut() };
    let flags = if zero { Flags::KERNEL.zeroed() } else { Flags::KERNEL };
    to_ptr(kmalloc_block(api.state.pool, order, flags))
}

/// `zonemm_alloc_pages_bulk()`: see `include/zonemm.h`.
///
/// # Safety
///
/// `addrs` must be valid for writes of `nr` pointers.
#[no_mangle]
pub(crate) unsafe extern "C" fn zonemm_alloc_pages_bulk(order: c_uint, nr: c_uint, addrs: *mut *mut c_void) -> c_uint {
    let (Some(api), Some(order)) = (api(), Order::new(order)) else { return 0 };
    if addrs.is_null() || nr == 0 {
        return 0;
    }
    let Ok(mut held) = KVec::with_capacity(nr as usize, GFP_KERNEL) else { return 0 };
    api.state.pool.alloc_pages_bulk(order, Flags::KERNEL, nr as usize, &mut held);
    let mut done = 0;
    for block in held.drain_all() {
        // A failed tag frees its block; the rest are freed as `held` drains.
        let Ok(addr) = tag_block(api.state.pool, block, Flags::KERNEL) else { break };
        // SAFETY: `done < nr`, and the caller gave room for `nr` pointers.
        unsafe { addrs.add(done).write(addr.as_ptr().cast()) };
        done += 1;
    }
    done as c_uint
}

/// `zonemm_free_pages()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_free_pages(addr: *mut c_void) {
    if let (Some(api), Some(p)) = (api(), NonNull::new(addr.cast())) {
        kfree(api.state.pool, p);
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
    let mut caches = api.caches.lock();
    if caches.reserve(1, GFP_KERNEL).is_err() {
        return core::ptr::null_mut();
    }
    // SAFETY: The cache is never moved out of its box: it is only borrowed,
    // then dropped in place by `zonemm_cache_destroy` or `Api::drop`.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(cache) });
    let _ = caches.push_within_capacity(raw as usize);
    raw.cast()
}

/// The cache behind a handle, if it is one of ours.
fn cache_of(api: &Api, handle: *mut c_void) -> Option<&'static Cache<'static>> {
    api.caches.lock().contains(&(handle as usize)).then(|| {
        // SAFETY: A registered handle is a live cache until destroyed.
        unsafe { &*handle.cast::<Cache<'static>>() }
    })
}

/// `zonemm_cache_alloc()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_cache_alloc(cache: *mut c_void) -> *mut c_void {
    let Some(cache) = api().and_then(|a| cache_of(a, cache)) else { return core::ptr::null_mut() };
    to_ptr(cache.alloc(Flags::KERNEL))
}

/// `zonemm_cache_free()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_cache_free(cache: *mut c_void, obj: *mut c_void) {
    if let (Some(cache), Some(p)) = (api().and_then(|a| cache_of(a, cache)), NonNull::new(obj.cast())) {
        cache.free(p);
    }
}

/// `zonemm_cache_destroy()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_cache_destroy(cache: *mut c_void) -> c_int {
    let Some(api) = api() else { return EINVAL.to_errno() };
    let Some(c) = cache_of(api, cache) else { return EINVAL.to_errno() };
    if let Err(e) = c.prepare_destroy() {
        return e.to_errno();
    }
    api.caches.lock().retain(|a| *a != cache as usize);
    // SAFETY: Registered until just now; from `KBox::into_raw` of a pinned
    // box; nobody else holds it.
    drop(unsafe { Pin::new_unchecked(KBox::from_raw(cache.cast::<Cache<'static>>())) });
    0
}

/// `zonemm_kmalloc()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_kmalloc(size: usize) -> *mut c_void {
    let Some(api) = api() else { return core::ptr::null_mut() };
    to_ptr(api.state.kmalloc.kmalloc(size, Flags::KERNEL))
}

/// `zonemm_kfree()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_kfree(ptr: *const c_void) {
    if let (Some(api), Some(p)) = (api(), NonNull::new(ptr.cast_mut().cast())) {
        kfree(api.state.pool, p);
    }
}

/// `zonemm_region_alloc()`: see `include/zonemm.h`.
#[no_mangle]
pub(crate) extern "C" fn zonemm_region_alloc(size: usize, flags: c_uint) -> i64 {
    let Some(api) = api() else { return EINVAL.to_errno() as i64 };
    let flags = RegionFlags {
        zero: flags & 1 != 0,
        mergeable: flags & 2 != 0,
        huge: flags & 4 != 0,
        no_guard: flags & 8 != 0,
    };
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
