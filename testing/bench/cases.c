// SPDX-License-Identifier: GPL-2.0
/*
 * zonemm_bench: zonemm measured as its users get it, through the API of
 * include/zonemm.h, beside the kernel's own allocators doing the same work.
 * Kept apart from zonemm.ko as lib/test_vmalloc.c is kept apart from
 * mm/vmalloc.c; nothing here is built into the product.
 *
 * Every case has two sides that do the same thing the same number of
 * times on the same sizes: allocate, write tag words into the memory (the
 * first and last word; of every page, for regions), read them back, free. Setup (cache creation, arrays) happens before the
 * timed part on both sides, and each side runs once untimed first, so both
 * start warm. Repetitions rotate which side goes first (the one-CPU slab
 * cases have a third side, the kernel's kmalloc of the same size, timed in
 * the same repetitions as a check on the kernel's kmem_cache side). One-CPU cases
 * run in a kthread bound to CPU 0; two-CPU cases run a bound kthread per
 * CPU, released together, and the slower CPU's cost per operation counts.
 * Each side counts the operations it completed and the tag words that
 * read back wrong; a case whose sides did not both do all of their work is
 * reported invalid, never timed as if it had.
 *
 * /sys/kernel/debug/zonemm_bench/
 *   run      write "[quick] [all|buddy|slab|kmalloc|region]" (at least
 *            one word; -EBUSY while a run is under way); sleeps for as
 *            long as the cases take (minutes at full size under TCG)
 *   results  the last run, one key=value line per case
 *   merge    write "alloc PAGES" (two zeroed mergeable regions, page p of
 *            each holding (p % 251) + 1 in its first 64 bytes) or "free";
 *            user space then times zonemm's merger on them (tools/)
 *   frag     write "alloc PAGES" (the kernel's side of the fragmentation
 *            workload, on node 0's DMA32 zone), "free_odd" or "free"
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "../../include/zonemm.h"
#include "bench.h"

#define BENCH_CPUS	2
#define MAX_REPS	15

struct bench_ctx;
struct bench_cpu;

/* One side of a case: iters operations on this CPU; returns those done. */
typedef unsigned long (*side_fn)(struct bench_ctx *ctx, struct bench_cpu *cpu,
				 unsigned long iters);

struct bench_case {
	const char *layer;
	const char *name;
	unsigned int cpus;	/* 1: CPU 0 alone; 2: CPUs 0 and 1 at once */
	unsigned int order;	/* buddy */
	unsigned int batch;	/* blocks or objects held at once */
	size_t size;		/* slab, kmalloc; region: pages, 0 random */
	unsigned long iters;	/* per CPU and repetition, at full size */
	side_fn zonemm;
	side_fn kernel;		/* NULL: the kernel has no such call */
	/*
	 * A second kernel side timed in the same repetitions, as a check on
	 * the first: the one-CPU slab cases time the kernel's kmalloc of the
	 * same size, which must cost about what its kmem_cache does.
	 */
	side_fn reference;
};

/* What one CPU did in one timed run. */
struct bench_cpu {
	void **held;
	unsigned long ops;
	unsigned long bad_tags;
	u64 ns;
};

struct bench_ctx {
	const struct bench_case *c;
	struct zonemm_cache *zcache;
	struct kmem_cache *kcache;
	struct bench_cpu cpu[BENCH_CPUS];
	atomic_t ready;
	unsigned int nr_threads;
};

/* One side's repetitions: picoseconds per operation, and the totals. */
struct side_result {
	u64 ps[MAX_REPS];
	unsigned long ops;
	unsigned long bad_tags;
	bool failed;
};

struct bench_result {
	const struct bench_case *c;
	unsigned int reps;
	unsigned long expected_ops;
	struct side_result zonemm, kernel, reference;
};

static DEFINE_MUTEX(bench_lock);	/* run and results */
static struct bench_result *results;
static unsigned int nr_results;

/*
 * -- tags: every operation writes its memory's first and last word and
 * reads them back, so memory shorter than asked for, or a region with a
 * page missing, is caught, not timed --------------------------------- */

