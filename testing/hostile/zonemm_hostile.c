// SPDX-License-Identifier: GPL-2.0
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
/*
 * A hostile client of zonemm's API: it calls zonemm from every context
 * include/zonemm.h allows, all at once, and with handles and pointers that
 * are not zonemm's. Every byte it gets is written with a pattern of its own
 * allocation and checked before the free. One line per phase (ok, null,
 * bad), then "N checks, N failed"; init fails if any check did.
 *
 * For WINDOW_MS, on each online CPU: a pinned hrtimer allocates pages
 * (order 0 to 3), shared-cache objects and kmalloc memory (8 B to 8 KiB,
 * and 12 KiB) with GFP_ATOMIC (hardirq) and frees what process context
 * left in a lock-free handoff array (hardirq-xfree); a timer_list does the
 * same with GFP_ATOMIC (softirq-timer), the BH work item it queues with
 * GFP_NOWAIT (softirq-bh), a bound kthread with GFP_KERNEL (kthread).
 * Meanwhile the loading thread does it under spin_lock_irqsave() (irqsave)
 * and preempt_disable() with __GFP_ZERO (preempt), and another hrtimer
 * calls zonemm_alloc_pages_bulk() into a static array (hardirq-bulk).
 *
 * The hrtimers are not HRTIMER_MODE_HARD: without PREEMPT_RT they expire
 * in hard interrupt context all the same (each callback checks
 * in_hardirq()), but zonemm, like the kernel's own allocators, takes
 * spinlock_t locks, which PREEMPT_RT forbids in HARD timers and under
 * raw spinlocks (lockdep says "Invalid wait context" there).
 * Then: a cache is destroyed while kthreads allocate from it, and its
 * stale handle and made-up ones must fail cleanly (handles); frees of
 * foreign, interior and already-freed pointers must be ignored (foreign).
 * GFP_ATOMIC and GFP_NOWAIT may get NULL, but each phase must succeed some
 * of the time. All is freed before init returns, unless hold=1: then a
 * cache and some memory stay until the module is unloaded.
 */

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/hash.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <asm/io.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#include <zonemm.h>

static bool hold;
module_param(hold, bool, 0444);
MODULE_PARM_DESC(hold, "keep a cache and some memory until the module is unloaded");

#define WINDOW_MS	1500	/* the concurrent phases */
#define HARD_PERIOD_US	2000
#define BULK_PERIOD_US	3000
#define NR_ORDERS	4	/* pages of order 0 to 3 */
#define NR_OBJS		4
#define OBJ_SIZE	136
#define BIG_SIZE	12288	/* above the kmalloc classes */
#define HANDOFF		64	/* even slots: cache objects; odd: kmalloc */
#define HANDOFF_SIZE	200
#define BULK		16
#define DOOMED_SIZE	72
#define DOOMED_HOLD	8	/* a doomed worker holds 4 to 8 objects */
#define NR_HELD		12

static const size_t ksizes[] = {
	8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192, BIG_SIZE,
};

#define NR_ITEMS (NR_ORDERS + NR_OBJS + ARRAY_SIZE(ksizes))

enum { PH_HARDIRQ, PH_XFREE, PH_BULK, PH_TIMER, PH_BH, PH_IRQSAVE, PH_PREEMPT,
	PH_KTHREAD, PH_HANDLES, PH_FOREIGN, PH_NOFAIL, NR_PHASES };

/*
 * ok: allocations (or hostile calls) that went right; null: NULL where
 * that is allowed; bad: a wrong byte, context or result.
 */
struct phase {
	const char *name;
	atomic_long_t ok, null, bad;
};

static struct phase phases[NR_PHASES] = {
	[PH_HARDIRQ] = { "hardirq" },		[PH_XFREE] = { "hardirq-xfree" },
	[PH_BULK] = { "hardirq-bulk" },		[PH_TIMER] = { "softirq-timer" },
	[PH_BH] = { "softirq-bh" },		[PH_IRQSAVE] = { "irqsave" },
	[PH_PREEMPT] = { "preempt" },		[PH_KTHREAD] = { "kthread" },
	[PH_HANDLES] = { "handles" },		[PH_FOREIGN] = { "foreign" },
	[PH_NOFAIL] = { "nofail" },
};

