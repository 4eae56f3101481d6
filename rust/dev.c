// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/zonemm's C side, as drivers/char/mem.c and mm/memory.c's users
 * write it: the misc device (registered with its mode and THIS_MODULE as
 * the owner, which the kernel crate's MiscDeviceOptions cannot express,
 * and which 7.2's crate leaves out), and the vm_operations_struct of its
 * mappings (the crate has no binding for vm_ops). Every decision (what a
 * mapping holds, the page a fault maps, what an ioctl does) is dev.rs's,
 * through struct zonemm_dev_ops.
 *
 * Mappings are VM_MIXEDMAP with special PTEs (vmf_insert_mixed(), as
 * DAX and drivers mapping memory they own do): the core mm never takes a
 * reference to the pages (vm_normal_page() is NULL for them: fork copies
 * the PTE, zap drops it), get_user_pages() that wants the pages fails
 * (follow_pfn_pte(): -EEXIST), while MAP_POPULATE, which wants none,
 * faults every page in (VM_IO or VM_PFNMAP would make __mm_populate()
 * skip the VMA). Zapping a PTE frees nothing: the pages are dev.rs's
 * until the last VMA's ->close(), which the core calls after the PTEs are
 * gone and the TLB flushed (munmap, exit_mmap()).
 */

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched/task.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>

#include "helpers.h"

/* Without special PTEs vmf_insert_mixed() would refcount the pages. */
#ifndef CONFIG_ARCH_HAS_PTE_SPECIAL
#error "/dev/zonemm needs CONFIG_ARCH_HAS_PTE_SPECIAL"
#endif

static const struct zonemm_dev_ops *zonemm_dev_ops;

static void zonemm_vm_open(struct vm_area_struct *vma)
{
	zonemm_dev_ops->get(vma->vm_private_data);
}

static void zonemm_vm_close(struct vm_area_struct *vma)
{
	zonemm_dev_ops->put(vma->vm_private_data);
}

/*
 * The PTE zonemm_dev_insert() writes: over none, or over a read-only PTE
 * of the same frame (the page made writable); anything else is left to
 * the retried fault.
 */
struct zonemm_dev_pte {
	struct mm_struct *mm;
	pte_t pte;
};

static int zonemm_dev_set_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct zonemm_dev_pte *p = data;
	pte_t old = ptep_get(ptep);

	if (!pte_none(old) && pte_pfn(old) != pte_pfn(p->pte))
		return -EBUSY;
	set_pte_at(p->mm, addr, ptep, p->pte);
	return 0;
}

/*
 * Maps @pfn at the faulting address, read-only (vm_page_prot: the VMA
 * wants write notification, having ->pfn_mkwrite) or, for @write,
 * writable and dirty, as vmf_insert_mixed_mkwrite() does for DAX, which
 * modules cannot call: the special PTE is written with
 * apply_to_page_range(), under the page table lock, as Xen's privcmd
 * maps foreign frames into user VMAs. dev.rs calls this under the lock
 * that serialises it with taking the page's PTEs down.
 */
unsigned int zonemm_dev_insert(void *vmf_, unsigned long pfn, bool write)
{
	struct vm_fault *vmf = vmf_;
	struct vm_area_struct *vma = vmf->vma;
	struct zonemm_dev_pte p;
	int err;

	if (!write)
		return vmf_insert_mixed(vma, vmf->address, pfn);
	p.mm = vma->vm_mm;
	p.pte = pte_mkspecial(pte_mkdirty(pte_mkyoung(
		pfn_pte(pfn, vm_get_page_prot(vma->vm_flags)))));
	err = apply_to_page_range(vma->vm_mm, vmf->address & PAGE_MASK, PAGE_SIZE,
				  zonemm_dev_set_pte, &p);
	if (err == -ENOMEM)
		return VM_FAULT_OOM;
	if (err && err != -EBUSY)
		return VM_FAULT_SIGBUS;
	return VM_FAULT_NOPAGE;
}

/*
 * The pool out of pages is SIGBUS, as for hugetlbfs when its pool runs
 * out: VM_FAULT_OOM would retry the fault for ever, since the kernel's
 * OOM killer cannot free pool pages.
 */
static vm_fault_t zonemm_vm_result(long ret)
{
	return ret < 0 ? VM_FAULT_SIGBUS : (vm_fault_t)ret;
}

static vm_fault_t zonemm_vm_fault(struct vm_fault *vmf)
{
	return zonemm_vm_result(zonemm_dev_ops->fault(vmf->vma->vm_private_data, vmf,
				vmf->pgoff, !!(vmf->flags & FAULT_FLAG_WRITE)));
}

/*
 * A write to a page mapped read-only (a shared page, or one the merger
 * write-protected). dev.rs maps it writable itself (a private copy first
 * for a shared page) and returns VM_FAULT_NOPAGE: the core never makes
 * the PTE writable on its own (finish_mkwrite_fault()), which could race
 * with the merger taking the PTE down.
 */
static vm_fault_t zonemm_vm_pfn_mkwrite(struct vm_fault *vmf)
{
	return zonemm_vm_result(zonemm_dev_ops->fault(vmf->vma->vm_private_data, vmf,
				vmf->pgoff, true));
}

/*
 * Maps nothing: it runs under rcu_read_lock(), where the area's lock
 * cannot be taken, so ->fault maps each page. Having it tells the core
 * (vmf_can_call_fault()) that ->fault and ->pfn_mkwrite need no
 * mmap_lock, which is so: they use the VMA (held by the per-VMA lock) and
 * its area, take the area's own lock, and write page tables as anonymous
 * faults do under that lock. Without it every fault taken under the
 * per-VMA lock is retried under mmap_lock: two faults' work per touch.
 */
