// SPDX-License-Identifier: GPL-2.0

//! `zonemm/buddy/`: the buddy pool's views and knobs.
//!
//! `buddyinfo` and `pagetypeinfo` print exactly as `/proc/buddyinfo` and
//! `/proc/pagetypeinfo` (`mm/vmstat.c`), `zoneinfo` as the matching part
//! of `/proc/zoneinfo`, `stats` as `/proc/vmstat` lines. The control files
//! take one command per write; bad input gets `EINVAL` and one log line,
//! and changes nothing.

use kernel::{
    debugfs::ScopedDir,
    fmt,
    prelude::*,
    uaccess::UserSliceReader, //
};

use crate::{
    buddy::{
        Flags,
        PageBlock,
        Pool, //
    },
    cmd::{
        key_values,
        number,
        number_or,
        BadInput, //
    },
    extfrag,
    page_alloc::{
        MigrateType,
        MIGRATETYPE_NAMES, //
    },
    pfn::{
        Order,
        NR_PAGE_ORDERS, //
    },
    procfs,
    zone::ZoneType,
};

use super::StateRef;

/// Populates `zonemm/buddy/`.
pub(crate) fn files<'data>(s: &'data StateRef, dir: &ScopedDir<'data, '_>) {
    dir.read_callback_file(c"buddyinfo", s, &show_buddyinfo);
    dir.read_callback_file(c"pagetypeinfo", s, &show_pagetypeinfo);
    dir.read_callback_file(c"zoneinfo", s, &show_zoneinfo);
    dir.read_callback_file(c"stats", s, &show_stats);
    dir.write_only_callback_file(c"alloc", s, &write_alloc);
    dir.read_callback_file(c"allocations", s, &show_allocations);
    dir.write_only_callback_file(c"free", s, &write_free);
    dir.write_only_callback_file(c"drain", s, &write_drain);
    dir.read_write_callback_file(c"min_free_kbytes", s, &show_min_free_kbytes, &write_min_free_kbytes);
    dir.read_write_callback_file(c"max_pool_mb", s, &show_max_pool_mb, &write_max_pool_mb);
    dir.read_write_callback_file(c"shrink_back_delay", s, &show_shrink_back_delay, &write_shrink_back_delay);
    dir.read_write_callback_file(c"pcp_high", s, &show_pcp_high, &write_pcp_high);
    dir.read_write_callback_file(c"pcp_batch", s, &show_pcp_batch, &write_pcp_batch);
    dir.write_only_callback_file(c"compact", s, &write_compact);
    dir.read_write_callback_file(c"extfrag_threshold", s, &show_extfrag_threshold, &write_extfrag_threshold);
}

/// Blocks allocated through `buddy/alloc`, by handle.
pub(crate) struct Allocations {
    next: u64,
    blocks: KVec<(u64, PageBlock<'static>)>,
}

impl Allocations {
    /// None yet.
    pub(crate) const fn new() -> Self {
        Self { next: 1, blocks: KVec::new() }
    }
}

/// The most blocks one `alloc` write may ask for.
const MAX_COUNT: usize = 4096;

/// Reads one short command from a debugfs write.
pub(crate) fn read_command<'b>(reader: &mut UserSliceReader, buf: &'b mut [u8; 128]) -> Result<&'b str> {
    let n = reader.len();
    if n >= buf.len() {
        pr_warn!("command too long ({n} bytes)\n");
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..n])?;
    match core::str::from_utf8(&buf[..n]) {
        Ok(s) => Ok(s.trim()),
        Err(_) => {
            pr_warn!("command is not text\n");
            Err(EINVAL)
        }
    }
}

/// Logs why a command was refused; `EINVAL`.
pub(crate) fn refuse(file: &str, bad: BadInput<'_>) -> Error {
    pr_warn!("{file}: {}: '{}'\n", bad.reason, bad.word);
    EINVAL
}

pub(crate) fn show_buddyinfo(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for zone in state.pool.zones() {
        procfs::buddyinfo_line(f, zone.nid(), zone.ztype().name(), &zone.snapshot().nr_free)?;
    }
    Ok(())
}

