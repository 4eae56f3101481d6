// SPDX-License-Identifier: GPL-2.0

//! Per-CPU data under a local trylock: what `local_trylock_t`
//! (`include/linux/local_lock.h`) gives SLUB's sheaves and the pcp lists.
//!
//! Each CPU's copy is used only by that CPU, with preemption disabled and
//! its `busy` flag set. An interrupt that arrives while the flag is set
//! finds it set and takes the caller's fallback (straight to the zone or
//! node lists) instead of waiting, so no path ever spins on a per-CPU
//! lock and none takes an atomic read-modify-write: the flag is a plain
//! (volatile) load and store on the CPU that owns it, as `local_trylock()`
//! writes `acquired` with `this_cpu` operations. On x86-64,
//! `get_cpu()`/`put_cpu()` are the same `%gs:`-relative instructions
//! `arch/x86/include/asm/preempt.h` and `smp.h` compile to (module
//! [`arch`]), the only call the reschedule `preempt_enable()` makes; other
//! architectures, and kernels with `CONFIG_DEBUG_PREEMPT`, preemption
//! tracing or frame pointers (whose unwinder needs a frame set up before
//! a call, which C's `ASM_CALL_CONSTRAINT` forces and Rust's asm cannot),
//! call the C macros through `helpers.c`.
//!
//! Another CPU's copy is reached only by running on that CPU
//! ([`PerCpu::on_each_cpu`]: work on zonemm's `WQ_MEM_RECLAIM` per-CPU
//! workqueue, one CPU after another; for the slow path's drain and
//! [`PerCpu::on_each_cpu_irq`] first an interrupt on each CPU, its
//! irq_work, which trylocks like any other), which sleeps. (The kernel's
//! `drain_all_pages()` drains remote CPUs' lists under their `pcp->lock`
//! instead; here no CPU but the owner ever touches its lists, which is
//! what keeps the hit path free of any lock.) The one exception is a CPU
//! that is not online: nothing runs on it, so [`PerCpu::on_each_cpu`]
//! serves its copy from the caller while CPU hotplug is held off, and the
//! CPU-dead callback (`helpers.c`, `page_alloc_cpu_dead()`'s place) from
//! the hotplug control thread: what a CPU holds when it goes down is not
//! lost while it is away.

use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    sync::atomic::{
        compiler_fence,
        Ordering, //
    },
};

use kernel::{
    cpu,
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

/// A flag only its own CPU reads and writes (from task and interrupt
/// context): volatile accesses, like `this_cpu_read()`/`this_cpu_write()`,
/// with no cross-CPU ordering to keep and so no atomic needed.
struct LocalFlag(UnsafeCell<bool>);

impl LocalFlag {
    #[inline(always)]
    fn get(&self) -> bool {
        // One user at a time: the slot's CPU (an interrupt on it runs to
        // completion before what it interrupted goes on), or while it is
        // offline the thread `with_offline_cpu` admits, after hotplug
        // ordered the CPU's last write before it (`PerCpu` invariant).
        // SAFETY: So no access overlaps another.
        unsafe { self.0.get().read_volatile() }
    }

    #[inline(always)]
    fn set(&self, v: bool) {
        // SAFETY: As in `get`.
        unsafe { self.0.get().write_volatile(v) }
    }
}

use crate::helpers::zonemm_work_on_each_cpu;

/// `get_cpu()` and `put_cpu()` inline, as C code gets them from
/// `<asm/preempt.h>` (`__preempt_count` and `cpu_number` are per-CPU
/// variables the kernel exports for modules' inline uses).
#[cfg(all(
    target_arch = "x86_64",
    not(CONFIG_UML),
    CONFIG_SMP,
    CONFIG_PREEMPT_COUNT,
    not(CONFIG_DEBUG_PREEMPT),
    not(CONFIG_TRACE_PREEMPT_TOGGLE),
    not(CONFIG_FRAME_POINTER)
))]
mod arch {
    use core::arch::asm;

    extern "C" {
        /// `unsigned long`: the count in the low bits, and the inverted
        /// `PREEMPT_NEED_RESCHED` in the top one.
        static __preempt_count: usize;
        static cpu_number: i32;
    }

