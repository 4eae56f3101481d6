// SPDX-License-Identifier: GPL-2.0

//! Slab arithmetic and bookkeeping: object layout, slab order, colouring,
//! the kmalloc size classes, a slab's free objects, and a CPU's object
//! cache.
//!
//! Mirrors `mm/slub.c` (`calculate_order()`, `calc_slab_order()`, the
//! debug layout of `calculate_sizes()`: red zones, poison, the stored
//! caller), the kmalloc table of `mm/slab_common.c`
//! (`kmalloc_info[]`, `kmalloc_index()`), and the SLAB allocator's
//! `array_cache` with `limit`/`batchcount` and its colouring
//! (`cache_grow`, `colour_off`), as the seed notes describe them.

use crate::pfn::{
    Order,
    PAGE_SIZE, //
};

/// The kmalloc size classes (bytes), smallest first.
pub const KMALLOC_SIZES: [usize; 13] = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

/// The largest size a kmalloc cache serves (`KMALLOC_MAX_CACHE_SIZE`);
/// larger requests go straight to the buddy pool.
pub const KMALLOC_MAX_CACHE_SIZE: usize = 8192;

/// Classes of sizes up to 192 by `(size - 1) / 8`, as the kernel's
/// `kmalloc_size_index[]`.
const SIZE_INDEX: [u8; 24] = [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6];

/// `kmalloc_index()`: the class that serves `size`, or `None` above
/// [`KMALLOC_MAX_CACHE_SIZE`] (or for 0). A table up to 192 bytes, then
/// powers of two, as `kmalloc_slab()` looks it up.
pub const fn kmalloc_index(size: usize) -> Option<usize> {
    if size == 0 || size > KMALLOC_MAX_CACHE_SIZE {
        return None;
    }
    if size <= 192 {
        return Some(SIZE_INDEX[(size - 1) / 8] as usize);
    }
    // 193..=256 is class 7 (256), then one class per power of two.
    Some((usize::BITS - (size - 1).leading_zeros()) as usize - 1)
}

/// Byte of a free object (`POISON_FREE`).
pub const POISON_FREE: u8 = 0x6b;
/// Last byte of a free object (`POISON_END`).
pub const POISON_END: u8 = 0xa5;
/// Byte of a fresh, never-constructed object (`POISON_INUSE`).
pub const POISON_INUSE: u8 = 0x5a;
/// Red zone of a free object (`SLUB_RED_INACTIVE`).
pub const RED_INACTIVE: u8 = 0xbb;
/// Red zone of an allocated object (`SLUB_RED_ACTIVE`).
pub const RED_ACTIVE: u8 = 0xcc;

/// Bytes of red zone on each side of an object.
pub const RED_ZONE: usize = 8;

/// The cache line: the default alignment and the colour step.
pub const CACHE_LINE: usize = 64;

/// The largest slab order (`slub_max_order`, `PAGE_ALLOC_COSTLY_ORDER`).
pub const SLAB_MAX_ORDER: u32 = 3;

/// Fewest objects a slab should hold when the size allows
/// (`slub_min_objects` for two CPUs: `4 * (fls(2) + 1)`).
pub const MIN_OBJECTS: usize = 12;

/// A cache's debugging options (`SLAB_RED_ZONE`, `SLAB_POISON`,
/// `SLAB_STORE_USER`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DebugFlags {
    /// Red zones around each object.
    pub redzone: bool,
    /// Poison free objects.
    pub poison: bool,
    /// Keep the last allocating caller of each object.
    pub store_user: bool,
}

impl DebugFlags {
    /// Whether any option is on: such caches skip the per-CPU caches and
    /// check every free, as SLUB's debug caches take the slow path.
    pub const fn any(&self) -> bool {
        // `|`, not `||`: one branch on the hit paths instead of three.
        self.redzone | self.poison | self.store_user
    }

    /// Parses `redzone,poison,store_user` (any subset, any order).
    pub fn parse(list: &str) -> Option<Self> {
        let mut flags = Self::default();
        for word in list.split(',') {
            match word {
                "redzone" => flags.redzone = true,
                "poison" => flags.poison = true,
                "store_user" => flags.store_user = true,
                _ => return None,
            }
        }
        Some(flags)
    }
}

