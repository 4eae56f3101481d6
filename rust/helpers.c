// SPDX-License-Identifier: GPL-2.0
/*
 * C shims for what the kernel crate has no binding for: static inlines
 * and macros of <linux/mm.h>, <linux/cma.h> and <linux/nodemask.h>,
 * wrapped like the kernel's own rust/helpers/ files. The Rust side
 * declares them in helpers.rs; helpers.h keeps the two in step.
 */

#include <linux/anon_inodes.h>
#include <linux/cma.h>
#include <linux/cpuhotplug.h>
#include <linux/dma-map-ops.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/irq_work.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/preempt.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/smp.h>
#include <linux/workqueue.h>
#include <linux/slab.h>
#include <linux/topology.h>
#include <linux/vmalloc.h>

#include "helpers.h"

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

void zonemm_kernel_free_pages(struct page *page, unsigned int order)
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

/* Whether node nid has memory at all (N_MEMORY), and outside ZONE_MOVABLE. */
bool zonemm_node_has_memory(int nid)
{
	return node_state(nid, N_MEMORY);
}

bool zonemm_node_has_normal_memory(int nid)
{
	return node_state(nid, N_NORMAL_MEMORY);
}


unsigned long zonemm_node_present_pages(int nid)
{
	return node_present_pages(nid);
}

/* The frames node nid spans: [*start, *end) (node_start_pfn(), node_end_pfn()). */
void zonemm_node_span(int nid, unsigned long *start, unsigned long *end)
{
	*start = node_start_pfn(nid);
	*end = node_end_pfn(nid);
}

void *zonemm_pfn_to_virt(unsigned long pfn)
{
	return pfn_to_kaddr(pfn);
}

int zonemm_numa_mem_id(void)
{
	return numa_mem_id();
}

/*
 * The CPUs zone_highsize() splits a zone's pcp high over: those of node
 * nid, or every online CPU for a node with none.
 */
unsigned int zonemm_nr_split_cpus(int nid)
{
	unsigned int nr = cpumask_weight(cpumask_of_node(nid));

	return nr ? nr : num_online_cpus();
}

/* Every CPU's thread counts in here, and none starts before all have. */
struct zonemm_cpu_barrier {
	atomic_t arrived;
	unsigned int expected;
};

struct zonemm_cpu_job {
	int (*fn)(void *arg, unsigned int cpu);
	void *arg;
	unsigned int cpu;
	int ret;
	struct completion done;
	struct zonemm_cpu_barrier *barrier;
};

static void zonemm_cpu_arrive(struct zonemm_cpu_barrier *b)
{
	atomic_inc(&b->arrived);
	while (atomic_read(&b->arrived) < b->expected)
		cpu_relax();
}

static int zonemm_cpu_thread(void *data)
{
	struct zonemm_cpu_job *job = data;

	zonemm_cpu_arrive(job->barrier);
	job->ret = job->fn(job->arg, job->cpu);
	kthread_complete_and_exit(&job->done, 0);
}

/*
 * Runs fn(arg, cpu) in a kthread bound to each online CPU, all released at
 * once by a barrier, and waits for every one. Returns the first non-zero
 * result. Sleeps.
 */
int zonemm_run_on_each_cpu(int (*fn)(void *arg, unsigned int cpu), void *arg)
{
	struct zonemm_cpu_barrier barrier = { .arrived = ATOMIC_INIT(0) };
	struct zonemm_cpu_job *jobs;
	unsigned int cpu;
	int ret = 0;

	jobs = kcalloc(nr_cpu_ids, sizeof(*jobs), GFP_KERNEL);
	if (!jobs)
		return -ENOMEM;
	cpus_read_lock();
	barrier.expected = num_online_cpus();
	for_each_online_cpu(cpu) {
		struct task_struct *t;

		jobs[cpu] = (struct zonemm_cpu_job){
			.fn = fn, .arg = arg, .cpu = cpu, .barrier = &barrier,
		};
		init_completion(&jobs[cpu].done);
		t = kthread_create_on_cpu(zonemm_cpu_thread, &jobs[cpu], cpu, "zonemm/%u");
		if (IS_ERR(t)) {
			/* Counted in, so that the others are released. */
			atomic_inc(&barrier.arrived);
			jobs[cpu].ret = PTR_ERR(t);
			complete(&jobs[cpu].done);
			continue;
		}
		wake_up_process(t);
	}
	for_each_online_cpu(cpu) {
		/*
		 * A run may last minutes: wake every second, as
		 * lib/test_vmalloc.c does, so that the hung-task detector
		 * sees a task waiting on purpose, not one stuck.
		 */
		while (!wait_for_completion_timeout(&jobs[cpu].done, HZ))
			;
		if (!ret)
			ret = jobs[cpu].ret;
	}
	cpus_read_unlock();
	kfree(jobs);
	return ret;
}