/* Only the loading thread counts checks. */
static unsigned int checks, failed;

#define CHECK(cond, fmt, ...) ({					\
	bool __ok = (cond);						\
	checks++;							\
	if (!__ok) {							\
		failed++;						\
		pr_err("check failed: " fmt "\n", ##__VA_ARGS__);	\
	}								\
	__ok;								\
})

/* A check that is also one of @ph's hostile calls. */
#define EXPECT(ph, cond, fmt, ...) ({					\
	bool __r = CHECK(cond, "%s: " fmt, (ph)->name, ##__VA_ARGS__);	\
	atomic_long_inc(__r ? &(ph)->ok : &(ph)->bad);			\
	__r;								\
})

struct cpu_ctx {
	bool live;
	struct hrtimer hard;
	struct timer_list soft;
	struct work_struct bh;
	struct task_struct *hammer;
	/* the handles phase */
	struct task_struct *doomed;
	unsigned long dallocs;
	bool released;
};

static struct cpu_ctx *ctxs;
static struct zonemm_cache *shared;
static bool stopping;
static DEFINE_SPINLOCK(lock);
static void *handoff[HANDOFF];
static struct hrtimer bulk_timer;
static void *bulk[BULK];
static unsigned int bulk_rounds;

enum { D_HOLD, D_CHURN, D_GONE };
static struct zonemm_cache *doomed;
static int doomed_state;
static void *doomed_former;

enum { K_PAGES, K_OBJ, K_MEM };

struct item {
	void *p;
	size_t len;
	int kind;
};

static struct zonemm_cache *held_cache;
static struct item held[NR_HELD];

/*
 * The pattern: 64-bit words from a seed of the allocation's address, so
 * that two allocations that overlap disagree. Sizes are multiples of 8.
 */
static u64 seed_of(const void *p)
{
	return ((unsigned long)p ^ 0x5a5a5a5aUL) * GOLDEN_RATIO_64;
}

static void fill(void *p, size_t len)
{
	u64 *w = p, s = seed_of(p);
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = s + i;
}

static bool intact(const void *p, size_t len)
{
	const u64 *w = p;
	u64 s = seed_of(p);
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != s + i)
			return false;
	return true;
}

static void *get(int kind, struct zonemm_cache *c, size_t len, gfp_t gfp)
{
	if (kind == K_PAGES)
		return zonemm_alloc_pages(gfp, get_order(len));
	if (kind == K_OBJ)
		return zonemm_cache_alloc(c, gfp);
	return zonemm_kmalloc(len, gfp);
}

static void put(int kind, struct zonemm_cache *c, void *p)
{
	if (!p)
		return;
	if (kind == K_PAGES)
		zonemm_free_pages(p);
	else if (kind == K_OBJ)
		zonemm_cache_free(c, p);
	else
		zonemm_kfree(p);
}

/* One round: everything at once, then filled, then checked and freed. */
static void exercise(struct phase *ph, gfp_t gfp)
{
	struct item it[NR_ITEMS];
	unsigned int i, n = 0;

	for (i = 0; i < NR_ORDERS; i++)
		it[n++] = (struct item){ .len = PAGE_SIZE << i, .kind = K_PAGES };
	for (i = 0; i < NR_OBJS; i++)
		it[n++] = (struct item){ .len = OBJ_SIZE, .kind = K_OBJ };
	for (i = 0; i < ARRAY_SIZE(ksizes); i++)
		it[n++] = (struct item){ .len = ksizes[i], .kind = K_MEM };
	for (i = 0; i < n; i++) {
		it[i].p = get(it[i].kind, shared, it[i].len, gfp);
		if (!it[i].p) {
			atomic_long_inc(&ph->null);
			continue;
		}
		if ((gfp & __GFP_ZERO) && memchr_inv(it[i].p, 0, it[i].len))
			atomic_long_inc(&ph->bad);
		fill(it[i].p, it[i].len);
	}
	for (i = 0; i < n; i++) {
		if (!it[i].p)
			continue;
		atomic_long_inc(intact(it[i].p, it[i].len) ? &ph->ok : &ph->bad);
		put(it[i].kind, shared, it[i].p);
	}
}

