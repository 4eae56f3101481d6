// SPDX-License-Identifier: GPL-2.0

//! A Rust module using zonemm's API (`include/zonemm.h`, declared here):
//! a cache and some objects, a block of pool pages, kmalloc'd memory and
//! a mergeable region, all freed when it is unloaded.

use kernel::{
    bindings,
    prelude::*, //
};

module! {
    type: Sample,
    name: "zonemm_sample_rust",
    authors: ["zonemm developers"],
    description: "A Rust client of zonemm's API",
    license: "GPL",
}

/// `include/zonemm.h`.
mod zonemm {
    use kernel::{
        bindings,
        prelude::*, //
    };

    extern "C" {
        pub(crate) fn zonemm_cache_create(name: *const c_char, size: usize, align: usize) -> *mut c_void;
        pub(crate) fn zonemm_cache_alloc(cache: *mut c_void, gfp: bindings::gfp_t) -> *mut c_void;
        pub(crate) fn zonemm_cache_free(cache: *mut c_void, obj: *mut c_void);
        pub(crate) fn zonemm_cache_destroy(cache: *mut c_void) -> c_int;
        pub(crate) fn zonemm_alloc_pages(gfp: bindings::gfp_t, order: c_uint) -> *mut c_void;
        pub(crate) fn zonemm_free_pages(addr: *mut c_void);
        pub(crate) fn zonemm_kmalloc(size: usize, gfp: bindings::gfp_t) -> *mut c_void;
        pub(crate) fn zonemm_kfree(ptr: *const c_void);
        pub(crate) fn zonemm_region_alloc(size: usize, flags: c_uint) -> i64;
        pub(crate) fn zonemm_region_read(handle: i64, off: usize, buf: *mut c_void, len: usize) -> c_int;
        pub(crate) fn zonemm_region_write(handle: i64, off: usize, buf: *const c_void, len: usize) -> c_int;
        pub(crate) fn zonemm_region_free(handle: i64) -> c_int;
    }
}

/// What the module holds while loaded.
struct Sample {
    cache: *mut c_void,
    objects: KVec<*mut c_void>,
    pages: *mut c_void,
    mem: *mut c_void,
    region: i64,
}

// SAFETY: The pointers are zonemm allocations this module owns.
unsafe impl Send for Sample {}

// SAFETY: As above; they are only used in init and exit.
unsafe impl Sync for Sample {}

impl kernel::Module for Sample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: A NUL-terminated name; the cache is destroyed in drop.
        let cache = unsafe { zonemm::zonemm_cache_create(c"sample-rust".as_ptr().cast(), 256, 0) };
        if cache.is_null() {
            return Err(ENOMEM);
        }
        let mut sample = Self { cache, objects: KVec::new(), pages: core::ptr::null_mut(), mem: core::ptr::null_mut(), region: -1 };
        for _ in 0..8 {
            // SAFETY: Our cache.
            let obj = unsafe { zonemm::zonemm_cache_alloc(cache, bindings::GFP_KERNEL) };
            if obj.is_null() {
                return Err(ENOMEM);
            }
            sample.objects.push(obj, GFP_KERNEL)?;
        }
        // SAFETY: zonemm's API; freed in drop.
        unsafe {
            sample.pages = zonemm::zonemm_alloc_pages(bindings::GFP_KERNEL | bindings::__GFP_ZERO, 1);
            sample.mem = zonemm::zonemm_kmalloc(3000, bindings::GFP_KERNEL);
            sample.region = zonemm::zonemm_region_alloc(2 * 4096, 2);
        }
        if sample.pages.is_null() || sample.mem.is_null() || sample.region < 0 {
            return Err(ENOMEM);
        }
        let text = *b"zonemm-sample-rs";
        let mut back = [0u8; 16];
        // SAFETY: Our region; buffers of 16 bytes.
        let ok = unsafe {
            zonemm::zonemm_region_write(sample.region, 4090, text.as_ptr().cast(), 16) == 0
                && zonemm::zonemm_region_read(sample.region, 4090, back.as_mut_ptr().cast(), 16) == 0
        };
        if !ok || back != text {
            pr_err!("zonemm's API failed\n");
            return Err(EIO);
        }
        pr_info!("cache, {} objects, pages, kmalloc, region {}: ok\n", sample.objects.len(), sample.region);
        Ok(sample)
    }
}

impl Drop for Sample {
    fn drop(&mut self) {
        // SAFETY: zonemm allocations this module made (null ones are
        // ignored by the API).
        unsafe {
            for &obj in self.objects.iter() {
                zonemm::zonemm_cache_free(self.cache, obj);
            }
            zonemm::zonemm_free_pages(self.pages);
            zonemm::zonemm_kfree(self.mem);
            if self.region > 0 {
                zonemm::zonemm_region_free(self.region);
            }
            pr_info!("destroy: {}\n", zonemm::zonemm_cache_destroy(self.cache));
        }
    }
}
