// SPDX-License-Identifier: GPL-2.0

//! zonemm's debugfs tree, `/sys/kernel/debug/zonemm/`: one directory per
//! layer. The files only wire the layers' show and store functions to
//! debugfs, as `mm/vmstat.c` and `mm/slab_common.c` wire theirs to procfs.

use core::ops::Deref;

use kernel::{
    debugfs::{
        Dir,
        File,
        Scope, //
    },
    fmt,
    prelude::*, //
};

use crate::State;

pub(crate) mod buddy;
pub(crate) mod fault;
pub(crate) mod merge;
pub(crate) mod region;
pub(crate) mod slab;
pub(crate) mod stress;

/// What every file's data is: the module's state.
#[derive(Clone, Copy)]
pub(crate) struct StateRef(pub(crate) &'static State);

impl Deref for StateRef {
    type Target = State;

    fn deref(&self) -> &State {
        self.0
    }
}

/// The tree's handles: dropping them removes every file.
pub(crate) struct Tree {
    _stress: Pin<KBox<Scope<stress::StressFiles>>>,
    _merge: Pin<KBox<Scope<merge::MergeFiles>>>,
    _layers: KVec<Pin<KBox<Scope<StateRef>>>>,
    _slab_files: KVec<Pin<KBox<File<StateRef>>>>,
    _kmalloc: KVec<Pin<KBox<Scope<slab::SlabEntry>>>>,
    _slab_dir: Dir,
    _root: Dir,
}

impl Tree {
    /// Creates the tree under `root` (`zonemm/`), with `slab_dir`
    /// (`zonemm/slab/`) made already, over `state`.
    pub(crate) fn new(
        root: Dir,
        slab_dir: Dir,
        state: &'static State,
        merger: &'static crate::merge::Merger<'static, 'static>,
    ) -> Result<Self> {
        let s = StateRef(state);
        let mut layers = KVec::new();
        let source = root.scope(s, c"source", |s, dir| {
            dir.read_callback_file(c"areas", s, &show_areas);
            dir.read_callback_file(c"metadata", s, &show_metadata);
        });
        layers.push(KBox::pin_init(source, GFP_KERNEL)?, GFP_KERNEL)?;
        layers.push(KBox::pin_init(root.scope(s, c"buddy", buddy::files), GFP_KERNEL)?, GFP_KERNEL)?;
        layers.push(KBox::pin_init(root.scope(s, c"extfrag", buddy::extfrag_files), GFP_KERNEL)?, GFP_KERNEL)?;
        layers.push(KBox::pin_init(root.scope(s, c"region", region::files), GFP_KERNEL)?, GFP_KERNEL)?;
        layers.push(KBox::pin_init(root.scope(s, c"fault", fault::files), GFP_KERNEL)?, GFP_KERNEL)?;
        let dev = root.scope(s, c"dev", |s, dir| {
            dir.read_callback_file(c"stat", s, &show_dev_stat);
            dir.read_callback_file(c"ksm_stat", s, &show_dev_ksm_stat);
        });
        layers.push(KBox::pin_init(dev, GFP_KERNEL)?, GFP_KERNEL)?;

        let mut slab_files = KVec::new();
        slab_files.push(
            KBox::pin_init(slab_dir.read_callback_file(c"slabinfo", s, &slab::show_slabinfo), GFP_KERNEL)?,
            GFP_KERNEL,
        )?;
        slab_files.push(
            KBox::pin_init(slab_dir.write_callback_file(c"create", s, &slab::write_create), GFP_KERNEL)?,
            GFP_KERNEL,
        )?;
        slab_files.push(
            KBox::pin_init(slab_dir.write_callback_file(c"destroy", s, &slab::write_destroy), GFP_KERNEL)?,
            GFP_KERNEL,
        )?;
        let mut kmalloc = KVec::new();
        for cache in state.kmalloc.caches() {
            let entry = slab::SlabEntry::borrowed(cache);
            kmalloc.push(slab::cache_dir(&slab_dir, cache.name(), entry)?, GFP_KERNEL)?;
        }
        let merge_files = merge::MergeFiles::new(merger)?;
        let merge = KBox::pin_init(root.scope(merge_files, c"merge", merge::files), GFP_KERNEL)?;
        let stress_files = stress::StressFiles { stress: crate::stress::Stress::new()?, state, merger };
        let stress = KBox::pin_init(root.scope(stress_files, c"stress", stress::files), GFP_KERNEL)?;
        Ok(Self { _stress: stress, _merge: merge, _layers: layers, _slab_files: slab_files, _kmalloc: kmalloc, _slab_dir: slab_dir, _root: root })
    }
}

/// `zonemm/dev/stat`: what every `/dev/zonemm` mapping holds together.
fn show_dev_stat(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let t = crate::dev::totals(&state.regions).map_err(|_| fmt::Error)?;
    writeln!(f, "areas {}", t.areas)?;
    writeln!(f, "pages {}", t.pages)?;
    writeln!(f, "slot_bytes {}", t.slot_bytes)
}

/// `zonemm/dev/ksm_stat`: every process's `/dev/zonemm` figures.
fn show_dev_ksm_stat(_state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    crate::dev::show_ksm_stat(f)
}

fn show_areas(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    state.pool.source().show_areas(f)
}

/// `source/metadata`: what zonemm keeps for the pages it manages, in
/// bytes, on top of the `struct page` every one of them keeps.
fn show_metadata(state: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let m = state.pool.metadata();
    writeln!(f, "managed_pages {}", state.pool.managed())?;
    writeln!(f, "page_meta_bytes {}", m.page_meta)?;
    writeln!(f, "owner_word_bytes {}", m.owner_words)?;
    writeln!(f, "pcp_bytes {}", m.pcp)?;
    writeln!(f, "map_bytes {}", m.maps)?;
    writeln!(f, "total_bytes {}", m.total())
}
