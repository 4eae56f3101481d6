// SPDX-License-Identifier: GPL-2.0

//! Reading and writing regions through the region calls, by address or by
//! identity. Mergeable regions must be accessed only this way: a write to a
//! shared page copies it first (copy-on-write), and the region is then
//! remapped, so its address may change; its identity never does.

use kernel::prelude::*;

use super::{Inner, Region, Regions};
use crate::buddy::Pool;
use crate::pfn::PAGE_SIZE;

/// The region covering `addr` and how far into it `addr` lies.
fn slot_at(inner: &Inner<'_>, addr: usize) -> Option<(usize, usize)> {
    let (slot, start, _) = inner.tree.find(addr)?;
    Some((slot as usize, addr - start))
}

impl Region<'_> {
    /// `EINVAL` unless `[begin, begin + len)` lies within the region's
    /// pages; else the range's end.
    fn range_end(&self, begin: usize, len: usize) -> Result<usize> {
        begin.checked_add(len).filter(|&e| e <= self.nr_pages * PAGE_SIZE).ok_or(EINVAL)
    }

    /// Calls `f(ptr, done, n)` for each piece of `[begin, begin + len)`
    /// that lies in one page: `ptr` is the piece's direct-map address,
    /// `done` how much of the range came before it, `n` its length. One
    /// frame lookup per page, not per byte.
    fn for_each_chunk(&self, begin: usize, len: usize, mut f: impl FnMut(*mut u8, usize, usize)) {
        let mut done = 0;
        while done < len {
            let pos = begin + done;
            let n = (PAGE_SIZE - pos % PAGE_SIZE).min(len - done);
            f(self.byte(pos), done, n);
            done += n;
        }
    }
}

impl<'a> Inner<'a> {
    /// Copies region `slot`'s bytes from `begin` into `buf`.
    fn read_at(&self, slot: usize, begin: usize, buf: &mut [u8]) -> Result {
        let region = self.slots.get(slot).and_then(Option::as_ref).ok_or(EINVAL)?;
        region.range_end(begin, buf.len())?;
        let dst = buf.as_mut_ptr();
        region.for_each_chunk(begin, buf.len(), |src, done, n| {
            // SAFETY: `src` starts `n` bytes within one of the region's
            // pages, read under the lock every writer takes; `dst + done`
            // starts `n` bytes within `buf`.
            unsafe { core::ptr::copy_nonoverlapping(src, dst.add(done), n) }
        });
        Ok(())
    }

    /// Copies `buf` to region `slot` at `begin`. In a mergeable region a
    /// shared page is copied before it is written (breaking the sharing),
    /// and the region is then remapped.
    fn write_at(&mut self, slot: usize, begin: usize, buf: &[u8], pool: &'a Pool) -> Result {
        let region = self.slots.get_mut(slot).and_then(Option::as_mut).ok_or(EINVAL)?;
        let end = region.range_end(begin, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        if region.flags.mergeable {
            for page in begin / PAGE_SIZE..=(end - 1) / PAGE_SIZE {
                region.cow(page, pool)?;
            }
        }
        region.for_each_chunk(begin, buf.len(), |dst, done, n| {
            // SAFETY: `dst` starts `n` bytes within one of the region's
            // own pages (after `cow`); `buf[done..]` holds at least `n`.
            unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr().add(done), dst, n) }
        });
        if region.dirty {
            self.remap_slot(slot)?;
        }
        Ok(())
    }
}

impl<'a> Regions<'a> {
    /// Copies `buf.len()` bytes at `off` of the region at `addr` into
    /// `buf`. `EINVAL` past the region's end.
    pub(crate) fn read(&self, addr: usize, off: usize, buf: &mut [u8]) -> Result {
        let inner = self.inner.lock();
        let (slot, base) = slot_at(&inner, addr).ok_or(EINVAL)?;
        inner.read_at(slot, base.checked_add(off).ok_or(EINVAL)?, buf)
    }