/* Where the direct map starts (PAGE_OFFSET), for virt-to-pfn in Rust. */
unsigned long zonemm_page_offset(void)
{
	return PAGE_OFFSET;
}

void *zonemm_vmap(struct page **pages, unsigned int count)
{
	return vmap(pages, count, VM_MAP, PAGE_KERNEL);
}

void zonemm_vunmap(const void *addr)
{
	vunmap(addr);
}

/* The frame mapped at a vmalloc-space address, or ULONG_MAX if none. */
unsigned long zonemm_vmalloc_to_pfn(const void *addr)
{
	struct page *page = vmalloc_to_page(addr);

	return page ? page_to_pfn(page) : ULONG_MAX;
}

/* kthread_run(); NULL on failure. */
struct task_struct *zonemm_kthread_run(int (*fn)(void *arg), void *arg,
				       const char *name)
{
	struct task_struct *t = kthread_run(fn, arg, "%s", name);

	return IS_ERR(t) ? NULL : t;
}

void zonemm_kthread_stop(struct task_struct *t)
{
	kthread_stop(t);
}

bool zonemm_kthread_should_stop(void)
{
	return kthread_should_stop();
}

/*
 * The scanner's sleep between batches: as ksm_scan_thread() waits, cut
 * short by zonemm_wake_up_process() when a knob changes. Returns what
 * *woken held if it was set (the wakers' reason), else 0.
 */
int zonemm_sleep_wakeable(unsigned int msecs, int *woken)
{
	int w;

	if (!msecs) {
		cond_resched();
		return 0;
	}
	set_current_state(TASK_INTERRUPTIBLE);
	w = xchg(woken, 0);
	if (w) {
		__set_current_state(TASK_RUNNING);
		return w;
	}
	if (!kthread_should_stop()) {
		if (msecs == UINT_MAX)
			schedule();
		else
			schedule_timeout(msecs_to_jiffies(msecs));
	}
	__set_current_state(TASK_RUNNING);
	return xchg(woken, 0);
}

/* kswapd's set_cpus_allowed_ptr(): the calling thread on node nid's CPUs. */
void zonemm_bind_to_node(int nid)
{
	const struct cpumask *cpus = cpumask_of_node(nid);

	if (!cpumask_empty(cpus))
		set_cpus_allowed_ptr(current, cpus);
}

/* Whether the caller is reclaiming memory (PF_MEMALLOC): no direct reclaim. */
bool zonemm_in_reclaim(void)
{
	return current->flags & PF_MEMALLOC;
}

/*
 * Whether the caller runs in a memalloc_noio_save() or memalloc_nofs_save()
 * scope: current_gfp_context() takes __GFP_IO or __GFP_FS from GFP_KERNEL.
 */
bool zonemm_memalloc_scoped(void)
{
	return (current_gfp_context(GFP_KERNEL) & (__GFP_IO | __GFP_FS)) !=
	       (__GFP_IO | __GFP_FS);
}

void zonemm_cond_resched(void)
{
	cond_resched();
}

void zonemm_wake_up_process(struct task_struct *t)
{
	wake_up_process(t);
}

u64 zonemm_ktime_ns(void)
{
	return ktime_get_ns();
}

/* get_cpu() and put_cpu(): preemption off and on, the CPU's number. */
unsigned int zonemm_get_cpu(void)
{
	return get_cpu();
}

void zonemm_put_cpu(void)
{
	put_cpu();
}

/* Whether the caller may sleep: for the slow path's drain_all_pages(). */
bool zonemm_in_task_context(void)
{
	return !in_interrupt() && !irqs_disabled() && preemptible();
}

/*
 * Per-CPU work for drains and per-CPU statistics: a WQ_MEM_RECLAIM
 * workqueue of zonemm's own (a drain may be needed to make progress under
 * memory pressure, as mm_percpu_wq is for the kernel's), created at load.
 *
 * zonemm_percpu_mutex makes the runs one at a time, and orders them
 * against zonemm's CPU-dead callback, which takes it too. An online CPU's
 * share runs in work bound to it; an offline CPU's from the caller, since
 * nothing runs on that CPU, while hotplug is held off. A run takes
 * cpus_read_lock() before the mutex (the dead callback holds the hotplug
 * lock when it takes the mutex: the same order), so every CPU is served.
 * The allocator's slow path may not take it (its caller may hold it
 * already, which is why __drain_all_pages() takes none): its runs only
 * try, and without it skip offline CPUs (one going down is served by the
 * dead callback, one never up since the load holds nothing), and a CPU in
 * the middle of going down or up, whose work runs elsewhere, gets the
 * other CPU's share done twice, which is harmless for a drain.
 */