/// `zonemm/extfrag/`: the two files of `/sys/kernel/debug/extfrag/`.
pub(crate) fn extfrag_files<'data>(s: &'data StateRef, dir: &ScopedDir<'data, '_>) {
    dir.read_callback_file(c"unusable_index", s, &show_unusable_index);
    dir.read_callback_file(c"extfrag_index", s, &show_extfrag_index);
}

fn show_unusable_index(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for zone in state.pool.zones() {
        extfrag::unusable_index_line(f, zone.nid(), zone.ztype().name(), &zone.snapshot().nr_free)?;
    }
    Ok(())
}

fn show_extfrag_index(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for zone in state.pool.zones() {
        extfrag::extfrag_index_line(f, zone.nid(), zone.ztype().name(), &zone.snapshot().nr_free)?;
    }
    Ok(())
}

pub(crate) fn show_pagetypeinfo(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let pool = state.pool;
    for nid in 0..pool.nr_nodes() {
        let zones = || ZoneType::ALL.into_iter().filter_map(move |z| pool.zone(nid, z));
        if zones().next().is_none() {
            continue;
        }
        procfs::pagetypeinfo_head(f)?;
        let snapshots: KVec<_> = {
            let mut v = KVec::new();
            for zone in zones() {
                v.push((zone.ztype(), zone.snapshot()), GFP_KERNEL).map_err(|_| fmt::Error)?;
            }
            v
        };
        for (ztype, s) in snapshots.iter() {
            for (mt, name) in MIGRATETYPE_NAMES.iter().enumerate() {
                let counts = s.nr_free_of.get(mt).copied().unwrap_or([0; NR_PAGE_ORDERS]);
                procfs::pagetypeinfo_free_line(f, nid, ztype.name(), name, &counts)?;
            }
        }
        procfs::pagetypeinfo_blocks_head(f)?;
        for (ztype, s) in snapshots.iter() {
            let mut counts = [0; MIGRATETYPE_NAMES.len()];
            counts[..s.pageblocks.len()].copy_from_slice(&s.pageblocks);
            procfs::pagetypeinfo_blocks_line(f, nid, ztype.name(), &counts)?;
        }
    }
    Ok(())
}

pub(crate) fn show_zoneinfo(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for zone in state.pool.zones() {
        let w = zone.watermarks();
        write!(f, "Node {}, zone {:>8}", zone.nid(), zone.ztype().name())?;
        write!(f, "\n  pages free     {}", zone.free_pages())?;
        write!(f, "\n        min      {}", w.min)?;
        write!(f, "\n        low      {}", w.low)?;
        write!(f, "\n        high     {}", w.high)?;
        write!(f, "\n        spanned  {}", zone.spanned())?;
        write!(f, "\n        present  {}", zone.managed())?;
        write!(f, "\n        managed  {}", zone.managed())?;
        let r = zone.lowmem_reserve();
        write!(f, "\n        protection: ({}, {}, {}, {})", r[0], r[1], r[2], r[3])?;
        write!(f, "\n  pagesets")?;
        for (cpu, p) in zone.pcp_counts().iter().enumerate() {
            write!(f, "\n    cpu: {cpu}")?;
            write!(f, "\n              count:    {}", p.count)?;
            write!(f, "\n              high:     {}", p.high)?;
            write!(f, "\n              batch:    {}", p.batch)?;
            write!(f, "\n              high_min: {}", p.high_min)?;
            write!(f, "\n              high_max: {}", p.high_max)?;
        }
        writeln!(f)?;
    }
    Ok(())
}

