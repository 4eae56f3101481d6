// SPDX-License-Identifier: GPL-2.0

//! What differs between the kernel crates of the releases zonemm builds on
//! (7.2 and 7.3), in one place: the rest of the module uses these names
//! whatever the release. `Kbuild` sets the cfg `zonemm_before_7_3` from the
//! kernel's version.
//!
//! - 7.3's `SpinLockIrq` (a spinlock that disables interrupts) is, on 7.2,
//!   a lock backend of our own over `spin_lock_irqsave()`.
//! - 7.3's `Srcu` is, on 7.2, the same wrapper over `struct srcu_struct`.
//! - 7.3's `rcu::synchronize_rcu()` is, on 7.2, `synchronize_rcu()` itself.
//! - A module parameter's `value()` returns it by value on 7.3, by
//!   reference on 7.2: [`param`] takes either.
//! - 7.3's `barrier::smp_mb(Full)` is 7.2's `barrier::smp_mb()`:
//!   [`smp_mb`].

#[cfg(not(zonemm_before_7_3))]
pub(crate) use kernel::{
    new_spinlock_irq,
    new_srcu,
    sync::{
        rcu::synchronize_rcu,
        SpinLockIrq,
        SpinLockIrqGuard,
        Srcu, //
    },
};

/// `smp_mb()`: a full barrier between CPUs.
#[cfg(not(zonemm_before_7_3))]
#[inline(always)]
pub(crate) fn smp_mb() {
    kernel::sync::barrier::smp_mb(kernel::sync::barrier::Full);
}

#[cfg(zonemm_before_7_3)]
pub(crate) use kernel::sync::barrier::smp_mb;

/// A module parameter's value, from what its `value()` returns.
#[cfg(not(zonemm_before_7_3))]
pub(crate) fn param<T: Copy>(value: T) -> T {
    value
}

/// A module parameter's value, from what its `value()` returns.
#[cfg(zonemm_before_7_3)]
pub(crate) fn param<T: Copy>(value: &T) -> T {
    *value
}

#[cfg(zonemm_before_7_3)]
pub(crate) use before_7_3::*;

#[cfg(zonemm_before_7_3)]
mod before_7_3 {
    use kernel::{
        bindings,
        error::to_result,
        ffi::{
            c_int,
            c_ulong, //
        },
        prelude::*,
        sync::{
            lock::{
                Backend,
                Guard,
                Lock, //
            },
            LockClassKey,
        },
        types::{
            NotThreadSafe,
            Opaque, //
        },
    };

    // C shims in compat_helpers.c: these are static inlines or macros.
    // Only pointers to `srcu_struct` and `lock_class_key` cross (bindgen
    // leaves their lockdep members empty without lockdep).
    #[allow(improper_ctypes)]
    extern "C" {
        fn zonemm_compat_spin_lock_irqsave(lock: *mut bindings::spinlock_t) -> c_ulong;
        fn zonemm_compat_spin_trylock_irqsave(
            lock: *mut bindings::spinlock_t,
            flags: *mut c_ulong,
        ) -> bool;
        fn zonemm_compat_spin_unlock_irqrestore(lock: *mut bindings::spinlock_t, flags: c_ulong);
        fn zonemm_compat_init_srcu(
            ssp: *mut bindings::srcu_struct,
            name: *const c_char,
            key: *mut bindings::lock_class_key,
        ) -> c_int;
        fn zonemm_compat_srcu_read_lock(ssp: *mut bindings::srcu_struct) -> c_int;
        fn zonemm_compat_srcu_read_unlock(ssp: *mut bindings::srcu_struct, idx: c_int);
    }

    /// `synchronize_rcu()`.
    pub(crate) fn synchronize_rcu() {
        // SAFETY: Callable from any sleepable context, as our callers are.
        unsafe { bindings::synchronize_rcu() };
    }

    /// The backend of [`SpinLockIrq`]: `spin_lock_irqsave()`, the saved
    /// flags kept in the guard.
    pub(crate) struct IrqSaveBackend;

    /// A spinlock that disables interrupts while held.
    pub(crate) type SpinLockIrq<T> = Lock<T, IrqSaveBackend>;

    /// The guard of a locked [`SpinLockIrq`].
    pub(crate) type SpinLockIrqGuard<'a, T> = Guard<'a, T, IrqSaveBackend>;

    // SAFETY: `spinlock_t` ensures mutual exclusion; the flags saved at lock
    // time are restored at unlock; `relock` is the default (lock again).
    unsafe impl Backend for IrqSaveBackend {
        type State = bindings::spinlock_t;
        type GuardState = c_ulong;

        unsafe fn init(
            ptr: *mut Self::State,
            name: *const c_char,
            key: *mut bindings::lock_class_key,
        ) {
            // SAFETY: `ptr` is valid for writes, `name` and `key` for reads
            // indefinitely (the trait's requirements).
            unsafe { bindings::__spin_lock_init(ptr, name, key) }
        }

        unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
            // SAFETY: `ptr` is valid and initialised (the trait's requirements).
            unsafe { zonemm_compat_spin_lock_irqsave(ptr) }
        }

        unsafe fn try_lock(ptr: *mut Self::State) -> Option<Self::GuardState> {
            let mut flags = 0;
            // SAFETY: `ptr` is valid and initialised; `flags` is ours.
            unsafe { zonemm_compat_spin_trylock_irqsave(ptr, &mut flags) }.then_some(flags)
        }

        unsafe fn unlock(ptr: *mut Self::State, flags: &Self::GuardState) {
            // SAFETY: The caller holds the lock, taken with these flags.
            unsafe { zonemm_compat_spin_unlock_irqrestore(ptr, *flags) }
        }

        unsafe fn assert_is_held(ptr: *mut Self::State) {
            // SAFETY: `ptr` is valid and initialised.
            unsafe { bindings::spin_assert_is_held(ptr) }
        }
    }

    /// A [`SpinLockIrq`] initialiser, as 7.3's `kernel::new_spinlock_irq!`.
    macro_rules! new_spinlock_irq {
        ($inner:expr $(, $name:literal)? $(,)?) => {
            kernel::sync::lock::Lock::<_, $crate::compat::IrqSaveBackend>::new(
                $inner, kernel::optional_name!($($name)?), kernel::static_lock_class!())
        };
    }
    pub(crate) use new_spinlock_irq;

    /// An [`Srcu`] initialiser, as 7.3's `kernel::new_srcu!`.
    macro_rules! new_srcu {
        ($($name:literal)?) => {
            $crate::compat::Srcu::new(kernel::optional_name!($($name)?), kernel::static_lock_class!())
        };
    }
    pub(crate) use new_srcu;

    /// Sleepable RCU, as 7.3's `kernel::sync::Srcu`.
    ///
    /// # Invariants
    ///
    /// `inner` is a `struct srcu_struct` initialised by `init_srcu_struct()`,
    /// pinned and valid until the pinned destructor runs.
    #[pin_data(PinnedDrop)]
    pub(crate) struct Srcu {
        #[pin]
        inner: Opaque<bindings::srcu_struct>,
    }

    impl Srcu {
        /// A new SRCU domain.
        pub(crate) fn new(
            name: &'static CStr,
            key: Pin<&'static LockClassKey>,
        ) -> impl PinInit<Self, Error> {
            try_pin_init!(Self {
                inner <- Opaque::try_ffi_init(|ptr: *mut bindings::srcu_struct| {
                    // SAFETY: `ptr` is valid uninitialised memory for a
                    // `srcu_struct`; `name` and `key` live forever.
                    to_result(unsafe { zonemm_compat_init_srcu(ptr, name.as_char_ptr(), key.as_ptr()) })
                }),
            })
        }

        /// Enters a read-side critical section, left when the guard drops.
        pub(crate) fn read_lock(&self) -> SrcuGuard<'_> {
            // SAFETY: `inner` is a valid `srcu_struct` (type invariant).
            let idx = unsafe { zonemm_compat_srcu_read_lock(self.inner.get()) };
            SrcuGuard {
                srcu: self,
                idx,
                _not_send: NotThreadSafe,
            }
        }

        /// Waits until all pre-existing readers have left.
        pub(crate) fn synchronize(&self) {
            // SAFETY: `inner` is a valid `srcu_struct` (type invariant).
            unsafe { bindings::synchronize_srcu(self.inner.get()) };
        }
    }

    #[pinned_drop]
    impl PinnedDrop for Srcu {
        fn drop(self: Pin<&mut Self>) {
            let ptr = self.inner.get();
            // SAFETY: `inner` is a valid, pinned `srcu_struct` (type
            // invariant); no guard outlives `self`; callbacks end first.
            unsafe {
                bindings::srcu_barrier(ptr);
                bindings::cleanup_srcu_struct(ptr);
            }
        }
    }

    // SAFETY: A `srcu_struct` may be shared and used from any thread.
    unsafe impl Send for Srcu {}
    // SAFETY: A `srcu_struct` may be used concurrently.
    unsafe impl Sync for Srcu {}

    /// An SRCU read-side critical section, left on drop.
    pub(crate) struct SrcuGuard<'a> {
        srcu: &'a Srcu,
        idx: c_int,
        _not_send: NotThreadSafe,
    }

    impl Drop for SrcuGuard<'_> {
        fn drop(&mut self) {
            // SAFETY: `idx` came from `srcu_read_lock()` on this domain.
            unsafe { zonemm_compat_srcu_read_unlock(self.srcu.inner.get(), self.idx) };
        }
    }
}