const fn align_up(x: usize, a: usize) -> usize {
    (x + a - 1) & !(a - 1)
}

/// Where everything sits in a slab, and how many objects it holds.
///
/// Each slot is `[left red zone][object][right red zone][caller]`, rounded
/// up to the alignment; the slab's leftover bytes give the colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The caller's object size.
    pub object_size: usize,
    /// Object alignment (a power of two).
    pub align: usize,
    /// Offset of the object in its slot (the left red zone).
    pub object_offset: usize,
    /// Bytes of right red zone after the object.
    pub red_right: usize,
    /// Offset of the stored caller in the slot, if kept.
    pub track_offset: Option<usize>,
    /// Bytes per slot.
    pub slot: usize,
    /// Slab order.
    pub order: Order,
    /// Objects per slab.
    pub objects: usize,
    /// Bytes the slots take: `objects * slot`.
    span: usize,
    /// Distinct colour offsets.
    pub colours: usize,
    /// Bytes between colours.
    pub colour_off: usize,
    /// Poisoning is on (never with a constructor).
    pub poison: bool,
    /// `ceil(2^32 / slot)`: [`Layout::index_of`] multiplies by it instead
    /// of dividing (`reciprocal_value()` of `obj_to_index()`).
    pub slot_recip: u64,
}

impl Layout {
    /// The layout of objects of `size` bytes aligned to `align` (0: a
    /// cache line for objects of at least half one, else the word size).
    /// `None` if the size or alignment is unusable.
    pub fn new(size: usize, align: usize, debug: DebugFlags, has_ctor: bool) -> Option<Self> {
        if size == 0 || size > KMALLOC_MAX_CACHE_SIZE * 4 || (align != 0 && !align.is_power_of_two()) {
            return None;
        }
        let align = match align {
            0 if size >= CACHE_LINE / 2 => CACHE_LINE,
            0 => 8,
            a if a > PAGE_SIZE => return None,
            a => a.max(8),
        };
        let object_offset = if debug.redzone { align_up(RED_ZONE, align) } else { 0 };
        let end = object_offset + size;
        let red_right = if debug.redzone { align_up(end, 8) - end + RED_ZONE } else { 0 };
        let track_offset = debug.store_user.then_some(align_up(end + red_right, 8));
        let used = track_offset.map_or(end + red_right, |t| t + 8);
        let slot = align_up(used, align);
        let (order, objects) = calculate_order(slot)?;
        let leftover = (PAGE_SIZE << order.get()) - objects * slot;
        let colour_off = CACHE_LINE.max(align);
        Some(Self {
            object_size: size,
            align,
            object_offset,
            red_right,
            track_offset,
            slot,
            order,
            objects,
            span: objects * slot,
            colours: leftover / colour_off + 1,
            colour_off,
            poison: debug.poison && !has_ctor,
            slot_recip: (1u64 << 32).div_ceil(slot as u64),
        })
    }

    /// The object index of slot offset `off` (from the slab's first slot)
    /// if it starts a slot of the slab, without a division: with
    /// `r = ceil(2^32 / slot) = (2^32 + e) / slot`, `e < slot`, a multiple
    /// `k * slot` gives `k * r = k * 2^32 + k * e`, and `k * e` stays below
    /// the slab's size, far under `2^32`; anything else fails the check.
    #[inline(always)]
    pub const fn index_of(&self, off: usize) -> Option<usize> {
        if off >= self.span {
            return None;
        }
        // Wrapping multiplies that never wrap (`off` is below the slab's
        // size, `slot_recip` at most `2^32`; `i * slot` at most the slab's
        // size), written so to keep overflow checks off the free path.
        let i = (off as u64).wrapping_mul(self.slot_recip) >> 32;
        let i = i as usize;
        // `off < objects * slot` above, so a match has `i < objects`.
        if i.wrapping_mul(self.slot) == off {
            Some(i)
        } else {
            None
        }
    }

    /// The colour offset of the `n`-th slab grown (`cache_grow()`).
    pub const fn colour(&self, n: usize) -> usize {
        (n % self.colours) * self.colour_off
    }

