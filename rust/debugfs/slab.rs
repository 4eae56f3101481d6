// SPDX-License-Identifier: GPL-2.0

//! `zonemm/slab/`: `slabinfo` exactly as `/proc/slabinfo` (version 2.1),
//! `create` and `destroy`, and one directory per cache with `alloc`,
//! `free`, `shrink`, `tunables` and `stats`.
//!
//! Bad input gets `EINVAL` and one log line, and changes nothing.

use core::ptr::NonNull;

use kernel::{
    debugfs::{
        Dir,
        Scope,
        ScopedDir, //
    },
    fmt,
    new_mutex,
    prelude::*,
    str::CString,
    sync::Mutex,
    uaccess::UserSliceReader,
};

use super::{
    buddy::{
        read_command,
        refuse, //
    },
    StateRef,
};
use crate::{
    buddy::Flags,
    cmd::{
        key_values,
        number,
        number_or,
        BadInput, //
    },
    procfs,
    slab::{
        ctor_pattern,
        ctor_zero,
        kmalloc::KMALLOC_NAMES,
        Cache,
        Ctor, //
    },
    slub::DebugFlags,
};

/// The most objects one `alloc` write may ask for.
const MAX_COUNT: usize = 4096;

/// A cache owned by its debugfs directory, or one owned elsewhere (the
/// kmalloc classes).
enum CacheHandle {
    Owned(Pin<KBox<Cache<'static>>>),
    Borrowed(&'static Cache<'static>),
}

/// A cache and the objects its `alloc` file handed out.
#[pin_data(PinnedDrop)]
pub(crate) struct SlabEntry {
    cache: CacheHandle,
    #[pin]
    objects: Mutex<KVec<usize>>,
}

impl SlabEntry {
    fn cache(&self) -> &Cache<'static> {
        match &self.cache {
            CacheHandle::Owned(c) => c,
            CacheHandle::Borrowed(c) => c,
        }
    }

    fn new(cache: CacheHandle) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            cache,
            objects <- new_mutex!(KVec::new(), "SlabEntry::objects"),
        }? Error)
    }

    /// The entry of a kmalloc class.
    pub(crate) fn borrowed(cache: &'static Cache<'static>) -> impl PinInit<Self, Error> {
        Self::new(CacheHandle::Borrowed(cache))
    }

    fn free_all(&self) {
        let mut objects = self.objects.lock();
        for obj in objects.drain_all() {
            if let Some(p) = NonNull::new(obj as *mut u8) {
                self.cache().free(p);
            }
        }
    }
}

#[pinned_drop]
impl PinnedDrop for SlabEntry {
    fn drop(self: Pin<&mut Self>) {
        // Objects first: the cache may go right after.
        self.free_all();
    }
}

/// Makes `slab/<name>/` for `entry` under `slab_dir`.
pub(crate) fn cache_dir(
    slab_dir: &Dir,
    name: &str,
    entry: impl PinInit<SlabEntry, Error> + 'static,
) -> Result<Pin<KBox<Scope<SlabEntry>>>> {
    // debugfs copies the name.
    let cname = CString::try_from_fmt(fmt!("{name}"))?;
    KBox::pin_init(slab_dir.scope(entry, &cname, files), GFP_KERNEL)
}

fn files<'data>(entry: &'data SlabEntry, dir: &ScopedDir<'data, '_>) {
    dir.write_only_callback_file(c"alloc", entry, &write_alloc);
    dir.write_only_callback_file(c"free", entry, &write_free);
    dir.write_only_callback_file(c"shrink", entry, &write_shrink);
    dir.read_write_callback_file(c"tunables", entry, &show_tunables, &write_tunables);
    dir.read_callback_file(c"stats", entry, &show_stats);
}

pub(crate) fn show_slabinfo(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    procfs::slabinfo_header(f)?;
    for entry in state.caches.lock().iter() {
        let cache = entry.cache();
        procfs::slabinfo_line(f, cache.name(), &cache.slabinfo())?;
    }
    let mut result = Ok(());
    crate::ffi::for_each_cache(|cache| {
        if result.is_ok() {
            result = procfs::slabinfo_line(f, cache.name(), &cache.slabinfo());
        }
    });
    result?;
    for cache in state.kmalloc.caches() {
        procfs::slabinfo_line(f, cache.name(), &cache.slabinfo())?;
    }
    Ok(())
}

