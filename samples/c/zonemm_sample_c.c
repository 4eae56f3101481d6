// SPDX-License-Identifier: GPL-2.0
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
/*
 * A C module using zonemm's API: a cache and some objects, a block of
 * pool pages, a batch of blocks in one call, kmalloc'd memory and a
 * mergeable region, all freed when it is unloaded.
 */

#include <linux/module.h>
#include <linux/string.h>

#include <zonemm.h>

#define OBJECTS 16
#define BATCH 8

static struct zonemm_cache *cache;
static void *objects[OBJECTS];
static void *pages;
static void *batch[BATCH];
static void *mem;
static s64 region;

static int __init zonemm_sample_init(void)
{
	char buf[16];
	int i, ret;

	cache = zonemm_cache_create("sample-c", 128, 0);
	if (!cache)
		return -ENOMEM;
	for (i = 0; i < OBJECTS; i++) {
		objects[i] = zonemm_cache_alloc(cache, GFP_KERNEL);
		if (!objects[i])
			goto fail;
		memset(objects[i], i, 128);
	}
	/* Bad requests get nothing: an order past 10, no array, no count. */
	if (zonemm_alloc_pages_bulk(GFP_KERNEL, 11, BATCH, batch) || zonemm_alloc_pages_bulk(GFP_KERNEL, 1, BATCH, NULL) ||
	    zonemm_alloc_pages_bulk(GFP_KERNEL, 1, 0, batch) || batch[0])
		goto fail;
	if (zonemm_alloc_pages_bulk(GFP_KERNEL, 1, BATCH, batch) != BATCH)
		goto fail;
	for (i = 0; i < BATCH; i++)
		memset(batch[i], 0x40 + i, 2 * PAGE_SIZE);
	for (i = 0; i < BATCH; i++)
		if (((char *)batch[i])[2 * PAGE_SIZE - 1] != 0x40 + i)
			goto fail;
	pages = zonemm_alloc_pages(GFP_KERNEL | __GFP_ZERO, 2);
	mem = zonemm_kmalloc(200, GFP_KERNEL);
	region = zonemm_region_alloc(4 * PAGE_SIZE, ZONEMM_REGION_MERGEABLE);
	if (!pages || !mem || region < 0)
		goto fail;
	ret = zonemm_region_write(region, PAGE_SIZE - 8, "zonemm-sample-c", 16);
	if (!ret)
		ret = zonemm_region_read(region, PAGE_SIZE - 8, buf, 16);
	if (ret || strcmp(buf, "zonemm-sample-c"))
		goto fail;
	pr_info("cache %px objects %d pages %px batch %d kmalloc %px region %lld: ok\n",
		cache, OBJECTS, pages, BATCH, mem, region);
	return 0;
fail:
	pr_err("zonemm's API failed\n");
	return -ENOMEM;
}

static void __exit zonemm_sample_exit(void)
{
	int i;

	for (i = 0; i < OBJECTS; i++)
		zonemm_cache_free(cache, objects[i]);
	zonemm_free_pages(pages);
	for (i = 0; i < BATCH; i++)
		zonemm_free_pages(batch[i]);
	zonemm_kfree(mem);
	zonemm_region_free(region);
	pr_info("destroy: %d\n", zonemm_cache_destroy(cache));
}

module_init(zonemm_sample_init);
module_exit(zonemm_sample_exit);
MODULE_DESCRIPTION("A C client of zonemm's API");
MODULE_LICENSE("GPL");
