// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for what the kernel crate has no binding for: static inlines
 * and macros of <linux/mm.h>, <linux/cma.h> and <linux/nodemask.h>,
 * wrapped like the kernel's own rust/helpers/*.c.
 */

#include <linux/cma.h>
#include <linux/dma-map-ops.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>

struct cma *zonemm_cma_area(unsigned int idx)
{
	return dma_contiguous_get_area_by_idx(idx);
}

const char *zonemm_cma_name(const struct cma *cma)
{
	return cma_get_name(cma);
}

struct page *zonemm_cma_alloc(struct cma *cma, unsigned long count,
			      unsigned int align)
{
	return cma_alloc(cma, count, align, true);
}

bool zonemm_cma_release(struct cma *cma, const struct page *pages,
			unsigned long count)
{
	return cma_release(cma, pages, count);
}

struct page *zonemm_alloc_pages_node(int nid, unsigned int order)
{
	return alloc_pages_node(nid, GFP_KERNEL | __GFP_THISNODE |
				__GFP_NOWARN | __GFP_NORETRY, order);
}

void zonemm_free_pages(struct page *page, unsigned int order)
{
	__free_pages(page, order);
}

unsigned long zonemm_page_to_pfn(const struct page *page)
{
	return page_to_pfn(page);
}

struct page *zonemm_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

int zonemm_page_to_nid(const struct page *page)
{
	return page_to_nid(page);
}

const char *zonemm_page_zone_name(const struct page *page)
{
	return page_zone(page)->name;
}

unsigned int zonemm_nr_node_ids(void)
{
	return nr_node_ids;
}

bool zonemm_node_online(int nid)
{
	return node_online(nid);
}


unsigned long zonemm_node_present_pages(int nid)
{
	return node_present_pages(nid);
}