    /// Copies `buf` to `off` of the region at `addr`. `EINVAL` past its end.
    /// In a mergeable region, a shared page is copied before it is written
    /// (breaking the sharing), and the region is then remapped: its
    /// address changes.
    pub(crate) fn write(&self, addr: usize, off: usize, buf: &[u8]) -> Result {
        let mut inner = self.inner.lock();
        let (slot, base) = slot_at(&inner, addr).ok_or(EINVAL)?;
        inner.write_at(slot, base.checked_add(off).ok_or(EINVAL)?, buf, self.pool)
    }

    /// Fills the whole region starting at `addr` with `byte`. Returns the
    /// region's address afterwards (a mergeable region may have moved).
    pub(crate) fn fill(&self, addr: usize, byte: u8) -> Result<usize> {
        let id = self.id_of(addr).ok_or(EINVAL)?;
        self.fill_id(id, byte)
    }

    /// [`Regions::fill`] by identity, under one hold of the lock, so a
    /// concurrent remap cannot get in between.
    pub(crate) fn fill_id(&self, id: u64, byte: u8) -> Result<usize> {
        let mut inner = self.inner.lock();
        let slot = inner.slot_of(id).ok_or(EINVAL)?;
        let region = inner.slots[slot].as_mut().ok_or(EINVAL)?;
        for page in 0..region.nr_pages {
            if region.flags.mergeable {
                region.cow(page, self.pool)?;
            }
            // SAFETY: A whole page of the region, its own after `cow`.
            unsafe { core::ptr::write_bytes(region.byte(page * PAGE_SIZE), byte, PAGE_SIZE) };
        }
        if region.dirty {
            inner.remap_slot(slot)?;
        }
        inner.slots[slot].as_ref().map(|r| r.addr.as_ptr() as usize).ok_or(EINVAL)
    }

    /// [`Regions::read`] by identity.
    pub(crate) fn read_id(&self, id: u64, off: usize, buf: &mut [u8]) -> Result {
        let inner = self.inner.lock();
        let slot = inner.slot_of(id).ok_or(EINVAL)?;
        inner.read_at(slot, off, buf)
    }

    /// [`Regions::write`] by identity, breaking page sharing first.
    pub(crate) fn write_id(&self, id: u64, off: usize, buf: &[u8]) -> Result {
        let mut inner = self.inner.lock();
        let slot = inner.slot_of(id).ok_or(EINVAL)?;
        inner.write_at(slot, off, buf, self.pool)
    }

    /// [`Regions::check`] by identity.
    pub(crate) fn check_id(&self, id: u64, byte: u8) -> Result<Option<(usize, u8)>> {
        let inner = self.inner.lock();
        let slot = inner.slot_of(id).ok_or(EINVAL)?;
        let region = inner.slots[slot].as_ref().ok_or(EINVAL)?;
        for page in 0..region.nr_pages {
            // SAFETY: A whole page of the region, read under the lock that
            // every writer takes.
            let bytes = unsafe { core::slice::from_raw_parts(region.byte(page * PAGE_SIZE), PAGE_SIZE) };
            if let Some(i) = bytes.iter().position(|&b| b != byte) {
                return Ok(Some((page * PAGE_SIZE + i, bytes[i])));
            }
        }
        Ok(None)
    }

    /// The identity of the region starting at `addr`.
    pub(crate) fn id_of(&self, addr: usize) -> Option<u64> {
        let inner = self.inner.lock();
        let (slot, start, _) = inner.tree.find(addr)?;
        let r = inner.slots.get(slot as usize)?.as_ref()?;
        (start == addr).then_some(r.id)
    }

    /// Where the region with identity `id` is mapped now.
    pub(crate) fn addr_of(&self, id: u64) -> Option<usize> {
        let inner = self.inner.lock();
        let slot = inner.slot_of(id)?;
        inner.slots[slot].as_ref().map(|r| r.addr.as_ptr() as usize)
    }

    /// Checks the whole region starting at `addr` holds `byte`: the first
    /// mismatch as `(offset, found)`, or `EINVAL` if no region starts there.
    pub(crate) fn check(&self, addr: usize, byte: u8) -> Result<Option<(usize, u8)>> {
        let id = self.id_of(addr).ok_or(EINVAL)?;
        self.check_id(id, byte)
    }
}
