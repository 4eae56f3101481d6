// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm-bench: the user-space half of make bench, for what is timed or
 * driven from user space on both sides alike.
 *
 * zonemm-bench merge PAGES REPS
 *	The kernel's KSM and zonemm's merger on the same contents: 2 x PAGES
 *	pages, page p of each half holding (p % 251) + 1 in its first 64
 *	bytes and zeroes after. KSM's pages are this process's anonymous
 *	memory (prctl(PR_SET_MEMORY_MERGE)); zonemm's are two mergeable regions
 *	that zonemm_bench.ko fills through zonemm's API. Each side is run as
 *	a user runs it: knobs written (pages_to_scan 2 x PAGES, one pass per
 *	wake-up; sleep_millisecs 0; use_zero_pages 0), then the clock runs from the write of run=1
 *	until pages_sharing reaches 2 x PAGES - distinct, polled every 200 us
 *	on both sides. REPS repetitions, alternating which side goes first.
 *	One line per run: side, pages_sharing and pages_shared reached,
 *	expected values, nanoseconds.
 *
 * zonemm-bench umerge PAGES REPS
 *	As merge, with zonemm's side user memory too: the same contents in a
 *	/dev/zonemm mapping of this process (MAP_POPULATE, filled, marked
 *	with ZONEMM_IOC_MERGEABLE), against KSM on anonymous memory. One line
 *	per run, layer=umerge.
 *
 * zonemm-bench fault PAGES REPS
 *	First-touch faults: PAGES pages mapped without MAP_POPULATE and
 *	written one byte per page, in order; the clock covers the writes
 *	only. Anonymous memory (MAP_PRIVATE | MAP_ANONYMOUS) against a
 *	/dev/zonemm mapping; REPS repetitions alternating which goes first.
 *	One line per run, with the pages read back.
 *
 * zonemm-bench compact PAGES
 *	Pages migrated per second by one compaction pass on each side after
 *	PAGES single movable pages with every other one freed (see compact()).
 *
 * zonemm-bench compact9
 *	Issue 17's compaction target on a freshly loaded pool: one-page
 *	mergeable regions (movable) over 90% of the pool's free pages with one
 *	unmovable page after every 16 (94% of the pages movable), every other
 *	region freed, then one buddy/compact "all". Prints the free
 *	pageblock-sized blocks (order 9 and up, in pageblocks) before and
 *	after, and what the unmovable pages leave possible, from a model: per
 *	zone, its pageblocks less those holding an unmovable page, less those
 *	the movable pages still in use fill when packed (the pool's only other
 *	pages on a fresh load are these two kinds).
 *
 * zonemm-bench frag PERCENT
 *	The fragmentation workload on node 0's DMA32 zone of each allocator,
 *	sized relative to that zone: blocks of order 0 to 3 in a fixed
 *	pseudo-random sequence until PERCENT % of the zone's free pages are
 *	held, then every other block freed. zonemm's side goes through
 *	zonemm/buddy/alloc, the kernel's through zonemm_bench/frag. Prints
 *	each zone's free blocks per order (buddyinfo) before and after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "zonemm.h"

#define PAGE		4096UL
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif
#define NR_ORDERS	11
#define KSM		"/sys/kernel/mm/ksm"
#define ZONEMM		"/sys/kernel/debug/zonemm"
#define BENCH		"/sys/kernel/debug/zonemm_bench"

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("zonemm-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Writes value to path in one write(); returns 0 or the errno. */
static int try_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return errno;
	if (fputs(value, f) < 0)
		err = errno;
	if (fclose(f) && !err)
		err = errno ? errno : EIO;
	return err;
}

static void put(const char *path, const char *fmt, ...)
{
	char value[128];
	va_list ap;
	int err;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	err = try_write(path, value);
	if (err)
		die("cannot write '%s' to %s: %s", value, path, strerror(err));
}

