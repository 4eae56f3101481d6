// SPDX-License-Identifier: GPL-2.0

//! kmalloc: size classes over slab caches, and large requests straight
//! from the buddy pool.
//!
//! Mirrors `mm/slab_common.c`: `kmalloc_caches[]` with the names of
//! `kmalloc_info[]`, `kmalloc_index()`, `__kmalloc_large_node()`; and
//! `kfree()`, which finds the owner from the pointer alone through the
//! page (`virt_to_slab()`, or the large block's head page).

use core::ptr::NonNull;

use kernel::{
    bindings,
    prelude::*,
    str::CString, //
};

use super::{
    owner_of,
    Cache,
};
use crate::{
    page_alloc::MigrateType,
    percpu::CpuGuard,
    buddy::{
        Flags,
        PageBlock,
        Pool, //
    },
    pfn::{
        Order,
        PAGE_SIZE, //
    },
    slub::{
        kmalloc_index,
        DebugFlags,
        KMALLOC_SIZES, //
    },
    zone::ZoneType,
};

/// The caches' names, as the kernel's `kmalloc_info[]` spells them.
pub(crate) const KMALLOC_NAMES: [&str; KMALLOC_SIZES.len()] = [
    "kmalloc-8",
    "kmalloc-16",
    "kmalloc-32",
    "kmalloc-64",
    "kmalloc-96",
    "kmalloc-128",
    "kmalloc-192",
    "kmalloc-256",
    "kmalloc-512",
    "kmalloc-1k",
    "kmalloc-2k",
    "kmalloc-4k",
    "kmalloc-8k",
];

/// The kmalloc caches of one pool.
pub(crate) struct Kmalloc<'a> {
    pool: &'a Pool,
    caches: KVec<Pin<KBox<Cache<'a>>>>,
    /// The `KMALLOC_DMA` classes (`dma-kmalloc-N`), whose slabs come from
    /// `ZONE_DMA`, for `__GFP_DMA` callers; none if the pool has no
    /// `ZONE_DMA` pages (such a caller's allocation then fails).
    dma: KVec<Pin<KBox<Cache<'a>>>>,
}

impl<'a> Kmalloc<'a> {
    /// Creates the size classes over `pool`.
    ///
    /// Must not be called from atomic context.
    pub(crate) fn new(pool: &'a Pool) -> Result<Self> {
        let mut caches = KVec::with_capacity(KMALLOC_SIZES.len(), GFP_KERNEL)?;
        let mut dma = KVec::new();
        let has_dma = pool.zones().any(|z| z.ztype() == ZoneType::Dma && z.managed() > 0);
        for (size, name) in KMALLOC_SIZES.iter().zip(KMALLOC_NAMES) {
            // Power-of-two classes are naturally aligned, like the kernel's;
            // the others (96, 192) only to ARCH_KMALLOC_MINALIGN.
            let align = if size.is_power_of_two() { (*size).min(PAGE_SIZE) } else { 8 };
            caches.push(Cache::create(pool, name, *size, align, DebugFlags::default(), None)?, GFP_KERNEL)?;
            if !has_dma {
                continue;
            }
            let dma_name = CString::try_from_fmt(fmt!("dma-{name}"))?;
            let dma_name = dma_name.to_str().map_err(|_| EINVAL)?;
            let cache = Cache::create_in(pool, dma_name, *size, align, DebugFlags::default(), None, ZoneType::Dma)?;
            dma.push(cache, GFP_KERNEL)?;
        }
        Ok(Self { pool, caches, dma })
    }

