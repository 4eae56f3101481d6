// SPDX-License-Identifier: GPL-2.0
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
/*
 * A hostile client of zonemm's regions, run while the merger scans at
 * full speed (the scenario sets sleep_millisecs=0 and run=1 first).
 *
 * addresses: a kthread per CPU keeps mapped regions of 1 to 40 pages,
 *   reads and rewrites every page through the address zonemm handed out,
 *   checks the address never changes, and frees and replaces regions.
 * merged: four mergeable regions of equal pages; a writer maps pages of
 *   the first for writing and changes them, and checks that no other
 *   region sees the change; a reader maps the others' pages for reading
 *   and checks them. Two read mappings at one address show the merger
 *   shared the page ("shared N").
 * scan-free: a kthread per CPU allocates pairs of equal mergeable regions
 *   and frees them while the scanner passes over them.
 * stale: freed, made-up and out-of-range handles, bad flags, double
 *   frees and unmaps: each fails cleanly.
 * map-free: a page mapped, its region freed, the page still readable
 *   until the unmap.
 *
 * One line per phase ("ok N null N bad N"), then "N checks, N failed";
 * init fails if any check did. Everything is freed before init returns.
 */

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <zonemm.h>

#define WINDOW_MS	2000
#define NR_MAPPED	6
#define MAX_PAGES	40
#define NR_MERGE	4
#define MERGE_PAGES	8
#define MAX_THREADS	16

enum { PH_ADDR, PH_MERGED, PH_SCANFREE, PH_STALE, PH_MAPFREE, NR_PHASES };

struct phase {
	const char *name;
	atomic_long_t ok, null, bad;
};

static struct phase phases[NR_PHASES] = {
	[PH_ADDR] = { "addresses" },	[PH_MERGED] = { "merged" },
	[PH_SCANFREE] = { "scan-free" },	[PH_STALE] = { "stale" },
	[PH_MAPFREE] = { "map-free" },
};

static atomic_long_t shared_seen;
static unsigned int checks, failed;
static unsigned long deadline;

#define CHECK(cond, fmt, ...) ({					\
	bool __ok = (cond);						\
	checks++;							\
	if (!__ok) {							\
		failed++;						\
		pr_err("check failed: " fmt "\n", ##__VA_ARGS__);	\
	}								\
	__ok;								\
})

/* A result of one of @ph's calls, from any thread. */
static void count(int ph, bool good, const char *what, long long v)
{
	atomic_long_inc(good ? &phases[ph].ok : &phases[ph].bad);
	if (!good)
		pr_err("%s: %s (%lld)\n", phases[ph].name, what, v);
}

/* -- addresses --------------------------------------------------------- */

struct mapped {
	s64 h;
	u64 *addr;
	size_t pages;
	u64 tag;
};

static u64 tag_of(const struct mapped *m, size_t page)
{
	return m->tag ^ ((u64)page << 48) ^ 0x5eedULL;
}

static bool mapped_new(struct mapped *m, u64 tag)
{
	size_t p;

	m->pages = 1 + get_random_u32_below(MAX_PAGES);
	m->h = zonemm_region_alloc(m->pages << PAGE_SHIFT, 0);
	if (m->h <= 0) {
		atomic_long_inc(&phases[PH_ADDR].null);
		m->h = 0;
		return false;
	}
	m->addr = zonemm_region_addr(m->h);
	m->tag = tag;
	if (!m->addr) {
		count(PH_ADDR, false, "no address for a mapped region", m->h);
		return false;
	}
	for (p = 0; p < m->pages; p++) {
		m->addr[p * PAGE_SIZE / 8] = tag_of(m, p);
		m->addr[(p + 1) * PAGE_SIZE / 8 - 1] = tag_of(m, p);
	}
	return true;
}

/* Every page through the address handed out, read, rewritten, read. */
static void mapped_check(struct mapped *m)
{
	bool good = zonemm_region_addr(m->h) == m->addr;
	size_t p;

	for (p = 0; good && p < m->pages; p++) {
		u64 *first = &m->addr[p * PAGE_SIZE / 8];
		u64 *last = &m->addr[(p + 1) * PAGE_SIZE / 8 - 1];

		good = READ_ONCE(*first) == tag_of(m, p) && READ_ONCE(*last) == tag_of(m, p);
	}
	count(PH_ADDR, good, "a mapped region's address or bytes changed", m->h);
	m->tag++;
	for (p = 0; p < m->pages; p++) {
		m->addr[p * PAGE_SIZE / 8] = tag_of(m, p);
		m->addr[(p + 1) * PAGE_SIZE / 8 - 1] = tag_of(m, p);
	}
}

