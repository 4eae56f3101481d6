// SPDX-License-Identifier: GPL-2.0

//! Slab debugging: red zones, poison and the last allocating caller, and
//! the reports when they show damage.
//!
//! Mirrors `mm/slub.c`'s `init_object()`, `check_object()`,
//! `check_bytes_and_report()`, `set_track()` and `slab_err()`: a damaged
//! byte is reported once, with the cache, the object and the offset, the
//! pattern is put back, and the kernel goes on.

use core::panic::Location;

use kernel::{
    prelude::*,
    sync::atomic::Relaxed, //
};

use super::Cache;
use crate::slub::{
    find_bad_poison,
    find_not,
    poison,
    RED_ACTIVE,
    RED_INACTIVE, //
};

impl Cache<'_> {
    /// The left and right red zones of `obj`.
    fn red_zones(&self, obj: *mut u8) -> (&mut [u8], &mut [u8]) {
        let l = &self.layout;
        // SAFETY: With red zones on, the slot holds `object_offset` bytes
        // before the object and `red_right` after it; both are the
        // cache's own metadata, touched only by its allocator.
        unsafe {
            (
                core::slice::from_raw_parts_mut(obj.sub(l.object_offset), l.object_offset),
                core::slice::from_raw_parts_mut(obj.add(l.object_size), l.red_right),
            )
        }
    }

    /// The object's bytes.
    fn bytes(&self, obj: *mut u8) -> &mut [u8] {
        // SAFETY: `obj` is an object of this cache, `object_size` long,
        // and is free or being freed or allocated by us right now.
        unsafe { core::slice::from_raw_parts_mut(obj, self.layout.object_size) }
    }

    /// Where the last allocating caller of `obj` is kept.
    fn track(&self, obj: *mut u8) -> Option<*mut usize> {
        let t = self.layout.track_offset?;
        // SAFETY: The track word lies in the object's slot.
        Some(unsafe { obj.sub(self.layout.object_offset).add(t) }.cast())
    }

    /// Builds a new slab's object: red zones inactive, then the
    /// constructor, or the free poison.
    pub(super) fn init_object(&self, obj: *mut u8) {
        if self.debug.redzone {
            let (left, right) = self.red_zones(obj);
            left.fill(RED_INACTIVE);
            right.fill(RED_INACTIVE);
        }
        if let Some(ctor) = self.ctor {
            // SAFETY: `obj` is a new object of this cache, `object_size`
            // bytes, not yet handed to anyone.
            unsafe { ctor(obj, self.layout.object_size) };
            self.stats.ctor_runs.add(1, Relaxed);
        } else if self.layout.poison {
            poison(self.bytes(obj));
        }
        if let Some(t) = self.track(obj) {
            // SAFETY: The track word is ours and aligned to 8.
            unsafe { t.write(0) };
        }
    }

    /// Checks a free object being handed out, then marks it in use.
    pub(super) fn on_alloc(&self, obj: *mut u8, caller: &'static Location<'static>) {
        if self.layout.poison {
            if let Some(off) = find_bad_poison(self.bytes(obj)) {
                self.report(obj, off as isize, "write after free");
            }
        }
        if self.debug.redzone {
            self.check_red_zones(obj, RED_INACTIVE, "red zone overwritten while free");
            let (left, right) = self.red_zones(obj);
            left.fill(RED_ACTIVE);
            right.fill(RED_ACTIVE);
        }
        if let Some(t) = self.track(obj) {
            // SAFETY: As in `init_object`.
            unsafe { t.write(caller as *const Location<'static> as usize) };
        }
    }

    /// Checks an object being freed, then marks it free.
    pub(super) fn on_free(&self, obj: *mut u8) {
        if self.debug.redzone {
            self.check_red_zones(obj, RED_ACTIVE, "red zone overwritten");
            let (left, right) = self.red_zones(obj);
            left.fill(RED_INACTIVE);
            right.fill(RED_INACTIVE);
        }
        if self.layout.poison {
            poison(self.bytes(obj));
        }
    }

    fn check_red_zones(&self, obj: *mut u8, want: u8, what: &str) {
        let (left, right) = self.red_zones(obj);
        if let Some(i) = find_not(left, want) {
            self.report(obj, i as isize - left.len() as isize, what);
        }
        if let Some(i) = find_not(right, want) {
            self.report(obj, (self.layout.object_size + i) as isize, what);
        }
    }

    /// Reports damage at `off` bytes from the start of `obj`, once, with
    /// the last allocating caller when the cache keeps it.
    #[cold]
    #[inline(never)]
    pub(super) fn report(&self, obj: *mut u8, off: isize, what: &str) {
        self.stats.corruptions.add(1, Relaxed);
        // Counted always, printed at a rate: a client can make these from
        // an interrupt in a loop.
        // SAFETY: No preconditions.
        if !unsafe { crate::helpers::zonemm_report_ratelimit() } {
            return;
        }
        let caller = self.caller_of(obj);
        match caller {
            Some(c) => pr_err!(
                "{}: {} in object {:#x} at offset {} (last allocated at {}:{})\n",
                self.name(),
                what,
                obj as usize,
                off,
                c.file(),
                c.line()
            ),
            None => pr_err!("{}: {} in object {:#x} at offset {}\n", self.name(), what, obj as usize, off),
        }
    }

    /// The last allocating caller of `obj`, if kept and `obj` is ours.
    fn caller_of(&self, obj: *mut u8) -> Option<&'static Location<'static>> {
        self.lookup(obj)?;
        // SAFETY: `obj` is one of our objects, so its track word is ours.
        let word = unsafe { self.track(obj)?.read() };
        // SAFETY: Only `on_alloc` writes a non-zero track word: the
        // address of a `'static` `Location`.
        (word != 0).then(|| unsafe { &*(word as *const Location<'static>) })
    }

    /// Logs up to `max` objects in use, with their callers when kept.
    pub(super) fn list_live(&self, max: usize) {
        let mut listed = 0;
        for node in self.nodes.iter() {
            let n = node.lock();
            for slab in n.slabs.iter() {
                let st = slab.state.access(&*n);
                for i in 0..self.layout.objects {
                    if st.freelist.is_free(i) {
                        continue;
                    }
                    if listed < max {
                        let obj = self.object(slab, i);
                        match self.caller_of(obj) {
                            Some(c) => pr_err!("  object {:#x} allocated at {}:{}\n", obj as usize, c.file(), c.line()),
                            None => pr_err!("  object {:#x}\n", obj as usize),
                        }
                    }
                    listed += 1;
                }
            }
        }
        if listed > max {
            pr_err!("  ... and {} more\n", listed - max);
        }
    }
}

#[kunit_tests(zonemm_slab_debug)]
mod tests {
    use core::ptr::NonNull;

    use super::*;
    use crate::{
        buddy::{
            Flags,
            Pool, //
        },
        slub::DebugFlags,
        source::{
            Params,
            Source, //
        },
    };

    const ALL: DebugFlags = DebugFlags { redzone: true, poison: true, store_user: true };

    fn pool() -> Result<Pool> {
        Pool::new(Source::new(Params::new(4, 4)?)?, 0)
    }

    #[test]
    fn a_red_zone_overwrite_is_reported_once() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "rz", 100, 8, ALL, None)?;
        let obj = cache.alloc(Flags::KERNEL)?;
        // SAFETY: One byte past the object: its red zone, which the
        // allocator watches and which we deliberately damage.
        unsafe { obj.as_ptr().add(100).write(0) };
        cache.free(obj);
        assert_eq!(cache.corruptions(), 1);
        // Repaired: the next round trip is clean.
        let again = cache.alloc(Flags::KERNEL)?;
        cache.free(again);
        assert_eq!(cache.corruptions(), 1);
        Ok(())
    }

    #[test]
    fn a_write_after_free_is_reported() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "uaf", 64, 8, ALL, None)?;
        let obj = cache.alloc(Flags::KERNEL)?;
        cache.free(obj);
        // SAFETY: Deliberately writing to the freed object, whose memory
        // stays the cache's.
        unsafe { obj.as_ptr().add(10).write(0) };
        // The slab hands the same object out first.
        let again = cache.alloc(Flags::KERNEL)?;
        assert_eq!(again, obj);
        assert_eq!(cache.corruptions(), 1);
        cache.free(again);
        Ok(())
    }

    #[test]
    fn a_double_free_is_reported_and_ignored() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "df", 32, 8, ALL, None)?;
        let a = cache.alloc(Flags::KERNEL)?;
        let b = cache.alloc(Flags::KERNEL)?;
        cache.free(a);
        cache.free(a);
        assert_eq!(cache.corruptions(), 1);
        // The object was not put back twice: two allocations differ.
        let c = cache.alloc(Flags::KERNEL)?;
        let d = cache.alloc(Flags::KERNEL)?;
        assert_ne!(c, d);
        assert_eq!(cache.active_objects(), 3);
        for o in [b, c, d] {
            cache.free(o);
        }
        assert_eq!(cache.active_objects(), 0);
        Ok(())
    }

    #[test]
    fn foreign_pointers_are_reported_and_ignored() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "fp", 64, 8, DebugFlags::default(), None)?;
        let other = Cache::create(&pool, "other", 64, 8, DebugFlags::default(), None)?;
        let obj = other.alloc(Flags::KERNEL)?;
        let boxed = KBox::new([0u8; 64], GFP_KERNEL)?;
        cache.free(obj);
        cache.free(NonNull::from(&*boxed).cast());
        // SAFETY: One byte into an object: not an object start.
        let inside = unsafe { obj.add(1) };
        other.free(inside);
        assert_eq!(cache.corruptions(), 2);
        assert_eq!(other.corruptions(), 1);
        assert_eq!(other.active_objects(), 1);
        other.free(obj);
        Ok(())
    }

    #[test]
    fn the_last_caller_is_kept() -> Result {
        let pool = pool()?;
        let cache = Cache::create(&pool, "track", 48, 8, ALL, None)?;
        let obj = cache.alloc(Flags::KERNEL)?;
        let here = Location::caller();
        let kept = cache.caller_of(obj.as_ptr()).ok_or(EINVAL)?;
        assert_eq!(kept.file(), here.file());
        cache.free(obj);
        Ok(())
    }
}
