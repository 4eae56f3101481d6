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
    fmt,
    fs::File,
    ioctl::{
        _IOR,
        _IOW, //
    },
    prelude::*,
    sync::{
        aref::ARef,
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
    helpers::{
        self,
        DevOps, //
    },
    once::OnceWord,
    pfn::PAGE_SIZE,
    region::{
        Regions,
        UserCounts, //
    },
};

pub(crate) use area::totals;
use area::Area;

/// Bytes the merger keeps per page it scanned (its slot), as
/// `ksm_process_profit` counts `sizeof(struct ksm_rmap_item)`.
fn rmap_item_size() -> u64 {
    // CAST: a slot's size fits a `u64`.
    crate::region::Region::user_slot_size() as u64
}

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
    rmap_items: u64,
    merging_pages: u64,
    process_profit: i64,
}

// SAFETY: Six 8-byte integers: no padding, every byte initialised.
unsafe impl AsBytes for Stat {}

/// `ZONEMM_IOC_MAGIC`.
const MAGIC: u32 = 0xBB;
/// `ZONEMM_IOC_MERGEABLE`.
const IOC_MERGEABLE: u32 = _IOW::<Range>(MAGIC, 1);
/// `ZONEMM_IOC_UNMERGEABLE`.
const IOC_UNMERGEABLE: u32 = _IOW::<Range>(MAGIC, 2);
/// `ZONEMM_IOC_STAT`.
const IOC_STAT: u32 = _IOR::<Stat>(MAGIC, 3);

/// The regions the device's mappings are (a `&'static Regions`).
static DEV_REGIONS: OnceWord = OnceWord::new(0);