static int addr_fn(void *data)
{
	struct mapped set[NR_MAPPED] = {};
	unsigned long round = 0;
	int i;

	for (i = 0; i < NR_MAPPED; i++)
		mapped_new(&set[i], (u64)(unsigned long)data << 32 | i);
	while (time_before(jiffies, deadline)) {
		struct mapped *m = &set[round % NR_MAPPED];

		if (m->h && m->addr)
			mapped_check(m);
		if (round % 8 == 7 && m->h) {
			s64 old = m->h;

			count(PH_ADDR, !zonemm_region_free(old), "free", old);
			count(PH_ADDR, !zonemm_region_addr(old), "a freed handle has an address", old);
			m->h = 0;
		}
		if (!m->h)
			mapped_new(m, round << 8);
		round++;
		cond_resched();
	}
	for (i = 0; i < NR_MAPPED; i++)
		if (set[i].h)
			zonemm_region_free(set[i].h);
	return 0;
}

/* -- merged ------------------------------------------------------------- */

static s64 merge_h[NR_MERGE];
/* What the writer last put in each page of region 0 (0: the pattern). */
static u8 model[MERGE_PAGES];

static u8 pattern(size_t page)
{
	return 0x40 + page;
}

static bool page_holds(const u8 *p, u8 byte)
{
	size_t i;

	for (i = 0; i < PAGE_SIZE; i++)
		if (READ_ONCE(p[i]) != byte)
			return false;
	return true;
}

static int writer_fn(void *data)
{
	unsigned long round = 0;

	while (time_before(jiffies, deadline)) {
		struct zonemm_region_map map, other;
		size_t page = round % MERGE_PAGES;
		u8 byte = 0x80 + (round & 0x3f);
		u8 *p = zonemm_region_map(merge_h[0], page, ZONEMM_MAP_WRITE, &map);
		int r;

		if (!p) {
			atomic_long_inc(&phases[PH_MERGED].null);
			zonemm_region_unmap(&map);
			continue;
		}
		memset(p, byte, PAGE_SIZE);
		zonemm_region_unmap(&map);
		model[page] = byte;
		/* No other sharer sees it. */
		for (r = 1; r < NR_MERGE; r++) {
			const u8 *q = zonemm_region_map(merge_h[r], page, 0, &other);

			count(PH_MERGED, q && page_holds(q, pattern(page)),
			      "a write through one region reached another", r);
			zonemm_region_unmap(&other);
		}
		round++;
		/* Leave the page alone a while: the merger may share it. */
		msleep(round % 4);
	}
	return 0;
}

static int reader_fn(void *data)
{
	unsigned long round = 0;

	while (time_before(jiffies, deadline)) {
		struct zonemm_region_map a, b;
		size_t page = round % MERGE_PAGES;
		int r = 1 + round % (NR_MERGE - 1);
		int s = 1 + (round + 1) % (NR_MERGE - 1);
		const u8 *p = zonemm_region_map(merge_h[r], page, 0, &a);
		const u8 *q = zonemm_region_map(merge_h[s], page, 0, &b);

		count(PH_MERGED, p && q && page_holds(p, pattern(page)) && page_holds(q, pattern(page)),
		      "a read mapping shows the wrong bytes", r);
		if (p && p == q)
			atomic_long_inc(&shared_seen);
		zonemm_region_unmap(&b);
		zonemm_region_unmap(&a);
		round++;
		cond_resched();
	}
	return 0;
}

static bool merged_setup(void)
{
	u8 buf[64];
	size_t page;
	int r;

	for (r = 0; r < NR_MERGE; r++) {
		merge_h[r] = zonemm_region_alloc(MERGE_PAGES << PAGE_SHIFT, ZONEMM_REGION_MERGEABLE);
		if (!CHECK(merge_h[r] > 0, "mergeable region: %lld", merge_h[r]))
			return false;
		CHECK(!zonemm_region_addr(merge_h[r]), "a mergeable region has an address");
		for (page = 0; page < MERGE_PAGES; page++) {
			u8 *p;
			struct zonemm_region_map map;

			p = zonemm_region_map(merge_h[r], page, ZONEMM_MAP_WRITE, &map);
			if (CHECK(p, "write mapping"))
				memset(p, pattern(page), PAGE_SIZE);
			zonemm_region_unmap(&map);
		}
	}
	memset(buf, 0, sizeof(buf));
	CHECK(!zonemm_region_read(merge_h[1], 3 * PAGE_SIZE - 32, buf, sizeof(buf)) &&
	      buf[0] == pattern(2) && buf[63] == pattern(3), "read across a page boundary");
	return true;
}