#define SLOT_KIND(i)	((i) & 1 ? K_MEM : K_OBJ)
#define SLOT_SIZE(i)	((i) & 1 ? HANDOFF_SIZE : OBJ_SIZE)

/* Process context leaves memory in a free handoff slot... */
static void hand_off(gfp_t gfp)
{
	unsigned int i = get_random_u32_below(HANDOFF);
	void *p;

	if (READ_ONCE(handoff[i]))
		return;
	p = get(SLOT_KIND(i), shared, SLOT_SIZE(i), gfp);
	if (!p)
		return;
	fill(p, SLOT_SIZE(i));
	if (cmpxchg(&handoff[i], NULL, p))
		put(SLOT_KIND(i), shared, p);
}

/* ...the hard interrupt takes and frees it (at the end, process context). */
static void take_handoffs(struct phase *ph)
{
	unsigned int i;
	void *p;

	for (i = 0; i < HANDOFF; i++) {
		p = xchg(&handoff[i], NULL);
		if (!p)
			continue;
		atomic_long_inc(intact(p, SLOT_SIZE(i)) ? &ph->ok : &ph->bad);
		put(SLOT_KIND(i), shared, p);
	}
}

static enum hrtimer_restart hard_fn(struct hrtimer *t)
{
	if (READ_ONCE(stopping))
		return HRTIMER_NORESTART;
	if (!in_hardirq())
		atomic_long_inc(&phases[PH_HARDIRQ].bad);
	exercise(&phases[PH_HARDIRQ], GFP_ATOMIC);
	take_handoffs(&phases[PH_XFREE]);
	hrtimer_forward_now(t, us_to_ktime(HARD_PERIOD_US));
	return HRTIMER_RESTART;
}

/* Batches of blocks of order 0 to 2, filled from the front. */
static enum hrtimer_restart bulk_fn(struct hrtimer *t)
{
	struct phase *ph = &phases[PH_BULK];
	unsigned int order = bulk_rounds++ % 3, i, n;

	if (READ_ONCE(stopping))
		return HRTIMER_NORESTART;
	memset(bulk, 0, sizeof(bulk));
	n = zonemm_alloc_pages_bulk(GFP_ATOMIC, order, BULK, bulk);
	if (n > BULK) {
		atomic_long_inc(&ph->bad);
		n = BULK;
	}
	atomic_long_add(BULK - n, &ph->null);
	for (i = 0; i < BULK; i++) {
		if (!bulk[i] != (i >= n))
			atomic_long_inc(&ph->bad);
		else if (bulk[i])
			fill(bulk[i], PAGE_SIZE << order);
	}
	for (i = 0; i < n; i++) {
		if (!bulk[i])
			continue;
		atomic_long_inc(intact(bulk[i], PAGE_SIZE << order) ? &ph->ok : &ph->bad);
		zonemm_free_pages(bulk[i]);
	}
	hrtimer_forward_now(t, us_to_ktime(BULK_PERIOD_US));
	return HRTIMER_RESTART;
}

static void bh_fn(struct work_struct *w)
{
	if (!in_serving_softirq())
		atomic_long_inc(&phases[PH_BH].bad);
	exercise(&phases[PH_BH], GFP_NOWAIT);
}

static void soft_fn(struct timer_list *t)
{
	struct cpu_ctx *c = timer_container_of(c, t, soft);

	if (!in_serving_softirq())
		atomic_long_inc(&phases[PH_TIMER].bad);
	exercise(&phases[PH_TIMER], GFP_ATOMIC);
	queue_work(system_bh_wq, &c->bh);
	if (!READ_ONCE(stopping))
		mod_timer(&c->soft, jiffies + 1);
}

static int hammer_fn(void *data)
{
	struct cpu_ctx *c = data;

	/* Bound to its CPU: the pinned hrtimer fires there. */
	hrtimer_start(&c->hard, us_to_ktime(HARD_PERIOD_US), HRTIMER_MODE_REL_PINNED);
	while (!kthread_should_stop()) {
		exercise(&phases[PH_KTHREAD], GFP_KERNEL);
		hand_off(GFP_KERNEL);
		cond_resched();
	}
	return 0;
}