static long get(const char *path)
{
	FILE *f = fopen(path, "r");
	long v;

	if (!f || fscanf(f, "%ld", &v) != 1)
		die("cannot read a number from %s", path);
	fclose(f);
	return v;
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* -- merge ------------------------------------------------------------ */

struct merger {
	const char *name;
	const char *knobs;	/* the directory of run, pages_sharing, ... */
	void (*setup)(unsigned long pages);
	void (*teardown)(unsigned long pages);
};

static char *ksm_mem;

/*
 * Whole-process merging scans this process's other anonymous pages too: a
 * control pass over the process before the test memory exists must merge
 * nothing, or the counts of the timed run could include foreign pages.
 */
static void ksm_control(void)
{
	long scans;
	long long t0 = now_ns();

	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		die("prctl(PR_SET_MEMORY_MERGE): %s", strerror(errno));
	put(KSM "/run", "1");
	scans = get(KSM "/full_scans");
	while (get(KSM "/full_scans") < scans + 3 && now_ns() - t0 < 30000000000LL)
		usleep(1000);
	if (get(KSM "/pages_sharing") || get(KSM "/pages_shared"))
		die("control pass: KSM merged %ld of this process's own pages; the counts would not be the test's",
		    get(KSM "/pages_sharing"));
	put(KSM "/run", "2");
}

static void ksm_setup(unsigned long pages)
{
	unsigned long p;

	ksm_control();

	ksm_mem = mmap(NULL, 2 * pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (ksm_mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (p = 0; p < 2 * pages; p++)
		memset(ksm_mem + p * PAGE, (int)((p % pages) % 251 + 1), 64);
	/*
	 * The whole process mergeable, as the guest kernel has no madvise()
	 * (tinyconfig: no CONFIG_ADVISE_SYSCALLS): its few other anonymous
	 * pages are scanned too, and the run checks that they share nothing.
	 */
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		die("prctl(PR_SET_MEMORY_MERGE): %s", strerror(errno));
}

static void ksm_teardown(unsigned long pages)
{
	prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0);
	munmap(ksm_mem, 2 * pages * PAGE);
}

static void zonemm_setup(unsigned long pages)
{
	put(BENCH "/merge", "alloc %lu", pages);
}

static void zonemm_teardown(unsigned long pages)
{
	put(BENCH "/merge", "free");
}

static char *dev_mem;
static int dev_fd = -1;

static void dev_setup(unsigned long pages)
{
	struct zonemm_range r;
	unsigned long p;

	dev_fd = open("/dev/zonemm", O_RDWR);
	if (dev_fd < 0)
		die("/dev/zonemm: %s", strerror(errno));
	dev_mem = mmap(NULL, 2 * pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       dev_fd, 0);
	if (dev_mem == MAP_FAILED)
		die("mmap of /dev/zonemm: %s", strerror(errno));
	for (p = 0; p < 2 * pages; p++)
		memset(dev_mem + p * PAGE, (int)((p % pages) % 251 + 1), 64);
	r.start = (uintptr_t)dev_mem;
	r.len = 2 * pages * PAGE;
	if (ioctl(dev_fd, ZONEMM_IOC_MERGEABLE, &r))
		die("ZONEMM_IOC_MERGEABLE: %s", strerror(errno));
}

static void dev_teardown(unsigned long pages)
{
	munmap(dev_mem, 2 * pages * PAGE);
	close(dev_fd);
}

static const struct merger mergers[] = {
	{ "ksm", KSM, ksm_setup, ksm_teardown },
	{ "zonemm", ZONEMM "/merge", zonemm_setup, zonemm_teardown },
};

/* User memory on both sides. */
static const struct merger user_mergers[] = {
	{ "ksm", KSM, ksm_setup, ksm_teardown },
	{ "zonemm", ZONEMM "/merge", dev_setup, dev_teardown },
};

static void knob(const struct merger *m, const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", m->knobs, name);
	put(path, "%s", value);
}

static long counter(const struct merger *m, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", m->knobs, name);
	return get(path);
}

static void merge_once(const struct merger *m, const char *layer, unsigned long pages, int rep)
{
	unsigned long distinct = pages < 251 ? pages : 251;
	long want = 2 * pages - distinct, sharing = 0, shared, scans;
	long long t0, t1;
	char scan[32];

	/* One pass over the pages per wake-up, on both sides. */
	snprintf(scan, sizeof(scan), "%lu", 2 * pages);
	knob(m, "run", "2");	/* nothing merged from before */
	knob(m, "pages_to_scan", scan);
	knob(m, "sleep_millisecs", "0");
	knob(m, "use_zero_pages", "0");
	m->setup(pages);
	scans = counter(m, "full_scans");
	t0 = now_ns();
	knob(m, "run", "1");
	while (now_ns() - t0 < 120000000000LL) {
		sharing = counter(m, "pages_sharing");
		/* Both counts: an unrelated merge cannot end the run early. */
		if (sharing >= want && counter(m, "pages_shared") >= (long)distinct)
			break;
		usleep(200);
	}
	t1 = now_ns();
	knob(m, "run", "0");
	shared = counter(m, "pages_shared");
	sharing = counter(m, "pages_sharing");
	scans = counter(m, "full_scans") - scans;
	printf("layer=%s side=%s rep=%d pages=%lu want_sharing=%ld want_shared=%lu "
	       "sharing=%ld shared=%ld full_scans=%ld ns=%lld\n",
	       layer, m->name, rep, 2 * pages, want, distinct, sharing, shared, scans, t1 - t0);
	fflush(stdout);
	knob(m, "run", "2");
	m->teardown(pages);
}

static int merge(const struct merger *sides, const char *layer, unsigned long pages, int reps)
{
	int rep;

	for (rep = 0; rep < reps; rep++) {
		int first = rep & 1;

		merge_once(&sides[first], layer, pages, rep);
		merge_once(&sides[!first], layer, pages, rep);
	}
	return 0;
}

/* -- fault ------------------------------------------------------------ */

/*
 * One side of the first-touch run: PAGES pages mapped, one byte written
 * into each in order (the timed part), then read back.
 */
static void fault_once(int zonemm, unsigned long pages, int rep)
{
	int fd = -1;
	unsigned long i, good = 0;
	long long t0, t1;
	char *mem;

	if (zonemm) {
		fd = open("/dev/zonemm", O_RDWR);
		if (fd < 0)
			die("/dev/zonemm: %s", strerror(errno));
		mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	t0 = now_ns();
	for (i = 0; i < pages; i++)
		mem[i * PAGE] = (char)(i | 1);
	t1 = now_ns();
	for (i = 0; i < pages; i++)
		good += mem[i * PAGE] == (char)(i | 1) && mem[i * PAGE + 1] == 0;
	printf("layer=fault side=%s rep=%d pages=%lu read_back=%lu ns=%lld\n",
	       zonemm ? "zonemm" : "anon", rep, pages, good, t1 - t0);
	fflush(stdout);
	munmap(mem, pages * PAGE);
	if (fd >= 0)
		close(fd);
}

static int fault(unsigned long pages, int reps)
{
	int rep;

	for (rep = 0; rep < reps; rep++) {
		fault_once(rep & 1, pages, rep);
		fault_once(!(rep & 1), pages, rep);
	}
	return 0;
}

/* -- frag ------------------------------------------------------------- */

/* The same sequence as zonemm_bench's frag_order(). */
static unsigned int frag_order(unsigned long i)
{
	return (unsigned int)((i * 0x9e3779b9ULL) >> 7) % 4;
}

/* Free blocks per order of "Node 0, zone DMA32" in a buddyinfo file. */
static void buddyinfo(const char *path, unsigned long counts[NR_ORDERS])
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		die("cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		char zone[16], *p = line;
		int node, o, n;

		if (sscanf(line, "Node %d, zone %15s%n", &node, zone, &n) != 2 ||
		    node != 0 || strcmp(zone, "DMA32"))
			continue;
		p += n;
		for (o = 0; o < NR_ORDERS; o++) {
			if (sscanf(p, "%lu%n", &counts[o], &n) != 1)
				die("short line in %s", path);
			p += n;
		}
		fclose(f);
		return;
	}
	die("no 'Node 0, zone DMA32' line in %s", path);
}

/*
 * Pages on the per-CPU lists of "Node 0, zone DMA32" in a zoneinfo file:
 * the sum of its "count:" lines. Neither side drains them before reading
 * its buddyinfo (the kernel's cannot be drained from outside), so each
 * side's parked pages are printed beside its counts.
 */
static unsigned long pcp_pages(const char *path)
{
	unsigned long sum = 0, n;
	char line[256], zone[16];
	int node, in = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		die("cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %15s", &node, zone) == 2) {
			in = node == 0 && !strcmp(zone, "DMA32");
			continue;
		}
		if (in && sscanf(line, " count: %lu", &n) == 1)
			sum += n;
	}
	fclose(f);
	return sum;
}

