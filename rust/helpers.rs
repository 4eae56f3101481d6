// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C shims in `helpers.c`, for what the kernel crate
//! has no binding of: `<linux/cma.h>`, `pfn_to_page`/`page_to_pfn`,
//! `page_zone`, the `N_MEMORY` node states, per-CPU work and preemption.

use kernel::{
    bindings,
    prelude::*, //
};

/// An opaque `struct shrinker` (the kernel crate has no binding of it).
#[repr(C)]
pub(crate) struct ZonemmShrinker {
    _private: [u8; 0],
}

/// An opaque `struct cma`: its layout is private to `mm/cma.h`.
#[repr(C)]
pub(crate) struct Cma {
    _private: [u8; 0],
}

// `struct page` has a field bindgen cannot express (`its_array`); only
// pointers to it cross this boundary.
#[expect(improper_ctypes)]
extern "C" {
    /// `dma_contiguous_get_area_by_idx()`: the `idx`-th CMA area a module
    /// can reach, or null past the last.
    pub(crate) fn zonemm_cma_area(idx: c_uint) -> *mut Cma;
    /// `cma_get_name()`.
    pub(crate) fn zonemm_cma_name(cma: *const Cma) -> *const c_char;
    /// `cma_alloc(cma, count, align, true)`; null on failure.
    pub(crate) fn zonemm_cma_alloc(cma: *mut Cma, count: c_ulong, align: c_uint)
        -> *mut bindings::page;
    /// `cma_release()`; false if the pages were not from `cma`.
    pub(crate) fn zonemm_cma_release(
        cma: *mut Cma,
        pages: *const bindings::page,
        count: c_ulong,
    ) -> bool;
    /// `alloc_pages_node(nid, GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN |
    /// __GFP_NORETRY, order)`; null on failure.
    pub(crate) fn zonemm_alloc_pages_node(nid: c_int, order: c_uint) -> *mut bindings::page;
    /// `__free_pages()`.
    pub(crate) fn zonemm_kernel_free_pages(page: *mut bindings::page, order: c_uint);
    /// `page_to_pfn()`.
    pub(crate) fn zonemm_page_to_pfn(page: *const bindings::page) -> c_ulong;
    /// `pfn_to_page()`.
    pub(crate) fn zonemm_pfn_to_page(pfn: c_ulong) -> *mut bindings::page;
    /// `page_to_nid()`.
    pub(crate) fn zonemm_page_to_nid(page: *const bindings::page) -> c_int;
    /// `page_zone(page)->name`.
    pub(crate) fn zonemm_page_zone_name(page: *const bindings::page) -> *const c_char;
    /// `nr_node_ids`.
    pub(crate) fn zonemm_nr_node_ids() -> c_uint;
    /// `node_present_pages()`: the pages a node spans, holes excluded.
    pub(crate) fn zonemm_node_present_pages(nid: c_int) -> c_ulong;
    /// `node_start_pfn()` and `node_end_pfn()` of a node with memory.
    pub(crate) fn zonemm_node_span(nid: c_int, start: *mut c_ulong, end: *mut c_ulong);
    /// `pfn_to_kaddr()`: the direct-map address of a frame.
    pub(crate) fn zonemm_pfn_to_virt(pfn: c_ulong) -> *mut c_void;
    /// `numa_mem_id()`: the nearest node with memory to the current CPU
    /// (its own node unless that node is memoryless).
    pub(crate) fn zonemm_numa_mem_id() -> c_int;
    /// `cpumask_weight(cpumask_of_node(nid))`, or `num_online_cpus()` for
    /// a node with no CPUs: what `zone_highsize()` splits `high` over.
    pub(crate) fn zonemm_nr_split_cpus(nid: c_int) -> c_uint;
    /// Runs `f(arg, cpu)` in a kthread on every online CPU at once and
    /// waits for all; returns the first non-zero result. Sleeps.
    pub(crate) fn zonemm_run_on_each_cpu(
        f: unsafe extern "C" fn(arg: *mut c_void, cpu: c_uint) -> c_int,
        arg: *mut c_void,
    ) -> c_int;
    /// `vmap(pages, count, VM_MAP, PAGE_KERNEL)`, with its guard page;
    /// null on failure. Sleeps.
    pub(crate) fn zonemm_vmap(pages: *mut *mut bindings::page, count: c_uint) -> *mut c_void;
    /// `vunmap()`. Sleeps.
    pub(crate) fn zonemm_vunmap(addr: *const c_void);
    /// `page_to_pfn(vmalloc_to_page(addr))`, or `c_ulong::MAX` if unmapped.
    pub(crate) fn zonemm_vmalloc_to_pfn(addr: *const c_void) -> c_ulong;
    /// `kthread_run(f, arg, "%s", name)`; null on failure.
    pub(crate) fn zonemm_kthread_run(
        f: unsafe extern "C" fn(arg: *mut c_void) -> c_int,
        arg: *mut c_void,
        name: *const c_char,
    ) -> *mut bindings::task_struct;
    /// `kthread_stop()`: wakes the thread and waits for it to return.
    pub(crate) fn zonemm_kthread_stop(t: *mut bindings::task_struct);
    /// `kthread_should_stop()`.
    pub(crate) fn zonemm_kthread_should_stop() -> bool;
    /// `schedule_timeout_interruptible()` unless `*woken` was set (it is
    /// cleared) or the thread is being stopped; ends early on
    /// [`zonemm_wake_up_process`]. 0 only yields; `u32::MAX` sleeps until
    /// woken, with no timer. Returns what `*woken` held if it was set,
    /// before or during the sleep (and clears it), else 0.
    pub(crate) fn zonemm_sleep_wakeable(msecs: c_uint, woken: *mut c_int) -> c_int;
    /// `shrinker_alloc()` named `name`, with `count` and `scan` as its
    /// `count_objects()` and `scan_objects()` (given `data`; 0 counted is
    /// `SHRINK_EMPTY`), `DEFAULT_SEEKS`, a batch of `MAX_ORDER_NR_PAGES`,
    /// then `shrinker_register()`. Null if it cannot be allocated. One per
    /// module.
    pub(crate) fn zonemm_shrinker_register(
        name: *const c_char,
        count: unsafe extern "C" fn(*mut c_void) -> c_ulong,
        scan: unsafe extern "C" fn(*mut c_void, c_ulong) -> c_ulong,
        data: *mut c_void,
    ) -> *mut ZonemmShrinker;
    /// `shrinker_free()`: waits for a scan in flight; none runs after.
    pub(crate) fn zonemm_shrinker_free(s: *mut ZonemmShrinker);
    /// `set_cpus_allowed_ptr(current, cpumask_of_node(nid))` if the node
    /// has CPUs.
    pub(crate) fn zonemm_bind_to_node(nid: c_int);
    /// Whether the caller is reclaiming memory (`PF_MEMALLOC`).
    pub(crate) fn zonemm_in_reclaim() -> bool;
    /// Whether the caller runs in a `memalloc_noio_save()` or
    /// `memalloc_nofs_save()` scope (`current_gfp_context()` takes
    /// `__GFP_IO` or `__GFP_FS` from `GFP_KERNEL`).
    pub(crate) fn zonemm_memalloc_scoped() -> bool;
    /// `cond_resched()`.
    pub(crate) fn zonemm_cond_resched();
    /// `wake_up_process()`.
    pub(crate) fn zonemm_wake_up_process(t: *mut bindings::task_struct);
    /// `ktime_get_ns()`.
    pub(crate) fn zonemm_ktime_ns() -> u64;
    /// `PAGE_OFFSET`: where the direct map starts.
    pub(crate) fn zonemm_page_offset() -> c_ulong;
    /// `node_state(nid, N_MEMORY)`: the node has memory of any zone.
    pub(crate) fn zonemm_node_has_memory(nid: c_int) -> bool;
    /// `node_state(nid, N_NORMAL_MEMORY)`: the node has memory outside
    /// `ZONE_MOVABLE`.
    pub(crate) fn zonemm_node_has_normal_memory(nid: c_int) -> bool;
    /// `get_cpu()`: disables preemption and returns the CPU's number.
    #[allow(dead_code, reason = "where percpu.rs has no inline get_cpu()")]
    pub(crate) fn zonemm_get_cpu() -> c_uint;
    /// `put_cpu()`: enables preemption again.
    #[allow(dead_code, reason = "where percpu.rs has no inline put_cpu()")]
    pub(crate) fn zonemm_put_cpu();
    /// Not in an interrupt, interrupts on, preemptible: the caller may
    /// sleep.
    pub(crate) fn zonemm_in_task_context() -> bool;
    /// Creates the per-CPU workqueue; 0 or `-ENOMEM`. Sleeps.
    pub(crate) fn zonemm_helpers_init() -> c_int;
    /// Destroys it. Sleeps.
    pub(crate) fn zonemm_helpers_exit();
    /// `f(arg)` on every online CPU in turn, in a kworker of the
    /// `WQ_MEM_RECLAIM` per-CPU workqueue bound to it, and `off(arg, cpu)`
    /// from the caller for every possible CPU that is not online (with
    /// CPU hotplug held off); the first non-zero result. One caller at a
    /// time, and never during the CPU-dead callback. With `alloc` (the
    /// allocator's slow path, whose caller may hold `cpus_read_lock()`)
    /// hotplug is only tried for, and offline CPUs are skipped if it is
    /// busy. With `ipi`, every online CPU first runs `ipi(arg)` from an
    /// interrupt (its irq_work, queued by an IPI), and only those where it
    /// returned non-zero get `f`'s work; the caller's interrupts must then
    /// be on. Sleeps.
    pub(crate) fn zonemm_work_on_each_cpu(
        f: unsafe extern "C" fn(arg: *mut c_void) -> c_long,
        off: unsafe extern "C" fn(arg: *mut c_void, cpu: c_uint) -> c_long,
        ipi: Option<unsafe extern "C" fn(arg: *mut c_void) -> c_long>,
        arg: *mut c_void,
        alloc: bool,
    ) -> c_long;
    /// Registers `dead(cpu)`, run once a CPU is dead (a
    /// `CPUHP_BP_PREPARE_DYN` teardown) on another CPU, in process context,
    /// excluded from [`zonemm_work_on_each_cpu`]; 0 or `-errno`. Sleeps.
    pub(crate) fn zonemm_cpuhp_add(dead: unsafe extern "C" fn(cpu: c_uint) -> c_int) -> c_int;
    /// Removes the callback; none runs after this returns. Sleeps.
    pub(crate) fn zonemm_cpuhp_remove();
    /// Calls `f()` about once a second on every online CPU, from a
    /// deferrable per-CPU work (`vmstat_update()`'s place) that CPU
    /// hotplug starts and stops with its CPU, in process context; 0 or
    /// `-errno`. Sleeps.
    pub(crate) fn zonemm_tick_start(f: unsafe extern "C" fn()) -> c_int;
    /// Stops it; `f` does not run after this returns. Sleeps.
    pub(crate) fn zonemm_tick_stop();
    /// `__ratelimit()` of zonemm's reports; any context but NMI.
    pub(crate) fn zonemm_report_ratelimit() -> bool;
    /// `memalloc_noio_save()` or `memalloc_nofs_save()` as `gfp` lacks
    /// `__GFP_IO` or `__GFP_FS`; the value for the restore.
    pub(crate) fn zonemm_memalloc_save(gfp: bindings::gfp_t) -> c_uint;
    /// Ends the scope `zonemm_memalloc_save()` began.
    pub(crate) fn zonemm_memalloc_restore(flags: c_uint);
    /// Registers `/dev/zonemm` (mode `mode`, `THIS_MODULE` its owner),
    /// whose file and VMA operations call `ops`; 0 or `-errno`. Sleeps.
    pub(crate) fn zonemm_dev_register(ops: *const DevOps, mode: c_uint) -> c_int;
    /// Removes it: no new open; open files keep the module loaded. Sleeps.
    pub(crate) fn zonemm_dev_deregister();
    /// Maps frame `pfn` at the address of fault `vmf` (a `struct
    /// vm_fault` of a `/dev/zonemm` VMA), read-only, or writable if
    /// `write`; the `vm_fault_t`. Fault context; may allocate a page
    /// table.
    pub(crate) fn zonemm_dev_insert(vmf: *mut c_void, pfn: c_ulong, write: bool) -> c_uint;
    /// KUnit: a new file of an anonymous inode (a reference the caller
    /// owns), or an `ERR_PTR`. Sleeps.
    pub(crate) fn zonemm_test_file() -> *mut bindings::file;
    /// `unmap_mapping_range()` of file pages `[pgoff, pgoff + nr)` of
    /// `file`'s mappings. Sleeps.
    pub(crate) fn zonemm_unmap_file_pages(file: *mut bindings::file, pgoff: c_ulong, nr: c_ulong);
    /// Whether a refusal of `/dev/zonemm` may be logged (100 per 5 s).
    pub(crate) fn zonemm_dev_report_ratelimit() -> bool;
    /// Under `current`'s `mmap_read_lock()`: if `[start, start + len)`
    /// (not overflowing) lies inside one of the caller's `/dev/zonemm`
    /// VMAs, `f(arg, area, pgoff, nr_pages)` with the range's first file
    /// page; else `-EINVAL`. Sleeps.
    pub(crate) fn zonemm_dev_with_range(
        start: c_ulong,
        len: c_ulong,
        f: unsafe extern "C" fn(arg: *mut c_void, area: *mut c_void, pgoff: c_ulong, nr: c_ulong) -> c_long,
        arg: *mut c_void,
    ) -> c_long;
    /// For each process of the reader's pid namespace, in pid order,
    /// under its `mmap_read_lock()`: `f(arg, pid, comm, area, pgoff,
    /// nr_pages)` for each of its `/dev/zonemm` VMAs (`comm` a C string
    /// valid for the call). Sleeps.
    pub(crate) fn zonemm_dev_for_each_process(
        f: unsafe extern "C" fn(
            arg: *mut c_void,
            pid: c_int,
            comm: *const c_char,
            area: *mut c_void,
            pgoff: c_ulong,
            nr: c_ulong,
        ),
        arg: *mut c_void,
    );
    /// Under `current`'s `mmap_read_lock()`: `f(arg, area, pgoff,
    /// nr_pages)` for each of the caller's `/dev/zonemm` VMAs. Sleeps.
    pub(crate) fn zonemm_dev_for_each_vma(
        f: unsafe extern "C" fn(arg: *mut c_void, area: *mut c_void, pgoff: c_ulong, nr: c_ulong),
        arg: *mut c_void,
    );
}