static void run_concurrent(void)
{
	unsigned long deadline, flags;
	unsigned int cpu, i;
	struct cpu_ctx *c;
	gfp_t gfp;

	for_each_online_cpu(cpu) {
		c = &ctxs[cpu];
		hrtimer_setup(&c->hard, hard_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
		timer_setup(&c->soft, soft_fn, TIMER_PINNED);
		INIT_WORK(&c->bh, bh_fn);
		c->hammer = kthread_create_on_cpu(hammer_fn, c, cpu, "zonemm_hostile/%u");
		if (!CHECK(!IS_ERR(c->hammer), "kthread on CPU %u", cpu))
			c->hammer = NULL;
		c->live = true;
		c->soft.expires = jiffies + 1;
		add_timer_on(&c->soft, cpu);
		if (c->hammer)
			wake_up_process(c->hammer);
	}
	hrtimer_setup(&bulk_timer, bulk_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	hrtimer_start(&bulk_timer, us_to_ktime(BULK_PERIOD_US), HRTIMER_MODE_REL);

	deadline = jiffies + msecs_to_jiffies(WINDOW_MS);
	for (i = 0; time_before(jiffies, deadline); i++) {
		gfp = i & 1 ? GFP_ATOMIC : GFP_NOWAIT;
		spin_lock_irqsave(&lock, flags);
		exercise(&phases[PH_IRQSAVE], gfp);
		hand_off(gfp);
		spin_unlock_irqrestore(&lock, flags);

		gfp = i & 1 ? GFP_NOWAIT : GFP_ATOMIC;
		preempt_disable();
		exercise(&phases[PH_PREEMPT], gfp | __GFP_ZERO);
		hand_off(gfp);
		preempt_enable();
		usleep_range(500, 1000);
	}

	/* The callbacks see it and stop re-arming; the cancels wait for them. */
	WRITE_ONCE(stopping, true);
	for_each_possible_cpu(cpu) {
		c = &ctxs[cpu];
		if (!c->live)
			continue;
		if (c->hammer)
			kthread_stop(c->hammer);
		hrtimer_cancel(&c->hard);
		timer_shutdown_sync(&c->soft);
		cancel_work_sync(&c->bh);
	}
	hrtimer_cancel(&bulk_timer);
	take_handoffs(&phases[PH_KTHREAD]);
}

static void free_doomed(void **objs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!intact(objs[i], DOOMED_SIZE))
			atomic_long_inc(&phases[PH_HANDLES].bad);
		zonemm_cache_free(doomed, objs[i]);
	}
}

/*
 * Allocates from the doomed cache: holds 4 to 8 objects (D_HOLD), gives
 * them back and then allocates and frees at once (D_CHURN), and must get
 * NULL once the destroy returned 0 (D_GONE).
 */
static int doomed_fn(void *data)
{
	struct phase *ph = &phases[PH_HANDLES];
	struct cpu_ctx *c = data;
	void *objs[DOOMED_HOLD];
	unsigned int n = 0;
	int st;
	void *p;

	while (!kthread_should_stop()) {
		/* Pairs with the smp_store_release()s in run_handles(). */
		st = smp_load_acquire(&doomed_state);
		if (st != D_HOLD && !c->released) {
			free_doomed(objs, n);
			n = 0;
			/* Pairs with smp_load_acquire() in wait_workers(). */
			smp_store_release(&c->released, true);
		}
		p = zonemm_cache_alloc(doomed, GFP_KERNEL);
		if (!p || st == D_GONE) {
			/* NULL before the destroy: no memory. Memory after:
			 * a destroyed cache's, left alone.
			 */
			atomic_long_inc(p ? &ph->bad : st == D_GONE ? &ph->ok : &ph->null);
			usleep_range(500, 1000);
			continue;
		}
		fill(p, DOOMED_SIZE);
		cmpxchg(&doomed_former, NULL, p);
		WRITE_ONCE(c->dallocs, c->dallocs + 1);
		if (st == D_CHURN) {
			free_doomed(&p, 1);
			usleep_range(100, 200);
			continue;
		}
		if (n == DOOMED_HOLD) {
			free_doomed(objs + DOOMED_HOLD / 2, DOOMED_HOLD / 2);
			n = DOOMED_HOLD / 2;
		}
		objs[n++] = p;
		cond_resched();
	}
	free_doomed(objs, n);
	return 0;
}