static unsigned long free_pages(const unsigned long counts[NR_ORDERS])
{
	unsigned long sum = 0;
	int o;

	for (o = 0; o < NR_ORDERS; o++)
		sum += counts[o] << o;
	return sum;
}

static void print_counts(const char *key, const unsigned long counts[NR_ORDERS])
{
	int o;

	printf(" %s=", key);
	for (o = 0; o < NR_ORDERS; o++)
		printf("%s%lu", o ? "," : "", counts[o]);
}

/*
 * Calls fn(handle, index) for each block in buddy/allocations with a handle
 * above `after`, in allocation order; returns the highest handle seen.
 */
static unsigned long for_each_block(unsigned long after,
				    void (*fn)(unsigned long handle, unsigned long i))
{
	unsigned long handle, last = after, i = 0;
	char line[256];
	FILE *f = fopen(ZONEMM "/buddy/allocations", "r");

	if (!f)
		die("cannot open buddy/allocations");
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%lu", &handle) != 1 || handle <= after)
			continue;
		if (fn)
			fn(handle, i);
		i++;
		last = handle > last ? handle : last;
	}
	fclose(f);
	return last;
}

static void free_odd(unsigned long handle, unsigned long i)
{
	if (i % 2 == 1)
		put(ZONEMM "/buddy/free", "%lu", handle);
}