static inline void tag(void *p, size_t size, unsigned long v)
{
	WRITE_ONCE(*(unsigned long *)p, v);
	if (size >= 2 * sizeof(long))
		WRITE_ONCE(*(unsigned long *)(p + size - sizeof(long)), ~v);
}

static inline bool tag_ok(void *p, size_t size, unsigned long v)
{
	return READ_ONCE(*(unsigned long *)p) == v &&
	       (size < 2 * sizeof(long) ||
		READ_ONCE(*(unsigned long *)(p + size - sizeof(long))) == ~v);
}

/* Both words of every page of a region of `pages` pages. */
static void tag_pages(void *p, size_t pages, unsigned long v)
{
	size_t j;

	for (j = 0; j < pages; j++)
		tag(p + (j << PAGE_SHIFT), PAGE_SIZE, v + j);
}

static unsigned long bad_pages(void *p, size_t pages, unsigned long v)
{
	unsigned long bad = 0;
	size_t j;

	for (j = 0; j < pages; j++)
		bad += !tag_ok(p + (j << PAGE_SHIFT), PAGE_SIZE, v + j);
	return bad;
}

static inline unsigned long tag_of(struct bench_cpu *cpu, unsigned long i)
{
	return ((unsigned long)cpu << 20) ^ (i * 0x9e3779b97f4a7c15UL);
}

/* -- buddy: __get_free_pages()/free_pages() and alloc_pages_bulk() ----- */

static unsigned long zm_pages(struct bench_ctx *ctx, struct bench_cpu *cpu,
			      unsigned long iters)
{
	unsigned int order = ctx->c->order, batch = ctx->c->batch, j;
	unsigned long i;

	for (i = 0; i + batch <= iters; i += batch) {
		for (j = 0; j < batch; j++) {
			void *p = zonemm_alloc_pages(GFP_KERNEL, order);

			if (!p)
				goto fail;
			tag(p, PAGE_SIZE << order, tag_of(cpu, i + j));
			cpu->held[j] = p;
		}
		for (j = 0; j < batch; j++) {
			cpu->bad_tags += !tag_ok(cpu->held[j], PAGE_SIZE << order, tag_of(cpu, i + j));
			zonemm_free_pages(cpu->held[j]);
		}
	}
	return i;
fail:
	while (j--)
		zonemm_free_pages(cpu->held[j]);
	return i;
}

static unsigned long k_pages(struct bench_ctx *ctx, struct bench_cpu *cpu,
			     unsigned long iters)
{
	unsigned int order = ctx->c->order, batch = ctx->c->batch, j;
	unsigned long i;

	for (i = 0; i + batch <= iters; i += batch) {
		for (j = 0; j < batch; j++) {
			void *p = (void *)__get_free_pages(GFP_KERNEL | __GFP_NOWARN, order);

			if (!p)
				goto fail;
			tag(p, PAGE_SIZE << order, tag_of(cpu, i + j));
			cpu->held[j] = p;
		}
		for (j = 0; j < batch; j++) {
			cpu->bad_tags += !tag_ok(cpu->held[j], PAGE_SIZE << order, tag_of(cpu, i + j));
			free_pages((unsigned long)cpu->held[j], order);
		}
	}
	return i;
fail:
	while (j--)
		free_pages((unsigned long)cpu->held[j], order);
	return i;
}

static unsigned long zm_pages_bulk(struct bench_ctx *ctx, struct bench_cpu *cpu,
				   unsigned long iters)
{
	unsigned int order = ctx->c->order, batch = ctx->c->batch, got, j;
	unsigned long i;

	for (i = 0; i + batch <= iters; i += batch) {
		got = zonemm_alloc_pages_bulk(GFP_KERNEL, order, batch, cpu->held);
		for (j = 0; j < got; j++)
			tag(cpu->held[j], PAGE_SIZE << order, tag_of(cpu, i + j));
		for (j = 0; j < got; j++) {
			cpu->bad_tags += !tag_ok(cpu->held[j], PAGE_SIZE << order, tag_of(cpu, i + j));
			zonemm_free_pages(cpu->held[j]);
		}
		if (got != batch)
			break;
	}
	return i;
}

