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
 * does; unlike it, any order is accepted. Each block is freed on its own
 * with zonemm_free_pages(). Allocates no bookkeeping of its own.
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
#define ZONEMM_REGION_NO_GUARD	0x8

/**
 * zonemm_region_alloc() - allocate a virtually contiguous region
 * @size: bytes (rounded up to pages)
 * @flags: ZONEMM_REGION_*
 *
 * A mergeable region must be read and written with zonemm_region_read()
 * and zonemm_region_write() only: the merger may share its pages, and its
 * address may change (zonemm_region_addr() gives the current one).
 *
 * Context: Process context; sleeps.
 * Return: a handle (> 0), or a negative errno.
 */
s64 zonemm_region_alloc(size_t size, unsigned int flags);

/**
 * zonemm_region_addr() - the region's current address
 * @handle: from zonemm_region_alloc()
 *
 * Return: the address, or NULL if there is no such region.
 */
void *zonemm_region_addr(s64 handle);

/**
 * zonemm_region_read() - copy @len bytes at @off of the region to @buf
 * Context: Process context; sleeps.
 * Return: 0, or -EINVAL (no such region, out of bounds).
 */
int zonemm_region_read(s64 handle, size_t off, void *buf, size_t len);

/**
 * zonemm_region_write() - copy @len bytes from @buf to @off of the region
 * (breaking any page sharing first)
 * Context: Process context; sleeps.
 * Return: 0, -EINVAL (no such region, out of bounds) or -ENOMEM.
 */
int zonemm_region_write(s64 handle, size_t off, const void *buf, size_t len);

/**
 * zonemm_region_free() - free a region (lazily, as vfree())
 * Context: Process context; sleeps.
 * Return: 0 or -EINVAL.
 */
int zonemm_region_free(s64 handle);

#endif /* _ZONEMM_H */