pub(crate) fn show_stats(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (allocs, fails, zone_fallbacks, drain_retries, nofail_retries) = state.pool.alloc_stats();
    for (o, n) in allocs.iter().enumerate() {
        writeln!(f, "alloc_order{o} {n}")?;
    }
    for (o, n) in fails.iter().enumerate() {
        writeln!(f, "alloc_fail_order{o} {n}")?;
    }
    let (mut splits, mut merges, mut fallbacks, mut claims) = (0, 0, 0, 0);
    let (mut hits, mut refills, mut drains) = (0, 0, 0);
    for zone in state.pool.zones() {
        let s = zone.snapshot().stats;
        splits += s.splits;
        merges += s.merges;
        fallbacks += s.fallbacks;
        claims += s.claims;
        let p = zone.pcp_stats();
        hits += p.hits;
        refills += p.refills;
        drains += p.drains;
    }
    writeln!(f, "splits {splits}")?;
    writeln!(f, "merges {merges}")?;
    writeln!(f, "migratetype_fallbacks {fallbacks}")?;
    writeln!(f, "pageblock_claims {claims}")?;
    writeln!(f, "zone_fallbacks {zone_fallbacks}")?;
    writeln!(f, "pcp_hits {hits}")?;
    writeln!(f, "pcp_refills {refills}")?;
    writeln!(f, "pcp_drains {drains}")?;
    writeln!(f, "drain_retries {drain_retries}")?;
    writeln!(f, "nofail_retries {nofail_retries}")?;
    for (name, n) in state.pool.reclaim_stats() {
        writeln!(f, "{name} {n}")?;
    }
    for (name, n) in state.pool.growth_stats() {
        writeln!(f, "{name} {n}")?;
    }
    writeln!(f, "reclaimable {}", state.pool.reclaimable())?;
    for (name, n) in state.pool.compaction_stats() {
        writeln!(f, "{name} {n}")?;
    }
    Ok(())
}

/// `compact`: `all` compacts every zone (`/proc/sys/vm/compact_memory`),
/// a node id that node's (`/sys/devices/system/node/nodeN/compact`).
/// Sleeps for the run.
pub(crate) fn write_compact(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let nid = match line {
        "all" => None,
        _ => Some(
            number(line)
                .filter(|&n| ZoneType::ALL.iter().any(|&z| state.pool.zone(n, z).is_some()))
                .ok_or_else(|| refuse("buddy/compact", BadInput::new("write 'all' or the id of a node with pool pages", line)))?,
        ),
    };
    state.pool.compact_node(nid)?;
    Ok(())
}

pub(crate) fn show_extfrag_threshold(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", state.pool.extfrag_threshold())
}

/// `extfrag_threshold` (`/proc/sys/vm/extfrag_threshold`): 0..=1000.
pub(crate) fn write_extfrag_threshold(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let v = number(line)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v <= 1000)
        .ok_or_else(|| refuse("buddy/extfrag_threshold", BadInput::new("a number from 0 to 1000", line)))?;
    state.pool.set_extfrag_threshold(v)
}

/// The allocation an `alloc` command asks for.
fn parse_alloc<'a>(pool: &Pool, line: &'a str) -> Result<(Order, usize, Flags), BadInput<'a>> {
    let [order, count, zone, mt, node, gfp] = key_values(line, ["order", "count", "zone", "type", "node", "gfp"])?;
    let order = order.ok_or(BadInput::new("order=N is required", line))?;
    let order = number(order)
        .and_then(|o| u32::try_from(o).ok())
        .and_then(Order::new)
        .ok_or(BadInput::new("order must be 0..10", order))?;
    let count = number_or(count, 1)?;
    if count == 0 || count > MAX_COUNT {
        return Err(BadInput::new("count must be 1..4096", line));
    }
    let mut flags = match gfp {
        None | Some("kernel") => Flags::KERNEL,
        Some("atomic") => Flags::ATOMIC,
        Some("nowait") => Flags::NOWAIT,
        Some(g) => return Err(BadInput::new("gfp must be kernel, atomic or nowait", g)),
    };
    if let Some(mt) = mt {
        let mt = MigrateType::from_name(mt).ok_or(BadInput::new("type must be movable, unmovable or reclaimable", mt))?;
        flags = flags.migratetype(mt);
        if mt == MigrateType::Movable {
            flags = flags.zone(ZoneType::Movable);
        }
    }
    if let Some(zone) = zone {
        flags = flags.zone(ZoneType::from_name(zone).ok_or(BadInput::new("no such zone type", zone))?);
    }
    if let Some(node) = node {
        let nid = number(node)
            .filter(|&n| ZoneType::ALL.iter().any(|&z| pool.zone(n, z).is_some()))
            .ok_or(BadInput::new("no such node in the pool", node))?;
        flags = flags.this_node(nid);
    }
    Ok((order, count, flags))
}