    /// `preempt_disable()` then `smp_processor_id()`: one increment and
    /// one load, `%gs:`-relative. Any context but NMI.
    #[inline(always)]
    pub(super) fn get_cpu() -> usize {
        let cpu: u32;
        // `__preempt_count` and `cpu_number` are this CPU's per-CPU
        // variables, addressed through `%gs` as `__my_cpu_var()` does; the
        // increment is all of `preempt_disable()` on x86-64 (the memory
        // clobber its `barrier()`; the count never carries out of the low
        // 32 bits), the load `raw_smp_processor_id()`.
        // SAFETY: So this disables preemption and reads a stable CPU id.
        unsafe {
            asm!(
                "incl %gs:{pc}(%rip)",
                "movl %gs:{nr}(%rip), {cpu:e}",
                pc = sym __preempt_count,
                nr = sym cpu_number,
                cpu = out(reg) cpu,
                options(att_syntax, nostack),
            )
        };
        cpu as usize
    }

    // `__preempt_schedule()`'s target: the static call's trampoline where
    // the preemption model is chosen at boot (it returns at once under
    // `preempt=none` or `voluntary`), else the thunk. Both keep every
    // register, so the hit paths that end in `put_cpu` save none around it.
    #[cfg(all(CONFIG_PREEMPTION, CONFIG_PREEMPT_DYNAMIC))]
    extern "C" {
        /// `preempt_schedule`'s static call trampoline.
        #[link_name = "__SCT__preempt_schedule"]
        fn preempt_schedule_call();
    }
    #[cfg(all(CONFIG_PREEMPTION, not(CONFIG_PREEMPT_DYNAMIC)))]
    extern "C" {
        /// `preempt_schedule()` behind a thunk that saves every register.
        #[link_name = "preempt_schedule_thunk"]
        fn preempt_schedule_call();
    }

    /// `preempt_enable()` as `<asm/preempt.h>` makes it:
    /// `__preempt_count_dec_and_test()` (`decq` where
    /// `PREEMPT_NEED_RESCHED` is bit 63,
    /// `CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS`; `decl` where it is bit
    /// 31) and, with `CONFIG_PREEMPTION`, the call of
    /// `__preempt_schedule()` when the whole word reaches zero (no count
    /// left and the inverted bit cleared).
    #[inline(always)]
    pub(super) fn put_cpu() {
        // The call (taken only when the count reached zero: preemptible
        // again) is the kernel's own `__preempt_schedule()`: its target is
        // the `THUNK` of `arch/x86/entry/calling.h`, which saves and
        // restores every caller-saved register around `preempt_schedule()`
        // (the static call's trampoline only jumps there, or returns); the
        // flags and memory are the asm's default clobbers, and the stack is
        // the asm's to use (no `nostack`; the kernel's target has no red
        // zone).
        #[cfg(CONFIG_PREEMPTION)]
        macro_rules! dec_and_resched {
            ($dec:literal) => {
                asm!(
                    concat!($dec, " %gs:{pc}(%rip)"),
                    "jnz 2f",
                    "call {sched}",
                    "2:",
                    pc = sym __preempt_count,
                    sched = sym preempt_schedule_call,
                    options(att_syntax),
                )
            };
        }
        // SAFETY: Balances `get_cpu` on this CPU; the call keeps every
        // register, as said above.
        unsafe {
            #[cfg(all(CONFIG_PREEMPTION, CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS))]
            dec_and_resched!("decq");
            #[cfg(all(CONFIG_PREEMPTION, not(CONFIG_HAS_SEPARATE_PREEMPT_RESCHED_BITS)))]
            dec_and_resched!("decl");
            #[cfg(not(CONFIG_PREEMPTION))]
            asm!(
                "decl %gs:{pc}(%rip)",
                pc = sym __preempt_count,
                options(att_syntax, nostack),
            );
        }
    }
}

/// The C macros through `helpers.c` where [`arch`] has no inline copy.
#[cfg(not(all(
    target_arch = "x86_64",
    not(CONFIG_UML),
    CONFIG_SMP,
    CONFIG_PREEMPT_COUNT,
    not(CONFIG_DEBUG_PREEMPT),
    not(CONFIG_TRACE_PREEMPT_TOGGLE),
    not(CONFIG_FRAME_POINTER)
)))]
mod arch {
    /// `get_cpu()`.
    #[inline(always)]
    pub(super) fn get_cpu() -> usize {
        // SAFETY: No preconditions; balanced by `put_cpu`.
        unsafe { crate::helpers::zonemm_get_cpu() as usize }
    }

    /// `put_cpu()`.
    #[inline(always)]
    pub(super) fn put_cpu() {
        // SAFETY: Balances `get_cpu` on this CPU.
        unsafe { crate::helpers::zonemm_put_cpu() }
    }
}