static struct workqueue_struct *zonemm_wq;
static DEFINE_MUTEX(zonemm_percpu_mutex);

struct zonemm_cpu_work {
	struct work_struct work;
	long (*fn)(void *arg);
	long (*ipi)(void *arg);
	void *arg;
	long ret;
};

/*
 * The interrupt arm of zonemm_work_on_each_cpu(): an IPI to every online
 * CPU queues that CPU's irq_work, which runs @ipi. Not @ipi in the IPI
 * itself: a hard interrupt may take only raw spinlocks (the zone lock is a
 * spinlock_t, a sleeping lock on PREEMPT_RT, which lockdep's wait-context
 * check enforces everywhere), while an irq_work not marked
 * IRQ_WORK_HARD_IRQ is where lockdep allows spinlock_t (it runs from a
 * thread on PREEMPT_RT, which zonemm does not support: its per-CPU
 * sections disable preemption around spinlock_t). (Modules cannot queue
 * another CPU's irq_work: irq_work_queue_on() is not exported.) Under
 * zonemm_percpu_mutex.
 */
struct zonemm_cpu_irq {
	struct irq_work work;
	struct zonemm_cpu_work *w;
};

static DEFINE_PER_CPU(struct zonemm_cpu_irq, zonemm_cpu_irq);

/* The CPUs whose irq_work did their share. */
static struct cpumask zonemm_ipi_done;

static void zonemm_cpu_irq_fn(struct irq_work *work)
{
	struct zonemm_cpu_irq *i = container_of(work, struct zonemm_cpu_irq, work);
	struct zonemm_cpu_work *w = READ_ONCE(i->w);

	if (!w->ipi(w->arg))
		cpumask_set_cpu(smp_processor_id(), &zonemm_ipi_done);
}

static void zonemm_cpu_ipi_fn(void *info)
{
	struct zonemm_cpu_irq *i = this_cpu_ptr(&zonemm_cpu_irq);

	i->w = info;
	irq_work_queue(&i->work);
}

static void zonemm_cpu_work_fn(struct work_struct *work)
{
	struct zonemm_cpu_work *w = container_of(work, struct zonemm_cpu_work, work);

	w->ret = w->fn(w->arg);
}

int zonemm_helpers_init(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		init_irq_work(&per_cpu(zonemm_cpu_irq, cpu).work, zonemm_cpu_irq_fn);
	zonemm_wq = alloc_workqueue("zonemm_percpu", WQ_MEM_RECLAIM | WQ_PERCPU, 0);
	return zonemm_wq ? 0 : -ENOMEM;
}

void zonemm_helpers_exit(void)
{
	unsigned int cpu;

	/* None is pending (every run waits for its own): for certain. */
	for_each_possible_cpu(cpu)
		irq_work_sync(&per_cpu(zonemm_cpu_irq, cpu).work);
	destroy_workqueue(zonemm_wq);
}

/*
 * Runs @fn(@arg) on every online CPU in turn, in a kworker bound to it,
 * and @off(@arg, cpu) from the caller for every possible CPU that is not
 * online; returns the first non-zero result. With @alloc (the allocator's
 * slow path), CPU hotplug is only tried for, as above. With @ipi, every
 * online CPU first runs @ipi(@arg) from an interrupt (an IPI that queues
 * the CPU's irq_work, above; drain_all_pages() drained by IPI before
 * v4.11), and only those where it returned non-zero then get @fn's work:
 * a work waits for the CPU's running task to yield, an interrupt does
 * not. Sleeps; with @ipi the caller's interrupts are on.
 */
