// SPDX-License-Identifier: GPL-2.0

//! `/dev/zonemm`: user-space memory from the pool. `mmap(2)` of the device
//! gives pages faulted in from the pool as `mm/shmem.c` gives a shared
//! mapping its pages; the ioctls are `madvise(MADV_MERGEABLE)`'s
//! (`ksm_madvise()` in `mm/ksm.c`) and `/proc/<pid>/ksm_stat`'s
//! (`proc_pid_ksm_stat()` in `fs/proc/base.c`) for these mappings. The
//! user-visible contract is `include/uapi/zonemm.h`; the C side (the misc
//! device and the VMA operations) is `dev.c`.
//!
//! Bad input (a mapping or range the caller may not have, a malformed
//! argument) is refused with `EINVAL` and one line in the kernel log,
//! before anything changes. Unknown ioctl numbers get `ENOTTY`, as
//! everywhere in the kernel.
//!
//! Locking: `dev.c` holds the caller's `mmap_lock` (read) around the
//! range and VMA walks; under it, one area's slots mutex at a time.

mod area;
mod tests;

use core::ffi::c_void;

use kernel::{
    ioctl::{
        _IOR,
        _IOW, //
    },
    prelude::*,
    sync::{
        Arc,
        ArcBorrow, //
    },
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    buddy::Pool,
    helpers::{
        self,
        DevOps, //
    },
    once::OnceWord,
    pfn::PAGE_SIZE,
};

pub(crate) use area::totals;
use area::{
    Area,
    Counts, //
};

/// `struct zonemm_range`.
#[repr(C)]
#[derive(Default)]
struct Range {
    start: u64,
    len: u64,
}

// SAFETY: Two `u64`s: no padding, any bit pattern is valid.
unsafe impl FromBytes for Range {}

/// `struct zonemm_stat`.
#[repr(C)]
#[derive(Default)]
struct Stat {
    mappings: u64,
    mapped_pages: u64,
    mergeable_pages: u64,
}

// SAFETY: Three `u64`s: no padding, every byte initialised.
unsafe impl AsBytes for Stat {}

/// `ZONEMM_IOC_MAGIC`.
const MAGIC: u32 = 0xBB;
/// `ZONEMM_IOC_MERGEABLE`.
const IOC_MERGEABLE: u32 = _IOW::<Range>(MAGIC, 1);
/// `ZONEMM_IOC_UNMERGEABLE`.
const IOC_UNMERGEABLE: u32 = _IOW::<Range>(MAGIC, 2);
/// `ZONEMM_IOC_STAT`.
const IOC_STAT: u32 = _IOR::<Stat>(MAGIC, 3);

/// The pool the device's callbacks allocate from (a `&'static Pool`).
static DEV_POOL: OnceWord = OnceWord::new(0);

fn pool() -> &'static Pool {
    // SAFETY: Stored by `Device::new` before the device was registered,
    // and the pool outlives the device and every file of it (the files
    // hold the module, which drops the pool last).
    unsafe { &*(DEV_POOL.load_acquire() as *const Pool) }
}

/// Logs why an argument was refused (rate-limited: `dev_mode` may open
/// the device to any user); `EINVAL`. Any context.
fn refuse(what: &str, reason: &str) -> Error {
    // SAFETY: Callable from any context.
    if unsafe { helpers::zonemm_dev_report_ratelimit() } {
        pr_warn!("/dev/zonemm: {what}: {reason}\n");
    }
    EINVAL
}

/// The registered `/dev/zonemm`, removed on drop.
///
/// # Invariants
///
/// The device is registered, and `DEV_POOL` holds a pool that outlives
/// it and every file of it.
pub(crate) struct Device;

impl Device {
    /// Registers the device with permissions `mode` (the caller checked
    /// it is at most `0o777`), its mappings backed by `pool`. Sleeps.
    pub(crate) fn new(pool: &'static Pool, mode: u32) -> Result<Self> {
        DEV_POOL.store_release(core::ptr::from_ref(pool) as usize);
        // SAFETY: `OPS` is static; its callbacks' pool is published.
        kernel::error::to_result(unsafe { helpers::zonemm_dev_register(&OPS, mode) })?;
        // INVARIANT: registered, and the caller keeps `pool` alive.
        Ok(Self)
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: Registered by `new`.
        unsafe { helpers::zonemm_dev_deregister() };
    }
}