/// Preemption disabled on this CPU, from `get_cpu()` to `put_cpu()` on
/// drop. Also an RCU read-side critical section: `synchronize_rcu()` waits
/// for regions with preemption disabled.
pub(crate) struct CpuGuard {
    cpu: usize,
    /// Must be dropped on the CPU it was taken on.
    _not_send: PhantomData<*mut ()>,
}

impl CpuGuard {
    /// Disables preemption. Any context but NMI.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        // Balanced by `put_cpu` in `drop`.
        Self { cpu: arch::get_cpu(), _not_send: PhantomData }
    }

    /// This CPU's number.
    pub(crate) fn cpu(&self) -> usize {
        self.cpu
    }
}

impl Drop for CpuGuard {
    #[inline(always)]
    fn drop(&mut self) {
        // Balances the `get_cpu` of `new`, on the same CPU (the guard is
        // not `Send`).
        arch::put_cpu();
    }
}

/// This CPU's copy of a [`PerCpu`], held (`busy` set) until dropped.
///
/// # Invariants
///
/// `slot` is the slot of the CPU this runs on, whose preemption stays
/// disabled for `'g` (the [`CpuGuard`] borrowed); `busy` was clear and was
/// set by this holder, so no other user reaches `slot.data` while it lives.
pub(crate) struct LocalHeld<'g, T> {
    slot: &'g Slot<T>,
    /// Not `Send`: released on the CPU that took it.
    _cpu: PhantomData<&'g CpuGuard>,
}

impl<T> core::ops::Deref for LocalHeld<'_, T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: Exclusive while held (type invariant).
        unsafe { &*self.slot.data.get() }
    }
}

impl<T> core::ops::DerefMut for LocalHeld<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: Exclusive while held (type invariant), and `&mut self`
        // gives out one reference at a time.
        unsafe { &mut *self.slot.data.get() }
    }
}

impl<T> Drop for LocalHeld<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        // `data` settled before `busy` clears.
        compiler_fence(Ordering::SeqCst);
        self.slot.busy.set(false);
    }
}

/// One CPU's copy, on its own cache lines.
#[repr(align(64))]
struct Slot<T> {
    /// Set while a [`LocalHeld`] holds the slot.
    busy: LocalFlag,
    data: UnsafeCell<T>,
}

/// A `T` per possible CPU.
///
/// # Invariants
///
/// `slots` has one entry per possible CPU id. Slot `c`'s `data` is only
/// accessed on CPU `c` with preemption disabled and `busy` set (by a
/// [`LocalHeld`] from [`PerCpu::try_lock_in`]), or while CPU `c` is not
/// online by the one thread [`PerCpu::with_offline_cpu`] admits, which
/// makes the access exclusive: a task cannot
/// be preempted inside, and an interrupt on that CPU finds `busy` set and
/// stays out.
pub(crate) struct PerCpu<T> {
    slots: KVec<Slot<T>>,
}

// SAFETY: Each `T` is only reached on its own CPU, one user at a time (the
// type invariant); moving the whole set between threads moves the `T`s.
unsafe impl<T: Send> Send for PerCpu<T> {}

// SAFETY: As above: shared access to the set gives each CPU exclusive
// access to its own `T` only.
unsafe impl<T: Send> Sync for PerCpu<T> {}

impl<T> PerCpu<T> {
    /// A copy per possible CPU from `init(cpu)`.
    ///
    /// Must not be called from atomic context: it allocates.
    pub(crate) fn new(mut init: impl FnMut(usize) -> Result<T>) -> Result<Self> {
        let n = cpu::nr_cpu_ids() as usize;
        let mut slots = KVec::with_capacity(n, GFP_KERNEL)?;
        for c in 0..n {
            let slot = Slot { busy: LocalFlag(UnsafeCell::new(false)), data: UnsafeCell::new(init(c)?) };
            // INVARIANT: one slot per possible CPU id.
            slots.push(slot, GFP_KERNEL)?;
        }
        Ok(Self { slots })
    }

