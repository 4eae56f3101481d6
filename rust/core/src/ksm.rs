// SPDX-License-Identifier: GPL-2.0

//! The same-page merger's decisions: `cmp_and_merge_page()` of
//! `mm/ksm.c` (7.3), over pages and trees the caller keeps.
//!
//! For each scanned page, in the kernel's order: a page already shared is
//! left alone; a page that changed since its last scan is *volatile* and
//! only has its state noted (`rmap_item->oldchecksum`), so a page is
//! volatile on first sight; with `use_zero_pages` an all-zero page maps
//! the shared zero page; else a page equal to one in the **stable tree**
//! (shared pages) joins it while that page has fewer than
//! `max_page_sharing` users (past that, a *chain* of duplicates of the
//! same content grows), and if that merge fails nothing else is tried
//! this time; else a page equal to one in the **unstable tree** (this
//! pass's candidates) makes a new shared page of the two, and an
//! unmatched page joins the unstable tree. Stable nodes whose page is gone
//! are dropped when a search meets them.
//!
//! Trees are keyed by a content hash (xxh64, as `calc_checksum()` uses)
//! and every match is confirmed by comparing contents, so a collision
//! never merges different pages.

/// A mergeable page: page `index` of region `region`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Item {
    /// The region's stable identity.
    pub region: u64,
    /// The page within it.
    pub index: usize,
}

/// What a mergeable page is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page<S> {
    /// The region's own page.
    Private,
    /// A shared page (a stable page, or the zero page).
    Shared(S),
    /// No such page any more (the region went away).
    Gone,
}

/// The knobs of `/sys/kernel/mm/ksm/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knobs {
    /// Most sharers of one shared page (`max_page_sharing`, at least 2).
    pub max_page_sharing: usize,
    /// Merge all-zero pages with the zero page (`use_zero_pages`).
    pub use_zero_pages: bool,
}

/// What [`cmp_and_merge_page`] did with a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Already shared, or gone: nothing to do.
    Skipped,
    /// Mapped the zero page.
    Zero,
    /// Joined an existing shared page.
    Merged,
    /// An equal shared page was found but could not be merged now; as in
    /// ksm.c, nothing else is tried this time.
    Busy,
    /// Made a new shared page with a page from the unstable tree.
    Paired,
    /// Its content changed since the last pass.
    Volatile,
    /// Put in the unstable tree.
    Unstable,
}

/// The pages and trees the merger works on.
pub trait Mm {
    /// A handle to a shared page.
    type Shared: Clone;

    /// What `item` is now.
    fn page(&self, item: Item) -> Page<Self::Shared>;
    /// Whether `item` changed since its last scan (`rmap_item->oldchecksum`
    /// differs), noting its state now for the next scan; true on first
    /// sight.
    fn volatile(&mut self, item: Item) -> bool;
    /// A hash of `item`'s content (the trees' key); `None` if it cannot be
    /// read now.
    fn hash(&self, item: Item) -> Option<u64>;
    /// Whether `item`'s content is all zero.
    fn is_zero(&self, item: Item) -> bool;
    /// Whether two private pages hold the same bytes (`memcmp_pages()`).
    fn same(&self, a: Item, b: Item) -> bool;
    /// Whether a private page holds the same bytes as a shared one.
    fn same_as(&self, a: Item, s: &Self::Shared) -> bool;
    /// How many pages use the shared page.
    fn sharers(&self, s: &Self::Shared) -> usize;
    /// Nobody uses `s` any more: its stable node is stale.
    fn stale(&self, s: &Self::Shared) -> bool;

    /// Turns `item`'s own page into a shared page used by it alone.
    fn share(&mut self, item: Item) -> Option<Self::Shared>;
    /// Maps `s` in place of `item`'s own page, which is freed. The caller
    /// write-protects the page and compares it again first: false if it
    /// changed or is in use.
    fn merge(&mut self, item: Item, s: &Self::Shared) -> bool;
    /// The shared zero page.
    fn zero_page(&mut self) -> Option<Self::Shared>;

    /// The first shared page under `hash` for which `f` is true.
    fn stable_find(&self, hash: u64, f: &mut dyn FnMut(&Self::Shared) -> bool) -> Option<Self::Shared>;
    /// Adds a shared page under `hash`; `sibling` is a full one of the
    /// same content whose chain it joins (`stable_node_chain_add_dup()`).
    fn stable_insert(&mut self, hash: u64, s: Self::Shared, sibling: Option<&Self::Shared>);
    /// Drops a stale stable node (`remove_node_from_stable_tree()`).
    fn stable_remove(&mut self, hash: u64, s: &Self::Shared);
    /// The first item under `hash` in the unstable tree for which `f` is
    /// true.
    fn unstable_find(&self, hash: u64, f: &mut dyn FnMut(Item) -> bool) -> Option<Item>;
    /// Adds `item` to the unstable tree.
    fn unstable_insert(&mut self, hash: u64, item: Item);
    /// Takes `item` out of the unstable tree.
    fn unstable_remove(&mut self, hash: u64, item: Item);
}

/// Stale stable nodes one search drops at most.
const MAX_STALE: usize = 8;

