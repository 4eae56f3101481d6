// SPDX-License-Identifier: GPL-2.0

//! `zonemm/region/`: `vmallocinfo` in the `/proc/vmallocinfo` line format
//! (mapped regions, each line ending with the region's `id=`), `list`
//! (every region by identity, mergeable ones too), and `alloc`, `free`,
//! `fill`, `check`, `purge` and `stats`. Commands name a region by its
//! identity (decimal) or, for a mapped region, by its start (`0x...`).
//!
//! Bad input gets `EINVAL` and one log line, and changes nothing.

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
    dir.read_callback_file(c"list", s, &show_list);
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

fn show_list(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    state.regions.show_list(f)
}

fn show_stats(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let s = state.regions.stats();
    writeln!(f, "allocations {}", s.allocations)?;
    writeln!(f, "frees {}", s.frees)?;
    writeln!(f, "pages {}", s.pages)?;
    writeln!(f, "cached_mappings {}", s.cache.mappings)?;
    writeln!(f, "cached_pages {}", s.cache.pages)?;
    writeln!(f, "cache_hits {}", s.cache.hits)?;
    writeln!(f, "cache_misses {}", s.cache.misses)?;
    writeln!(f, "cache_shrunk {}", s.cache.shrunk)
}

/// An `alloc` command: the size and the flags.
fn parse_alloc(line: &str) -> Result<(usize, RegionFlags), BadInput<'_>> {
    let mut words = line.split_ascii_whitespace();
    let first = words.next().ok_or(BadInput::new("usage: SIZE [zero] [mergeable] [huge]", line))?;
    let bytes = size(first).filter(|&s| s > 0).ok_or(BadInput::new("SIZE is a number with an optional K, M or G", first))?;
    let mut flags = RegionFlags::default();
    for word in words {
        let flag = match word {
            "zero" => &mut flags.zero,
            "mergeable" => &mut flags.mergeable,
            "huge" => &mut flags.huge,
            "no_guard" => return Err(BadInput::new("no_guard is gone: vmap() always adds a guard page", word)),
            _ => return Err(BadInput::new("flags are zero, mergeable, huge", word)),
        };
        if core::mem::replace(flag, true) {
            return Err(BadInput::new("flag given twice", word));
        }
    }
    if flags.mergeable && flags.huge {
        return Err(BadInput::new("a mergeable region is never huge", line));
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
    state.regions.alloc_id(bytes, flags)?;
    Ok(())
}

/// A region named by its identity (decimal) or start (`0x...`).
fn region_id<'a>(state: &StateRef, word: &'a str) -> Result<u64, BadInput<'a>> {
    let n = number(word).ok_or(BadInput::new("expected an ID or a 0xADDR", word))?;
    if word.starts_with("0x") {
        return state.regions.id_at(n).ok_or(BadInput::new("no mapped region starts there", word));
    }
    let id = n as u64;
    match state.regions.get(id) {
        Some(_) => Ok(id),
        None => Err(BadInput::new("no region has that id", word)),
    }
}

fn write_free(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    if line == "all" {
        state.regions.free_all();
        return Ok(());
    }
    let id = region_id(state, line).map_err(|bad| refuse("region/free", bad))?;
    state.regions.free_id(id)
}

/// `ID PATTERN` or `0xADDR PATTERN`: a region and a byte.
fn parse_pattern<'a>(state: &StateRef, line: &'a str) -> Result<(u64, u8), BadInput<'a>> {
    let mut words = line.split_ascii_whitespace();
    let (Some(a), Some(p), None) = (words.next(), words.next(), words.next()) else {
        return Err(BadInput::new("usage: ID|0xADDR PATTERN", line));
    };
    let addr = region_id(state, a)?;
    let byte = number(p).and_then(|b| u8::try_from(b).ok()).ok_or(BadInput::new("PATTERN is a byte, 0 to 0xff", p))?;
    Ok((addr, byte))
}

fn write_fill(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (id, byte) = parse_pattern(state, line).map_err(|bad| refuse("region/fill", bad))?;
    state.regions.fill_id(id, byte)
}

fn write_check(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (id, byte) = parse_pattern(state, line).map_err(|bad| refuse("region/check", bad))?;
    match state.regions.check_id(id, byte)? {
        None => Ok(()),
        Some((off, found)) => {
            pr_warn!("region/check id {id}: first mismatch at offset {off}: {found:#04x}, expected {byte:#04x}\n");
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