static unsigned long k_pages_bulk(struct bench_ctx *ctx, struct bench_cpu *cpu,
				  unsigned long iters)
{
	struct page **pages = (struct page **)cpu->held;
	unsigned int batch = ctx->c->batch, got, j;
	unsigned long i;

	for (i = 0; i + batch <= iters; i += batch) {
		memset(pages, 0, batch * sizeof(*pages));
		got = alloc_pages_bulk(GFP_KERNEL | __GFP_NOWARN, batch, pages);
		for (j = 0; j < got; j++)
			tag(page_address(pages[j]), PAGE_SIZE, tag_of(cpu, i + j));
		for (j = 0; j < got; j++) {
			cpu->bad_tags += !tag_ok(page_address(pages[j]), PAGE_SIZE, tag_of(cpu, i + j));
			__free_pages(pages[j], 0);
		}
		if (got != batch)
			break;
	}
	return i;
}

/* -- slab and kmalloc ------------------------------------------------- */

static unsigned long zm_cache(struct bench_ctx *ctx, struct bench_cpu *cpu,
			      unsigned long iters)
{
	unsigned int batch = ctx->c->batch, j;
	unsigned long i;

	for (i = 0; i + batch <= iters; i += batch) {
		for (j = 0; j < batch; j++) {
			void *p = zonemm_cache_alloc(ctx->zcache, GFP_KERNEL);

			if (!p)
				goto fail;
			tag(p, ctx->c->size, tag_of(cpu, i + j));
			cpu->held[j] = p;
		}
		for (j = 0; j < batch; j++) {
			cpu->bad_tags += !tag_ok(cpu->held[j], ctx->c->size, tag_of(cpu, i + j));
			zonemm_cache_free(ctx->zcache, cpu->held[j]);
		}
	}
	return i;
fail:
	while (j--)
		zonemm_cache_free(ctx->zcache, cpu->held[j]);
	return i;
}

static unsigned long k_cache(struct bench_ctx *ctx, struct bench_cpu *cpu,
			     unsigned long iters)
{
	unsigned int batch = ctx->c->batch, j;
	unsigned long i;

	for (i = 0; i + batch <= iters; i += batch) {
		for (j = 0; j < batch; j++) {
			void *p = kmem_cache_alloc(ctx->kcache, GFP_KERNEL | __GFP_NOWARN);

			if (!p)
				goto fail;
			tag(p, ctx->c->size, tag_of(cpu, i + j));
			cpu->held[j] = p;
		}
		for (j = 0; j < batch; j++) {
			cpu->bad_tags += !tag_ok(cpu->held[j], ctx->c->size, tag_of(cpu, i + j));
			kmem_cache_free(ctx->kcache, cpu->held[j]);
		}
	}
	return i;
fail:
	while (j--)
		kmem_cache_free(ctx->kcache, cpu->held[j]);
	return i;
}

static unsigned long zm_kmalloc(struct bench_ctx *ctx, struct bench_cpu *cpu,
				unsigned long iters)
{
	size_t size = ctx->c->size;
	unsigned long i;

	for (i = 0; i < iters; i++) {
		void *p = zonemm_kmalloc(size, GFP_KERNEL);

		if (!p)
			break;
		tag(p, size, tag_of(cpu, i));
		cpu->bad_tags += !tag_ok(p, size, tag_of(cpu, i));
		zonemm_kfree(p);
	}
	return i;
}

static unsigned long k_kmalloc(struct bench_ctx *ctx, struct bench_cpu *cpu,
			       unsigned long iters)
{
	size_t size = ctx->c->size;
	unsigned long i;

	for (i = 0; i < iters; i++) {
		void *p = kmalloc(size, GFP_KERNEL | __GFP_NOWARN);

		if (!p)
			break;
		tag(p, size, tag_of(cpu, i));
		cpu->bad_tags += !tag_ok(p, size, tag_of(cpu, i));
		kfree(p);
	}
	return i;
}

/* -- region: vmalloc()/vfree(), as lib/test_vmalloc.c's fix_size and
 * random_size cases --------------------------------------------------- */