/* Every doomed worker holds objects (or, @released, gave them back). */
static bool wait_workers(bool released)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(2000);
	struct cpu_ctx *c;
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		c = &ctxs[cpu];
		/* Pairs with smp_store_release() in doomed_fn(). */
		while (c->doomed && !(released ? smp_load_acquire(&c->released) :
				      READ_ONCE(c->dallocs) >= DOOMED_HOLD)) {
			if (time_after(jiffies, deadline))
				return false;
			usleep_range(1000, 2000);
		}
	}
	return true;
}

static void run_handles(void)
{
	struct phase *ph = &phases[PH_HANDLES];
	struct zonemm_cache *fake[7], *fresh;
	unsigned int cpu, i, busy = 0;
	struct task_struct *t;
	void *victim, *p;
	int stackvar, r;

	doomed = zonemm_cache_create("hostile-doomed", DOOMED_SIZE, 0);
	if (!EXPECT(ph, doomed, "create a cache"))
		return;
	for_each_online_cpu(cpu) {
		t = kthread_create_on_cpu(doomed_fn, &ctxs[cpu], cpu, "zonemm_hostile_d/%u");
		if (CHECK(!IS_ERR(t), "doomed kthread on CPU %u", cpu)) {
			ctxs[cpu].doomed = t;
			wake_up_process(t);
		}
	}
	EXPECT(ph, wait_workers(false), "every worker holds objects");
	r = zonemm_cache_destroy(doomed);
	EXPECT(ph, r == -EBUSY, "destroy while objects are held: %d", r);
	/* Pairs with smp_load_acquire() in doomed_fn(). */
	smp_store_release(&doomed_state, D_CHURN);
	EXPECT(ph, wait_workers(true), "every worker gave its objects back");
	/* -EBUSY when it catches a worker between alloc and free, then 0. */
	while ((r = zonemm_cache_destroy(doomed)) == -EBUSY && busy < 1000) {
		busy++;
		usleep_range(100, 200);
	}
	EXPECT(ph, r == 0, "destroy while allocations go on: %d after %u -EBUSY", r, busy);
	/* Pairs with smp_load_acquire() in doomed_fn(). */
	smp_store_release(&doomed_state, D_GONE);
	msleep(100);
	for_each_possible_cpu(cpu)
		if (ctxs[cpu].doomed)
			kthread_stop(ctxs[cpu].doomed);

	/* The stale handle, made-up ones, one on the stack, NULL. */
	victim = zonemm_cache_alloc(shared, GFP_KERNEL);
	if (!EXPECT(ph, victim, "an object of a live cache"))
		return;
	fill(victim, OBJ_SIZE);
	EXPECT(ph, !zonemm_cache_alloc(doomed, GFP_KERNEL), "alloc from a destroyed cache");
	EXPECT(ph, !zonemm_cache_alloc(doomed, GFP_ATOMIC), "atomic alloc from a destroyed cache");
	zonemm_cache_free(doomed, victim);
	if (doomed_former)
		zonemm_cache_free(doomed, doomed_former);
	EXPECT(ph, zonemm_cache_destroy(doomed) == -EINVAL, "second destroy");
	fake[0] = (struct zonemm_cache *)0x1234;
	fake[1] = (struct zonemm_cache *)&stackvar;
	fake[2] = NULL;
	/* ERR_PTR()s, and handle-shaped values of slots nobody uses. */
	fake[3] = (struct zonemm_cache *)-1L;
	fake[4] = ERR_PTR(-ENOMEM);
	fake[5] = (struct zonemm_cache *)0x80;
	fake[6] = (struct zonemm_cache *)(1UL << 63 | 1UL << 8 | 200);
	for (i = 0; i < ARRAY_SIZE(fake); i++) {
		EXPECT(ph, !zonemm_cache_alloc(fake[i], GFP_KERNEL), "alloc, made-up handle %u", i);
		zonemm_cache_free(fake[i], victim);
		r = zonemm_cache_destroy(fake[i]);
		EXPECT(ph, r == -EINVAL, "destroy, made-up handle %u: %d", i, r);
	}
	/* A new cache must not answer to the old handle. */
	fresh = zonemm_cache_create("hostile-fresh", DOOMED_SIZE, 0);
	if (EXPECT(ph, fresh, "create another cache")) {
		p = zonemm_cache_alloc(fresh, GFP_KERNEL);
		EXPECT(ph, p, "alloc from it");
		EXPECT(ph, !zonemm_cache_alloc(doomed, GFP_KERNEL), "stale handle, new cache");
		EXPECT(ph, zonemm_cache_destroy(doomed) == -EINVAL, "stale destroy, new cache");
		put(K_OBJ, fresh, p);
		r = zonemm_cache_destroy(fresh);
		EXPECT(ph, r == 0, "destroy the new cache: %d", r);
	}
	EXPECT(ph, intact(victim, OBJ_SIZE), "a live object survives frees through bad handles");
	zonemm_cache_free(shared, victim);
}