static void free_block(unsigned long handle, unsigned long i)
{
	put(ZONEMM "/buddy/free", "%lu", handle);
}

/*
 * zonemm's side: buddy/alloc one block at a time, then every other one of
 * those (handles above `first`, which the blocks of others are not) freed.
 */
static void frag_zonemm(unsigned long first, unsigned long target, unsigned long *nr,
			unsigned long *failed, unsigned long *pages)
{
	unsigned long i = 0;

	*nr = *failed = *pages = 0;
	while (*pages < target) {
		char cmd[64];
		unsigned int order = frag_order(i);

		snprintf(cmd, sizeof(cmd), "order=%u zone=DMA32 node=0", order);
		if (try_write(ZONEMM "/buddy/alloc", cmd)) {
			(*failed)++;
			break;
		}
		(*nr)++;
		*pages += 1UL << order;
		i++;
	}
	for_each_block(first, free_odd);
}

static int frag(unsigned long percent)
{
	unsigned long before[NR_ORDERS], after[NR_ORDERS], target, nr, failed, pages, first;
	unsigned long pcp_before;
	FILE *f;

	/* zonemm: its per-CPU lists left as they are, as the kernel's must be */
	first = for_each_block(0, NULL);
	buddyinfo(ZONEMM "/buddy/buddyinfo", before);
	pcp_before = pcp_pages(ZONEMM "/buddy/zoneinfo");
	target = free_pages(before) * percent / 100;
	frag_zonemm(first, target, &nr, &failed, &pages);
	buddyinfo(ZONEMM "/buddy/buddyinfo", after);
	printf("layer=frag side=zonemm percent=%lu zone_free_pages=%lu target_pages=%lu "
	       "allocations=%lu failed=%lu pages=%lu pcp_before=%lu pcp_after=%lu",
	       percent, free_pages(before), target, nr, failed, pages, pcp_before,
	       pcp_pages(ZONEMM "/buddy/zoneinfo"));
	print_counts("before", before);
	print_counts("after", after);
	printf("\n");
	for_each_block(first, free_block);

	/* the kernel */
	buddyinfo("/proc/buddyinfo", before);
	pcp_before = pcp_pages("/proc/zoneinfo");
	target = free_pages(before) * percent / 100;
	put(BENCH "/frag", "alloc %lu", target);
	f = fopen(BENCH "/frag", "r");
	if (!f || fscanf(f, "allocations=%lu failed=%lu pages=%lu", &nr, &failed, &pages) != 3)
		die("cannot read %s", BENCH "/frag");
	fclose(f);
	put(BENCH "/frag", "free_odd");
	buddyinfo("/proc/buddyinfo", after);
	printf("layer=frag side=kernel percent=%lu zone_free_pages=%lu target_pages=%lu "
	       "allocations=%lu failed=%lu pages=%lu pcp_before=%lu pcp_after=%lu",
	       percent, free_pages(before), target, nr, failed, pages, pcp_before,
	       pcp_pages("/proc/zoneinfo"));
	print_counts("before", before);
	print_counts("after", after);
	printf("\n");
	put(BENCH "/frag", "free");
	return 0;
}