/* Pages of the i-th allocation: the case's, or a pseudo-random 1 to 256. */
static size_t region_pages(const struct bench_case *c, unsigned long i)
{
	if (c->size)
		return c->size;
	return 1 + (((i + 1) * 0x9e3779b97f4a7c15ULL) >> 56);
}

static unsigned long zm_region(struct bench_ctx *ctx, struct bench_cpu *cpu,
			       unsigned long iters)
{
	unsigned long i;

	for (i = 0; i < iters; i++) {
		size_t pages = region_pages(ctx->c, i);
		s64 h = zonemm_region_alloc(pages << PAGE_SHIFT, 0);
		void *p;

		if (h <= 0)
			break;
		p = zonemm_region_addr(h);
		if (p) {
			tag_pages(p, pages, tag_of(cpu, i));
			cpu->bad_tags += bad_pages(p, pages, tag_of(cpu, i));
		} else {
			cpu->bad_tags++;
		}
		if (zonemm_region_free(h))
			break;
	}
	return i;
}

static unsigned long k_region(struct bench_ctx *ctx, struct bench_cpu *cpu,
			      unsigned long iters)
{
	unsigned long i;

	for (i = 0; i < iters; i++) {
		size_t pages = region_pages(ctx->c, i);
		void *p = vmalloc(pages << PAGE_SHIFT);

		if (!p)
			break;
		tag_pages(p, pages, tag_of(cpu, i));
		cpu->bad_tags += bad_pages(p, pages, tag_of(cpu, i));
		vfree(p);
	}
	return i;
}

#define PAGES(n, o, b, it, cpus_, k) \
	{ "buddy", n, cpus_, o, b, 0, it, zm_pages, k, NULL }
#define BULK(n, o, b, it, cpus_, k) \
	{ "buddy", n, cpus_, o, b, 0, it, zm_pages_bulk, k, NULL }
#define SLAB(n, s, b, cpus_, ref) \
	{ "slab", n, cpus_, 0, b, s, 200000, zm_cache, k_cache, ref }
#define KMALLOC(n, s) \
	{ "kmalloc", n, 1, 0, 1, s, 200000, zm_kmalloc, k_kmalloc, NULL }
#define REGION(n, pages, it, cpus_) \
	{ "region", n, cpus_, 0, 1, pages, it, zm_region, k_region, NULL }

static const struct bench_case cases[] = {
	PAGES("order0", 0, 1, 100000, 1, k_pages),
	PAGES("order3", 3, 1, 100000, 1, k_pages),
	PAGES("order9", 9, 1, 10000, 1, k_pages),
	BULK("order0_bulk16", 0, 16, 100000, 1, k_pages_bulk),
	BULK("order0_bulk256", 0, 256, 102400, 1, k_pages_bulk),
	/* The kernel's alloc_pages_bulk() is order-0 only: no kernel side. */
	BULK("order3_bulk16_zonemm_only", 3, 16, 100000, 1, NULL),
	BULK("order9_bulk16_zonemm_only", 9, 16, 9600, 1, NULL),
	PAGES("order0", 0, 1, 100000, 2, k_pages),
	PAGES("order3", 3, 1, 100000, 2, k_pages),
	PAGES("order9", 9, 1, 10000, 2, k_pages),
	BULK("order0_bulk16", 0, 16, 100000, 2, k_pages_bulk),
	BULK("order0_bulk256", 0, 256, 102400, 2, k_pages_bulk),
	SLAB("size64", 64, 1, 1, k_kmalloc),
	SLAB("size256", 256, 1, 1, k_kmalloc),
	SLAB("size1024", 1024, 1, 1, k_kmalloc),
	SLAB("size64_hold64", 64, 64, 1, NULL),
	SLAB("size256_hold64", 256, 64, 1, NULL),
	SLAB("size1024_hold64", 1024, 64, 1, NULL),
	SLAB("size64", 64, 1, 2, NULL),
	SLAB("size256", 256, 1, 2, NULL),
	SLAB("size1024", 1024, 1, 2, NULL),
	KMALLOC("kmalloc-8", 8),
	KMALLOC("kmalloc-32", 32),
	KMALLOC("kmalloc-64", 64),
	KMALLOC("kmalloc-96", 96),
	KMALLOC("kmalloc-192", 192),
	KMALLOC("kmalloc-256", 256),
	KMALLOC("kmalloc-1k", 1024),
	KMALLOC("kmalloc-4k", 4096),
	KMALLOC("kmalloc-8k", 8192),
	REGION("fix_size_1", 1, 10000, 1),
	REGION("fix_size_16", 16, 4000, 1),
	REGION("fix_size_256", 256, 800, 1),
	REGION("random_size", 0, 1000, 1),
	REGION("fix_size_16", 16, 4000, 2),
	REGION("random_size", 0, 1000, 2),
};