/// A `create` command: name, size, alignment, debug flags, constructor.
fn parse_create(line: &str) -> Result<(&str, usize, usize, DebugFlags, Option<Ctor>), BadInput<'_>> {
    let mut words = line.splitn(3, ' ');
    let name = words.next().filter(|n| !n.is_empty()).ok_or(BadInput::new("usage: NAME SIZE [align=A] [flags=...] [ctor=zero|pattern]", line))?;
    let valid = name.len() <= 31 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(BadInput::new("a name is 1 to 31 letters, digits, '-' or '_'", name));
    }
    let size_word = words.next().ok_or(BadInput::new("SIZE is required", line))?;
    let size = number(size_word).filter(|&s| (1..=32768).contains(&s)).ok_or(BadInput::new("SIZE must be 1..32768", size_word))?;
    let [align, flags, ctor] = key_values(words.next().unwrap_or(""), ["align", "flags", "ctor"])?;
    let align = number_or(align, 0)?;
    if align != 0 && (!align.is_power_of_two() || align > 4096) {
        return Err(BadInput::new("align must be a power of two up to 4096", line));
    }
    let debug = match flags {
        None => DebugFlags::default(),
        Some(f) => DebugFlags::parse(f).ok_or(BadInput::new("flags are redzone, poison, store_user", f))?,
    };
    let ctor: Option<Ctor> = match ctor {
        None => None,
        Some("zero") => Some(ctor_zero),
        Some("pattern") => Some(ctor_pattern),
        Some(c) => return Err(BadInput::new("ctor is zero or pattern", c)),
    };
    Ok((name, size, align, debug, ctor))
}

pub(crate) fn write_create(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (name, size, align, debug, ctor) = parse_create(line).map_err(|bad| refuse("slab/create", bad))?;
    let mut caches = state.caches.lock();
    if KMALLOC_NAMES.contains(&name) || caches.iter().any(|e| e.cache().name() == name) {
        return Err(refuse("slab/create", BadInput::new("a cache of that name exists", name)));
    }
    let cache = Cache::create(state.pool, name, size, align, debug, ctor)
        .map_err(|e| {
            pr_warn!("slab/create: cannot make a cache of {size} bytes aligned to {align}\n");
            e
        })?;
    let scope = cache_dir(&state.slab_dir, name, SlabEntry::new(CacheHandle::Owned(cache)))?;
    caches.push(scope, GFP_KERNEL)?;
    Ok(())
}

pub(crate) fn write_destroy(state: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let name = read_command(reader, &mut buf)?;
    if KMALLOC_NAMES.contains(&name) {
        return Err(refuse("slab/destroy", BadInput::new("the kmalloc caches stay", name)));
    }
    let mut caches = state.caches.lock();
    let pos = caches
        .iter()
        .position(|e| e.cache().name() == name)
        .ok_or_else(|| refuse("slab/destroy", BadInput::new("no such cache", name)))?;
    caches[pos].cache().prepare_destroy()?;
    drop(caches.remove(pos));
    Ok(())
}

fn write_alloc(entry: &SlabEntry, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let file = "slab/<cache>/alloc";
    let [count] = key_values(line, ["count"]).map_err(|bad| refuse(file, bad))?;
    let count = number_or(count, 1).map_err(|bad| refuse(file, bad))?;
    if count == 0 || count > MAX_COUNT {
        return Err(refuse(file, BadInput::new("count must be 1..4096", line)));
    }
    let cache = entry.cache();
    let mut got = KVec::with_capacity(count, GFP_KERNEL)?;
    for _ in 0..count {
        match cache.alloc(Flags::KERNEL) {
            Ok(obj) => got.push(obj, GFP_KERNEL)?,
            Err(e) => {
                pr_warn!("{}/alloc: only {} of {count} objects; none kept\n", cache.name(), got.len());
                for obj in got.drain_all() {
                    cache.free(obj);
                }
                return Err(e);
            }
        }
    }
    let mut objects = entry.objects.lock();
    objects.reserve(count, GFP_KERNEL)?;
    for obj in got.drain_all() {
        objects.push(obj.as_ptr() as usize, GFP_KERNEL)?;
    }
    Ok(())
}

fn write_free(entry: &SlabEntry, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    if line == "all" {
        entry.free_all();
        return Ok(());
    }
    let mut objects = entry.objects.lock();
    let pos = number(line)
        .and_then(|addr| objects.iter().position(|&o| o == addr))
        .ok_or_else(|| refuse("slab/<cache>/free", BadInput::new("not an object allocated here (or 'all')", line)))?;
    let obj = objects.remove(pos).map_err(|_| EINVAL)?;
    drop(objects);
    if let Some(p) = NonNull::new(obj as *mut u8) {
        entry.cache().free(p);
    }
    Ok(())
}

fn write_shrink(entry: &SlabEntry, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    if line != "1" {
        return Err(refuse("slab/<cache>/shrink", BadInput::new("write 1 to shrink", line)));
    }
    entry.cache().shrink();
    Ok(())
}

fn show_tunables(entry: &SlabEntry, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (limit, batchcount) = entry.cache().tunables();
    writeln!(f, "{limit} {batchcount}")
}

fn write_tunables(entry: &SlabEntry, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let mut words = line.split_ascii_whitespace();
    let (Some(l), Some(b), None) = (words.next(), words.next(), words.next()) else {
        return Err(refuse("slab/<cache>/tunables", BadInput::new("usage: LIMIT BATCHCOUNT", line)));
    };
    let (Some(limit), Some(batchcount)) = (number(l), number(b)) else {
        return Err(refuse("slab/<cache>/tunables", BadInput::new("not a number", line)));
    };
    entry.cache().set_tunables(limit, batchcount)
}

fn show_stats(entry: &SlabEntry, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    entry.cache().show_stats(f)
}