pub(crate) fn write_alloc(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (order, count, flags) = parse_alloc(state.pool, line).map_err(|bad| refuse("buddy/alloc", bad))?;
    let mut got = KVec::with_capacity(count, GFP_KERNEL)?;
    for _ in 0..count {
        match state.pool.alloc_pages(order, flags) {
            Ok(block) => got.push(block, GFP_KERNEL)?,
            Err(e) => {
                pr_warn!("buddy/alloc: only {} of {count} blocks of order {}; none kept\n", got.len(), order.get());
                return Err(e);
            }
        }
    }
    let mut allocs = state.buddy_allocs.lock();
    allocs.blocks.reserve(count, GFP_KERNEL)?;
    for block in got.drain_all() {
        let handle = allocs.next;
        allocs.next += 1;
        allocs.blocks.push((handle, block), GFP_KERNEL)?;
    }
    Ok(())
}

pub(crate) fn show_allocations(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "# handle node zone pfn order type")?;
    for (handle, b) in state.buddy_allocs.lock().blocks.iter() {
        let z = b.zone();
        writeln!(f, "{handle} {} {} {:#x} {} {}", z.nid(), z.ztype().name(), b.pfn().0, b.order().get(), b.mt().name())?;
    }
    Ok(())
}

pub(crate) fn write_free(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let mut allocs = state.buddy_allocs.lock();
    if line == "all" {
        allocs.blocks.clear();
        return Ok(());
    }
    let pos = number(line)
        .and_then(|h| allocs.blocks.iter().position(|&(handle, _)| handle as usize == h))
        .ok_or_else(|| refuse("buddy/free", BadInput::new("no such handle (or 'all')", line)))?;
    drop(allocs.blocks.remove(pos));
    Ok(())
}

pub(crate) fn write_drain(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    if line != "1" {
        return Err(refuse("buddy/drain", BadInput::new("write 1 to drain", line)));
    }
    state.pool.drain();
    Ok(())
}

pub(crate) fn show_min_free_kbytes(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", state.pool.min_free_kbytes())
}

pub(crate) fn write_min_free_kbytes(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let kbytes = number(line).ok_or_else(|| refuse("buddy/min_free_kbytes", BadInput::new("not a number", line)))?;
    state.pool.set_min_free_kbytes(kbytes)
}

pub(crate) fn show_pcp_high(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", state.pool.pcp_high_batch().0)
}

pub(crate) fn show_pcp_batch(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", state.pool.pcp_high_batch().1)
}

fn write_pcp(state: &StateRef, reader: &mut UserSliceReader, file: &str, high: bool) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let v = number(line).ok_or_else(|| refuse(file, BadInput::new("not a number", line)))?;
    if high {
        state.pool.set_pcp_high_batch(Some(v), None)
    } else {
        state.pool.set_pcp_high_batch(None, Some(v))
    }
}

pub(crate) fn write_pcp_high(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    write_pcp(state, reader, "buddy/pcp_high", true)
}

pub(crate) fn write_pcp_batch(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    write_pcp(state, reader, "buddy/pcp_batch", false)
}

pub(crate) fn show_shrink_back_delay(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", state.pool.shrink_back_delay())
}

pub(crate) fn write_shrink_back_delay(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let s = number(line).ok_or_else(|| refuse("buddy/shrink_back_delay", BadInput::new("not a number", line)))?;
    state.pool.set_shrink_back_delay(s)
}

pub(crate) fn show_max_pool_mb(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", state.pool.max_pool_mb())
}

pub(crate) fn write_max_pool_mb(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let mb = number(line).ok_or_else(|| refuse("buddy/max_pool_mb", BadInput::new("not a number", line)))?;
    state.pool.set_max_pool_mb(mb)
}
