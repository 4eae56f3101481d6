/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * zonemm's user-space interface: /dev/zonemm.
 *
 * mmap(2) of the device gives memory from zonemm's pool instead of the
 * kernel's page allocator:
 *
 *   fd = open("/dev/zonemm", O_RDWR);
 *   p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *
 * - MAP_SHARED only, at offset 0, of at most the pool's size; MAP_PRIVATE,
 *   another offset, PROT_EXEC or a larger length are refused with EINVAL.
 *   Each mmap(2) call is a new mapping of its own: two calls never share
 *   pages, even through the same file descriptor.
 * - Pages come zeroed from the pool's Movable zone (GFP_HIGHUSER_MOVABLE's
 *   choice of zone and migrate type) on first touch, or all at mmap(2)
 *   time with MAP_POPULATE. Touching a page when the pool has none left
 *   raises SIGBUS, as hugetlbfs does when its pool runs out.
 * - fork(2): the child shares the mapping with the parent (MAP_SHARED):
 *   a write by either is seen by both.
 * - Ranges marked mergeable (ZONEMM_IOC_MERGEABLE) are scanned by
 *   zonemm's merger (zonemm/merge/ in debugfs), which shares pages of
 *   equal content between mappings, as KSM does for MADV_MERGEABLE
 *   anonymous memory: a merged page is mapped read-only, and the first
 *   write to it copies it into a private page again (a minor fault).
 *   The merger takes a page's PTEs down before it compares and shares
 *   it, so a page written constantly costs one more minor fault per
 *   scan pass. Unmarking a range gives each of its merged pages a
 *   private copy again.
 * - munmap(2) and exit: the pages go back to the pool when the last
 *   mapping of them (in any process) goes. munmap(2) of a part of a
 *   mapping keeps that part's pages until the rest goes too, as a shmem
 *   file keeps its pages. mremap(2) may move a mapping but not grow it.
 * - The pages are mapped with no struct page reference (VM_MIXEDMAP,
 *   special PTEs): no other kernel user can take a reference to them
 *   (get_user_pages() fails, so O_DIRECT into the mapping, vmsplice(2) and
 *   process_vm_readv(2) fail), and core dumps leave the mapping out.
 *
 * The device is root-only by default (module parameter dev_mode, 0600).
 */
#ifndef _UAPI_ZONEMM_H
#define _UAPI_ZONEMM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * A range of one of the calling process's zonemm mappings: start and len
 * page-aligned, len > 0, the whole range inside one mapping. Anything
 * else is refused with EINVAL and changes nothing.
 */
struct zonemm_range {
	__u64 start;
	__u64 len;
};

/*
 * Per-process figures, as /proc/<pid>/ksm_stat gives them, summed over
 * the calling process's zonemm mappings (a page mapped by two of them
 * counts twice, as in RSS):
 *
 *   mappings         zonemm mappings (VMAs) of the process
 *   mapped_pages     their pages that have been touched (hold a pool page)
 *   mergeable_pages  their pages in ranges marked mergeable
 *   rmap_items       their pages the merger has scanned (ksm_rmap_items)
 *   merging_pages    their pages that use a merged page
 *                    (ksm_merging_pages)
 *   process_profit   merging_pages * page size less the merger's
 *                    metadata for rmap_items (ksm_process_profit)
 */
struct zonemm_stat {
	__u64 mappings;
	__u64 mapped_pages;
	__u64 mergeable_pages;
	__u64 rmap_items;
	__u64 merging_pages;
	__s64 process_profit;
};

#define ZONEMM_IOC_MAGIC 0xBB	/* unused in ioctl-number.rst */

/* Mark a range mergeable / unmergeable, as MADV_MERGEABLE does. */
#define ZONEMM_IOC_MERGEABLE	_IOW(ZONEMM_IOC_MAGIC, 1, struct zonemm_range)
#define ZONEMM_IOC_UNMERGEABLE	_IOW(ZONEMM_IOC_MAGIC, 2, struct zonemm_range)
/* The calling process's figures. */
#define ZONEMM_IOC_STAT		_IOR(ZONEMM_IOC_MAGIC, 3, struct zonemm_stat)

#endif /* _UAPI_ZONEMM_H */