    /// The caches, smallest class first, then the DMA classes.
    pub(crate) fn caches(&self) -> impl Iterator<Item = &Cache<'a>> {
        Iterator::chain(self.caches.iter(), self.dma.iter()).map(|c| &**c)
    }

    /// `kmalloc()`: `size` bytes from the class that fits, or whole pool
    /// pages above 8 KiB.
    #[track_caller]
    #[inline(always)]
    pub(crate) fn kmalloc(&self, size: usize, flags: Flags) -> Result<NonNull<u8>> {
        if flags.highest != ZoneType::Normal {
            return self.kmalloc_zone(size, flags);
        }
        match kmalloc_index(size).and_then(|i| self.caches.get(i)) {
            Some(c) => c.alloc(flags),
            None => self.kmalloc_large(size, flags),
        }
    }

    /// [`Kmalloc::kmalloc`] for a C caller's `gfp`, null on failure: the
    /// hit path reads the two bits it needs (a zone modifier, and
    /// `__GFP_ZERO` after a hit) and makes no call; the whole mask is
    /// decoded only on a miss. Any context but NMI if `gfp` may not sleep.
    #[inline(always)]
    pub(crate) fn kmalloc_gfp(&self, size: usize, gfp: bindings::gfp_t) -> *mut u8 {
        const ZONES: bindings::gfp_t =
            1 << bindings::___GFP_DMA_BIT | 1 << bindings::___GFP_DMA32_BIT | 1 << bindings::___GFP_HIGHMEM_BIT;
        if gfp & ZONES == 0 {
            if let Some(c) = kmalloc_index(size).and_then(|i| self.caches.get(i)) {
                let guard = CpuGuard::new();
                let obj = c.alloc_hit(&guard);
                drop(guard);
                return match NonNull::new(obj) {
                    Some(obj) if gfp >> bindings::___GFP_ZERO_BIT & 1 != 0 => zeroed(c, obj),
                    Some(obj) => obj.as_ptr(),
                    None => miss(c, gfp),
                };
            }
        }
        return other(self, size, gfp);

        // `kzalloc()` is common: out of line, not cold.
        #[inline(never)]
        fn zeroed(c: &Cache<'_>, obj: NonNull<u8>) -> *mut u8 {
            c.zero_if(obj, true);
            obj.as_ptr()
        }

        #[cold]
        #[inline(never)]
        fn miss(c: &Cache<'_>, gfp: bindings::gfp_t) -> *mut u8 {
            c.alloc_miss(Flags::from_gfp(gfp, None)).map_or(core::ptr::null_mut(), NonNull::as_ptr)
        }

        // A zone modifier, or above the classes.
        #[cold]
        #[inline(never)]
        fn other(k: &Kmalloc<'_>, size: usize, gfp: bindings::gfp_t) -> *mut u8 {
            k.kmalloc(size, Flags::from_gfp(gfp, None)).map_or(core::ptr::null_mut(), NonNull::as_ptr)
        }
    }

    /// [`Kmalloc::kmalloc`] with a zone modifier, out of line:
    /// `__GFP_DMA` takes the `dma-kmalloc-N` classes (`kmalloc_type()`),
    /// and `__GFP_DMA32` or `__GFP_HIGHMEM` is warned about and dropped
    /// (`kmalloc_fix_flags()`).
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn kmalloc_zone(&self, size: usize, flags: Flags) -> Result<NonNull<u8>> {
        let (caches, flags) = if flags.highest == ZoneType::Dma {
            (&self.dma, flags)
        } else {
            super::warn_slab_zone();
            (&self.caches, flags.zone(ZoneType::Normal))
        };
        match kmalloc_index(size).and_then(|i| caches.get(i)) {
            Some(c) => c.alloc(flags),
            None => self.kmalloc_large(size, flags),
        }
    }

    /// [`Kmalloc::kmalloc`] above the classes (or of nothing), out of
    /// line.
    #[cold]
    #[inline(never)]
    fn kmalloc_large(&self, size: usize, flags: Flags) -> Result<NonNull<u8>> {
        if size == 0 {
            return Err(EINVAL);
        }
        kmalloc_large(self.pool, size, flags)
    }
}