/* -- compact ---------------------------------------------------------- */

/* The value of "KEY N" in a file of such lines, or -1 if it has none. */
static long stat_or(const char *path, const char *key)
{
	char k[64];
	long v;
	FILE *f = fopen(path, "r");

	if (!f)
		die("cannot open %s", path);
	while (fscanf(f, "%63s %ld", k, &v) == 2) {
		if (!strcmp(k, key)) {
			fclose(f);
			return v;
		}
	}
	fclose(f);
	return -1;
}

static unsigned long stat_of(const char *path, const char *key)
{
	long v = stat_or(path, key);

	if (v < 0)
		die("no %s in %s", key, path);
	return v;
}

/* The frame of each odd page of mem (0 if not present), from pagemap. */
static void frames(const char *mem, unsigned long pages, unsigned long long *pfn)
{
	FILE *f = fopen("/proc/self/pagemap", "r");
	unsigned long long e;
	unsigned long i;

	if (!f)
		die("cannot open /proc/self/pagemap");
	for (i = 1; i < pages; i += 2) {
		if (fseek(f, (long)((unsigned long)mem / PAGE + i) * 8, SEEK_SET) || fread(&e, 8, 1, f) != 1)
			die("cannot read /proc/self/pagemap");
		pfn[i / 2] = e >> 63 ? e & ((1ULL << 55) - 1) : 0;
	}
	fclose(f);
}

/*
 * Pages migrated per second by one compaction pass after the same
 * workload on each side: PAGES single movable pages, every other one freed
 * (zonemm: one-page mergeable regions; the kernel: anonymous memory, every
 * other page given back with MADV_DONTNEED), then zonemm's buddy/compact
 * "all" and the kernel's /proc/sys/vm/compact_memory, each timed, with
 * pgmigrate_success before and after.
 */
/*
 * The identities of the regions in region/list above `above`, ascending,
 * up to `max` of them; `*last` gets the largest identity listed.
 */