/// `cmp_and_merge_page()`: one scanned page.
pub fn cmp_and_merge_page<M: Mm>(mm: &mut M, item: Item, knobs: &Knobs) -> Outcome {
    if !matches!(mm.page(item), Page::Private) {
        return Outcome::Skipped;
    }
    // A page that keeps changing is not worth a search (and is not
    // inserted in the unstable tree).
    if mm.volatile(item) {
        return Outcome::Volatile;
    }
    if knobs.use_zero_pages && mm.is_zero(item) {
        if let Some(zero) = mm.zero_page() {
            if mm.merge(item, &zero) {
                return Outcome::Zero;
            }
        }
    }
    let Some(hash) = mm.hash(item) else {
        return Outcome::Volatile;
    };
    // stable_tree_search(): an equal shared page with room; stale nodes
    // met on the way are dropped afterwards.
    let max = knobs.max_page_sharing.max(2);
    let mut full = None;
    let mut stale: [Option<M::Shared>; MAX_STALE] = Default::default();
    let found = {
        let mm_ref: &M = mm;
        let mut n_stale = 0;
        mm_ref.stable_find(hash, &mut |s| {
            if mm_ref.stale(s) {
                if n_stale < MAX_STALE {
                    stale[n_stale] = Some(s.clone());
                    n_stale += 1;
                }
                return false;
            }
            if !mm_ref.same_as(item, s) {
                return false;
            }
            if mm_ref.sharers(s) < max {
                return true;
            }
            full.get_or_insert_with(|| s.clone());
            false
        })
    };
    for s in stale.iter().flatten() {
        mm.stable_remove(hash, s);
    }
    if let Some(s) = found {
        // try_to_merge_with_ksm_page(): whatever its result, ksm.c tries
        // nothing else for this page this time.
        return if mm.merge(item, &s) { Outcome::Merged } else { Outcome::Busy };
    }
    // unstable_tree_search_insert(): a twin from this pass.
    let twin = {
        let mm_ref: &M = mm;
        mm_ref.unstable_find(hash, &mut |other| {
            other != item && matches!(mm_ref.page(other), Page::Private) && mm_ref.same(item, other)
        })
    };
    if let Some(twin) = twin {
        mm.unstable_remove(hash, twin);
        // try_to_merge_two_pages(): the twin's page becomes the shared one.
        if let Some(s) = mm.share(twin) {
            if mm.merge(item, &s) {
                mm.stable_insert(hash, s, full.as_ref());
                return Outcome::Paired;
            }
            // Could not map it: keep the shared page for its one user.
            mm.stable_insert(hash, s, full.as_ref());
        }
        return Outcome::Unstable;
    }
    mm.unstable_insert(hash, item);
    Outcome::Unstable
}

/// The kernel's `/sys/kernel/mm/ksm/` counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Shared pages in use (`pages_shared`).
    pub pages_shared: usize,
    /// Further pages mapping them: the pages saved (`pages_sharing`).
    pub pages_sharing: usize,
    /// Pages in the unstable tree (`pages_unshared`).
    pub pages_unshared: usize,
    /// Mergeable pages (`ksm_rmap_items`).
    pub rmap_items: usize,
    /// Pages mapping the zero page (`ksm_zero_pages`).
    pub zero_pages: usize,
}

impl Counters {
    /// `pages_volatile`: `pages_volatile_show()`'s difference, never
    /// negative (pages on the zero page count in it, as in the kernel).
    pub const fn pages_volatile(&self) -> usize {
        self.rmap_items
            .saturating_sub(self.pages_shared)
            .saturating_sub(self.pages_sharing)
            .saturating_sub(self.pages_unshared)
    }

    /// `general_profit`: bytes saved minus the merger's per-page metadata
    /// (`rmap_item_size` bytes each).
    pub const fn general_profit(&self, page_size: usize, rmap_item_size: usize) -> isize {
        ((self.pages_sharing + self.zero_pages) * page_size) as isize
            - (self.rmap_items * rmap_item_size) as isize
    }
}

const P1: u64 = 0x9e37_79b1_85eb_ca87;
const P2: u64 = 0xc2b2_ae3d_27d4_eb4f;
const P3: u64 = 0x1656_67b1_9e37_79f9;
const P4: u64 = 0x85eb_ca77_c2b2_ae63;
const P5: u64 = 0x27d4_eb2f_1656_67c5;

const fn xxh64_round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

const fn xxh64_merge(acc: u64, val: u64) -> u64 {
    (acc ^ xxh64_round(0, val)).wrapping_mul(P1).wrapping_add(P4)
}

fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// xxh64 of `data` with seed 0: the hash `calc_checksum()` takes of a page
/// (`xxhash()` on 64-bit), written from the algorithm's description.
pub fn page_hash(data: &[u8]) -> u64 {
    let len = data.len() as u64;
    let stripes = data.chunks_exact(32);
    let tail = stripes.remainder();
    let mut h = if data.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        for stripe in stripes {
            for (lane, word) in v.iter_mut().zip(stripe.chunks_exact(8)) {
                *lane = xxh64_round(*lane, le64(word));
            }
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = xxh64_merge(h, lane);
        }
        h
    } else {
        P5
    };
    h = h.wrapping_add(len);
    let mut rest = tail;
    while rest.len() >= 8 {
        h ^= xxh64_round(0, le64(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&rest[..4]);
        h ^= u64::from(u32::from_le_bytes(w)).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests;