/* No order-0 block the pool hands out now lies in [start, start + len). */
static bool none_inside(void *start, size_t len)
{
	bool ok = true;
	void *pg[8];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pg); i++) {
		pg[i] = zonemm_alloc_pages(GFP_ATOMIC, 0);
		if (pg[i] >= start && pg[i] < start + len)
			ok = false;
	}
	for (i = 0; i < ARRAY_SIZE(pg); i++)
		put(K_PAGES, NULL, pg[i]);
	return ok;
}

/* Frees of what is not (or no longer) zonemm's: ignored. */
static void run_foreign(void)
{
	struct phase *ph = &phases[PH_FOREIGN];
	void *kp, *zp, *big, *pg, *obj, *a, *b;
	unsigned int nops = 0;
	u64 stackvar[4];
	bool ok;

	kp = kmalloc(64, GFP_KERNEL);
	zp = zonemm_kmalloc(256, GFP_KERNEL);
	big = zonemm_kmalloc(BIG_SIZE, GFP_KERNEL);
	pg = zonemm_alloc_pages(GFP_KERNEL, 2);
	obj = zonemm_cache_alloc(shared, GFP_KERNEL);
	if (!EXPECT(ph, kp && zp && big && pg && obj, "the victims"))
		goto out;
	fill(stackvar, sizeof(stackvar));
	fill(kp, 64);
	fill(zp, 256);
	fill(big, BIG_SIZE);
	fill(pg, 4 * PAGE_SIZE);
	fill(obj, OBJ_SIZE);

#define HOSTILE(call) do { call; nops++; } while (0)
	HOSTILE(zonemm_kfree(NULL));
	HOSTILE(zonemm_kfree(stackvar));
	HOSTILE(zonemm_kfree(kp));
	HOSTILE(zonemm_kfree(zp + 8));
	HOSTILE(zonemm_kfree(zp + 128));
	HOSTILE(zonemm_kfree(big + PAGE_SIZE));
	HOSTILE(zonemm_kfree(big + 8));
	HOSTILE(zonemm_free_pages(pg + PAGE_SIZE));
	HOSTILE(zonemm_free_pages(pg + 8));
	HOSTILE(zonemm_free_pages(stackvar));
	HOSTILE(zonemm_free_pages(kp));
	HOSTILE(zonemm_free_pages(zp));
	HOSTILE(zonemm_free_pages(zp + 8));
	HOSTILE(zonemm_cache_free(shared, kp));
	HOSTILE(zonemm_cache_free(shared, zp));
	HOSTILE(zonemm_cache_free(shared, obj + 8));
	HOSTILE(zonemm_cache_free(shared, stackvar));
	HOSTILE(zonemm_cache_free(shared, pg));
#undef HOSTILE

	preempt_disable();
	ok = none_inside(pg, 4 * PAGE_SIZE) && none_inside(big, BIG_SIZE);
	preempt_enable();
	EXPECT(ph, ok, "no page of a live block is handed out again");
	ok = intact(stackvar, sizeof(stackvar)) && intact(kp, 64) && intact(zp, 256) &&
	     intact(big, BIG_SIZE) && intact(pg, 4 * PAGE_SIZE) && intact(obj, OBJ_SIZE);
	if (EXPECT(ph, ok, "every victim intact after %u foreign frees", nops))
		atomic_long_add(nops, &ph->ok);

	/* Double frees on one CPU: the block must come back once only. */
	zonemm_free_pages(pg);
	preempt_disable();
	zonemm_kfree(big);
	zonemm_kfree(big);
	a = zonemm_kmalloc(BIG_SIZE, GFP_ATOMIC);
	b = zonemm_kmalloc(BIG_SIZE, GFP_ATOMIC);
	preempt_enable();
	big = NULL;
	if (EXPECT(ph, a && b && a != b, "double kfree of a large block (same: %d)", a == b)) {
		fill(a, BIG_SIZE);
		fill(b, BIG_SIZE);
		EXPECT(ph, intact(a, BIG_SIZE) && intact(b, BIG_SIZE), "two large blocks");
	}
	zonemm_kfree(a);
	zonemm_kfree(b);
	pg = zonemm_alloc_pages(GFP_KERNEL, 0);
	if (EXPECT(ph, pg, "a page")) {
		preempt_disable();
		zonemm_free_pages(pg);
		zonemm_free_pages(pg);
		a = zonemm_alloc_pages(GFP_ATOMIC, 0);
		b = zonemm_alloc_pages(GFP_ATOMIC, 0);
		preempt_enable();
		EXPECT(ph, a && b && a != b, "double free of a page (same: %d)", a == b);
		put(K_PAGES, NULL, a);
		put(K_PAGES, NULL, b);
		pg = NULL;
	}

	/* Bad arguments get nothing. */
	EXPECT(ph, !zonemm_alloc_pages(GFP_ATOMIC, 11), "order 11");
	EXPECT(ph, !zonemm_alloc_pages_bulk(GFP_ATOMIC, 11, BULK, bulk), "bulk, order 11");
	EXPECT(ph, !zonemm_alloc_pages_bulk(GFP_ATOMIC, 0, 0, bulk), "bulk of none");
out:
	kfree(kp);
	put(K_MEM, NULL, zp);
	put(K_MEM, NULL, big);
	put(K_PAGES, NULL, pg);
	put(K_OBJ, shared, obj);
}

