// SPDX-License-Identifier: GPL-2.0

//! Virtually contiguous regions: the address-ordered tree of regions and
//! the size arithmetic.
//!
//! Mirrors `mm/vmalloc.c`: the `vmap_area` rbtree keyed by `va_start`
//! (`find_vmap_area()`, `__find_vmap_area()`), the guard page
//! (`VM_NO_GUARD`), and how `vm_area_alloc_pages()` takes large blocks
//! first and splits them. The tree here is an AVL tree over a node array
//! the caller provides, so it needs no allocator of its own.

use crate::pfn::{
    Order,
    MAX_PAGE_ORDER,
    PAGE_SIZE, //
};

/// No node.
const NIL: u32 = u32::MAX;

/// Pages for `size` bytes, or `None` for 0 or an overflow.
pub const fn nr_pages(size: usize) -> Option<usize> {
    if size == 0 {
        return None;
    }
    match size.checked_add(PAGE_SIZE - 1) {
        Some(s) => Some(s / PAGE_SIZE),
        None => None,
    }
}

/// Bytes of address space a region of `nr_pages` takes: its pages plus a
/// guard page unless `no_guard` (`get_vm_area_size()` plus the guard).
pub const fn area_size(nr_pages: usize, no_guard: bool) -> usize {
    (nr_pages + if no_guard { 0 } else { 1 }) * PAGE_SIZE
}

/// The order of the next block to take for `left` pages: the largest
/// power of two that fits, capped at `max` (`vm_area_alloc_pages()`
/// takes `1 << order` pages at a time and splits them).
pub const fn next_order(left: usize, max: Order) -> Order {
    if left == 0 {
        return Order::ZERO;
    }
    let fit = usize::BITS - 1 - left.leading_zeros();
    let o = if fit < max.get() { fit } else { max.get() };
    match Order::new(o) {
        Some(order) => order,
        None => Order::MAX,
    }
}

/// The largest order a region may take: `MAX_PAGE_ORDER`, or the
/// pageblock order (2 MiB) for `huge` regions, as `VM_ALLOW_HUGE_VMAP`
/// asks for PMD-sized blocks.
pub const fn max_order(huge: bool) -> Order {
    match Order::new(if huge { 9 } else { MAX_PAGE_ORDER }) {
        Some(o) => o,
        None => Order::MAX,
    }
}

/// A node of the region tree: the range `[start, end)`.
#[derive(Clone, Copy, Debug)]
pub struct Node {
    start: usize,
    end: usize,
    left: u32,
    right: u32,
    height: u8,
}

impl Node {
    /// An unused node.
    pub const FREE: Self = Self { start: 0, end: 0, left: NIL, right: NIL, height: 0 };
}

/// Why an insertion was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// No free node: give the tree more storage first.
    Full,
    /// The range is empty or overlaps one already in the tree.
    Overlap,
}

/// Address-ordered, non-overlapping ranges, each with a stable slot number
/// (its node's index), looked up in O(log n).
///
/// # Invariants
///
/// The nodes reachable from `root` form an AVL tree ordered by `start`,
/// with disjoint ranges; the others are on the free list through `left`.
pub struct RegionTree<S> {
    nodes: S,
    root: u32,
    free: u32,
    len: usize,
}

impl<S: core::ops::DerefMut<Target = [Node]>> RegionTree<S> {
    /// An empty tree over `nodes` (at most `u32::MAX - 1` of them).
    pub fn new(mut nodes: S) -> Self {
        let n = nodes.len();
        for (i, node) in nodes.iter_mut().enumerate() {
            *node = Node { left: if i + 1 < n { i as u32 + 1 } else { NIL }, ..Node::FREE };
        }
        Self { nodes, root: NIL, free: if n > 0 { 0 } else { NIL }, len: 0 }
    }

    /// Ranges in the tree.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether every node is in use.
    pub const fn is_full(&self) -> bool {
        self.free == NIL
    }