    /// Bytes per slab.
    pub const fn slab_bytes(&self) -> usize {
        PAGE_SIZE << self.order.get()
    }
}

/// `calculate_order()`: the smallest order up to [`SLAB_MAX_ORDER`] whose
/// slab wastes at most 1/16 of itself (then 1/8, then 1/4) and holds
/// [`MIN_OBJECTS`] if it can; returns the order and objects per slab.
pub fn calculate_order(slot: usize) -> Option<(Order, usize)> {
    if slot == 0 || slot > PAGE_SIZE << SLAB_MAX_ORDER {
        return None;
    }
    // As many objects as the largest slab could hold, at most MIN_OBJECTS.
    let min_objects = MIN_OBJECTS.min((PAGE_SIZE << SLAB_MAX_ORDER) / slot);
    for fraction in [16, 8, 4] {
        for o in 0..=SLAB_MAX_ORDER {
            let bytes = PAGE_SIZE << o;
            let objects = bytes / slot;
            if objects < min_objects.max(1) {
                continue;
            }
            if bytes % slot <= bytes / fraction {
                return Some((Order::new(o)?, objects));
            }
        }
    }
    // Whatever fits the largest slab.
    Some((Order::new(SLAB_MAX_ORDER)?, (PAGE_SIZE << SLAB_MAX_ORDER) / slot))
}

/// The per-CPU cache's `(limit, batchcount)` by slot size: SLAB's
/// `enable_cpucache()` defaults, except from 257 to 1024 bytes, where SLAB
/// keeps 54 and SLUB keeps more per CPU (its CPU slab and the
/// `cpu_partial_slabs` that `slub_set_cpu_partial()` allows: about three
/// 32-object slabs at 1 KiB). 96 lets a CPU hold and give back 64 objects
/// without going to the node lists, as SLUB's does.
pub const fn default_limit(slot: usize) -> (usize, usize) {
    let limit = if slot > 131072 {
        1
    } else if slot > PAGE_SIZE {
        8
    } else if slot > 1024 {
        24
    } else if slot > 256 {
        96
    } else {
        120
    };
    (limit, (limit + 1) / 2)
}

/// The most objects an array cache may hold (`limit`'s upper bound).
pub const ARRAY_CACHE_MAX: usize = 512;
const _: () = assert!(ARRAY_CACHE_MAX.is_power_of_two());

/// Fills an object with the free-object poison: `0x6b...0xa5`.
pub fn poison(object: &mut [u8]) {
    object.fill(POISON_FREE);
    if let Some(last) = object.last_mut() {
        *last = POISON_END;
    }
}

/// The first byte of `object` that is not free-object poison.
pub fn find_bad_poison(object: &[u8]) -> Option<usize> {
    let (last, body) = object.split_last()?;
    body.iter()
        .position(|&b| b != POISON_FREE)
        .or(if *last != POISON_END { Some(body.len()) } else { None })
}

/// The first byte of `zone` that is not `byte`.
pub fn find_not(zone: &[u8], byte: u8) -> Option<usize> {
    zone.iter().position(|&b| b != byte)
}

/// Why an object given back was refused. Nothing changes when it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectError {
    /// Not the start of an object of this slab.
    NotAnObject,
    /// Already free: a double free.
    AlreadyFree,
}

/// One slab's free objects: a stack of object indices, and a bitmap of
/// which are free (for double-free detection). `S` holds the stack (one
/// entry per object), `B` the bitmap (one bit per object).
///
/// # Invariants
///
/// The stack holds exactly the objects whose bit is set, once each.
pub struct Freelist<S, B> {
    stack: S,
    len: usize,
    free: B,
    objects: usize,
}