static void release_held(void)
{
	unsigned int i, changed = 0;

	for (i = 0; i < NR_HELD; i++) {
		if (held[i].p && !intact(held[i].p, held[i].len))
			changed++;
		put(held[i].kind, held_cache, held[i].p);
		held[i].p = NULL;
	}
	pr_info("hold: released, %u changed, destroy %d\n", changed,
		zonemm_cache_destroy(held_cache));
	held_cache = NULL;
}

/* A third each: objects of a cache of its own, 2 pages, 12 KiB. */
static bool hold_some(void)
{
	static const size_t lens[] = { 2 * PAGE_SIZE, 128, BIG_SIZE };
	unsigned int i, got = 0;

	held_cache = zonemm_cache_create("hostile-hold", 128, 0);
	if (!CHECK(held_cache, "hold: create a cache"))
		return false;
	for (i = 0; i < NR_HELD; i++) {
		held[i] = (struct item){ .kind = i % 3, .len = lens[i % 3] };
		held[i].p = get(held[i].kind, held_cache, held[i].len, GFP_KERNEL);
		if (held[i].p) {
			fill(held[i].p, held[i].len);
			got++;
		}
	}
	return CHECK(got == NR_HELD, "hold: %u of %u allocations", got, NR_HELD);
}

/* -- __GFP_NOFAIL on an empty pool ------------------------------------ */

static DECLARE_COMPLETION(nofail_done);
static void *nofail_page;

static int nofail_fn(void *data)
{
	nofail_page = zonemm_alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0);
	/* Not a plain complete(): the module may be gone once it is seen. */
	kthread_complete_and_exit(&nofail_done, 0);
}

/*
 * With every page taken (the atomic reserves too), a __GFP_NOFAIL
 * allocation that may sleep waits, and gets a page once pages come free
 * again, one every 10 ms; an atomic one fails (and is warned about).
 */