    /// Nodes of storage.
    pub fn capacity(&self) -> usize {
        self.nodes.len()
    }

    /// Moves the tree into larger storage, returning the old. Slots keep
    /// their numbers. Refused (and `bigger` handed back) if it is smaller.
    pub fn grow(&mut self, mut bigger: S) -> Result<S, S> {
        let old = self.nodes.len();
        if bigger.len() < old {
            return Err(bigger);
        }
        bigger[..old].copy_from_slice(&self.nodes);
        let n = bigger.len();
        for i in old..n {
            bigger[i] = Node { left: if i + 1 < n { i as u32 + 1 } else { self.free }, ..Node::FREE };
        }
        if n > old {
            self.free = old as u32;
        }
        Ok(core::mem::replace(&mut self.nodes, bigger))
    }

    fn height(&self, i: u32) -> u8 {
        if i == NIL {
            0
        } else {
            self.nodes[i as usize].height
        }
    }

    fn update(&mut self, i: u32) {
        let n = self.nodes[i as usize];
        self.nodes[i as usize].height = 1 + self.height(n.left).max(self.height(n.right));
    }

    fn rotate_right(&mut self, i: u32) -> u32 {
        let l = self.nodes[i as usize].left;
        self.nodes[i as usize].left = self.nodes[l as usize].right;
        self.nodes[l as usize].right = i;
        self.update(i);
        self.update(l);
        l
    }

    fn rotate_left(&mut self, i: u32) -> u32 {
        let r = self.nodes[i as usize].right;
        self.nodes[i as usize].right = self.nodes[r as usize].left;
        self.nodes[r as usize].left = i;
        self.update(i);
        self.update(r);
        r
    }

    fn balance(&mut self, i: u32) -> u32 {
        self.update(i);
        let n = self.nodes[i as usize];
        let bf = self.height(n.left) as i32 - self.height(n.right) as i32;
        if bf > 1 {
            let l = self.nodes[n.left as usize];
            if self.height(l.left) < self.height(l.right) {
                self.nodes[i as usize].left = self.rotate_left(n.left);
            }
            return self.rotate_right(i);
        }
        if bf < -1 {
            let r = self.nodes[n.right as usize];
            if self.height(r.right) < self.height(r.left) {
                self.nodes[i as usize].right = self.rotate_right(n.right);
            }
            return self.rotate_left(i);
        }
        i
    }

    fn insert_at(&mut self, root: u32, new: u32) -> u32 {
        if root == NIL {
            return new;
        }
        if self.nodes[new as usize].start < self.nodes[root as usize].start {
            let l = self.insert_at(self.nodes[root as usize].left, new);
            self.nodes[root as usize].left = l;
        } else {
            let r = self.insert_at(self.nodes[root as usize].right, new);
            self.nodes[root as usize].right = r;
        }
        self.balance(root)
    }

    /// Adds `[start, end)`; returns its slot.
    pub fn insert(&mut self, start: usize, end: usize) -> Result<u32, TreeError> {
        if start >= end || self.overlaps(start, end) {
            return Err(TreeError::Overlap);
        }
        if self.free == NIL {
            return Err(TreeError::Full);
        }
        let slot = self.free;
        self.free = self.nodes[slot as usize].left;
        self.nodes[slot as usize] = Node { start, end, left: NIL, right: NIL, height: 1 };
        self.root = self.insert_at(self.root, slot);
        self.len += 1;
        Ok(slot)
    }

    fn overlaps(&self, start: usize, end: usize) -> bool {
        // The last range starting below `end` is the only candidate.
        let mut i = self.root;
        let mut best = NIL;
        while i != NIL {
            let n = &self.nodes[i as usize];
            if n.start < end {
                best = i;
                i = n.right;
            } else {
                i = n.left;
            }
        }
        best != NIL && self.nodes[best as usize].end > start
    }