static OPS: DevOps = DevOps { mmap, get, put, fault, ioctl };

/// `->mmap`: a new area for a shared mapping of `nr_pages` at file page
/// `pgoff`. Called with the caller's `mmap_lock` held for writing; sleeps.
///
/// # Safety
///
/// `out` is valid for a write.
unsafe extern "C" fn mmap(pgoff: c_ulong, nr_pages: c_ulong, shared: bool, exec: bool, out: *mut *mut c_void) -> c_int {
    let what = "mmap";
    let area = if !shared {
        Err(refuse(what, "MAP_PRIVATE: only MAP_SHARED mappings"))
    } else if exec {
        Err(refuse(what, "PROT_EXEC"))
    } else if pgoff != 0 {
        Err(refuse(what, "offset is not 0"))
    } else if nr_pages as usize > pool().managed() {
        // CAST: `c_ulong` is `usize` on every 64-bit kernel zonemm builds on.
        Err(refuse(what, "longer than the pool"))
    } else {
        Area::new(pool(), nr_pages as usize)
    };
    match area {
        Ok(area) => {
            // SAFETY: `dev.c` passes a valid pointer to store the area in.
            unsafe { *out = Arc::into_raw(area).cast_mut().cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `vm_ops->open`: another VMA (a split, a `fork` copy, an `mremap` move)
/// holds `area`. Any context the core calls it in (it only counts).
///
/// # Safety
///
/// `area` is the `vm_private_data` of a live VMA of ours.
unsafe extern "C" fn get(area: *mut c_void) {
    // SAFETY: `area` is a VMA's `vm_private_data`, an `Arc<Area>` from
    // `mmap` that the VMA being copied holds.
    let borrowed = unsafe { ArcBorrow::<Area<'static>>::from_raw(area.cast()) };
    let held: Arc<Area<'static>> = borrowed.into();
    // The new VMA's reference, dropped by its `put`.
    let _ = Arc::into_raw(held);
}

/// `vm_ops->close`: a VMA that held `area` is gone. The last gives every
/// page back to the pool. Process context; takes the pool's locks.
///
/// # Safety
///
/// `area` is the closing VMA's reference, never used again.
unsafe extern "C" fn put(area: *mut c_void) {
    // SAFETY: `area` is the closing VMA's reference, from `mmap` or `get`;
    // the VMA never uses it again.
    drop(unsafe { Arc::<Area<'static>>::from_raw(area.cast()) });
}

/// `vm_ops->fault`: the frame of file page `pgoff`. Fault context;
/// sleeps (allocates).
///
/// # Safety
///
/// `area` is the faulting VMA's, and `pfn` valid for a write.
unsafe extern "C" fn fault(area: *mut c_void, pgoff: c_ulong, pfn: *mut c_ulong) -> c_long {
    // SAFETY: The faulting VMA holds `area` for the whole fault.
    let area = unsafe { ArcBorrow::<Area<'static>>::from_raw(area.cast()) };
    // CAST: `c_ulong` is `usize` (64-bit kernels only), both ways.
    match area.fault(pgoff as usize) {
        Ok(p) => {
            // SAFETY: `dev.c` passes a valid pointer.
            unsafe { *pfn = p.0 as c_ulong };
            0
        }
        Err(e) => e.to_errno() as c_long,
    }
}

/// `->unlocked_ioctl`. Process context; sleeps.
///
/// # Safety
///
/// Called by `dev.c` for the current task's ioctl only.
unsafe extern "C" fn ioctl(cmd: c_uint, arg: c_ulong) -> c_long {
    let ret = match cmd {
        IOC_MERGEABLE => madvise("ZONEMM_IOC_MERGEABLE", arg as usize, true),
        IOC_UNMERGEABLE => madvise("ZONEMM_IOC_UNMERGEABLE", arg as usize, false),
        IOC_STAT => stat(arg as usize),
        _ => Err(ENOTTY),
    };
    match ret {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

/// `ZONEMM_IOC_(UN)MERGEABLE`: marks a range of one of the caller's
/// mappings, as `madvise()` marks VMAs `VM_MERGEABLE`. The mark is on the
/// pages, so every process sharing them (after `fork`) sees it. Process
/// context; sleeps (the caller's `mmap_lock`, the area's mutex).
fn madvise(what: &str, arg: usize, mergeable: bool) -> Result {
    let r: Range = UserSlice::new(UserPtr::from_addr(arg), size_of::<Range>()).reader().read()?;
    let page = PAGE_SIZE as u64;
    if r.start % page != 0 {
        return Err(refuse(what, "start is not page-aligned"));
    }
    if r.len == 0 || r.len % page != 0 {
        return Err(refuse(what, "len is 0 or not a multiple of the page size"));
    }
    let (Ok(start), Ok(len)) = (usize::try_from(r.start), usize::try_from(r.len)) else {
        return Err(refuse(what, "start + len overflows"));
    };
    if start.checked_add(len).is_none() {
        return Err(refuse(what, "start + len overflows"));
    }
    /// # Safety
    ///
    /// `arg` is a `bool`; `area` a VMA's, held under the `mmap_lock`.
    unsafe extern "C" fn mark(arg: *mut c_void, area: *mut c_void, pgoff: c_ulong, nr: c_ulong) -> c_long {
        // SAFETY: `arg` is `madvise`'s `bool`, alive for the call.
        let mergeable = unsafe { *arg.cast::<bool>() };
        // SAFETY: A VMA of the caller's holds `area`, and `dev.c` holds
        // the `mmap_lock` that keeps the VMA.
        let area = unsafe { ArcBorrow::<Area<'static>>::from_raw(area.cast()) };
        match area.set_mergeable(pgoff as usize, nr as usize, mergeable) {
            Ok(()) => 0,
            Err(e) => e.to_errno() as c_long,
        }
    }
    let mut mergeable = mergeable;
    // SAFETY: `mark` reads `mergeable` only during the call.
    let ret = unsafe {
        helpers::zonemm_dev_with_range(start as c_ulong, len as c_ulong, mark, (&raw mut mergeable).cast())
    };
    if ret != 0 {
        return Err(refuse(what, "not a range inside one /dev/zonemm mapping of this process"));
    }
    Ok(())
}

/// `ZONEMM_IOC_STAT`: the caller's figures, over its mappings. Process
/// context; sleeps (as `madvise`).
fn stat(arg: usize) -> Result {
    struct Sum {
        vmas: u64,
        counts: Counts,
    }
    /// # Safety
    ///
    /// `arg` is a `Sum`; `area` a VMA's, held under the `mmap_lock`.
    unsafe extern "C" fn add(arg: *mut c_void, area: *mut c_void, pgoff: c_ulong, nr: c_ulong) {
        // SAFETY: `arg` is `stat`'s `Sum`, alive and unshared for the call.
        let sum = unsafe { &mut *arg.cast::<Sum>() };
        // SAFETY: As in `madvise`: a VMA held under the `mmap_lock`.
        let area = unsafe { ArcBorrow::<Area<'static>>::from_raw(area.cast()) };
        sum.vmas += 1;
        area.count(pgoff as usize, nr as usize, &mut sum.counts);
    }
    let mut sum = Sum { vmas: 0, counts: Counts::default() };
    // SAFETY: `add` uses `sum` only during the call.
    unsafe { helpers::zonemm_dev_for_each_vma(add, (&raw mut sum).cast()) };
    let s = Stat { mappings: sum.vmas, mapped_pages: sum.counts.mapped, mergeable_pages: sum.counts.mergeable };
    UserSlice::new(UserPtr::from_addr(arg), size_of::<Stat>()).writer().write(&s)
}