static vm_fault_t zonemm_vm_map_pages(struct vm_fault *vmf, pgoff_t start, pgoff_t end)
{
	return 0;
}

static const struct vm_operations_struct zonemm_vm_ops = {
	.open = zonemm_vm_open,
	.close = zonemm_vm_close,
	.fault = zonemm_vm_fault,
	.map_pages = zonemm_vm_map_pages,
	.pfn_mkwrite = zonemm_vm_pfn_mkwrite,
};

static int zonemm_dev_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long base;
	void *area;
	int ret;

	ret = zonemm_dev_ops->mmap(file, vma->vm_pgoff, vma_pages(vma),
				   !!(vma->vm_flags & VM_MAYSHARE),
				   !!(vma->vm_flags & VM_EXEC), &area, &base);
	if (ret)
		return ret;
	/*
	 * Each mmap(2) gets file offsets of its own, so that
	 * unmap_mapping_range() of one of its pages reaches exactly the VMAs
	 * made from it (the VMA is linked into the file's i_mmap tree after
	 * ->mmap, as remap_pfn_range() relies on when it sets vm_pgoff).
	 */
	vma->vm_pgoff = base;
	vm_flags_mod(vma, VM_MIXEDMAP | VM_DONTEXPAND | VM_DONTDUMP,
		     VM_MAYEXEC);
	vma->vm_private_data = area;
	vma->vm_ops = &zonemm_vm_ops;
	return 0;
}

static long zonemm_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return zonemm_dev_ops->ioctl(cmd, arg);
}

static const struct file_operations zonemm_dev_fops = {
	.owner = THIS_MODULE,
	.open = nonseekable_open,
	.mmap = zonemm_dev_mmap,
	.unlocked_ioctl = zonemm_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice zonemm_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "zonemm",
	.fops = &zonemm_dev_fops,
};

/*
 * Whether a refusal may be logged: 100 lines per 5 s, enough for any one
 * bad call's reason to be seen, while a device opened to non-root users
 * (dev_mode) cannot flood the log.
 */
bool zonemm_dev_report_ratelimit(void)
{
	static DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 100);

	return __ratelimit(&rs);
}

int zonemm_dev_register(const struct zonemm_dev_ops *ops, unsigned int mode)
{
	zonemm_dev_ops = ops;
	zonemm_miscdev.mode = mode;
	return misc_register(&zonemm_miscdev);
}

void zonemm_dev_deregister(void)
{
	misc_deregister(&zonemm_miscdev);
}

long zonemm_dev_with_range(unsigned long start, unsigned long len,
			   long (*f)(void *arg, void *area, unsigned long pgoff,
				     unsigned long nr_pages),
			   void *arg)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	long ret = -EINVAL;

	if (!mm)
		return -EINVAL;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, start);
	/* The caller checked that start + len does not overflow. */
	if (vma && vma->vm_ops == &zonemm_vm_ops && start + len <= vma->vm_end)
		ret = f(arg, vma->vm_private_data,
			vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT),
			len >> PAGE_SHIFT);
	mmap_read_unlock(mm);
	return ret;
}

void zonemm_dev_for_each_vma(void (*f)(void *arg, void *area, unsigned long pgoff,
				       unsigned long nr_pages),
			     void *arg)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;

	if (!mm)
		return;
	mmap_read_lock(mm);
	{
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma)
			if (vma->vm_ops == &zonemm_vm_ops)
				f(arg, vma->vm_private_data, vma->vm_pgoff, vma_pages(vma));
	}
	mmap_read_unlock(mm);
}

/*
 * For each process (thread group) of the reader's pid namespace, in pid
 * order, under its mmap_read_lock(): f(arg, pid, comm, area, pgoff,
 * nr_pages) for each of its /dev/zonemm VMAs, as /proc/<pid>/ksm_stat is
 * read for each pid. Processes are taken one at a time (find_ge_pid(),
 * as /proc's readdir walks them), so none is held across another's lock.
 * Sleeps.
 */
void zonemm_dev_for_each_process(void (*f)(void *arg, int pid, const char *comm,
					   void *area, unsigned long pgoff,
					   unsigned long nr_pages),
				 void *arg)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	int nr = 1;

	for (;;) {
		struct task_struct *task = NULL;
		struct vm_area_struct *vma;
		struct mm_struct *mm;
		char comm[TASK_COMM_LEN];
		struct pid *pid;
		int tgid;

		rcu_read_lock();
		pid = find_ge_pid(nr, ns);
		if (pid) {
			nr = pid_nr_ns(pid, ns) + 1;
			task = pid_task(pid, PIDTYPE_TGID);
			if (task)
				get_task_struct(task);
		}
		rcu_read_unlock();
		if (!pid)
			break;
		if (!task)
			continue;
		tgid = task_tgid_nr_ns(task, ns);
		get_task_comm(comm, task);
		mm = get_task_mm(task);
		put_task_struct(task);
		if (!mm)
			continue;
		/* As /proc/<pid>/ reads: a fatal signal ends the walk. */
		if (mmap_read_lock_killable(mm)) {
			mmput(mm);
			break;
		}
		{
			VMA_ITERATOR(vmi, mm, 0);

			for_each_vma(vmi, vma)
				if (vma->vm_ops == &zonemm_vm_ops)
					f(arg, tgid, comm, vma->vm_private_data, vma->vm_pgoff,
					  vma_pages(vma));
		}
		mmap_read_unlock(mm);
		mmput(mm);
		cond_resched();
	}
}