    /// Runs `f` on this CPU's copy with preemption disabled, unless an
    /// interrupted user on this CPU holds it: then returns `None` at once
    /// (`local_trylock()`). Any context but NMI; `f` must not sleep.
    #[inline]
    pub(crate) fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.try_with_cpu(|_, t| f(t))
    }

    /// [`PerCpu::try_with`], telling `f` the CPU's number too.
    #[inline]
    pub(crate) fn try_with_cpu<R>(&self, f: impl FnOnce(usize, &mut T) -> R) -> Option<R> {
        let guard = CpuGuard::new();
        self.try_with_in(&guard, |t| f(guard.cpu(), t))
    }

    /// [`PerCpu::try_with`] with preemption already disabled by `guard`.
    #[inline(always)]
    pub(crate) fn try_with_in<R>(&self, guard: &CpuGuard, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mut held = self.try_lock_in(guard)?;
        Some(f(&mut held))
    }

    /// `local_trylock()`: this CPU's copy, held until the returned guard
    /// drops, unless an interrupted user on this CPU holds it. With
    /// preemption disabled by `guard`; the copy is used inline, with no
    /// call (the hit paths). Any context but NMI; must not sleep while held.
    #[inline(always)]
    pub(crate) fn try_lock_in<'g>(&'g self, guard: &'g CpuGuard) -> Option<LocalHeld<'g, T>> {
        // SAFETY: `guard.cpu()` is `smp_processor_id()`, below
        // `nr_cpu_ids`, the number of slots (type invariant).
        let slot = unsafe { self.slots.get_unchecked(guard.cpu()) };
        if slot.busy.get() {
            return None;
        }
        slot.busy.set(true);
        // An interrupt on this CPU sees `busy` before any access to
        // `data`.
        compiler_fence(Ordering::SeqCst);
        // INVARIANT: this CPU's slot, preemption off for `'g`, `busy` set
        // by us.
        Some(LocalHeld { slot, _cpu: PhantomData })
    }

    /// Runs `f(cpu, copy)` on every CPU's copy: an online CPU's on that
    /// CPU, one CPU after another, an offline one's from here, with CPU
    /// hotplug held off (`cpus_read_lock()`) and any other caller waited
    /// for. `f` runs with preemption disabled and must not sleep. Sleeps:
    /// process context only, not holding `cpus_read_lock()`.
    pub(crate) fn on_each_cpu<F: Fn(usize, &mut T) + Sync>(&self, f: F)
    where
        T: Send,
    {
        self.run_on_each_cpu(f, false);
    }

    /// [`PerCpu::on_each_cpu`], but `f` runs from an interrupt on each
    /// online CPU (the irq_work of [`each_cpu_from_alloc`]'s first arm),
    /// which does not wait for the CPU's running task to yield; a CPU
    /// whose interrupted code holds its copy gets a kworker's run instead.
    /// `f` must do only what an interrupt handler may (no sleeping,
    /// interrupt-safe locks). Sleeps: process context with interrupts on,
    /// not holding `cpus_read_lock()`.
    pub(crate) fn on_each_cpu_irq<F: Fn(usize, &mut T) + Sync>(&self, f: F)
    where
        T: Send,
    {
        self.run_on_each_cpu(f, true);
    }

    fn run_on_each_cpu<F: Fn(usize, &mut T) + Sync>(&self, f: F, irq: bool)
    where
        T: Send,
    {
        each_cpu(
            |cpu, online| {
                let done = if online {
                    // In a kworker bound to this CPU, a task: nothing on
                    // this CPU holds the slot (holders neither sleep nor
                    // get preempted), so the trylock succeeds. From the
                    // interrupt it fails if the interrupted code holds the
                    // slot: the CPU then gets the kworker.
                    self.try_with_cpu(|cpu, t| f(cpu, t))
                } else {
                    // SAFETY: `each_cpu`'s offline arm: the conditions of
                    // `with_offline_cpu` hold.
                    unsafe { self.with_offline_cpu(cpu, |t| f(cpu, t)) }
                };
                done.is_some()
            },
            false,
            irq,
        );
    }

    /// The sum of `f` over every online CPU's copy, each read on its CPU.
    /// Sleeps.
    pub(crate) fn sum(&self, f: impl Fn(&T) -> u64 + Sync) -> u64
    where
        T: Send,
    {
        let total = Atomic::new(0u64);
        // The CPUs run one after another (each `work_on_cpu()` is waited
        // for), so a load and a store add up without a race.
        self.on_each_cpu(|_, t| total.store(total.load(Relaxed) + f(t), Relaxed));
        total.load(Relaxed)
    }

    /// Runs `f` on the copy of `cpu`, which is not online, from another
    /// CPU, with preemption disabled (`f` must not sleep); `None` if its
    /// slot was left held (a CPU cannot go down inside a hit path, so not
    /// expected) or `cpu` is no possible CPU.
    ///
    /// # Safety
    ///
    /// `cpu` is not online and cannot come online until this returns, and
    /// no other thread reaches its copy meanwhile: the caller is the
    /// CPU-dead callback or the offline arm of [`PerCpu::on_each_cpu`],
    /// both under `helpers.c`'s per-CPU mutex with CPU hotplug held off.
    pub(crate) unsafe fn with_offline_cpu<R>(&self, cpu: usize, f: impl FnOnce(&mut T) -> R) -> Option<R>
    where
        T: Send,
    {
        let slot = self.slots.get(cpu)?;
        if slot.busy.get() {
            return None;
        }
        // Preemption off as on the online arm: `f` runs under the same
        // rules (no sleeping), and is an RCU reader as the users' lookups
        // expect.
        let _guard = CpuGuard::new();
        // SAFETY: Nothing runs on `cpu` and no other thread reaches its
        // slot (the caller's guarantee), so this is the only access.
        Some(f(unsafe { &mut *slot.data.get() }))
    }

    /// Number of possible CPU ids (slots).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Runs `f(cpu, online)` once for every possible CPU: an online one's in
