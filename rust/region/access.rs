// SPDX-License-Identifier: GPL-2.0

//! Reading and writing regions by identity: through a mapped region's own
//! address, or page by page through [`PageMap`]s for a mergeable one (a
//! write mapping of a shared page copies it first). Process context; may
//! sleep.

use kernel::{
    prelude::*,
    sync::Arc,
};

use super::{
    PageMap,
    Region,
    Regions, //
};
use crate::pfn::PAGE_SIZE;

impl<'a> Regions<'a> {
    /// Calls `f(map, page_off, done, n)` for each piece of
    /// `[begin, begin + len)` of region `id` that lies in one page, with
    /// that page mapped (for writing if `write`). `EINVAL` if there is no
    /// such region or the range passes its end.
    fn for_each_piece(
        &self,
        id: u64,
        begin: usize,
        len: usize,
        write: bool,
        mut f: impl FnMut(&PageMap<'a>, usize, usize, usize),
    ) -> Result {
        let region = self.get(id).ok_or(EINVAL)?;
        let end = begin.checked_add(len).ok_or(EINVAL)?;
        if end > region.nr_pages * PAGE_SIZE {
            return Err(EINVAL);
        }
        let mut done = 0;
        while done < len {
            let pos = begin + done;
            let n = (PAGE_SIZE - pos % PAGE_SIZE).min(len - done);
            let map = match Region::map_page(Arc::clone(&region), pos / PAGE_SIZE, write, self.pool) {
                // As in `Regions::map`: the kept mappings go back first.
                Err(e) if e == ENOMEM => {
                    self.purge();
                    Region::map_page(Arc::clone(&region), pos / PAGE_SIZE, write, self.pool)?
                }
                r => r?,
            };
            f(&map, pos % PAGE_SIZE, done, n);
            done += n;
        }
        Ok(())
    }

    /// Copies `buf.len()` bytes at `off` of region `id` into `buf`.
    pub(crate) fn read_id(&self, id: u64, off: usize, buf: &mut [u8]) -> Result {
        let dst = buf.as_mut_ptr();
        self.for_each_piece(id, off, buf.len(), false, |map, at, done, n| {
            // SAFETY: `at + n` is within the mapped page; `dst + done` has
            // `n` bytes of `buf` left.
            unsafe { core::ptr::copy_nonoverlapping(map.as_ptr().add(at), dst.add(done), n) }
        })
    }

    /// Copies `buf` to `off` of region `id`, breaking page sharing first.
    /// `ENOMEM` if a shared page could not be copied (the pieces before it
    /// are written).
    pub(crate) fn write_id(&self, id: u64, off: usize, buf: &[u8]) -> Result {
        let src = buf.as_ptr();
        self.for_each_piece(id, off, buf.len(), true, |map, at, done, n| {
            // SAFETY: `at + n` is within the page, mapped for writing;
            // `src + done` has `n` bytes of `buf` left.
            unsafe { core::ptr::copy_nonoverlapping(src.add(done), map.as_ptr().add(at), n) }
        })
    }

    /// Fills all of region `id` with `byte`.
    pub(crate) fn fill_id(&self, id: u64, byte: u8) -> Result {
        let pages = self.get(id).ok_or(EINVAL)?.nr_pages;
        self.for_each_piece(id, 0, pages * PAGE_SIZE, true, |map, at, _, n| {
            // SAFETY: `at + n` is within the page, mapped for writing.
            unsafe { core::ptr::write_bytes(map.as_ptr().add(at), byte, n) }
        })
    }

    /// Checks all of region `id` holds `byte`: the first mismatch as
    /// `(offset, found)`.
    pub(crate) fn check_id(&self, id: u64, byte: u8) -> Result<Option<(usize, u8)>> {
        let pages = self.get(id).ok_or(EINVAL)?.nr_pages;
        let mut first = None;
        self.for_each_piece(id, 0, pages * PAGE_SIZE, false, |map, at, done, n| {
            if first.is_some() {
                return;
            }
            // SAFETY: `at + n` is within the mapped page.
            let bytes = unsafe { core::slice::from_raw_parts(map.as_ptr().add(at), n) };
            if let Some(i) = bytes.iter().position(|&b| b != byte) {
                first = Some((done + i, bytes[i]));
            }
        })?;
        Ok(first)
    }
}