    /// The range holding `addr`: `(slot, start, end)`.
    pub fn find(&self, addr: usize) -> Option<(u32, usize, usize)> {
        let mut i = self.root;
        while i != NIL {
            let n = &self.nodes[i as usize];
            if addr < n.start {
                i = n.left;
            } else if addr >= n.end {
                i = n.right;
            } else {
                return Some((i, n.start, n.end));
            }
        }
        None
    }

    fn remove_min(&mut self, root: u32) -> (u32, u32) {
        let l = self.nodes[root as usize].left;
        if l == NIL {
            return (self.nodes[root as usize].right, root);
        }
        let (new_left, min) = self.remove_min(l);
        self.nodes[root as usize].left = new_left;
        (self.balance(root), min)
    }

    fn remove_at(&mut self, root: u32, start: usize) -> (u32, u32) {
        if root == NIL {
            return (NIL, NIL);
        }
        let n = self.nodes[root as usize];
        let (new_root, gone) = if start < n.start {
            let (l, gone) = self.remove_at(n.left, start);
            self.nodes[root as usize].left = l;
            (root, gone)
        } else if start > n.start {
            let (r, gone) = self.remove_at(n.right, start);
            self.nodes[root as usize].right = r;
            (root, gone)
        } else {
            if n.left == NIL || n.right == NIL {
                let child = if n.left == NIL { n.right } else { n.left };
                return (child, root);
            }
            let (r, min) = self.remove_min(n.right);
            self.nodes[min as usize].left = n.left;
            self.nodes[min as usize].right = r;
            (min, root)
        };
        if gone == NIL {
            return (root, NIL);
        }
        (self.balance(new_root), gone)
    }

    /// Takes out the range starting at `start`: `(slot, start, end)`.
    pub fn remove(&mut self, start: usize) -> Option<(u32, usize, usize)> {
        let (root, gone) = self.remove_at(self.root, start);
        if gone == NIL {
            return None;
        }
        self.root = root;
        let Node { start, end, .. } = self.nodes[gone as usize];
        self.nodes[gone as usize] = Node { left: self.free, ..Node::FREE };
        self.free = gone;
        self.len -= 1;
        Some((gone, start, end))
    }

    /// Calls `f(slot, start, end)` for every range, lowest address first.
    pub fn for_each(&self, mut f: impl FnMut(u32, usize, usize)) {
        let mut stack = [NIL; 64];
        let mut depth = 0;
        let mut i = self.root;
        loop {
            while i != NIL && depth < stack.len() {
                stack[depth] = i;
                depth += 1;
                i = self.nodes[i as usize].left;
            }
            if depth == 0 {
                return;
            }
            depth -= 1;
            let n = self.nodes[stack[depth] as usize];
            f(stack[depth], n.start, n.end);
            i = n.right;
        }
    }

