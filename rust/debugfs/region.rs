// SPDX-License-Identifier: GPL-2.0

//! `zonemm/region/`: `vmallocinfo` in the `/proc/vmallocinfo` line format,
//! and `alloc`, `free`, `fill`, `check`, `purge` and `stats`.
//!
//! Bad input gets `EINVAL` and one log line, and changes nothing.

use core::ptr::NonNull;

use kernel::{
    debugfs::ScopedDir,
    fmt,
    prelude::*,
    uaccess::UserSliceReader, //
};

use super::{
    buddy::{
        read_command,
        refuse, //
    },
    StateRef,
};
use crate::{
    cmd::{
        number,
        size,
        BadInput, //
    },
    region::RegionFlags,
};

/// Populates `zonemm/region/`.
pub(crate) fn files<'data>(s: &'data StateRef, dir: &ScopedDir<'data, '_>) {
    dir.read_callback_file(c"vmallocinfo", s, &show_vmallocinfo);
    dir.write_only_callback_file(c"alloc", s, &write_alloc);
    dir.write_only_callback_file(c"free", s, &write_free);
    dir.write_only_callback_file(c"fill", s, &write_fill);
    dir.write_only_callback_file(c"check", s, &write_check);
    dir.write_only_callback_file(c"purge", s, &write_purge);
    dir.read_callback_file(c"stats", s, &show_stats);
}

fn show_vmallocinfo(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    state.regions.show_vmallocinfo(f)
}

fn show_stats(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let s = state.regions.stats();
    writeln!(f, "allocations {}", s.allocations)?;
    writeln!(f, "frees {}", s.frees)?;
    writeln!(f, "pages_mapped {}", s.pages_mapped)?;
    writeln!(f, "lazily_pending {}", s.lazily_pending)?;
    writeln!(f, "purges {}", s.purges)
}

/// An `alloc` command: the size and the flags.
fn parse_alloc(line: &str) -> Result<(usize, RegionFlags), BadInput<'_>> {
    let mut words = line.split_ascii_whitespace();
    let first = words.next().ok_or(BadInput::new("usage: SIZE [zero] [mergeable] [huge] [no_guard]", line))?;
    let bytes = size(first).filter(|&s| s > 0).ok_or(BadInput::new("SIZE is a number with an optional K, M or G", first))?;
    let mut flags = RegionFlags::default();
    for word in words {
        let flag = match word {
            "zero" => &mut flags.zero,
            "mergeable" => &mut flags.mergeable,
            "huge" => &mut flags.huge,
            "no_guard" => &mut flags.no_guard,
            _ => return Err(BadInput::new("flags are zero, mergeable, huge, no_guard", word)),
        };
        if core::mem::replace(flag, true) {
            return Err(BadInput::new("flag given twice", word));
        }
    }
    Ok((bytes, flags))
}

fn write_alloc(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (bytes, flags) = parse_alloc(line).map_err(|bad| refuse("region/alloc", bad))?;
    if bytes > state.pool.managed() * crate::pfn::PAGE_SIZE {
        return Err(refuse("region/alloc", BadInput::new("larger than the pool", line)));
    }
    state.regions.alloc(bytes, flags)?;
    Ok(())
}

/// `0xADDR` of a region's start.
fn region_start<'a>(state: &StateRef, word: &'a str) -> Result<usize, BadInput<'a>> {
    let addr = number(word).ok_or(BadInput::new("expected 0xADDR", word))?;
    match state.regions.find(addr) {
        Some((start, _)) if start == addr => Ok(addr),
        _ => Err(BadInput::new("no region starts there", word)),
    }
}

fn write_free(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    if line == "all" {
        state.regions.free_all();
        return Ok(());
    }
    let addr = region_start(state, line).map_err(|bad| refuse("region/free", bad))?;
    state.regions.free(NonNull::new(addr as *mut u8).ok_or(EINVAL)?)
}

/// `0xADDR PATTERN`: a region's start and a byte.
fn parse_pattern<'a>(state: &StateRef, line: &'a str) -> Result<(usize, u8), BadInput<'a>> {
    let mut words = line.split_ascii_whitespace();
    let (Some(a), Some(p), None) = (words.next(), words.next(), words.next()) else {
        return Err(BadInput::new("usage: 0xADDR PATTERN", line));
    };
    let addr = region_start(state, a)?;
    let byte = number(p).and_then(|b| u8::try_from(b).ok()).ok_or(BadInput::new("PATTERN is a byte, 0 to 0xff", p))?;
    Ok((addr, byte))
}

fn write_fill(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (addr, byte) = parse_pattern(state, line).map_err(|bad| refuse("region/fill", bad))?;
    state.regions.fill(addr, byte).map(|_| ())
}

fn write_check(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (addr, byte) = parse_pattern(state, line).map_err(|bad| refuse("region/check", bad))?;
    match state.regions.check(addr, byte)? {
        None => Ok(()),
        Some((off, found)) => {
            pr_warn!("region/check {addr:#x}: first mismatch at offset {off}: {found:#04x}, expected {byte:#04x}\n");
            Err(EIO)
        }
    }
}

fn write_purge(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    if line != "1" {
        return Err(refuse("region/purge", BadInput::new("write 1 to purge", line)));
    }
    state.regions.purge();
    Ok(())
}