/* After the window: region 0 holds the model, the others the pattern. */
static void merged_verify(void)
{
	struct zonemm_region_map map;
	size_t page;
	int r;

	for (r = 0; r < NR_MERGE; r++) {
		for (page = 0; page < MERGE_PAGES; page++) {
			u8 want = r == 0 && model[page] ? model[page] : pattern(page);
			const u8 *p = zonemm_region_map(merge_h[r], page, 0, &map);

			CHECK(p && page_holds(p, want), "region %d page %zu holds %#x", r, page, want);
			zonemm_region_unmap(&map);
		}
	}
}

/* -- scan-free ---------------------------------------------------------- */

static int scanfree_fn(void *data)
{
	static const u8 fill[64] = { [0 ... 63] = 0x3c };

	while (time_before(jiffies, deadline)) {
		s64 a = zonemm_region_alloc(4 << PAGE_SHIFT, ZONEMM_REGION_MERGEABLE | ZONEMM_REGION_ZERO);
		s64 b = zonemm_region_alloc(4 << PAGE_SHIFT, ZONEMM_REGION_MERGEABLE | ZONEMM_REGION_ZERO);
		bool good = a > 0 && b > 0;

		if (good)
			good = !zonemm_region_write(a, PAGE_SIZE, fill, sizeof(fill)) &&
			       !zonemm_region_write(b, PAGE_SIZE, fill, sizeof(fill));
		/* Long enough for the scanner to visit them, sometimes. */
		usleep_range(100, 2000);
		if (a > 0)
			good &= !zonemm_region_free(a);
		if (b > 0)
			good &= !zonemm_region_free(b);
		count(PH_SCANFREE, good, "alloc, write or free failed", a);
	}
	return 0;
}

/* -- stale ---------------------------------------------------------------- */

static void run_stale(void)
{
	struct zonemm_region_map map;
	static const s64 made_up[] = { 0, -1, S64_MAX, S64_MIN };
	u8 buf[16] = {};
	s64 h, m;
	size_t i;

#define STALE(cond, what) count(PH_STALE, CHECK(cond, "stale: %s", what), what, 0)
	h = zonemm_region_alloc(2 * PAGE_SIZE, 0);
	m = zonemm_region_alloc(2 * PAGE_SIZE, ZONEMM_REGION_MERGEABLE);
	if (!CHECK(h > 0 && m > 0, "stale: regions"))
		return;
	STALE(zonemm_region_alloc(PAGE_SIZE, 0x8) == -EINVAL, "an unknown flag (no_guard)");
	STALE(zonemm_region_alloc(PAGE_SIZE, ZONEMM_REGION_MERGEABLE | ZONEMM_REGION_HUGE) == -EINVAL,
	      "mergeable and huge");
	STALE(zonemm_region_alloc(0, 0) == -EINVAL, "size 0");
	STALE(!zonemm_region_addr(m), "a mergeable region's address");
	STALE(zonemm_region_read(h, 2 * PAGE_SIZE - 8, buf, 16) == -EINVAL, "a read past the end");
	STALE(zonemm_region_write(m, SIZE_MAX - 4, buf, 16) == -EINVAL, "a write at a wrapping offset");
	STALE(!zonemm_region_map(m, 2, 0, &map), "a map past the end");
	zonemm_region_unmap(&map);
	STALE(!zonemm_region_map(m, 0, 0x10, &map), "a map with a bad flag");
	zonemm_region_unmap(&map);
	STALE(zonemm_region_map(m, 1, ZONEMM_MAP_WRITE, &map) != NULL, "a good map");
	STALE(!zonemm_region_map(m, 0, 0, &map), "a map over a live one");
	zonemm_region_unmap(&map);
	zonemm_region_unmap(&map);	/* twice: nothing happens */
	{
		struct zonemm_region_map zeroed = {};

		zonemm_region_unmap(&zeroed);	/* never mapped: nothing happens */
		STALE(zonemm_region_map(m, 1, ZONEMM_MAP_WRITE, &zeroed) != NULL, "a map into a zeroed struct");
		zonemm_region_unmap(&zeroed);
	}
	STALE(!zonemm_region_free(h) && !zonemm_region_free(m), "the frees");
	STALE(zonemm_region_free(h) == -EINVAL && zonemm_region_free(m) == -EINVAL, "double frees");
	STALE(!zonemm_region_addr(h), "a freed region's address");
	STALE(!zonemm_region_map(m, 0, 0, &map), "a freed region's map");
	zonemm_region_unmap(&map);
	STALE(zonemm_region_read(m, 0, buf, 16) == -EINVAL, "a freed region's read");
	for (i = 0; i < ARRAY_SIZE(made_up); i++) {
		STALE(zonemm_region_free(made_up[i]) == -EINVAL, "a made-up handle's free");
		STALE(!zonemm_region_map(made_up[i], 0, 0, &map), "a made-up handle's map");
		zonemm_region_unmap(&map);
	}
#undef STALE
}