    /// Checks the AVL and ordering invariants (for tests).
    pub fn check(&self) -> Result<(), &'static str> {
        let mut count = 0;
        let mut last_end = 0;
        let mut ordered = true;
        self.for_each(|_, s, e| {
            ordered &= s >= last_end && s < e;
            last_end = e;
            count += 1;
        });
        if !ordered {
            return Err("ranges out of order or overlapping");
        }
        if count != self.len {
            return Err("len does not match the tree");
        }
        self.check_height(self.root).map(|_| ())
    }

    fn check_height(&self, i: u32) -> Result<u8, &'static str> {
        if i == NIL {
            return Ok(0);
        }
        let n = self.nodes[i as usize];
        let (l, r) = (self.check_height(n.left)?, self.check_height(n.right)?);
        if l.abs_diff(r) > 1 || n.height != 1 + l.max(r) {
            return Err("unbalanced");
        }
        Ok(n.height)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::{collections::BTreeMap, vec, vec::Vec};

    use proptest::prelude::*;

    use super::*;

    fn tree(n: usize) -> RegionTree<Vec<Node>> {
        RegionTree::new(vec![Node::FREE; n])
    }

    #[test]
    fn sizes() {
        assert_eq!(nr_pages(0), None);
        assert_eq!(nr_pages(1), Some(1));
        assert_eq!(nr_pages(4096), Some(1));
        assert_eq!(nr_pages(4097), Some(2));
        assert_eq!(nr_pages(usize::MAX), None);
        assert_eq!(area_size(3, false), 4 * 4096);
        assert_eq!(area_size(3, true), 3 * 4096);
    }

    #[test]
    fn orders_take_the_largest_block_that_fits() {
        assert_eq!(next_order(1, Order::MAX).get(), 0);
        assert_eq!(next_order(3, Order::MAX).get(), 1);
        assert_eq!(next_order(16, Order::MAX).get(), 4);
        assert_eq!(next_order(5000, Order::MAX).get(), 10);
        assert_eq!(next_order(5000, max_order(true)).get(), 9);
        // The blocks of a 1000-page region: 512, 256, 128, 64, 32, 8.
        let mut left = 1000;
        let mut blocks = Vec::new();
        while left > 0 {
            let o = next_order(left, Order::MAX);
            blocks.push(o.nr_pages());
            left -= o.nr_pages();
        }
        assert_eq!(blocks, [512, 256, 128, 64, 32, 8]);
    }

    #[test]
    fn insert_find_remove() {
        let mut t = tree(4);
        let a = t.insert(0x1000, 0x3000).unwrap();
        let b = t.insert(0x5000, 0x6000).unwrap();
        assert_eq!(t.insert(0x2000, 0x4000), Err(TreeError::Overlap));
        assert_eq!(t.insert(0x4000, 0x4000), Err(TreeError::Overlap));
        assert_eq!(t.find(0x2fff), Some((a, 0x1000, 0x3000)));
        assert_eq!(t.find(0x3000), None);
        assert_eq!(t.find(0x5000), Some((b, 0x5000, 0x6000)));
        assert_eq!(t.remove(0x1000), Some((a, 0x1000, 0x3000)));
        assert_eq!(t.remove(0x1000), None);
        assert_eq!(t.find(0x2000), None);
        t.check().unwrap();
    }

    #[test]
    fn a_full_tree_grows_and_keeps_its_slots() {
        let mut t = tree(2);
        let a = t.insert(0, 10).unwrap();
        t.insert(20, 30).unwrap();
        assert_eq!(t.insert(40, 50), Err(TreeError::Full));
        let old = t.grow(vec![Node::FREE; 8]).unwrap();
        assert_eq!(old.len(), 2);
        assert!(t.grow(vec![Node::FREE; 1]).is_err());
        t.insert(40, 50).unwrap();
        assert_eq!(t.find(5), Some((a, 0, 10)));
        assert_eq!(t.len(), 3);
        t.check().unwrap();
    }

    #[test]
    fn growing_chains_every_new_node_onto_the_free_list() {
        // Full, then grown: exactly the new nodes can be used.
        let mut t = tree(2);
        assert!(t.is_empty() && !t.is_full());
        t.insert(0, 10).unwrap();
        t.insert(20, 30).unwrap();
        assert!(!t.is_empty() && t.is_full());
        // The same size is no growth: accepted, nothing gained.
        assert_eq!(t.grow(vec![Node::FREE; 2]).map(|old| old.len()).ok(), Some(2));
        assert_eq!(t.insert(40, 50), Err(TreeError::Full));
        t.grow(vec![Node::FREE; 8]).unwrap();
        assert!(!t.is_full());
        for i in 0..6 {
            t.insert(100 + i * 10, 105 + i * 10).unwrap();
        }
        assert!(t.is_full());
        assert_eq!(t.insert(500, 510), Err(TreeError::Full));
        // Not full, then grown: the old free nodes stay usable after the
        // new ones.
        let mut t = tree(4);
        t.insert(0, 10).unwrap();
        t.grow(vec![Node::FREE; 6]).unwrap();
        for i in 0..5 {
            t.insert(100 + i * 10, 105 + i * 10).unwrap();
        }
        assert_eq!((t.len(), t.is_full()), (6, true));
        assert_eq!(t.insert(500, 510), Err(TreeError::Full));
        t.check().unwrap();
    }

    /// A tree of three ranges built by hand: `[0, 10)` at the root, `[20,
    /// 30)` and `[40, 50)` hanging right of it one below the other.
    fn chain() -> RegionTree<Vec<Node>> {
        let node = |start, right, height| Node { start, end: start + 10, left: NIL, right, height };
        RegionTree { nodes: vec![node(0, 1, 3), node(20, 2, 2), node(40, NIL, 1)], root: 0, free: NIL, len: 3 }
    }

    #[test]
    fn check_finds_each_broken_invariant() {
        let mut t = tree(4);
        for start in [0, 20, 40] {
            t.insert(start, start + 10).unwrap();
        }
        assert_eq!(t.check(), Ok(()));
        let broken = |f: &dyn Fn(&mut RegionTree<Vec<Node>>)| {
            let mut t = RegionTree { nodes: t.nodes.clone(), ..t };
            f(&mut t);
            t.check()
        };
        let ordered = Err("ranges out of order or overlapping");
        let slot_of = |start| t.find(start).unwrap().0 as usize;
        let (a, b, c) = (slot_of(0), slot_of(20), slot_of(40));
        // [0, 25) overlaps [20, 30).
        assert_eq!(broken(&|t| t.nodes[a].end = 25), ordered);
        // [20, 20) is empty.
        assert_eq!(broken(&|t| t.nodes[b].end = 20), ordered);
        assert_eq!(broken(&|t| t.len = 4), Err("len does not match the tree"));
        // A leaf claiming height 2.
        assert_eq!(broken(&|t| t.nodes[c].height = 2), Err("unbalanced"));
        // Heights right, but two levels on one side and none on the other.
        assert_eq!(chain().check(), Err("unbalanced"));
    }

    proptest! {
        #[test]
        fn the_tree_matches_a_model(ops in proptest::collection::vec((any::<bool>(), 0usize..200, 1usize..5), 1..400)) {
            let mut t = tree(16);
            let mut model: BTreeMap<usize, (usize, u32)> = BTreeMap::new();
            for (insert, at, len) in ops {
                let (start, end) = (at * 4, at * 4 + len * 4);
                if insert {
                    let overlap = model.range(..end).next_back().is_some_and(|(_, &(e, _))| e > start);
                    match t.insert(start, end) {
                        Ok(slot) => {
                            prop_assert!(!overlap);
                            model.insert(start, (end, slot));
                        }
                        Err(TreeError::Overlap) => prop_assert!(overlap),
                        Err(TreeError::Full) => {
                            let cap = t.capacity();
                            prop_assert!(t.grow(vec![Node::FREE; cap * 2]).is_ok());
                        }
                    }
                } else {
                    let key = model.range(..=start).next_back().map(|(&s, _)| s);
                    if let Some(s) = key {
                        let (e, slot) = model.remove(&s).unwrap();
                        prop_assert_eq!(t.remove(s), Some((slot, s, e)));
                    }
                }
                prop_assert_eq!(t.check(), Ok(()));
                for probe in [start, end, at] {
                    let want = model.range(..=probe).next_back()
                        .filter(|(_, &(e, _))| e > probe)
                        .map(|(&s, &(e, slot))| (slot, s, e));
                    prop_assert_eq!(t.find(probe), want);
                }
            }
            let mut seen = Vec::new();
            t.for_each(|_, s, _| seen.push(s));
            prop_assert_eq!(seen, model.keys().copied().collect::<Vec<_>>());
        }
    }
}