/* -- running a case --------------------------------------------------- */

struct bench_thread {
	struct bench_ctx *ctx;
	struct bench_cpu *cpu;
	side_fn fn;
	unsigned long iters;
	struct completion done;
};

static int bench_thread_fn(void *data)
{
	struct bench_thread *t = data;
	struct bench_ctx *ctx = t->ctx;
	u64 t0;

	/* Released together: every thread counts in, then all start. */
	atomic_inc(&ctx->ready);
	while (atomic_read(&ctx->ready) < ctx->nr_threads)
		cpu_relax();
	t0 = ktime_get_ns();
	t->cpu->ops = t->fn(ctx, t->cpu, t->iters);
	t->cpu->ns = ktime_get_ns() - t0;
	kthread_complete_and_exit(&t->done, 0);
}

/*
 * Runs fn for iters operations on each of the case's CPUs (0, or 0 and 1),
 * in kthreads bound there. Returns the slowest CPU's picoseconds per
 * operation, with the operations and bad tags summed into *ops and *bad;
 * 0 if a thread could not start.
 */
static u64 run_side(struct bench_ctx *ctx, side_fn fn, unsigned long iters,
		    unsigned long *ops, unsigned long *bad)
{
	struct bench_thread t[BENCH_CPUS];
	unsigned int n = ctx->c->cpus, i;
	u64 worst = 0;

	ctx->nr_threads = n;
	atomic_set(&ctx->ready, 0);
	*ops = 0;
	*bad = 0;
	for (i = 0; i < n; i++) {
		struct task_struct *task;

		t[i] = (struct bench_thread){ .ctx = ctx, .cpu = &ctx->cpu[i], .fn = fn, .iters = iters };
		ctx->cpu[i].ops = 0;
		ctx->cpu[i].bad_tags = 0;
		init_completion(&t[i].done);
		task = kthread_create_on_cpu(bench_thread_fn, &t[i], i, "zonemm_bench/%u");
		if (IS_ERR(task)) {
			/* Count the thread in, so the others are released. */
			atomic_inc(&ctx->ready);
			complete(&t[i].done);
			worst = U64_MAX;
			continue;
		}
		wake_up_process(task);
	}
	for (i = 0; i < n; i++)
		wait_for_completion(&t[i].done);
	if (worst == U64_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		struct bench_cpu *cpu = &ctx->cpu[i];

		*ops += cpu->ops;
		*bad += cpu->bad_tags;
		if (cpu->ops)
			worst = max(worst, cpu->ns * 1000 / cpu->ops);
	}
	return worst;
}

static int ctx_init(struct bench_ctx *ctx, const struct bench_case *c)
{
	unsigned int i;
	char name[32];

	memset(ctx, 0, sizeof(*ctx));
	ctx->c = c;
	/* The kernel's bulk call is order-0 and kmalloc takes one at a time:
	 * a case pairing them otherwise would time different work. */
	if ((c->kernel == k_pages_bulk && c->order) || (c->reference == k_kmalloc && c->batch != 1)) {
		pr_err("%s %s: its sides would not do the same work\n", c->layer, c->name);
		return -EINVAL;
	}
	for (i = 0; i < c->cpus; i++) {
		ctx->cpu[i].held = kvcalloc(c->batch, sizeof(void *), GFP_KERNEL);
		if (!ctx->cpu[i].held)
			return -ENOMEM;
	}
	if (c->zonemm != zm_cache)
		return 0;
	/*
	 * The same alignment on both sides (zonemm's default is a cache line
	 * from 32 bytes up); the kernel's cache is kept from merging with an
	 * existing one, so it measures a cache of its own as zonemm's is.
	 */
	snprintf(name, sizeof(name), "zonemm_bench_%zu", c->size);
	ctx->zcache = zonemm_cache_create(name, c->size, 0);
	ctx->kcache = kmem_cache_create(name, c->size, 0, SLAB_HWCACHE_ALIGN | SLAB_NO_MERGE, NULL);
	return ctx->zcache && ctx->kcache ? 0 : -ENOMEM;
}