static unsigned long regions_above(unsigned long above, unsigned long *ids, unsigned long max,
				   unsigned long *last)
{
	char line[256];
	unsigned long id, n = 0;
	FILE *f = fopen(ZONEMM "/region/list", "r");

	if (!f)
		die("cannot open %s", ZONEMM "/region/list");
	*last = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lu", &id) != 1)
			continue;
		if (id > above && n < max)
			ids[n++] = id;
		if (id > *last)
			*last = id;
	}
	fclose(f);
	return n;
}

static int compact(unsigned long pages)
{
	unsigned long i, nr, before, after, last, *ids = calloc(pages + 1, sizeof(*ids));
	unsigned long long *pfn_before, *pfn_after;
	long vm_before, vm_after;
	long long t;
	char *mem;

	if (!ids)
		die("out of memory");
	/* Identities only grow: the new regions are those above every live one. */
	regions_above(0, ids, 0, &last);
	for (nr = 0; nr < pages; nr++)
		if (try_write(ZONEMM "/region/alloc", "4K mergeable"))
			break;
	nr = regions_above(last, ids, pages, &i);
	for (i = 0; i < nr; i += 2)
		put(ZONEMM "/region/free", "%lu", ids[i]);
	put(ZONEMM "/buddy/drain", "1");
	before = stat_of(ZONEMM "/buddy/stats", "pgmigrate_success");
	t = now_ns();
	put(ZONEMM "/buddy/compact", "all");
	t = now_ns() - t;
	after = stat_of(ZONEMM "/buddy/stats", "pgmigrate_success");
	printf("layer=compact side=zonemm pages=%lu migrated=%lu ns=%lld\n", nr, after - before, t);
	for (i = 1; i < nr; i += 2)
		put(ZONEMM "/region/free", "%lu", ids[i]);
	free(ids);

	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap of %lu pages failed", pages);
	for (i = 0; i < pages; i++)
		mem[i * PAGE] = (char)i;
	for (i = 0; i < pages; i += 2)
		madvise(mem + i * PAGE, PAGE, MADV_DONTNEED);
	/*
	 * Without CONFIG_VM_EVENT_COUNTERS (the reference guest kernel) there
	 * is no pgmigrate_success: then the pages of this workload that
	 * changed frame are counted, from pagemap (the kernel's pass moves
	 * other pages too, so its rate is then a lower bound).
	 */
	pfn_before = calloc(pages / 2 + 1, sizeof(*pfn_before));
	pfn_after = calloc(pages / 2 + 1, sizeof(*pfn_after));
	if (!pfn_before || !pfn_after)
		die("out of memory");
	frames(mem, pages, pfn_before);
	vm_before = stat_or("/proc/vmstat", "pgmigrate_success");
	t = now_ns();
	put("/proc/sys/vm/compact_memory", "1");
	t = now_ns() - t;
	vm_after = stat_or("/proc/vmstat", "pgmigrate_success");
	frames(mem, pages, pfn_after);
	after = 0;
	for (i = 0; i < pages / 2; i++)
		after += pfn_before[i] != pfn_after[i];
	printf("layer=compact side=kernel pages=%lu migrated=%ld counted=%s ns=%lld\n", pages,
	       vm_before >= 0 ? vm_after - vm_before : (long)after, vm_before >= 0 ? "vmstat" : "pagemap", t);
	free(pfn_before);
	free(pfn_after);
	for (i = 1; i < pages; i += 2)
		if (mem[i * PAGE] != (char)i)
			die("the kernel's compaction lost page %lu", i);
	munmap(mem, pages * PAGE);
	return 0;
}

/* -- compact9 --------------------------------------------------------- */

#define MAX_ZONES	16

struct zone9 {
	int node;
	char name[16];
	unsigned long managed, free, unmovable, pinned, blocks;
	unsigned long long pinned_pb[4096];
};

static int nzones;
static struct zone9 zones9[MAX_ZONES];

static struct zone9 *zone9(int node, const char *name)
{
	int i;

