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

static vm_fault_t zonemm_vm_fault(struct vm_fault *vmf)
{
	unsigned long pfn;
	long ret = zonemm_dev_ops->fault(vmf->vma->vm_private_data, vmf->pgoff, &pfn);

	/*
	 * The pool out of pages is SIGBUS, as for hugetlbfs when its pool
	 * runs out: VM_FAULT_OOM would retry the fault for ever, since the
	 * kernel's OOM killer cannot free pool pages.
	 */
	if (ret)
		return VM_FAULT_SIGBUS;
	return vmf_insert_mixed(vmf->vma, vmf->address, pfn);
}

static const struct vm_operations_struct zonemm_vm_ops = {
	.open = zonemm_vm_open,
	.close = zonemm_vm_close,
	.fault = zonemm_vm_fault,
};

static int zonemm_dev_mmap(struct file *file, struct vm_area_struct *vma)
{
	void *area;
	int ret;

	ret = zonemm_dev_ops->mmap(vma->vm_pgoff, vma_pages(vma),
				   !!(vma->vm_flags & VM_MAYSHARE),
				   !!(vma->vm_flags & VM_EXEC), &area);
	if (ret)
		return ret;
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