/// `__kmalloc_large_node()`: a block of pool pages for `size` bytes. The
/// head page's `private` holds the block (tagged by its low bit) for
/// `kfree()`.
fn kmalloc_large(pool: &Pool, size: usize, flags: Flags) -> Result<NonNull<u8>> {
    let order = Order::for_pages(size.div_ceil(PAGE_SIZE)).ok_or(ENOMEM)?;
    kmalloc_block(pool, order, flags)
}

/// A block of `order` that [`kfree`] gives back, as `__get_free_pages()`
/// for zonemm's exported API. Any context but NMI if `flags` may not
/// sleep.
#[inline(always)]
pub(crate) fn kmalloc_block(pool: &Pool, order: Order, flags: Flags) -> Result<NonNull<u8>> {
    tag_block(pool, pool.alloc_pages(order, flags)?, flags.nofail)
}

/// `pr_err!` at a rate (`__ratelimit()`): bad frees can come from an
/// interrupt in a loop.
macro_rules! report {
    ($($arg:tt)*) => {
        // SAFETY: No preconditions.
        if unsafe { crate::helpers::zonemm_report_ratelimit() } {
            pr_err!($($arg)*);
        }
    };
}

/// A large block's head-page owner word: the low bit set, then the order
/// (4 bits), the migrate type (2 bits), the zone's [`Pool::zone_id`], and
/// in the upper half the head page's index in its zone: all the block
/// needs to be freed again, so nothing is allocated to remember it and the
/// free looks nothing up (`folio_order()` and the pageblock do this in the
/// kernel).
struct LargeTag;

impl LargeTag {
    const ORDER_SHIFT: u32 = 1;
    const MT_SHIFT: u32 = 5;
    const ZONE_SHIFT: u32 = 8;
    const INDEX_SHIFT: u32 = 32;
    // The index takes the upper half of a 64-bit word.
    const _WORD: () = assert!(usize::BITS == 64);

    fn encode(block: &PageBlock<'_>, zone_id: usize) -> usize {
        (block.index() as usize) << Self::INDEX_SHIFT
            | zone_id << Self::ZONE_SHIFT
            | (block.mt() as usize) << Self::MT_SHIFT
            | (block.order().get() as usize) << Self::ORDER_SHIFT
            | 1
    }

    /// The zone number, page index, order and migrate type of a tag.
    #[inline(always)]
    fn decode(tag: usize) -> Option<(usize, u32, Order, MigrateType)> {
        if tag & 1 == 0 {
            return None;
        }
        let order = Order::new((tag >> Self::ORDER_SHIFT & 0xf) as u32)?;
        let mt = *MigrateType::ALL.get(tag >> Self::MT_SHIFT & 0x3)?;
        // CAST: the fields were put there from a `usize` zone number
        // below 2^24 and a `u32` index.
        Some((tag >> Self::ZONE_SHIFT & 0xff_ffff, (tag >> Self::INDEX_SHIFT) as u32, order, mt))
    }
}

/// Hands `block` out as a [`kfree`]-able address: its head page's owner
/// word takes a [`LargeTag`]. Allocates nothing: any context but NMI.
/// Injected faults spare a `nofail` (`__GFP_NOFAIL`) caller's block.
#[inline(always)]
pub(crate) fn tag_block(pool: &Pool, block: PageBlock<'_>, nofail: bool) -> Result<NonNull<u8>> {
    let addr = NonNull::new(block.as_mut_ptr()).ok_or(EINVAL)?;
    let owner = pool.owner_of_addr(addr.as_ptr()).ok_or(EINVAL)?;
    let zone_id = pool.zone_id(block.zone());
    if !nofail {
        crate::fault::inject(crate::fault::Site::Slab, block.size())?;
    }
    owner.write(LargeTag::encode(&block, zone_id));
    // The tag owns the block now; `kfree` turns it back into one.
    core::mem::forget(block);
    Ok(addr)
}

