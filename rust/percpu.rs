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
//! writes `acquired` with `this_cpu` operations. Nothing here calls out of
//! line but `get_cpu()`/`put_cpu()`.
//!
//! Another CPU's copy is reached only by running on that CPU
//! ([`PerCpu::on_each_cpu`]: work on zonemm's `WQ_MEM_RECLAIM` per-CPU
//! workqueue, one CPU after another), which sleeps. (The kernel's
//! `drain_all_pages()` drains remote CPUs' lists under their `pcp->lock`
//! instead; here no CPU but the owner ever touches its lists, which is
//! what keeps the hit path free of any lock.) CPUs that go offline keep
//! what their copy holds until they come back: there is no hotplug
//! callback yet.

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
        // SAFETY: Only this slot's CPU touches the flag (the `PerCpu`
        // invariant), and an interrupt on it runs to completion before the
        // code it interrupted goes on: no access overlaps another.
        unsafe { self.0.get().read_volatile() }
    }

    #[inline(always)]
    fn set(&self, v: bool) {
        // SAFETY: As in `get`.
        unsafe { self.0.get().write_volatile(v) }
    }
}

use crate::helpers::{
    zonemm_get_cpu,
    zonemm_put_cpu,
    zonemm_work_on_each_cpu,
};

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
        // SAFETY: No preconditions; balanced by `zonemm_put_cpu` in `drop`.
        let cpu = unsafe { zonemm_get_cpu() } as usize;
        Self { cpu, _not_send: PhantomData }
    }

    /// This CPU's number.
    pub(crate) fn cpu(&self) -> usize {
        self.cpu
    }
}

impl Drop for CpuGuard {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: Balances the `zonemm_get_cpu` of `new`, on the same CPU
        // (the guard is not `Send`).
        unsafe { zonemm_put_cpu() };
    }
}

/// One CPU's copy, on its own cache lines.
#[repr(align(64))]
struct Slot<T> {
    /// Set while the CPU is inside [`PerCpu::try_with`].
    busy: LocalFlag,
    data: UnsafeCell<T>,
}

/// A `T` per possible CPU.
///
/// # Invariants
///
/// `slots` has one entry per possible CPU id. Slot `c`'s `data` is only
/// accessed on CPU `c` with preemption disabled and `busy` set (by
/// [`PerCpu::try_with`]), which makes the access exclusive: a task cannot
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
        match self.slots.get(guard.cpu()) {
            Some(slot) if !slot.busy.get() => {
                slot.busy.set(true);
                // An interrupt on this CPU sees `busy` before any access
                // to `data`, and `data` settled before `busy` clears.
                compiler_fence(Ordering::SeqCst);
                // SAFETY: This CPU's slot, preemption disabled (by the
                // guard, alive while we run), `busy` set by us: no other user
                // reaches `data` until we clear it (type invariant).
                let r = f(unsafe { &mut *slot.data.get() });
                compiler_fence(Ordering::SeqCst);
                slot.busy.set(false);
                Some(r)
            }
            _ => None,
        }
    }

    /// Runs `f(cpu, copy)` on every online CPU's copy, on that CPU, one
    /// CPU after another, waiting for any other caller first. Sleeps:
    /// process context only.
    pub(crate) fn on_each_cpu<F: Fn(usize, &mut T) + Sync>(&self, f: F)
    where
        T: Send,
    {
        self.run_on_each_cpu(f, false);
    }

    /// [`PerCpu::on_each_cpu`], unless another caller is running one: then
    /// returns `false` at once (a drain in flight serves this caller too,
    /// as `pcpu_drain_mutex` makes it in the kernel). Sleeps.
    pub(crate) fn try_on_each_cpu<F: Fn(usize, &mut T) + Sync>(&self, f: F) -> bool
    where
        T: Send,
    {
        self.run_on_each_cpu(f, true)
    }

    fn run_on_each_cpu<F: Fn(usize, &mut T) + Sync>(&self, f: F, try_: bool) -> bool
    where
        T: Send,
    {
        struct Job<'a, T, F> {
            percpu: &'a PerCpu<T>,
            f: F,
        }
        unsafe extern "C" fn run<T, F: Fn(usize, &mut T) + Sync>(arg: *mut c_void) -> c_long {
            // SAFETY: `arg` is the `Job` below, alive until every CPU's
            // run returns; `F: Sync`, so sharing it with the kworker is fine.
            let job = unsafe { &*arg.cast::<Job<'_, T, F>>() };
            // In a kworker bound to this CPU, a task: nothing on this CPU
            // holds the slot (holders neither sleep nor get preempted), so
            // the trylock succeeds.
            match job.percpu.try_with_cpu(|cpu, t| (job.f)(cpu, t)) {
                Some(()) => 0,
                None => EBUSY.to_errno() as c_long,
            }
        }
        let job = Job { percpu: self, f };
        // SAFETY: `run` only uses `job` through `arg`, which lives until
        // the call returns; the call waits for every CPU.
        let ret = unsafe { zonemm_work_on_each_cpu(run::<T, F>, (&raw const job).cast_mut().cast(), try_) };
        if try_ && ret == EBUSY.to_errno() as c_long {
            return false;
        }
        if ret != 0 {
            pr_warn!("per-CPU work failed on some CPU: {ret}\n");
        }
        true
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

    /// Number of possible CPU ids (slots).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}