fn regions() -> &'static Regions<'static> {
    // SAFETY: Stored by `Device::new` before the device was registered,
    // and the regions outlive the device and every file of it (the files
    // hold the module, which drops the regions after the device).
    unsafe { &*(DEV_REGIONS.load_acquire() as *const Regions<'static>) }
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
/// The device is registered, and `DEV_REGIONS` holds regions that
/// outlive it and every file of it.
pub(crate) struct Device;

impl Device {
    /// Registers the device with permissions `mode` (the caller checked
    /// it is at most `0o777`), its mappings user regions of `regions`.
    /// Sleeps.
    pub(crate) fn new(regions: &'static Regions<'static>, mode: u32) -> Result<Self> {
        DEV_REGIONS.store_release(core::ptr::from_ref(regions) as usize);
        // SAFETY: `OPS` is static; its callbacks' regions are published.
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
/// `pgoff` of `file`; `*base` is the file page its VMAs start at. Called
/// with the caller's `mmap_lock` held for writing; sleeps.
///
/// # Safety
///
/// `file` is the file being mapped; `out` and `base` are valid for a
/// write.
unsafe extern "C" fn mmap(
    file: *mut kernel::bindings::file,
    pgoff: c_ulong,
    nr_pages: c_ulong,
    shared: bool,
    exec: bool,
    out: *mut *mut c_void,
    base: *mut c_ulong,
) -> c_int {
    let what = "mmap";
    let area = if !shared {
        Err(refuse(what, "MAP_PRIVATE: only MAP_SHARED mappings"))
    } else if exec {
        Err(refuse(what, "PROT_EXEC"))
    } else if pgoff != 0 {
        Err(refuse(what, "offset is not 0"))
    } else if nr_pages as usize > regions().pool().managed() {
        // CAST: `c_ulong` is `usize` on every 64-bit kernel zonemm builds on.
        Err(refuse(what, "longer than the pool"))
    } else {
        // SAFETY: `file` is the file being mapped, alive for the call;
        // the area takes a reference of its own.
        let file: ARef<File> = unsafe { File::from_raw_file(file) }.into();
        Area::new(regions(), file, nr_pages as usize)
    };
    match area {
        Ok(area) => {
            // SAFETY: `dev.c` passes valid pointers to store the base and
            // the area in.
            unsafe {
                *base = area.base() as c_ulong;
                *out = Arc::into_raw(area).cast_mut().cast();
            }
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
    // SAFETY: `area` is a VMA's `vm_private_data`, an `Arc<Area<'static, 'static>>` from
    // `mmap` that the VMA being copied holds.
    let borrowed = unsafe { ArcBorrow::<Area<'static, 'static>>::from_raw(area.cast()) };
    let held: Arc<Area<'static, 'static>> = borrowed.into();
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
    drop(unsafe { Arc::<Area<'static, 'static>>::from_raw(area.cast()) });
}

/// `vm_ops->fault` and `vm_ops->pfn_mkwrite` of file page `pgoff`: maps
/// the page (a private copy first if `write` finds it shared) under the
/// area's lock; the `vm_fault_t`, or `-errno`. Fault context; sleeps
/// (allocates).
///
/// # Safety
///
/// `area` is the faulting VMA's, `vmf` the fault's `struct vm_fault`.
unsafe extern "C" fn fault(area: *mut c_void, vmf: *mut c_void, pgoff: c_ulong, write: bool) -> c_long {
    // SAFETY: The faulting VMA holds `area` for the whole fault.
    let area = unsafe { ArcBorrow::<Area<'static, 'static>>::from_raw(area.cast()) };
    // CAST: `c_ulong` is `usize` (64-bit kernels only), both ways.
    let insert = |pte: crate::region::UserPte| {
        // SAFETY: `vmf` is the fault being handled, its VMA one of the
        // area's; called under the area's lock.
        unsafe { helpers::zonemm_dev_insert(vmf, pte.pfn.0 as c_ulong, pte.write) }
    };
    match area.fault(pgoff as usize, write, insert) {
        // CAST: a `vm_fault_t` is a small bit set.
        Ok(vm_fault) => vm_fault as c_long,
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
        let area = unsafe { ArcBorrow::<Area<'static, 'static>>::from_raw(area.cast()) };
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
    match ret {
        0 => Ok(()),
        // CAST: an errno from the walk or the mark.
        e if e == EINVAL.to_errno() as c_long => {
            Err(refuse(what, "not a range inside one /dev/zonemm mapping of this process"))
        }
        // Out of pages for the copies unmarking makes.
        e => Err(Error::from_errno(e as c_int)),
    }
}

/// `ZONEMM_IOC_STAT`: the caller's figures, over its mappings. Process
/// context; sleeps (as `madvise`).
fn stat(arg: usize) -> Result {
    struct Sum {
        vmas: u64,
        counts: UserCounts,
    }
    /// # Safety
    ///
    /// `arg` is a `Sum`; `area` a VMA's, held under the `mmap_lock`.
    unsafe extern "C" fn add(arg: *mut c_void, area: *mut c_void, pgoff: c_ulong, nr: c_ulong) {
        // SAFETY: `arg` is `stat`'s `Sum`, alive and unshared for the call.
        let sum = unsafe { &mut *arg.cast::<Sum>() };
        // SAFETY: As in `madvise`: a VMA held under the `mmap_lock`.
        let area = unsafe { ArcBorrow::<Area<'static, 'static>>::from_raw(area.cast()) };
        sum.vmas += 1;
        area.count(pgoff as usize, nr as usize, &mut sum.counts);
    }
    let mut sum = Sum { vmas: 0, counts: UserCounts::default() };
    // SAFETY: `add` uses `sum` only during the call.
    unsafe { helpers::zonemm_dev_for_each_vma(add, (&raw mut sum).cast()) };
    let s = Stat::new(sum.vmas, sum.counts);
    UserSlice::new(UserPtr::from_addr(arg), size_of::<Stat>()).writer().write(&s)
}

impl Stat {
    /// A process's figures: its `vmas` mappings' counts `c`.
    fn new(vmas: u64, c: UserCounts) -> Self {
        // `ksm_process_profit`: pages saved less the merger's metadata.
        // CAST: counts of pages and bytes far below `i64::MAX`.
        let profit = (c.merging * PAGE_SIZE as u64) as i64 - (c.rmap_items * rmap_item_size()) as i64;
        Self {
            mappings: vmas,
            mapped_pages: c.mapped,
            mergeable_pages: c.mergeable,
            rmap_items: c.rmap_items,
            merging_pages: c.merging,
            process_profit: profit,
        }
    }
}

/// `zonemm/dev/ksm_stat`: [`Stat`] of every process with a `/dev/zonemm`
/// mapping, a line each after a header, as `/proc/<pid>/ksm_stat` gives
/// one process's. Process context; sleeps (each process's `mmap_lock`).
pub(crate) fn show_ksm_stat(f: &mut fmt::Formatter<'_>) -> fmt::Result {
    struct Table<'f, 'g> {
        f: &'f mut fmt::Formatter<'g>,
        pid: c_int,
        comm: [u8; 16],
        vmas: u64,
        counts: UserCounts,
        result: fmt::Result,
    }
    impl Table<'_, '_> {
        fn flush(&mut self) {
            if self.vmas == 0 || self.result.is_err() {
                return;
            }
            let s = Stat::new(self.vmas, self.counts);
            let end = self.comm.iter().position(|&b| b == 0).unwrap_or(self.comm.len());
            let comm = core::str::from_utf8(&self.comm[..end]).unwrap_or("?");
            self.result = writeln!(
                self.f,
                "{:>7} {:<16} {:>8} {:>12} {:>15} {:>14} {:>17} {:>18}",
                self.pid,
                comm,
                s.mappings,
                s.mapped_pages,
                s.mergeable_pages,
                s.rmap_items,
                s.merging_pages,
                s.process_profit
            );
            self.vmas = 0;
            self.counts = UserCounts::default();
        }
    }
    /// # Safety
    ///
    /// `arg` is a `Table`; `comm` a C string; `area` a VMA's, held under
    /// that process's `mmap_lock`.
    unsafe extern "C" fn add(
        arg: *mut c_void,
        pid: c_int,
        comm: *const c_char,
        area: *mut c_void,
        pgoff: c_ulong,
        nr: c_ulong,
    ) {
        // SAFETY: `arg` is `show_ksm_stat`'s `Table`, alive and unshared
        // for the call.
        let t = unsafe { &mut *arg.cast::<Table<'_, '_>>() };
        if pid != t.pid {
            t.flush();
            t.pid = pid;
            t.comm = [0; 16];
            // SAFETY: `dev.c` passes a NUL-terminated `comm`.
            let name = unsafe { CStr::from_char_ptr(comm) }.to_bytes();
            let n = name.len().min(t.comm.len() - 1);
            t.comm[..n].copy_from_slice(&name[..n]);
        }
        // SAFETY: As in `stat`: a VMA held under its `mmap_lock`.
        let area = unsafe { ArcBorrow::<Area<'static, 'static>>::from_raw(area.cast()) };
        t.vmas += 1;
        area.count(pgoff as usize, nr as usize, &mut t.counts);
    }
    writeln!(
        f,
        "{:>7} {:<16} {:>8} {:>12} {:>15} {:>14} {:>17} {:>18}",
        "pid", "comm", "mappings", "mapped_pages", "mergeable_pages", "ksm_rmap_items", "ksm_merging_pages",
        "ksm_process_profit"
    )?;
    let mut t = Table { f, pid: 0, comm: [0; 16], vmas: 0, counts: UserCounts::default(), result: Ok(()) };
    // SAFETY: `add` uses `t` only during the call.
    unsafe { helpers::zonemm_dev_for_each_process(add, (&raw mut t).cast()) };
    t.flush();
    t.result
}
