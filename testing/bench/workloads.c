// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm_bench's untimed setups, for the cases user space times itself
 * (tools/zonemm-bench.c):
 *
 * merge: two zeroed mergeable regions of PAGES pages, page p of each
 *        holding (p % 251) + 1 in its first 64 bytes: the same contents
 *        the kernel's KSM gets in user memory. zonemm's merger (its
 *        debugfs knobs) is then timed from user space exactly as ksmd is.
 * frag:  the kernel's side of the fragmentation workload: blocks of order
 *        0 to 3 in a fixed pseudo-random sequence from node 0's DMA32 zone
 *        until PAGES pages are held, then every other one freed. zonemm's
 *        side runs the same sequence through zonemm/buddy/alloc.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "../../include/zonemm.h"
#include "bench.h"

#define MERGE_MAX_PAGES	32128

static DEFINE_MUTEX(workload_lock);	/* both workloads' state */

/*
 * Copies a write of at most size - 1 bytes into buf and points *cmd at it,
 * trimmed. Longer writes get -EINVAL and the file's usage in the log.
 */
static int read_command(const char __user *ubuf, size_t len, char *buf, size_t size,
			const char *usage, char **cmd)
{
	if (len >= size) {
		pr_err("%s\n", usage);
		return -EINVAL;
	}
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	*cmd = strim(buf);
	return 0;
}

/* -- merge ------------------------------------------------------------ */

static s64 merge_regions[2];
static unsigned long merge_pages;

static void merge_free(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(merge_regions); i++) {
		if (merge_regions[i] > 0 && zonemm_region_free(merge_regions[i]))
			pr_err("merge: region %lld would not free\n", merge_regions[i]);
		merge_regions[i] = 0;
	}
	merge_pages = 0;
}

static int merge_alloc(unsigned long pages)
{
	unsigned long p;
	unsigned int i;
	u8 head[64];

	for (i = 0; i < ARRAY_SIZE(merge_regions); i++) {
		s64 h = zonemm_region_alloc(pages << PAGE_SHIFT,
					    ZONEMM_REGION_ZERO | ZONEMM_REGION_MERGEABLE);

		if (h <= 0)
			goto fail;
		merge_regions[i] = h;
		for (p = 0; p < pages; p++) {
			memset(head, (int)(p % 251) + 1, sizeof(head));
			if (zonemm_region_write(h, p << PAGE_SHIFT, head, sizeof(head)))
				goto fail;
		}
	}
	merge_pages = pages;
	return 0;
fail:
	merge_free();
	return -ENOMEM;
}

static ssize_t merge_write(struct file *file, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	unsigned long pages;
	char buf[32], *s;
	int err;

	err = read_command(ubuf, len, buf, sizeof(buf), "merge: usage: alloc PAGES | free", &s);
	if (err)
		return err;
	mutex_lock(&workload_lock);
	if (!strcmp(s, "free")) {
		merge_free();
		err = 0;
	} else if (!strncmp(s, "alloc ", 6) && !kstrtoul(s + 6, 0, &pages) &&
		   pages && pages <= MERGE_MAX_PAGES) {
		err = merge_pages ? -EBUSY : merge_alloc(pages);
		if (err == -EBUSY)
			pr_err("merge: regions exist already: write 'free' first\n");
	} else {
		pr_err("merge: usage: alloc PAGES (1 to %d) | free: '%s'\n", MERGE_MAX_PAGES, s);
		err = -EINVAL;
	}
	mutex_unlock(&workload_lock);
	return err ? err : len;
}

static int merge_show(struct seq_file *m, void *v)
{
	mutex_lock(&workload_lock);
	seq_printf(m, "pages=%lu regions=%d\n", merge_pages, merge_pages ? 2 : 0);
	mutex_unlock(&workload_lock);
	return 0;
}

DEFINE_SHOW_STORE_ATTRIBUTE(merge);

/* -- frag ------------------------------------------------------------- */

struct frag_block {
	struct page *page;
	unsigned int order;
};

static struct frag_block *frag_blocks;
static unsigned long frag_nr, frag_failed, frag_pages;

/* The order of the i-th allocation: tools/zonemm-bench.c uses the same. */
static unsigned int frag_order(unsigned long i)
{
	return (unsigned int)((i * 0x9e3779b9ULL) >> 7) % 4;
}

/* Frees every block (odd_only: those at odd positions) of the workload. */
static void frag_free(bool odd_only)
{
	unsigned long i;

	for (i = odd_only ? 1 : 0; i < frag_nr; i += odd_only ? 2 : 1) {
		if (frag_blocks[i].page)
			__free_pages(frag_blocks[i].page, frag_blocks[i].order);
		frag_blocks[i].page = NULL;
	}
	if (odd_only)
		return;
	kvfree(frag_blocks);
	frag_blocks = NULL;
	frag_nr = 0;
	frag_failed = 0;
	frag_pages = 0;
}

static int frag_alloc(unsigned long target)
{
	const gfp_t gfp = GFP_KERNEL | __GFP_DMA32 | __GFP_THISNODE | __GFP_NOWARN | __GFP_NORETRY;

	/* Every block is at least a page: target entries are enough. */
	frag_blocks = kvcalloc(target, sizeof(*frag_blocks), GFP_KERNEL);
	if (!frag_blocks)
		return -ENOMEM;
	while (frag_pages < target) {
		unsigned int order = frag_order(frag_nr);
		struct page *page = alloc_pages_node(0, gfp, order);

		if (page && page_zonenum(page) != ZONE_DMA32) {
			/* Fell back to another zone: not the zone measured. */
			__free_pages(page, order);
			page = NULL;
		}
		if (!page) {
			frag_failed++;
			break;
		}
		frag_blocks[frag_nr++] = (struct frag_block){ page, order };
		frag_pages += 1UL << order;
	}
	return 0;
}

static ssize_t frag_write(struct file *file, const char __user *ubuf,
			  size_t len, loff_t *ppos)
{
	unsigned long target;
	char buf[32], *s;
	int err;

	err = read_command(ubuf, len, buf, sizeof(buf), "frag: usage: alloc PAGES | free_odd | free", &s);
	if (err)
		return err;
	mutex_lock(&workload_lock);
	if (!strcmp(s, "free")) {
		frag_free(false);
	} else if (!strcmp(s, "free_odd")) {
		frag_free(true);
	} else if (!strncmp(s, "alloc ", 6) && !kstrtoul(s + 6, 0, &target) &&
		   target && target <= totalram_pages()) {
		if (frag_blocks) {
			pr_err("frag: a workload is held: write 'free' first\n");
			err = -EBUSY;
		} else {
			err = frag_alloc(target);
		}
	} else {
		pr_err("frag: usage: alloc PAGES (1 to the RAM's pages) | free_odd | free: '%s'\n", s);
		err = -EINVAL;
	}
	mutex_unlock(&workload_lock);
	return err ? err : len;
}

static int frag_show(struct seq_file *m, void *v)
{
	mutex_lock(&workload_lock);
	seq_printf(m, "allocations=%lu failed=%lu pages=%lu\n", frag_nr, frag_failed, frag_pages);
	mutex_unlock(&workload_lock);
	return 0;
}

DEFINE_SHOW_STORE_ATTRIBUTE(frag);

void workloads_init(struct dentry *dir)
{
	debugfs_create_file("merge", 0600, dir, NULL, &merge_fops);
	debugfs_create_file("frag", 0600, dir, NULL, &frag_fops);
}

/* Called after the debugfs files are gone: nothing can race it. */
void workloads_exit(void)
{
	merge_free();
	frag_free(false);
}