long zonemm_work_on_each_cpu(long (*fn)(void *arg), long (*off)(void *arg, unsigned int cpu),
			     long (*ipi)(void *arg), void *arg, bool alloc)
{
	struct zonemm_cpu_work w = { .fn = fn, .ipi = ipi, .arg = arg };
	unsigned int cpu;
	long ret = 0, r;
	bool hotplug = true;

	if (alloc)
		hotplug = cpus_read_trylock();
	else
		cpus_read_lock();
	mutex_lock(&zonemm_percpu_mutex);
	cpumask_clear(&zonemm_ipi_done);
	/*
	 * Only with hotplug held off: a CPU going down meanwhile would run its
	 * irq_work after the online mask no longer shows it (from its dying
	 * callbacks), so the wait below could miss it and return while it
	 * still reads @w. Without, every online CPU gets a kworker.
	 */
	if (ipi && hotplug) {
		on_each_cpu(zonemm_cpu_ipi_fn, &w, true);
		for_each_online_cpu(cpu) {
			struct irq_work *iw = &per_cpu(zonemm_cpu_irq, cpu).work;

			/* Not busy: done (irq_work_sync() may wait a grace period). */
			if (irq_work_is_busy(iw))
				irq_work_sync(iw);
		}
	}
	INIT_WORK_ONSTACK(&w.work, zonemm_cpu_work_fn);
	for_each_possible_cpu(cpu) {
		r = 0;
		if (cpumask_test_cpu(cpu, &zonemm_ipi_done)) {
			/* Done from the IPI. */
		} else if (cpu_online(cpu)) {
			w.ret = 0;
			queue_work_on(cpu, zonemm_wq, &w.work);
			flush_work(&w.work);
			r = w.ret;
		} else if (hotplug) {
			r = off(arg, cpu);
		}
		if (r && !ret)
			ret = r;
	}
	destroy_work_on_stack(&w.work);
	mutex_unlock(&zonemm_percpu_mutex);
	if (hotplug)
		cpus_read_unlock();
	return ret;
}

/*
 * The CPU-dead callback (page_alloc_cpu_dead()'s place): a
 * CPUHP_BP_PREPARE_DYN state whose teardown runs on a control CPU once the
 * CPU is dead, in process context, under zonemm_percpu_mutex.
 */
static int (*zonemm_cpu_dead_fn)(unsigned int cpu);
static int zonemm_cpuhp_state;

static int zonemm_cpu_dead(unsigned int cpu)
{
	int ret;

	mutex_lock(&zonemm_percpu_mutex);
	ret = zonemm_cpu_dead_fn(cpu);
	mutex_unlock(&zonemm_percpu_mutex);
	return ret;
}

/* Registers @dead as the CPU-dead callback; 0 or -errno. Sleeps. */
int zonemm_cpuhp_add(int (*dead)(unsigned int cpu))
{
	int state;

	zonemm_cpu_dead_fn = dead;
	state = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "mm/zonemm:dead", NULL, zonemm_cpu_dead);
	if (state < 0)
		return state;
	zonemm_cpuhp_state = state;
	return 0;
}

/* Removes it; no callback runs once this returns. Sleeps. */
void zonemm_cpuhp_remove(void)
{
	cpuhp_remove_state_nocalls(zonemm_cpuhp_state);
}

/*
 * The once-a-second work that vmstat_update() is for the kernel's pcp
 * lists (decay_pcp_high()): one per CPU, deferrable, so an idle CPU is not
 * woken for it, running @fn on its own CPU and requeued there by itself.
 * A CPUHP_AP_ONLINE_DYN state starts a CPU's work when it comes online and
 * stops it (cancel_delayed_work_sync(), which also stops the requeue)
 * before it goes down, as vmstat_cpu_online()/vmstat_cpu_down_prep() do,
 * so a work is never queued on an offline CPU. Nothing here waits for
 * another CPU or takes zonemm_percpu_mutex.
 */
static void (*zonemm_tick_fn)(void);
static int zonemm_tick_state;

struct zonemm_tick {
	struct delayed_work work;
	unsigned int cpu;
};
static DEFINE_PER_CPU(struct zonemm_tick, zonemm_tick);

static void zonemm_tick_work_fn(struct work_struct *work)
{
	struct zonemm_tick *t = container_of(to_delayed_work(work), struct zonemm_tick, work);

	zonemm_tick_fn();
	queue_delayed_work_on(t->cpu, zonemm_wq, &t->work, round_jiffies_relative(HZ));
}

static int zonemm_tick_online(unsigned int cpu)
{
	struct zonemm_tick *t = per_cpu_ptr(&zonemm_tick, cpu);

	queue_delayed_work_on(cpu, zonemm_wq, &t->work, round_jiffies_relative(HZ));
	return 0;
}

static int zonemm_tick_down_prep(unsigned int cpu)
{
	cancel_delayed_work_sync(&per_cpu_ptr(&zonemm_tick, cpu)->work);
	return 0;
}

/*
 * Starts calling @fn about once a second on every online CPU, in process
 * context; 0 or -errno. Sleeps.
 */
