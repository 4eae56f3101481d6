/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zonemm's API for other kernel modules.
 *
 * A module using any of these holds a reference on zonemm (the module
 * loader records the dependency): zonemm cannot be unloaded under it.
 * Everything it allocates and does not free goes back when zonemm is
 * unloaded after it.
 */
#ifndef _ZONEMM_H
#define _ZONEMM_H

#include <linux/types.h>
#include <linux/gfp_types.h>

struct zonemm_cache;

/*
 * Allocation flags are the kernel's gfp_t, with the kernel's meanings:
 *
 *   __GFP_DIRECT_RECLAIM (in GFP_KERNEL)  may sleep: a failing allocation
 *       drains every CPU's lists and retries (drain_all_pages()), which
 *       waits for each CPU;
 *   without it (GFP_ATOMIC, GFP_NOWAIT)   never sleeps: only this CPU's
 *       lists are drained before failing;
 *   __GFP_HIGH (in GFP_ATOMIC)            may go under the min watermark:
 *       to half of it, and without __GFP_DIRECT_RECLAIM to 3/8 of it
 *       (ALLOC_MIN_RESERVE, ALLOC_NON_BLOCK);
 *   __GFP_IO, __GFP_FS                    without them (GFP_NOIO,
 *       GFP_NOFS), what zonemm allocates for the caller from the kernel
 *       (a new slab's descriptor) is allocated in that scope too;
 *   __GFP_ZERO                            zeroed memory;
 *   __GFP_DMA, __GFP_DMA32, __GFP_MOVABLE (with __GFP_HIGHMEM for
 *       ZONE_MOVABLE), __GFP_THISNODE     as for alloc_pages(); for
 *       zonemm_kmalloc() and zonemm_cache_alloc() as for kmalloc():
 *       __GFP_DMA takes the dma-kmalloc-N classes (NULL if the pool has
 *       no ZONE_DMA pages), __GFP_DMA32 and __GFP_HIGHMEM are warned
 *       about once and ignored;
 *   __GFP_NOFAIL                          with __GFP_DIRECT_RECLAIM, never
 *       fails: waits (1 ms growing to 100 ms between tries, the lists
 *       drained before each, some reserves allowed) until memory comes
 *       free, and fault injection spares it; without it, from atomic
 *       context, or for zones the pool has no pages in, a warning, once,
 *       and it may fail, as the kernel's slow path treats it.
 *
 * Other bits are accepted and ignored. Every free works in any context but NMI
 * (hard and soft interrupts, under spinlocks, preemption disabled), as
 * kfree() does.
 *
 * "Any context" is kmalloc(GFP_ATOMIC)'s on a kernel without PREEMPT_RT:
 * zonemm's locks are spinlock_t, so it refuses to load on PREEMPT_RT,
 * and lockdep reports a call in an HRTIMER_MODE_HARD callback or under a
 * raw_spinlock_t (the kernel's own allocators have the same rule).
 */

/**
 * zonemm_alloc_pages() - allocate 2^order physically contiguous pool pages
 * @gfp: allocation flags
 * @order: 0 to 10
 *
 * When no zone can give the block above its low watermark, wakes zonemm's
 * kswapd (which gives back what zonemm keeps idle, such as freed regions'
 * mappings); with GFP_KERNEL it also drains every CPU's lists and
 * reclaims that itself before failing (one batch only above order 3).
 *
 * Context: Any context but NMI if @gfp does not allow sleeping (GFP_ATOMIC,
 * GFP_NOWAIT); process context otherwise (GFP_KERNEL).
 * Return: the block's kernel address, or NULL (no memory, bad order).
 */
void *zonemm_alloc_pages(gfp_t gfp, unsigned int order);

/**
 * zonemm_alloc_pages_bulk() - allocate up to @nr blocks of 2^order pages
 * @gfp: allocation flags
 * @order: 0 to 10
 * @nr: how many
 * @addrs: room for @nr addresses, filled from the front
 *
 * Takes this CPU's lists once for the whole batch, as alloc_pages_bulk()
 * does; unlike it, any order is accepted. If that gets nothing, one block
 * is allocated as zonemm_alloc_pages() allocates it (kswapd, drain,
 * reclaim), as alloc_pages_bulk() falls back to a single page. Each block
 * is freed on its own with zonemm_free_pages(). Allocates no bookkeeping
 * of its own.
 *
 * Context: as zonemm_alloc_pages().
 * Return: how many blocks were allocated (0 to @nr).
 */
unsigned int zonemm_alloc_pages_bulk(gfp_t gfp, unsigned int order, unsigned int nr, void **addrs);

/**
 * zonemm_free_pages() - free a block from zonemm_alloc_pages() or
 * zonemm_alloc_pages_bulk()
 * @addr: its address; anything else is reported and ignored
 *
 * Context: Any context but NMI.
 */
void zonemm_free_pages(void *addr);

/**
 * zonemm_cache_create() - create an object cache on the pool
 * @name: a name for slabinfo (copied)
 * @size: object size, 1 to 32768
 * @align: alignment, a power of two up to 4096, or 0 for the default
 *
 * The handle names the cache, it is not its address: after
 * zonemm_cache_destroy() every call with it fails cleanly (NULL,
 * -EINVAL, or a free reported and ignored).
 *
 * Context: Process context; may sleep.
 * Return: the cache, or NULL (bad arguments, no memory).
 */
struct zonemm_cache *zonemm_cache_create(const char *name, size_t size, size_t align);

/**
 * zonemm_cache_alloc() - allocate an object
 * @cache: from zonemm_cache_create()
 * @gfp: allocation flags
 *
 * Context: as zonemm_alloc_pages().
 * Return: the object, or NULL (no memory, no such cache).
 */
void *zonemm_cache_alloc(struct zonemm_cache *cache, gfp_t gfp);