/* -- map-free --------------------------------------------------------- */

static void run_map_free(unsigned int flags)
{
	static const u8 fill[PAGE_SIZE] = { [0 ... PAGE_SIZE - 1] = 0x77 };
	struct zonemm_region_map r, w;
	s64 h = zonemm_region_alloc(2 * PAGE_SIZE, flags);
	const u8 *p;
	u8 *q;

	if (!CHECK(h > 0, "map-free: region"))
		return;
	zonemm_region_write(h, PAGE_SIZE, fill, PAGE_SIZE);
	p = zonemm_region_map(h, 1, 0, &r);
	q = zonemm_region_map(h, 0, ZONEMM_MAP_WRITE, &w);
	count(PH_MAPFREE, CHECK(p && q && !zonemm_region_free(h), "map-free: maps, free"), "maps", h);
	/* The pages stay until the unmaps. */
	count(PH_MAPFREE, CHECK(p && page_holds(p, 0x77), "map-free: read after free"), "read", h);
	if (q)
		memset(q, 0x12, PAGE_SIZE);
	zonemm_region_unmap(&w);
	zonemm_region_unmap(&r);
}

/* -- init ------------------------------------------------------------------ */

static struct task_struct *start(int (*fn)(void *), void *data, int cpu, const char *name)
{
	struct task_struct *t = kthread_create(fn, data, "%s/%d", name, cpu);

	if (IS_ERR(t))
		return NULL;
	kthread_bind(t, cpu);
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

static int __init hostile_region_init(void)
{
	struct task_struct *threads[MAX_THREADS] = {};
	unsigned int n = 0, i;
	int cpu, ph;

	if (!merged_setup())
		goto out;
	deadline = jiffies + msecs_to_jiffies(WINDOW_MS);
	for_each_online_cpu(cpu) {
		if (n + 2 > ARRAY_SIZE(threads))
			break;
		threads[n++] = start(addr_fn, (void *)(long)cpu, cpu, "zmh_addr");
		threads[n++] = start(scanfree_fn, NULL, cpu, "zmh_scanfree");
	}
	if (n + 2 <= ARRAY_SIZE(threads)) {
		int first = cpumask_first(cpu_online_mask);
		int last = cpumask_last(cpu_online_mask);

		threads[n++] = start(writer_fn, NULL, first, "zmh_writer");
		threads[n++] = start(reader_fn, NULL, last, "zmh_reader");
	}
	for (i = 0; i < n; i++) {
		CHECK(threads[i], "thread %u started", i);
		if (threads[i]) {
			kthread_stop(threads[i]);
			put_task_struct(threads[i]);
		}
	}
	merged_verify();
	run_stale();
	run_map_free(0);
	run_map_free(ZONEMM_REGION_MERGEABLE);
out:
	for (i = 0; i < NR_MERGE; i++)
		if (merge_h[i] > 0)
			CHECK(!zonemm_region_free(merge_h[i]), "free merged region %u", i);
	for (ph = 0; ph < NR_PHASES; ph++) {
		struct phase *p = &phases[ph];

		CHECK(!atomic_long_read(&p->bad), "%s: bad results", p->name);
		pr_info("%s: ok %ld null %ld bad %ld\n", p->name, atomic_long_read(&p->ok),
			atomic_long_read(&p->null), atomic_long_read(&p->bad));
	}
	pr_info("merged: shared %ld\n", atomic_long_read(&shared_seen));
	pr_info("%u checks, %u failed\n", checks, failed);
	return failed ? -EINVAL : 0;
}

static void __exit hostile_region_exit(void)
{
}

module_init(hostile_region_init);
module_exit(hostile_region_exit);
MODULE_DESCRIPTION("A hostile client of zonemm's regions and merger");
MODULE_LICENSE("GPL");