static void ctx_destroy(struct bench_ctx *ctx)
{
	unsigned int i;

	if (ctx->zcache && zonemm_cache_destroy(ctx->zcache))
		pr_err("%s: zonemm_cache_destroy failed: objects left\n", ctx->c->name);
	kmem_cache_destroy(ctx->kcache);
	for (i = 0; i < BENCH_CPUS; i++)
		kvfree(ctx->cpu[i].held);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void run_one(struct bench_ctx *ctx, side_fn fn, unsigned long iters,
		    unsigned int rep, struct side_result *s)
{
	unsigned long ops, bad;
	u64 ps = run_side(ctx, fn, iters, &ops, &bad);

	s->ps[rep] = ps;
	s->ops += ops;
	s->bad_tags += bad;
	if (!ps || ops != iters * ctx->c->cpus)
		s->failed = true;
}

static int run_case(const struct bench_case *c, unsigned int scale,
		    unsigned int reps, struct bench_result *r)
{
	unsigned long iters = max_t(unsigned long, c->iters / scale, c->batch);
	struct {
		side_fn fn;
		struct side_result *res;
	} sides[3] = { { c->zonemm, &r->zonemm } };
	unsigned int rep, i, nr = 1;
	unsigned long ops, bad;
	struct bench_ctx ctx;
	int err;

	if (c->kernel)
		sides[nr++] = (typeof(sides[0])){ c->kernel, &r->kernel };
	if (c->reference)
		sides[nr++] = (typeof(sides[0])){ c->reference, &r->reference };
	iters -= iters % c->batch;
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->reps = reps;
	r->expected_ops = iters * c->cpus * reps;
	err = ctx_init(&ctx, c);
	if (err)
		goto out;
	/* Untimed warm-up of every side, the caches filled the same way. */
	for (i = 0; i < nr; i++)
		run_side(&ctx, sides[i].fn, iters, &ops, &bad);
	/* Each repetition starts with the next side: which goes first rotates. */
	for (rep = 0; rep < reps; rep++) {
		for (i = 0; i < nr; i++) {
			unsigned int k = (rep + i) % nr;

			run_one(&ctx, sides[k].fn, iters, rep, sides[k].res);
		}
		cond_resched();
	}
	for (i = 0; i < nr; i++)
		sort(sides[i].res->ps, reps, sizeof(u64), cmp_u64, NULL);
out:
	ctx_destroy(&ctx);
	return err;
}

/* -- debugfs: run and results ----------------------------------------- */

static const char *const layers[] = { "all", "buddy", "slab", "kmalloc", "region" };

static int bench_run(const char *layer, bool quick)
{
	unsigned int scale = quick ? 1000 : 1, reps = quick ? 3 : 7, i, n = 0;
	struct bench_result *res;
	int err = 0;

	res = kvcalloc(ARRAY_SIZE(cases), sizeof(*res), GFP_KERNEL);
	if (!res)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bench_case *c = &cases[i];

		if (strcmp(layer, "all") && strcmp(layer, c->layer))
			continue;
		if (c->cpus > num_online_cpus()) {
			pr_warn("%s %s: needs %u CPUs; skipped\n", c->layer, c->name, c->cpus);
			continue;
		}
		err = run_case(c, scale, reps, &res[n]);
		if (err) {
			pr_err("%s %s: setup failed (%d)\n", c->layer, c->name, err);
			break;
		}
		n++;
	}
	kvfree(results);
	results = res;
	nr_results = n;
	return err;
}