/**
 * zonemm_cache_free() - free an object of @cache
 * @cache: its cache
 * @obj: the object; a pointer that is not one of its objects, or into a
 *       destroyed cache, is reported and ignored
 *
 * Context: Any context but NMI.
 */
void zonemm_cache_free(struct zonemm_cache *cache, void *obj);

/**
 * zonemm_cache_destroy() - destroy a cache with no object in use
 * @cache: from zonemm_cache_create()
 *
 * Context: Process context; sleeps (waits for callers still inside the
 * cache).
 * Return: 0, or -EBUSY (objects in use, listed in the kernel log; nothing
 * is freed) or -EINVAL (not a cache of ours, or already destroyed).
 */
int zonemm_cache_destroy(struct zonemm_cache *cache);

/**
 * zonemm_kmalloc() - allocate @size bytes (kmalloc classes up to 8 KiB,
 * whole pool blocks above)
 * @size: bytes, at least 1
 * @gfp: allocation flags
 *
 * Context: as zonemm_alloc_pages().
 * Return: the memory, or NULL.
 */
void *zonemm_kmalloc(size_t size, gfp_t gfp);

/**
 * zonemm_kfree() - free memory from zonemm_kmalloc()
 * @ptr: the pointer; NULL is ignored, a foreign one reported and ignored
 *
 * Context: Any context but NMI.
 */
void zonemm_kfree(const void *ptr);

#define ZONEMM_REGION_ZERO	0x1
#define ZONEMM_REGION_MERGEABLE	0x2
#define ZONEMM_REGION_HUGE	0x4

/**
 * zonemm_region_alloc() - allocate a region
 * @size: bytes (rounded up to pages)
 * @flags: ZONEMM_REGION_*; any other bit is -EINVAL
 *
 * Without ZONEMM_REGION_MERGEABLE the region is mapped virtually
 * contiguous, as vmalloc() maps, with an unmapped guard page after it; its
 * address (zonemm_region_addr()) is valid, and means the same pages, from
 * this call until zonemm_region_free(). A mergeable region has no address,
 * as a zsmalloc object has none: its pages are reached only through
 * zonemm_region_read(), zonemm_region_write() and zonemm_region_map(), so
 * that the merger can share them; no writable mapping of a shared page
 * ever exists. A mergeable region cannot be ZONEMM_REGION_HUGE.
 *
 * There is no flag for a region without a guard page: vmap(), the mapping
 * call exported to modules, always adds one, and vm_map_ram() (the one
 * that does not) packs several users' mappings into one block, where an
 * overrun reaches another user's memory.
 *
 * Context: Process context; sleeps.
 * Return: a handle (> 0, never reused), or a negative errno.
 */
s64 zonemm_region_alloc(size_t size, unsigned int flags);

/**
 * zonemm_region_addr() - a mapped region's address
 * @handle: from zonemm_region_alloc()
 *
 * Context: Process context (the registry's lock is not interrupt-safe).
 * Return: the address (fixed until the region is freed), or NULL for a
 * mergeable region or no region.
 */
void *zonemm_region_addr(s64 handle);

/**
 * zonemm_region_read() - copy @len bytes at @off of the region to @buf
 * Context: Process context; may sleep.
 * Return: 0, or -EINVAL (no such region, out of bounds).
 */
int zonemm_region_read(s64 handle, size_t off, void *buf, size_t len);

/**
 * zonemm_region_write() - copy @len bytes from @buf to @off of the region
 * (copying any shared page first)
 * Context: Process context; may sleep.
 * Return: 0, -EINVAL (no such region, out of bounds) or -ENOMEM (a shared
 * page could not be copied; the pages before it are written).
 */
int zonemm_region_write(s64 handle, size_t off, const void *buf, size_t len);

#define ZONEMM_MAP_WRITE	0x1

/*
 * Filled by zonemm_region_map(); opaque. A zeroed one is empty (unmapping
 * it does nothing). Never copy one that holds a mapping.
 */
struct zonemm_region_map {
	u64 opaque[6];
};

/**
 * zonemm_region_map() - map one page of a region
 * @handle: from zonemm_region_alloc()
 * @index: the page, below the region's page count
 * @flags: 0 to read, ZONEMM_MAP_WRITE to read and write
 * @map: filled here; pass it to zonemm_region_unmap()
 *
 * The returned pointer gives PAGE_SIZE bytes of the page, valid until
 * zonemm_region_unmap(@map), even if the region is freed meanwhile (its
 * pages are then freed at the unmap). Mapping a shared page for writing
 * copies it first: the write reaches this region only. A read mapping of
 * a shared page must not be written through. Keep mappings short: the
 * merger passes over a page mapped for writing, and does not replace a
 * page that is mapped at all.
 *
 * Context: Process context; may sleep (the copy).
 * Return: the page's address, or NULL (no such region or page, bad
 * @flags, no memory for the copy, or @map already holds a mapping:
 * unmap it first). Unmapping after a NULL does nothing.
 */
void *zonemm_region_map(s64 handle, size_t index, unsigned int flags,
			struct zonemm_region_map *map);

/**
 * zonemm_region_unmap() - end a mapping from zonemm_region_map()
 * Context: Process context; may sleep.
 */
void zonemm_region_unmap(struct zonemm_region_map *map);

/**
 * zonemm_region_free() - free a region, as vfree() does
 *
 * The pages go back at once (or, for a mapped region of up to 1 MiB, its
 * mapping with its pages is kept for the next region of its size); a
 * page mapped with zonemm_region_map() goes back at its unmap.
 *
 * Context: Process context; sleeps.
 * Return: 0 or -EINVAL (no such region).
 */
int zonemm_region_free(s64 handle);

#endif /* _ZONEMM_H */