static void run_nofail(void)
{
	struct phase *ph = &phases[PH_NOFAIL];
	unsigned int n = 0, cap = 1 << 20, freed = 0;
	struct task_struct *t;
	void **all, *p;

	all = kvmalloc_array(cap, sizeof(*all), GFP_KERNEL);
	if (!EXPECT(ph, all, "room to hold the pool"))
		return;
	/*
	 * First as a caller that may sleep (its last failure drains every
	 * CPU's lists), then into the atomic reserves.
	 */
	while (n < cap && (p = zonemm_alloc_pages(GFP_KERNEL | __GFP_HIGH | __GFP_NOWARN, 0)))
		all[n++] = p;
	while (n < cap && (p = zonemm_alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 0)))
		all[n++] = p;
	EXPECT(ph, n > 0 && n < cap, "took the pool: %u pages", n);
	EXPECT(ph, !zonemm_alloc_pages(GFP_ATOMIC | __GFP_NOFAIL, 0),
	       "an atomic __GFP_NOFAIL allocation on an empty pool fails");
	/* kmalloc's zone modifiers: __GFP_DMA32 is dropped (an ordinary
	 * class), __GFP_DMA takes a DMA class, which needs ZONE_DMA pages. */
	zonemm_free_pages(all[--n]);
	p = zonemm_kmalloc(64, GFP_KERNEL | __GFP_DMA32);
	EXPECT(ph, p, "kmalloc with __GFP_DMA32 works as without it");
	zonemm_kfree(p);
	p = zonemm_kmalloc(64, GFP_KERNEL | __GFP_DMA);
	EXPECT(ph, !p || virt_to_phys(p) < SZ_16M, "kmalloc with __GFP_DMA: NULL or below 16 MiB");
	zonemm_kfree(p);
	all[n++] = zonemm_alloc_pages(GFP_ATOMIC | __GFP_NOWARN, 0);
	if (!all[n - 1])
		n--;
	t = kthread_run(nofail_fn, NULL, "hostile-nofail");
	if (EXPECT(ph, !IS_ERR(t), "the waiter")) {
		msleep(100);
		EXPECT(ph, !completion_done(&nofail_done), "__GFP_NOFAIL waits while nothing is free");
		while (n && !completion_done(&nofail_done)) {
			zonemm_free_pages(all[--n]);
			freed++;
			msleep(10);
		}
		wait_for_completion(&nofail_done);
		EXPECT(ph, nofail_page, "... and gets a page once some come free (%u freed, %u still held)",
		       freed, n);
		EXPECT(ph, n > 0, "before every page is back");
		if (nofail_page) {
			fill(nofail_page, PAGE_SIZE);
			zonemm_free_pages(nofail_page);
		}
	}
	while (n)
		zonemm_free_pages(all[--n]);
	kvfree(all);
}

static int __init hostile_init(void)
{
	struct phase *ph;
	long ok, bad;
	int r;

	ctxs = kcalloc(nr_cpu_ids, sizeof(*ctxs), GFP_KERNEL);
	shared = zonemm_cache_create("hostile-shared", OBJ_SIZE, 0);
	if (!ctxs || !shared) {
		pr_err("setup failed\n");
		if (shared)
			zonemm_cache_destroy(shared);
		kfree(ctxs);
		return -EINVAL;
	}
	run_concurrent();
	run_handles();
	run_foreign();
	run_nofail();
	kfree(ctxs);
	r = zonemm_cache_destroy(shared);
	CHECK(r == 0, "destroy the shared cache: %d", r);
	CHECK(!zonemm_cache_alloc(shared, GFP_ATOMIC), "alloc from the destroyed shared cache");
	if (hold && !hold_some())
		release_held();

	for (ph = phases; ph < phases + NR_PHASES; ph++) {
		ok = atomic_long_read(&ph->ok);
		bad = atomic_long_read(&ph->bad);
		pr_info("%s: ok %ld null %ld bad %ld\n", ph->name, ok,
			atomic_long_read(&ph->null), bad);
		CHECK(ok > 0 && bad == 0, "%s: %ld ok, %ld bad", ph->name, ok, bad);
	}
	pr_info("%u checks, %u failed\n", checks, failed);
	if (!failed)
		return 0;
	if (held_cache)
		release_held();
	return -EINVAL;
}

static void __exit hostile_exit(void)
{
	if (held_cache)
		release_held();
}

module_init(hostile_init);
module_exit(hostile_exit);
MODULE_DESCRIPTION("A hostile client of zonemm's API: every context, bad handles and pointers");
MODULE_LICENSE("GPL");