/// a kworker bound to it (`online`: `f` reaches that CPU's copy of any
/// [`PerCpu`] through its `try_with`), an offline one's from here, where `f`
/// may use [`PerCpu::with_offline_cpu`] (its conditions hold: CPU hotplug
/// held off, under `helpers.c`'s per-CPU mutex that the CPU-dead callback
/// and every other run take too). `f` returns whether it could do its
/// part; a warning says if some CPU's could not. One work per CPU for any
/// number of [`PerCpu`]s, as `drain_all_pages(NULL)` drains every zone of
/// a CPU in one. With `alloc`, the allocator's slow path, whose caller may
/// hold `cpus_read_lock()`: CPU hotplug is only tried for, and while one
/// is in progress offline CPUs are skipped (one going down is served by
/// the CPU-dead callback) and a CPU half up or down may be missed. Sleeps.
fn each_cpu<F: Fn(usize, bool) -> bool + Sync>(f: F, alloc: bool, ipi: bool) {
    unsafe extern "C" fn off<F: Fn(usize, bool) -> bool + Sync>(arg: *mut c_void, cpu: c_uint) -> c_long {
        // SAFETY: `arg` is the `F` below, alive until the call returns.
        let f = unsafe { &*arg.cast::<F>() };
        if f(cpu as usize, false) {
            0
        } else {
            EBUSY.to_errno() as c_long
        }
    }
    unsafe extern "C" fn run<F: Fn(usize, bool) -> bool + Sync>(arg: *mut c_void) -> c_long {
        // SAFETY: As in `off`; `F: Sync`, so sharing it with the kworker
        // (or the CPUs running their irq_work at once) is fine.
        let f = unsafe { &*arg.cast::<F>() };
        // In a kworker bound to its CPU, or the CPU's irq_work: the number
        // stays true.
        let cpu = CpuGuard::new().cpu();
        if f(cpu, true) {
            0
        } else {
            EBUSY.to_errno() as c_long
        }
    }
    let ipi = if ipi { Some(run::<F> as unsafe extern "C" fn(*mut c_void) -> c_long) } else { None };
    // SAFETY: `run` and `off` only use `f` through `arg`, which lives until
    // the call returns; the call waits for every CPU (and every irq_work).
    let ret = unsafe { zonemm_work_on_each_cpu(run::<F>, off::<F>, ipi, (&raw const f).cast_mut().cast(), alloc) };
    if ret != 0 {
        pr_warn!("per-CPU work failed on some CPU: {ret}\n");
    }
}

/// [`each_cpu`] for the allocator's slow path (`drain_all_pages()`),
/// `f(cpu, online)` doing its part on every CPU: first from an interrupt
/// on every online CPU (an IPI queues the CPU's irq_work, `helpers.c`),
/// where `f` returns `false` if the interrupted code held what it needs
/// (the trylock of [`PerCpu::try_with`]); such a CPU gets a kworker's run
/// of `f` instead, whose trylock succeeds. An interrupt does not wait for
/// the CPU's running task to yield, as a work does. Sleeps: the caller's
/// interrupts must be on.
pub(crate) fn each_cpu_from_alloc<F: Fn(usize, bool) -> bool + Sync>(f: F) {
    each_cpu(f, true, true);
}