	for (i = 0; i < nzones; i++)
		if (zones9[i].node == node && !strcmp(zones9[i].name, name))
			return &zones9[i];
	if (nzones == MAX_ZONES)
		die("more than %d zones", MAX_ZONES);
	zones9[nzones].node = node;
	snprintf(zones9[nzones].name, sizeof(zones9[nzones].name), "%s", name);
	return &zones9[nzones++];
}

/*
 * Every zone's free pages and free pageblock-sized blocks (order 9 and
 * up, counted in pageblocks), from zonemm's buddyinfo; the pool's totals.
 */
static void zones_free(unsigned long *free_pages, unsigned long *blocks)
{
	char line[512];
	FILE *f = fopen(ZONEMM "/buddy/buddyinfo", "r");

	if (!f)
		die("cannot open %s", ZONEMM "/buddy/buddyinfo");
	*free_pages = *blocks = 0;
	while (fgets(line, sizeof(line), f)) {
		char name[16], *p = line;
		int node, o, n;
		unsigned long c;
		struct zone9 *z;

		if (sscanf(line, "Node %d, zone %15s%n", &node, name, &n) != 2)
			continue;
		z = zone9(node, name);
		z->free = z->blocks = 0;
		p += n;
		for (o = 0; o < NR_ORDERS; o++) {
			if (sscanf(p, "%lu%n", &c, &n) != 1)
				die("short buddyinfo line");
			p += n;
			z->free += c << o;
			if (o >= 9)
				z->blocks += c << (o - 9);
		}
		*free_pages += z->free;
		*blocks += z->blocks;
	}
	fclose(f);
}

/* Every zone's managed pages, from zonemm's zoneinfo. */
static void zones_managed(void)
{
	char line[256], name[16];
	struct zone9 *z = NULL;
	unsigned long v;
	int node;
	FILE *f = fopen(ZONEMM "/buddy/zoneinfo", "r");

	if (!f)
		die("cannot open %s", ZONEMM "/buddy/zoneinfo");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %15s", &node, name) == 2)
			z = zone9(node, name);
		else if (z && sscanf(line, " managed %lu", &v) == 1)
			z->managed = v;
	}
	fclose(f);
}

/* The unmovable pages per zone and the pageblocks holding them. */
static void zones_unmovable(void)
{
	char line[256], name[16], type[32];
	unsigned long long handle, pfn, pb;
	int node, order;
	FILE *f = fopen(ZONEMM "/buddy/allocations", "r");

	if (!f)
		die("cannot open %s", ZONEMM "/buddy/allocations");
	while (fgets(line, sizeof(line), f)) {
		struct zone9 *z;
		unsigned long k;

		if (sscanf(line, "%llu %d %15s %llx %d %31s", &handle, &node, name, &pfn, &order, type) != 6)
			continue;
		z = zone9(node, name);
		z->unmovable += 1UL << order;
		pb = pfn >> 9;
		for (k = 0; k < z->pinned; k++)
			if (z->pinned_pb[k] == pb)
				break;
		if (k == z->pinned && z->pinned < sizeof(z->pinned_pb) / sizeof(z->pinned_pb[0]))
			z->pinned_pb[z->pinned++] = pb;
	}
	fclose(f);
}