/// `struct zonemm_dev_ops` (`helpers.h`): `/dev/zonemm`'s callbacks into
/// `dev.rs`. An `area` is an `Arc<dev::area::Area>` turned raw.
#[repr(C)]
pub(crate) struct DevOps {
    /// `->mmap`: `*area` for a new mapping, or `-errno`.
    /// `*base` is the file page the mapping's VMAs start at.
    pub(crate) mmap: unsafe extern "C" fn(
        file: *mut bindings::file,
        pgoff: c_ulong,
        nr_pages: c_ulong,
        shared: bool,
        exec: bool,
        area: *mut *mut c_void,
        base: *mut c_ulong,
    ) -> c_int,
    /// `vm_ops->open`: one more VMA holds the area.
    pub(crate) get: unsafe extern "C" fn(area: *mut c_void),
    /// `vm_ops->close`: one fewer.
    pub(crate) put: unsafe extern "C" fn(area: *mut c_void),
    /// `vm_ops->fault` (`write` as the fault is) and `vm_ops->pfn_mkwrite`
    /// (`write`) of file page `pgoff`: a `vm_fault_t` from
    /// [`zonemm_dev_insert`] (of `vmf`), or `-errno` (`SIGBUS`).
    pub(crate) fault: unsafe extern "C" fn(area: *mut c_void, vmf: *mut c_void, pgoff: c_ulong, write: bool) -> c_long,
    /// `->unlocked_ioctl`.
    pub(crate) ioctl: unsafe extern "C" fn(cmd: c_uint, arg: c_ulong) -> c_long,
}
