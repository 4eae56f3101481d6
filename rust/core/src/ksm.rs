// SPDX-License-Identifier: GPL-2.0

//! The same-page merger's decisions: `cmp_and_merge_page()` of
//! `mm/ksm.c` (7.3), over pages and trees the caller keeps.
//!
//! A scanned page goes through these steps in the kernel's order, and the
//! first that settles it ends the scan of that page:
//!
//! 1. A page that is gone, or already maps a shared page, is skipped.
//! 2. Volatility comes before any search: a page whose content changed
//!    since its last scan (`rmap_item->oldchecksum`) only has its state
//!    noted. So every page is volatile on first sight, and a page that
//!    keeps changing costs no search and stays out of the unstable tree.
//! 3. With `use_zero_pages`, an all-zero page maps the shared zero page;
//!    if that fails, the page goes on to the trees.
//! 4. The **stable tree** (shared pages) is searched under the page's
//!    hash; a page that cannot be read now counts as volatile. A node that
//!    nobody maps any more is stale: it is never merged into, and is
//!    removed once the search is over. An equal shared page with fewer
//!    than `max_page_sharing` users is merged with, and whether or not
//!    that works, nothing else is tried for this page this time. An equal
//!    page that is full is remembered, so that a new shared page of that
//!    content joins its *chain* of duplicates.
//! 5. The **unstable tree** (this pass's candidates) is searched for an
//!    equal private page of another item; the two make a new shared page,
//!    which enters the stable tree. Here the twin's page becomes the
//!    shared one (ksm.c turns the scanned page into it), and if the
//!    scanned page then cannot be mapped onto it, the new shared page
//!    still enters the stable tree with its one user (ksm.c breaks it
//!    back into a private page). A page with no twin joins the unstable
//!    tree.
//!
//! Trees are keyed by a content hash (xxh64, as `calc_checksum()` uses),
//! which may collide: every match is confirmed by comparing contents, and
//! the caller compares once more under write protection before it maps a
//! page, so a collision never merges different pages.

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
    /// Put in the unstable tree; or a twin was found there but the pair
    /// could not be made.
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

/// Stale stable nodes one search drops at most: the core has no allocator
/// to collect more, and any left over are dropped by later searches.
const MAX_STALE: usize = 8;

/// `cmp_and_merge_page()`: one scanned page.
pub fn cmp_and_merge_page<M: Mm>(mm: &mut M, item: Item, knobs: &Knobs) -> Outcome {
    if !matches!(mm.page(item), Page::Private) {
        return Outcome::Skipped;
    }
    // A page that keeps changing is not worth a search, nor a place in the
    // unstable tree. ksm.c checks this before the zero page and the stable
    // tree, so even a page equal to a shared one waits one pass.
    if mm.volatile(item) {
        return Outcome::Volatile;
    }
    // try_to_merge_with_zero_page(): when it fails, ksm.c goes on to the
    // trees.
    if knobs.use_zero_pages && mm.is_zero(item) {
        if let Some(zero) = mm.zero_page() {
            if mm.merge(item, &zero) {
                return Outcome::Zero;
            }
        }
    }
    // Unreadable now: as good as changing, try again next pass.
    let Some(hash) = mm.hash(item) else {
        return Outcome::Volatile;
    };
    // stable_tree_search(): an equal shared page with room. A stale node is
    // recognised before its content is compared (its page may be gone) and
    // is dropped after the search, which the callback cannot do while the
    // tree is being walked. A full equal page becomes the chain sibling.
    let max = knobs.max_page_sharing.max(2);
    let mut full = None;
    let mut stale: [Option<M::Shared>; MAX_STALE] = Default::default();
    let found = {
        let mm_ref: &M = mm;
        let mut n_stale = 0;
        mm_ref.stable_find(hash, &mut |s| {
            if mm_ref.stale(s) {
                if let Some(slot) = stale.get_mut(n_stale) {
                    *slot = Some(s.clone());
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

// xxh64's five primes.
const P1: u64 = 0x9e37_79b1_85eb_ca87;
const P2: u64 = 0xc2b2_ae3d_27d4_eb4f;
const P3: u64 = 0x1656_67b1_9e37_79f9;
const P4: u64 = 0x85eb_ca77_c2b2_ae63;
const P5: u64 = 0x27d4_eb2f_1656_67c5;

/// One accumulator step over one 8-byte word.
const fn xxh64_round(acc: u64, word: u64) -> u64 {
    acc.wrapping_add(word.wrapping_mul(P2)).rotate_left(31).wrapping_mul(P1)
}

/// Folds one of the four stripe accumulators into the hash.
const fn xxh64_merge(h: u64, lane: u64) -> u64 {
    (h ^ xxh64_round(0, lane)).wrapping_mul(P1).wrapping_add(P4)
}

/// The little-endian word in `word`, which `chunks_exact(8)` made exactly
/// 8 bytes long: the zero fallback is never taken, and unlike indexing or
/// `copy_from_slice()` this has no panic path for the kernel.
fn le64(word: &[u8]) -> u64 {
    u64::from_le_bytes(word.try_into().unwrap_or_default())
}

/// As [`le64`], for a 4-byte chunk.
fn le32(word: &[u8]) -> u32 {
    u32::from_le_bytes(word.try_into().unwrap_or_default())
}

/// xxh64 of `page` with seed 0, for input of any length: the hash
/// `calc_checksum()` takes of a page (`xxhash()` is xxh64 on 64-bit; ksm.c
/// keeps its low 32 bits).
///
/// 32-byte stripes feed four independent accumulators, so the multiplies
/// of one stripe overlap; the tail goes by 8, 4, then single bytes.
pub fn page_hash(page: &[u8]) -> u64 {
    let stripes = page.chunks_exact(32);
    let tail = stripes.remainder();
    let mut h = if page.len() >= 32 {
        let mut lanes = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        for stripe in stripes {
            for (lane, word) in lanes.iter_mut().zip(stripe.chunks_exact(8)) {
                *lane = xxh64_round(*lane, le64(word));
            }
        }
        let [v1, v2, v3, v4] = lanes;
        let h = v1
            .rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18));
        lanes.into_iter().fold(h, xxh64_merge)
    } else {
        P5
    };
    h = h.wrapping_add(page.len() as u64);
    let words = tail.chunks_exact(8);
    let rest = words.remainder();
    for word in words {
        h ^= xxh64_round(0, le64(word));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
    }
    let halves = rest.chunks_exact(4);
    let bytes = halves.remainder();
    for half in halves {
        h ^= u64::from(le32(half)).wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
    }
    for &b in bytes {
        h ^= u64::from(b).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    // The final avalanche.
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests;