static int compact9(void)
{
	unsigned long free_pages, blocks_before, blocks_after, target, i, nr = 0, unmovable = 0;
	unsigned long first_id, last, *ids, possible = 0, movable_in_use = 0, moved;
	long long t;

	zones_free(&free_pages, &blocks_before);
	target = free_pages * 9 / 10;
	ids = calloc(target + 1, sizeof(*ids));
	if (!ids)
		die("out of memory");
	regions_above(0, ids, 0, &first_id);
	for (i = 0; i < target; i++) {
		if (i % 17 == 16) {
			if (try_write(ZONEMM "/buddy/alloc", "order=0 count=1 type=unmovable"))
				break;
			unmovable++;
		} else if (try_write(ZONEMM "/region/alloc", "4K mergeable")) {
			break;
		}
	}
	nr = regions_above(first_id, ids, target, &last);
	for (i = 0; i < nr; i += 2)
		put(ZONEMM "/region/free", "%lu", ids[i]);
	put(ZONEMM "/buddy/drain", "1");
	zones_managed();
	zones_unmovable();
	zones_free(&free_pages, &blocks_before);
	for (i = 0; i < (unsigned long)nzones; i++) {
		struct zone9 *z = &zones9[i];
		long used = (long)z->managed - (long)z->free - (long)z->unmovable;
		long can = (long)(z->managed / 512) - (long)z->pinned - (used > 0 ? (used + 511) / 512 : 0);

		movable_in_use += used > 0 ? used : 0;
		possible += can > 0 ? can : 0;
	}
	moved = stat_of(ZONEMM "/buddy/stats", "pgmigrate_success");
	t = now_ns();
	put(ZONEMM "/buddy/compact", "all");
	t = now_ns() - t;
	moved = stat_of(ZONEMM "/buddy/stats", "pgmigrate_success") - moved;
	put(ZONEMM "/buddy/drain", "1");
	zones_free(&free_pages, &blocks_after);
	printf("layer=compact9 regions=%lu unmovable_pages=%lu movable_in_use=%lu blocks_before=%lu "
	       "blocks_after=%lu possible=%lu migrated=%lu ns=%lld\n",
	       nr, unmovable, movable_in_use, blocks_before, blocks_after, possible, moved, t);
	fflush(stdout);
	put(ZONEMM "/region/free", "all");
	put(ZONEMM "/buddy/free", "all");
	free(ids);
	return 0;
}

int main(int argc, char **argv)
{
	char *end;

	if (argc == 4 && !strcmp(argv[1], "merge")) {
		unsigned long pages = strtoul(argv[2], &end, 0);
		int reps = atoi(argv[3]);

		/* Past 2 x 251 x 256 pages, max_page_sharing makes chains. */
		if (*end || !pages || pages > 32128 || reps < 1 || reps > 99)
			die("merge PAGES (1 to 32128) REPS (1 to 99)");
		return merge(mergers, "merge", pages, reps);
	}
	if (argc == 4 && !strcmp(argv[1], "umerge")) {
		unsigned long pages = strtoul(argv[2], &end, 0);
		int reps = atoi(argv[3]);

		if (*end || !pages || pages > 32128 || reps < 1 || reps > 99)
			die("umerge PAGES (1 to 32128) REPS (1 to 99)");
		return merge(user_mergers, "umerge", pages, reps);
	}
	if (argc == 4 && !strcmp(argv[1], "fault")) {
		unsigned long pages = strtoul(argv[2], &end, 0);
		int reps = atoi(argv[3]);

		if (*end || !pages || pages > 1UL << 20 || reps < 1 || reps > 99)
			die("fault PAGES (1 to 1048576) REPS (1 to 99)");
		return fault(pages, reps);
	}
	if (argc == 3 && !strcmp(argv[1], "frag")) {
		unsigned long percent = strtoul(argv[2], &end, 0);

		if (*end || !percent || percent > 90)
			die("frag PERCENT (1 to 90)");
		return frag(percent);
	}
	if (argc == 2 && !strcmp(argv[1], "compact9"))
		return compact9();
	if (argc == 3 && !strcmp(argv[1], "compact")) {
		unsigned long pages = strtoul(argv[2], &end, 0);

		if (*end || !pages || pages > 1UL << 20)
			die("compact PAGES (1 to 1048576)");
		return compact(pages);
	}
	fprintf(stderr, "usage: zonemm-bench merge|umerge|fault PAGES REPS | frag PERCENT | compact PAGES | compact9\n");
	return 2;
}
