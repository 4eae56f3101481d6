/* SPDX-License-Identifier: GPL-2.0 */
/* Prototypes of helpers.c, the C shims declared in helpers.rs. */
#ifndef ZONEMM_HELPERS_H
#define ZONEMM_HELPERS_H

#include <linux/types.h>

struct cma;
struct page;

struct cma *zonemm_cma_area(unsigned int idx);
const char *zonemm_cma_name(const struct cma *cma);
struct page *zonemm_cma_alloc(struct cma *cma, unsigned long count,
			      unsigned int align);
bool zonemm_cma_release(struct cma *cma, const struct page *pages,
			unsigned long count);
struct page *zonemm_alloc_pages_node(int nid, unsigned int order);
void zonemm_kernel_free_pages(struct page *page, unsigned int order);
unsigned long zonemm_page_to_pfn(const struct page *page);
struct page *zonemm_pfn_to_page(unsigned long pfn);
int zonemm_page_to_nid(const struct page *page);
const char *zonemm_page_zone_name(const struct page *page);
unsigned int zonemm_nr_node_ids(void);
bool zonemm_node_has_memory(int nid);
bool zonemm_node_has_normal_memory(int nid);
unsigned long zonemm_node_present_pages(int nid);
void zonemm_node_span(int nid, unsigned long *start, unsigned long *end);
void *zonemm_pfn_to_virt(unsigned long pfn);
int zonemm_numa_mem_id(void);
unsigned int zonemm_nr_split_cpus(int nid);
int zonemm_run_on_each_cpu(int (*fn)(void *arg, unsigned int cpu), void *arg);
unsigned long zonemm_page_offset(void);
unsigned int zonemm_get_cpu(void);
void zonemm_put_cpu(void);
bool zonemm_in_task_context(void);
int zonemm_helpers_init(void);
void zonemm_helpers_exit(void);
long zonemm_work_on_each_cpu(long (*fn)(void *arg), long (*off)(void *arg, unsigned int cpu),
			     long (*ipi)(void *arg), void *arg, bool alloc);
int zonemm_cpuhp_add(int (*dead)(unsigned int cpu));
void zonemm_cpuhp_remove(void);
int zonemm_tick_start(void (*fn)(void));
void zonemm_tick_stop(void);
bool zonemm_report_ratelimit(void);
unsigned int zonemm_memalloc_save(gfp_t gfp);
void zonemm_memalloc_restore(unsigned int flags);
void *zonemm_vmap(struct page **pages, unsigned int count);
void zonemm_vunmap(const void *addr);
unsigned long zonemm_vmalloc_to_pfn(const void *addr);
struct task_struct;
struct task_struct *zonemm_kthread_run(int (*fn)(void *arg), void *arg,
				       const char *name);
void zonemm_kthread_stop(struct task_struct *t);
bool zonemm_kthread_should_stop(void);
int zonemm_sleep_wakeable(unsigned int msecs, int *woken);
void zonemm_bind_to_node(int nid);
bool zonemm_in_reclaim(void);
bool zonemm_memalloc_scoped(void);
void zonemm_cond_resched(void);
void zonemm_wake_up_process(struct task_struct *t);
u64 zonemm_ktime_ns(void);
struct shrinker;
struct shrinker *zonemm_shrinker_register(const char *name,
					  unsigned long (*count)(void *),
					  unsigned long (*scan)(void *, unsigned long),
					  void *data);
void zonemm_shrinker_free(struct shrinker *s);

struct file *zonemm_test_file(void);
void zonemm_unmap_file_pages(struct file *file, unsigned long pgoff,
			     unsigned long nr);

/* dev.c: /dev/zonemm. The callbacks are dev.rs's. */
struct zonemm_dev_ops {
	int (*mmap)(struct file *file, unsigned long pgoff, unsigned long nr_pages,
		    bool shared, bool exec, void **area, unsigned long *base);
	void (*get)(void *area);
	void (*put)(void *area);
	long (*fault)(void *area, void *vmf, unsigned long pgoff, bool write);
	long (*ioctl)(unsigned int cmd, unsigned long arg);
};
unsigned int zonemm_dev_insert(void *vmf, unsigned long pfn, bool write);
int zonemm_dev_register(const struct zonemm_dev_ops *ops, unsigned int mode);
void zonemm_dev_deregister(void);
bool zonemm_dev_report_ratelimit(void);
long zonemm_dev_with_range(unsigned long start, unsigned long len,
			   long (*f)(void *arg, void *area, unsigned long pgoff,
				     unsigned long nr_pages),
			   void *arg);
void zonemm_dev_for_each_process(void (*f)(void *arg, int pid, const char *comm,
					   void *area, unsigned long pgoff,
					   unsigned long nr_pages),
				 void *arg);
void zonemm_dev_for_each_vma(void (*f)(void *arg, void *area, unsigned long pgoff,
				       unsigned long nr_pages),
			     void *arg);

#endif /* ZONEMM_HELPERS_H */