int zonemm_tick_start(void (*fn)(void))
{
	unsigned int cpu;
	int state;

	zonemm_tick_fn = fn;
	for_each_possible_cpu(cpu) {
		struct zonemm_tick *t = per_cpu_ptr(&zonemm_tick, cpu);

		t->cpu = cpu;
		INIT_DEFERRABLE_WORK(&t->work, zonemm_tick_work_fn);
	}
	state = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "mm/zonemm:tick", zonemm_tick_online,
				  zonemm_tick_down_prep);
	if (state < 0)
		return state;
	zonemm_tick_state = state;
	return 0;
}

/* Stops it on every CPU; @fn does not run once this returns. Sleeps. */
void zonemm_tick_stop(void)
{
	cpuhp_remove_state(zonemm_tick_state);
}

/* __ratelimit() with the default interval and burst, for reports that
 * bad frees can trigger from any context. */
bool zonemm_report_ratelimit(void)
{
	static DEFINE_RATELIMIT_STATE(rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);

	return __ratelimit(&rs);
}

/*
 * memalloc_noio_save()/memalloc_nofs_save() as @gfp asks (no __GFP_IO,
 * no __GFP_FS), for allocations made on a caller's behalf with
 * GFP_KERNEL; returns what zonemm_memalloc_restore() needs.
 */
unsigned int zonemm_memalloc_save(gfp_t gfp)
{
	/* Bit 0: a NOIO scope, bit 1: a NOFS one, bit 2: it was already set. */
	if (!(gfp & __GFP_IO))
		return 1 | (memalloc_noio_save() ? 4 : 0);
	if (!(gfp & __GFP_FS))
		return 2 | (memalloc_nofs_save() ? 4 : 0);
	return 0;
}

void zonemm_memalloc_restore(unsigned int flags)
{
	if (flags & 1)
		memalloc_noio_restore(flags & 4 ? PF_MEMALLOC_NOIO : 0);
	else if (flags & 2)
		memalloc_nofs_restore(flags & 4 ? PF_MEMALLOC_NOFS : 0);
}

/*
 * Takes down every PTE that maps file pages [pgoff, pgoff + nr) of
 * @file's mappings, TLB flushed (the pages stay the caller's). Sleeps.
 */
void zonemm_unmap_file_pages(struct file *file, unsigned long pgoff,
			     unsigned long nr)
{
	unmap_mapping_range(file->f_mapping, (loff_t)pgoff << PAGE_SHIFT,
			    (loff_t)nr << PAGE_SHIFT, 0);
}

static const struct file_operations zonemm_test_fops = {
	.owner = THIS_MODULE,
};

/*
 * KUnit: a file with an inode of its own (not the anon_inode_getfile()
 * inode every such file shares: unmapping our offsets of that would reach
 * other users' mappings of it) for user regions that nothing maps; the
 * caller owns the reference. ERR_PTR on failure. Sleeps.
 */
struct file *zonemm_test_file(void)
{
	return anon_inode_create_getfile("[zonemm-test]", &zonemm_test_fops, NULL, O_RDWR, NULL);
}

/*
 * The pool's shrinker, for the kernel's reclaim: shrinker_alloc() and
 * shrinker_register() as drivers register one (the kernel crate has no
 * binding of <linux/shrinker.h>). One per module: the callbacks are kept
 * here, set before the shrinker is registered.
 */
static unsigned long (*zonemm_shrinker_count_fn)(void *data);
static unsigned long (*zonemm_shrinker_scan_fn)(void *data, unsigned long nr);

static unsigned long zonemm_count_objects(struct shrinker *s,
					  struct shrink_control *sc)
{
	unsigned long n = zonemm_shrinker_count_fn(s->private_data);

	return n ? n : SHRINK_EMPTY;
}

static unsigned long zonemm_scan_objects(struct shrinker *s,
					 struct shrink_control *sc)
{
	return zonemm_shrinker_scan_fn(s->private_data, sc->nr_to_scan);
}

struct shrinker *zonemm_shrinker_register(const char *name,
					  unsigned long (*count)(void *),
					  unsigned long (*scan)(void *, unsigned long),
					  void *data)
{
	struct shrinker *s = shrinker_alloc(0, "%s", name);

	if (!s)
		return NULL;
	zonemm_shrinker_count_fn = count;
	zonemm_shrinker_scan_fn = scan;
	s->count_objects = zonemm_count_objects;
	s->scan_objects = zonemm_scan_objects;
	s->private_data = data;
	s->seeks = DEFAULT_SEEKS;
	s->batch = MAX_ORDER_NR_PAGES;
	shrinker_register(s);
	return s;
}

/* shrinker_free(): waits for scans in flight; none runs afterwards. */
void zonemm_shrinker_free(struct shrinker *s)
{
	shrinker_free(s);
}
