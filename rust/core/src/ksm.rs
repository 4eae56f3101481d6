// SPDX-License-Identifier: GPL-2.0

//! The same-page merger's decisions: `cmp_and_merge_page()` of
//! `mm/ksm.c`, over pages and trees the caller keeps.
//!
//! For each scanned page: an all-zero page maps the shared zero page
//! (`use_zero_pages`); else a page equal to one in the **stable tree**
//! (shared pages) joins it, as long as that shared page has fewer than
//! `max_page_sharing` sharers (beyond that, a *chain* of duplicates of
//! the same content grows); else a page whose checksum changed since the
//! last pass is *volatile* and only has its checksum noted; else a page
//! equal to one in the **unstable tree** (this pass's candidates) makes a
//! new shared page of the two, and an unmatched page joins the unstable
//! tree. The unstable tree is emptied after every full pass.
//!
//! Trees are keyed by a content hash and every match is confirmed by
//! comparing contents, so a collision never merges different pages.

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
    /// Made a new shared page with a page from the unstable tree.
    Paired,
    /// Its content changed since the last pass.
    Volatile,
    /// Put in the unstable tree.
    Unstable,
}

/// The pages, trees and checksums the merger works on.
pub trait Mm {
    /// A handle to a shared page.
    type Shared: Clone;

    /// What `item` is now.
    fn page(&self, item: Item) -> Page<Self::Shared>;
    /// A hash of `item`'s content (the checksum, and the trees' key).
    fn hash(&self, item: Item) -> u64;
    /// Whether `item`'s content is all zero.
    fn is_zero(&self, item: Item) -> bool;
    /// Whether two private pages hold the same bytes (`memcmp_pages()`).
    fn same(&self, a: Item, b: Item) -> bool;
    /// Whether a private page holds the same bytes as a shared one.
    fn same_as(&self, a: Item, s: &Self::Shared) -> bool;
    /// How many pages map the shared page.
    fn sharers(&self, s: &Self::Shared) -> usize;

    /// Turns `item`'s own page into a shared page mapped by it alone.
    fn share(&mut self, item: Item) -> Option<Self::Shared>;
    /// Maps `s` in place of `item`'s own page, which is freed.
    fn merge(&mut self, item: Item, s: &Self::Shared) -> bool;
    /// The shared zero page.
    fn zero_page(&mut self) -> Option<Self::Shared>;

    /// The checksum `item` had at its last scan (`rmap_item->oldchecksum`).
    fn old_hash(&self, item: Item) -> Option<u64>;
    /// Notes `item`'s checksum.
    fn set_old_hash(&mut self, item: Item, hash: u64);

    /// The first shared page under `hash` for which `f` is true.
    fn stable_find(&self, hash: u64, f: &mut dyn FnMut(&Self::Shared) -> bool) -> Option<Self::Shared>;
    /// Adds a shared page under `hash`; `sibling` is a full one of the
    /// same content whose chain it joins (`stable_node_chain_add_dup()`).
    fn stable_insert(&mut self, hash: u64, s: Self::Shared, sibling: Option<&Self::Shared>);
    /// The first item under `hash` in the unstable tree for which `f` is
    /// true.
    fn unstable_find(&self, hash: u64, f: &mut dyn FnMut(Item) -> bool) -> Option<Item>;
    /// Adds `item` to the unstable tree.
    fn unstable_insert(&mut self, hash: u64, item: Item);
    /// Takes `item` out of the unstable tree.
    fn unstable_remove(&mut self, hash: u64, item: Item);
}

/// `cmp_and_merge_page()`: one scanned page.
pub fn cmp_and_merge_page<M: Mm>(mm: &mut M, item: Item, knobs: &Knobs) -> Outcome {
    if !matches!(mm.page(item), Page::Private) {
        return Outcome::Skipped;
    }
    if knobs.use_zero_pages && mm.is_zero(item) {
        if let Some(zero) = mm.zero_page() {
            if mm.merge(item, &zero) {
                return Outcome::Zero;
            }
        }
    }
    let hash = mm.hash(item);
    // stable_tree_search(): an equal shared page with room.
    let max = knobs.max_page_sharing.max(2);
    let mut full = None;
    let found = {
        let mm_ref: &M = mm;
        mm_ref.stable_find(hash, &mut |s| {
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
    if let Some(s) = found {
        if mm.merge(item, &s) {
            return Outcome::Merged;
        }
    }
    // A page that changed since the last pass is too volatile to pair.
    if mm.old_hash(item) != Some(hash) {
        mm.set_old_hash(item, hash);
        return Outcome::Volatile;
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
    /// `pages_volatile`: items in no tree, never negative.
    pub const fn pages_volatile(&self) -> usize {
        self.rmap_items
            .saturating_sub(self.pages_shared)
            .saturating_sub(self.pages_sharing)
            .saturating_sub(self.pages_unshared)
            .saturating_sub(self.zero_pages)
    }

    /// `general_profit`: bytes saved minus the merger's per-page metadata
    /// (`rmap_item_size` bytes each).
    pub const fn general_profit(&self, page_size: usize, rmap_item_size: usize) -> isize {
        ((self.pages_sharing + self.zero_pages) * page_size) as isize
            - (self.rmap_items * rmap_item_size) as isize
    }
}

/// A 64-bit FNV-1a hash of a page, a word at a time (the kernel uses
/// xxhash; any good, fast hash will do, since matches are compared).
pub fn page_hash(page: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in page.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h ^= u64::from_le_bytes(word);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    h
}

#[cfg(test)]
mod tests;