static ssize_t run_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	char buf[64], *s, *word, *layer = "all";
	bool quick = false, have_layer = false;
	unsigned int i;
	int err;

	if (len >= sizeof(buf)) {
		pr_err("run: command too long (%zu bytes)\n", len);
		return -EINVAL;
	}
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	s = strim(buf);
	if (!*s) {
		pr_err("run: usage: [quick] [all|buddy|slab|kmalloc|region]: nothing written\n");
		return -EINVAL;
	}
	while ((word = strsep(&s, " \t")) != NULL) {
		if (!*word)
			continue;
		if (!strcmp(word, "quick") && !quick && !have_layer) {
			quick = true;
			continue;
		}
		for (i = 0; i < ARRAY_SIZE(layers); i++)
			if (!strcmp(word, layers[i]))
				break;
		if (i == ARRAY_SIZE(layers) || have_layer) {
			pr_err("run: usage: [quick] [all|buddy|slab|kmalloc|region]: '%s'\n", word);
			return -EINVAL;
		}
		layer = word;
		have_layer = true;
	}
	if (!mutex_trylock(&bench_lock)) {
		pr_err("run: a run is under way already\n");
		return -EBUSY;
	}
	err = bench_run(layer, quick);
	mutex_unlock(&bench_lock);
	return err ? err : len;
}

static void show_side(struct seq_file *m, const char *who,
		      const struct bench_result *r, const struct side_result *s)
{
	seq_printf(m, " %s_ops=%lu %s_bad_tags=%lu %s_ps_min=%llu %s_ps_med=%llu %s_ps_max=%llu",
		   who, s->ops, who, s->bad_tags, who, s->ps[0], who,
		   s->ps[r->reps / 2], who, s->ps[r->reps - 1]);
}

static int results_show(struct seq_file *m, void *v)
{
	unsigned int i;

	if (mutex_lock_interruptible(&bench_lock))
		return -EINTR;
	for (i = 0; i < nr_results; i++) {
		const struct bench_result *r = &results[i];
		const struct bench_case *c = r->c;
		bool valid = !r->zonemm.failed && !r->zonemm.bad_tags &&
			     r->zonemm.ops == r->expected_ops;

		if (c->kernel)
			valid = valid && !r->kernel.failed && !r->kernel.bad_tags &&
				r->kernel.ops == r->expected_ops;
		if (c->reference)
			valid = valid && !r->reference.failed && !r->reference.bad_tags &&
				r->reference.ops == r->expected_ops;
		seq_printf(m, "layer=%s case=%s cpus=%u reps=%u expected_ops=%lu",
			   c->layer, c->name, c->cpus, r->reps, r->expected_ops);
		show_side(m, "zonemm", r, &r->zonemm);
		if (c->kernel)
			show_side(m, "kernel", r, &r->kernel);
		else
			seq_puts(m, " kernel=none");
		if (c->reference)
			show_side(m, "kmalloc", r, &r->reference);
		seq_printf(m, " valid=%d\n", valid);
	}
	/* What zonemm's per-page metadata comes on top of. */
	seq_printf(m, "layer=info struct_page_bytes=%zu online_cpus=%u\n",
		   sizeof(struct page), num_online_cpus());
	mutex_unlock(&bench_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(results);

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.write = run_write,
};

static struct dentry *bench_dir;

static int __init zonemm_bench_init(void)
{
	bench_dir = debugfs_create_dir("zonemm_bench", NULL);
	debugfs_create_file("run", 0200, bench_dir, NULL, &run_fops);
	debugfs_create_file("results", 0400, bench_dir, NULL, &results_fops);
	workloads_init(bench_dir);
	return 0;
}

static void __exit zonemm_bench_exit(void)
{
	debugfs_remove_recursive(bench_dir);
	workloads_exit();
	kvfree(results);
}

module_init(zonemm_bench_init);
module_exit(zonemm_bench_exit);
MODULE_DESCRIPTION("zonemm through its API, beside the kernel's allocators");
MODULE_LICENSE("GPL");