impl<S, B> Freelist<S, B>
where
    S: core::ops::DerefMut<Target = [u16]>,
    B: core::ops::DerefMut<Target = [u64]>,
{
    /// Every one of `objects` objects free, lowest index handed out first.
    /// `None` if the storage is too small.
    pub fn new(mut stack: S, mut free: B, objects: usize) -> Option<Self> {
        if stack.len() < objects || free.len() * 64 < objects || objects > u16::MAX as usize {
            return None;
        }
        for (i, slot) in stack[..objects].iter_mut().enumerate() {
            *slot = (objects - 1 - i) as u16;
        }
        free.fill(0);
        for i in 0..objects {
            free[i / 64] |= 1 << (i % 64);
        }
        Some(Self { stack, len: objects, free, objects })
    }

    /// Objects in the slab.
    pub const fn objects(&self) -> usize {
        self.objects
    }

    /// Free objects.
    pub const fn nr_free(&self) -> usize {
        self.len
    }

    /// Objects in use.
    pub const fn inuse(&self) -> usize {
        self.objects - self.len
    }

    /// Whether object `i` is free.
    pub fn is_free(&self, i: usize) -> bool {
        i < self.objects && self.free[i / 64] >> (i % 64) & 1 == 1
    }

    /// Takes a free object.
    pub fn pop(&mut self) -> Option<usize> {
        self.len = self.len.checked_sub(1)?;
        let i = self.stack[self.len] as usize;
        self.free[i / 64] &= !(1 << (i % 64));
        Some(i)
    }

    /// Gives object `i` back, refusing a double free or a bad index.
    pub fn push(&mut self, i: usize) -> Result<(), ObjectError> {
        if i >= self.objects {
            return Err(ObjectError::NotAnObject);
        }
        if self.is_free(i) {
            return Err(ObjectError::AlreadyFree);
        }
        self.free[i / 64] |= 1 << (i % 64);
        self.stack[self.len] = i as u16;
        self.len += 1;
        Ok(())
    }
}

/// A CPU's cache of free objects (SLAB's `struct array_cache`): a stack
/// of object addresses, hottest on top.
///
/// # Invariants
///
/// `avail <= ARRAY_CACHE_MAX` (the length of `entries`) and `1 <=
/// batchcount <= limit <= ARRAY_CACHE_MAX`; `avail <= limit` but after a
/// [`ArrayCache::set_tunables`] that lowered `limit`, until the caller
/// flushes.
pub struct ArrayCache<S> {
    entries: S,
    avail: usize,
    limit: usize,
    batchcount: usize,
}

/// Why a `limit`/`batchcount` pair was refused.
pub const BAD_TUNABLES: &str = "need 1 <= batchcount <= limit <= 512";

/// Whether `limit` and `batchcount` may be set together.
pub const fn check_tunables(limit: usize, batchcount: usize) -> Result<(), &'static str> {
    if batchcount == 0 || batchcount > limit || limit > ARRAY_CACHE_MAX {
        Err(BAD_TUNABLES)
    } else {
        Ok(())
    }
}

impl<S: core::ops::DerefMut<Target = [usize; ARRAY_CACHE_MAX]>> ArrayCache<S> {
    /// An empty cache over `entries`.
    pub fn new(entries: S, limit: usize, batchcount: usize) -> Result<Self, &'static str> {
        check_tunables(limit, batchcount)?;
        Ok(Self { entries, avail: 0, limit, batchcount })
    }

    /// Objects held.
    pub const fn avail(&self) -> usize {
        self.avail
    }

    /// `limit`.
    pub const fn limit(&self) -> usize {
        self.limit
    }

    /// `batchcount`.
    pub const fn batchcount(&self) -> usize {
        self.batchcount
    }

    /// Sets the tunables; objects over the new limit are the caller's to
    /// flush (see [`ArrayCache::flush`]).
    pub fn set_tunables(&mut self, limit: usize, batchcount: usize) -> Result<(), &'static str> {
        check_tunables(limit, batchcount)?;
        self.limit = limit;
        self.batchcount = batchcount;
        Ok(())
    }

    /// Takes the hottest object.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<usize> {
        self.avail = self.avail.checked_sub(1)?;
        // After the decrement `avail < ARRAY_CACHE_MAX` (type invariant),
        // a power of two: the mask changes nothing and spares the hit path
        // a bounds check.
        Some(self.entries[self.avail & (ARRAY_CACHE_MAX - 1)])
    }

    /// Whether there is room for one more.
    #[inline(always)]
    pub const fn has_room(&self) -> bool {
        self.avail < self.limit
    }

    /// Caches a freed object. The caller flushes first when full.
    #[inline(always)]
    pub fn push(&mut self, obj: usize) -> bool {
        let avail = self.avail;
        if avail >= self.limit {
            return false;
        }
        // As in `pop`: `avail < limit <= ARRAY_CACHE_MAX`.
        self.entries[avail & (ARRAY_CACHE_MAX - 1)] = obj;
        self.avail = avail + 1;
        true
    }

    /// `cache_flusharray()`: gives the `batchcount` coldest objects (or
    /// all, or those over `limit`) to `free`, oldest first.
    pub fn flush(&mut self, all: bool, mut free: impl FnMut(usize)) -> usize {
        let n = if all {
            self.avail
        } else if self.avail > self.limit {
            self.avail - self.limit
        } else {
            self.batchcount.min(self.avail)
        };
        for &obj in &self.entries[..n] {
            free(obj);
        }
        self.entries.copy_within(n..self.avail, 0);
        self.avail -= n;
        n
    }
}

