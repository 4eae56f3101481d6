// SPDX-License-Identifier: GPL-2.0

//! zonemm's debugfs tree, `/sys/kernel/debug/zonemm/`: one directory per
//! layer. The files only wire the layers' show and store functions to
//! debugfs, as `mm/vmstat.c` and `mm/page_alloc.c` wire theirs to procfs.

use kernel::{
    debugfs::Scope,
    fmt,
    prelude::*, //
};

use crate::State;

pub(crate) mod buddy;

/// Creates the tree over `state`; the files go away before `state` does.
pub(crate) fn init(
    state: impl PinInit<State, Error> + 'static,
) -> impl PinInit<Scope<State>, Error> {
    Scope::dir(state, c"zonemm", |state, dir| {
        let source = dir.dir(c"source");
        source.read_callback_file(c"areas", state, &show_areas);

        let b = dir.dir(c"buddy");
        b.read_callback_file(c"buddyinfo", state, &buddy::show_buddyinfo);
        b.read_callback_file(c"pagetypeinfo", state, &buddy::show_pagetypeinfo);
        b.read_callback_file(c"zoneinfo", state, &buddy::show_zoneinfo);
        b.read_callback_file(c"stats", state, &buddy::show_stats);
        b.write_only_callback_file(c"alloc", state, &buddy::write_alloc);
        b.read_callback_file(c"allocations", state, &buddy::show_allocations);
        b.write_only_callback_file(c"free", state, &buddy::write_free);
        b.write_only_callback_file(c"drain", state, &buddy::write_drain);
        b.read_write_callback_file(
            c"min_free_kbytes",
            state,
            &buddy::show_min_free_kbytes,
            &buddy::write_min_free_kbytes,
        );
        b.read_write_callback_file(c"pcp_high", state, &buddy::show_pcp_high, &buddy::write_pcp_high);
        b.read_write_callback_file(c"pcp_batch", state, &buddy::show_pcp_batch, &buddy::write_pcp_batch);
    })
}

fn show_areas(state: &State, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    state.pool.source().show_areas(f)
}