/// `kfree()`: gives back an object from any cache of `pool`, or a large
/// block. Anything else is reported and ignored. Any context but NMI.
#[inline(always)]
pub(crate) fn kfree(pool: &Pool, ptr: NonNull<u8>) {
    // Preemption off before the word is read, as below.
    let guard = CpuGuard::new();
    let hit = owner_of(pool, ptr.as_ptr()).is_some_and(|owner| super::free_hit_any(&guard, owner.load_acquire(), ptr));
    drop(guard);
    if !hit {
        kfree_slow(pool, ptr);
    }
}

/// [`kfree`] after a miss on the hit path, out of line: a large block, a
/// debug cache, a full or busy CPU cache, or a pointer to report.
#[cold]
#[inline(never)]
fn kfree_slow(pool: &Pool, ptr: NonNull<u8>) {
    let addr = ptr.as_ptr();
    let Some(owner) = owner_of(pool, addr) else {
        return report_foreign(addr);
    };
    // Preemption off before the word is read: the RCU read-side section
    // that keeps a slab it names readable.
    let guard = CpuGuard::new();
    let word = owner.load_acquire();
    if word & 1 == 0 {
        // A slab's page, or nobody's.
        if !super::free_any(&guard, word, ptr) {
            drop(guard);
            report_foreign(addr);
        }
        return;
    }
    drop(guard);
    kfree_large(pool, ptr);
}

/// [`kfree`] of a large block, out of the slab objects' hit path.
#[inline(never)]
fn kfree_large(pool: &Pool, ptr: NonNull<u8>) {
    free_block(pool, ptr);
}

/// The report of a `kfree()` of memory zonemm did not hand out.
#[cold]
#[inline(never)]
fn report_foreign(addr: *mut u8) {
    report!("kfree: {:#x} is not a zonemm allocation; ignored\n", addr as usize);
}

/// `free_pages()`: gives back a block from [`kmalloc_block`] (or a large
/// kmalloc). Anything else, slab objects included, is reported and
/// ignored. Any context but NMI.
#[inline(always)]
pub(crate) fn free_block(pool: &Pool, ptr: NonNull<u8>) {
    let addr = ptr.as_ptr();
    let Some(owner) = owner_of(pool, addr) else {
        return report_not_block(addr, "a zonemm block");
    };
    let tag = owner.read();
    // Only a block's first byte frees it: its head page's tag.
    if let (0, Some((zone_id, idx, order, mt))) = (addr as usize % PAGE_SIZE, LargeTag::decode(tag)) {
        // Take the tag with a compare, so that of two racing frees one
        // wins, and nothing else's word is ever touched.
        if owner.cmpxchg(tag, 0).is_ok() {
            // SAFETY: The tag was put there by `tag_block` for the block of
            // `order` and `mt` at page `idx` of zone `zone_id`, which it
            // owned; we just took the tag over, so the block is ours alone.
            if let Some(block) = unsafe { pool.block_at_index(zone_id, idx, order, mt, addr) } {
                block.free();
                return;
            }
            // Not the block the word claims: it stays as it was.
            let _ = owner.cmpxchg(0, tag);
        }
    }
    report_not_block(addr, "the start of a zonemm block");
}

/// The report of a `free_pages()` of something else than a block.
#[cold]
#[inline(never)]
fn report_not_block(addr: *mut u8, what: &str) {
    report!("free_pages: {:#x} is not {what}; ignored\n", addr as usize);
}

#[kunit_tests(zonemm_kmalloc)]
mod tests {
    use super::*;
    use crate::source::{
        Params,
        Source, //
    };