/// Which list a slab is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabList {
    /// No free object.
    Full,
    /// Some free objects.
    Partial,
    /// No object in use.
    Free,
}

impl SlabList {
    /// The list for a slab with `inuse` of `objects` objects in use.
    pub const fn of(inuse: usize, objects: usize) -> Self {
        if inuse == 0 {
            Self::Free
        } else if inuse == objects {
            Self::Full
        } else {
            Self::Partial
        }
    }
}

/// A node's full, partial and free slab lists as three runs of one array:
/// `[full | partial | free]`. Moving a slab is one or two swaps, so no list
/// ever allocates; the caller applies the swaps to its array.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabLists {
    nr_full: usize,
    nr_partial: usize,
    len: usize,
}

impl SlabLists {
    /// Slabs on each list: full, partial, free.
    pub const fn counts(&self) -> (usize, usize, usize) {
        (self.nr_full, self.nr_partial, self.len - self.nr_full - self.nr_partial)
    }

    /// Slabs in all.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The list of the slab at `pos`.
    pub const fn list_of(&self, pos: usize) -> SlabList {
        if pos < self.nr_full {
            SlabList::Full
        } else if pos < self.nr_full + self.nr_partial {
            SlabList::Partial
        } else {
            SlabList::Free
        }
    }

    /// Where a partial slab is, if any (the most recently filled first).
    pub const fn first_partial(&self) -> Option<usize> {
        if self.nr_partial > 0 {
            Some(self.nr_full)
        } else {
            None
        }
    }

    /// Where a free slab is, if any.
    pub const fn last_free(&self) -> Option<usize> {
        if self.len > self.nr_full + self.nr_partial {
            Some(self.len - 1)
        } else {
            None
        }
    }

    /// A new free slab at the end (position `len`).
    pub fn push_free(&mut self) -> usize {
        self.len += 1;
        self.len - 1
    }

    /// Takes away the last free slab (after the caller removed it).
    pub fn pop_free(&mut self) -> bool {
        if self.last_free().is_none() {
            return false;
        }
        self.len -= 1;
        true
    }

    /// Moves the slab at `pos` to list `to`, calling `swap(a, b)` for each
    /// exchange of array positions. Returns the slab's new position.
    pub fn move_to(&mut self, mut pos: usize, to: SlabList, mut swap: impl FnMut(usize, usize)) -> usize {
        loop {
            let from = self.list_of(pos);
            let step = match (from, to) {
                (a, b) if a == b => return pos,
                (SlabList::Full, _) => {
                    // Full -> Partial: the last full slot becomes partial.
                    self.nr_full -= 1;
                    self.nr_partial += 1;
                    self.nr_full
                }
                (SlabList::Free, _) => {
                    self.nr_partial += 1;
                    self.nr_full + self.nr_partial - 1
                }
                (SlabList::Partial, SlabList::Full) => {
                    self.nr_full += 1;
                    self.nr_partial -= 1;
                    self.nr_full - 1
                }
                (SlabList::Partial, _) => {
                    self.nr_partial -= 1;
                    self.nr_full + self.nr_partial
                }
            };
            if step != pos {
                swap(pos, step);
            }
            pos = step;
        }
    }
}

#[cfg(test)]
mod tests;
