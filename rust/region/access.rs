// SPDX-License-Identifier: GPL-2.0

//! Reading and writing regions through the region calls, by address or by
//! identity. Mergeable regions must be accessed only this way: a write to a
//! shared page copies it first (copy-on-write), and the region is then
//! remapped, so its address may change; its identity never does.

use kernel::prelude::*;

use super::Regions;
use crate::pfn::PAGE_SIZE;

impl<'a> Regions<'a> {
    /// Copies `buf.len()` bytes at `off` of the region at `addr` into
    /// `buf`. `EINVAL` past the region's end.
    pub(crate) fn read(&self, addr: usize, off: usize, buf: &mut [u8]) -> Result {
        self.with(addr, |r, base| {
            let end = (base + off).checked_add(buf.len()).filter(|&e| e <= r.nr_pages * PAGE_SIZE);
            end.ok_or(EINVAL)?;
            for (i, b) in buf.iter_mut().enumerate() {
                // SAFETY: The byte lies in one of the region's pages.
                *b = unsafe { r.byte(base + off + i).read() };
            }
            Ok(())
        })
        .ok_or(EINVAL)?
    }

    /// Copies `buf` to `off` of the region at `addr`. `EINVAL` past its end.
    /// In a mergeable region, a shared page is copied before it is written
    /// (breaking the sharing), and the region is then remapped: its
    /// address changes.
    pub(crate) fn write(&self, addr: usize, off: usize, buf: &[u8]) -> Result {
        let mut inner = self.inner.lock();
        let (slot, start, _) = inner.tree.find(addr).ok_or(EINVAL)?;
        let slot = slot as usize;
        let region = inner.slots.get_mut(slot).and_then(Option::as_mut).ok_or(EINVAL)?;
        let begin = (addr - start).checked_add(off).ok_or(EINVAL)?;
        let end = begin.checked_add(buf.len()).filter(|&e| e <= region.nr_pages * PAGE_SIZE).ok_or(EINVAL)?;
        if buf.is_empty() {
            return Ok(());
        }
        if region.flags.mergeable {
            for page in begin / PAGE_SIZE..=(end - 1) / PAGE_SIZE {
                region.cow(page, self.pool)?;
            }
        }
        for (i, &b) in buf.iter().enumerate() {
            // SAFETY: The byte lies in one of the region's own pages.
            unsafe { region.byte(begin + i).write(b) };
        }
        if region.dirty {
            inner.remap_slot(slot)?;
        }
        Ok(())
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
        let region = inner.slots[slot].as_ref().ok_or(EINVAL)?;
        off.checked_add(buf.len()).filter(|&e| e <= region.nr_pages * PAGE_SIZE).ok_or(EINVAL)?;
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: The byte lies in one of the region's pages, read
            // under the lock every writer takes.
            *b = unsafe { region.byte(off + i).read() };
        }
        Ok(())
    }

    /// [`Regions::write`] by identity, breaking page sharing first.
    pub(crate) fn write_id(&self, id: u64, off: usize, buf: &[u8]) -> Result {
        let mut inner = self.inner.lock();
        let slot = inner.slot_of(id).ok_or(EINVAL)?;
        let region = inner.slots[slot].as_mut().ok_or(EINVAL)?;
        let end = off.checked_add(buf.len()).filter(|&e| e <= region.nr_pages * PAGE_SIZE).ok_or(EINVAL)?;
        if buf.is_empty() {
            return Ok(());
        }
        if region.flags.mergeable {
            for page in off / PAGE_SIZE..=(end - 1) / PAGE_SIZE {
                region.cow(page, self.pool)?;
            }
        }
        for (i, &b) in buf.iter().enumerate() {
            // SAFETY: The byte lies in one of the region's own pages.
            unsafe { region.byte(off + i).write(b) };
        }
        if region.dirty {
            inner.remap_slot(slot)?;
        }
        Ok(())
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