    #[test]
    fn every_class_and_large_sizes_round_trip() -> Result {
        let pool = Pool::new(Source::new(Params::new(4, 4)?)?, 0)?;
        let km = Kmalloc::new(&pool)?;
        let before = pool.nr_free_pages();
        for size in [1, 8, 9, 64, 65, 96, 100, 192, 256, 1000, 2048, 4096, 8192, 8193, 20000, 1 << 20] {
            let p = km.kmalloc(size, Flags::KERNEL)?;
            // SAFETY: `size` bytes are ours.
            let bytes = unsafe { core::slice::from_raw_parts_mut(p.as_ptr(), size) };
            bytes.fill(0xa7);
            assert!(bytes.iter().all(|&b| b == 0xa7));
            assert!(pool.pfn_of(p.as_ptr()).is_some());
            if let Some(i) = kmalloc_index(size) {
                let class = KMALLOC_SIZES[i];
                assert!(class >= size);
                let align = if class.is_power_of_two() { class.min(PAGE_SIZE) } else { 8 };
                assert_eq!(p.as_ptr() as usize % align, 0);
            }
            kfree(&pool, p);
        }
        assert_eq!(km.kmalloc(0, Flags::KERNEL).err(), Some(EINVAL));
        assert_eq!(km.caches().map(|c| c.active_objects()).sum::<usize>(), 0);
        km.caches().for_each(|c| {
            c.shrink();
        });
        assert_eq!(pool.nr_free_pages(), before);
        Ok(())
    }

    #[test]
    fn kfree_of_foreign_pointers_is_ignored() -> Result {
        let pool = Pool::new(Source::new(Params::new(4, 4)?)?, 0)?;
        let km = Kmalloc::new(&pool)?;
        let p = km.kmalloc(64, Flags::KERNEL)?;
        let mut on_stack = 0u64;
        kfree(&pool, NonNull::from(&mut on_stack).cast());
        let kernel_box = KBox::new(0u64, GFP_KERNEL)?;
        kfree(&pool, NonNull::from(&*kernel_box).cast());
        // A large block's inside is not its start.
        let big = km.kmalloc(3 * PAGE_SIZE, Flags::KERNEL)?;
        // SAFETY: Inside the block.
        kfree(&pool, unsafe { big.add(PAGE_SIZE) });
        assert_eq!(km.caches().map(|c| c.active_objects()).sum::<usize>(), 1);
        kfree(&pool, big);
        // A second free of the same block finds no tag and is ignored.
        kfree(&pool, big);
        kfree(&pool, p);
        assert_eq!(km.caches().map(|c| c.active_objects()).sum::<usize>(), 0);
        Ok(())
    }

    #[test]
    fn gfp_dma_takes_the_dma_classes_and_dma32_is_dropped() -> Result {
        let pool = Pool::new(Source::new(Params::new(4, 4)?)?, 0)?;
        let km = Kmalloc::new(&pool)?;
        let dma_pages: usize = pool.zones().filter(|z| z.ztype() == ZoneType::Dma).map(|z| z.managed()).sum();
        let dma64 = km.caches().find(|c| c.name() == "dma-kmalloc-64");
        // The DMA classes exist when the pool has `ZONE_DMA` pages.
        assert_eq!(dma64.is_some(), dma_pages > 0);
        // `__GFP_DMA`: from a `dma-kmalloc-N` class, whose slabs are
        // `ZONE_DMA` pages; with no such pages in the pool, it fails.
        match km.kmalloc(64, Flags::KERNEL.zone(ZoneType::Dma)) {
            Ok(p) => {
                let pfn = pool.pfn_of(p.as_ptr()).ok_or(EINVAL)?;
                assert!(pfn.0 < crate::zone::MAX_DMA_PFN.0);
                assert_eq!(dma64.map(|c| c.active_objects()), Some(1));
                kfree(&pool, p);
            }
            Err(e) => {
                assert_eq!(e, ENOMEM);
                assert_eq!(dma_pages, 0);
            }
        }
        // `__GFP_DMA32` means nothing to kmalloc: an ordinary class.
        let p = km.kmalloc(64, Flags::KERNEL.zone(ZoneType::Dma32))?;
        assert_eq!(km.caches().find(|c| c.name() == "kmalloc-64").map(|c| c.active_objects()), Some(1));
        kfree(&pool, p);
        Ok(())
    }
}
