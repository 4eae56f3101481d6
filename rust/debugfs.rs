// SPDX-License-Identifier: GPL-2.0

//! zonemm's debugfs tree, `/sys/kernel/debug/zonemm/`: one directory per
//! layer. The files only wire the layers' own show and store functions to
//! debugfs, as `mm/vmstat.c` and `mm/page_alloc.c` wire theirs to procfs.

use kernel::{
    debugfs::Scope,
    fmt,
    prelude::*, //
};

use crate::State;

/// Creates the tree over `state`; the files go away before `state` does.
pub(crate) fn init(
    state: impl PinInit<State, Error> + 'static,
) -> impl PinInit<Scope<State>, Error> {
    Scope::dir(state, c"zonemm", |state, dir| {
        let source = dir.dir(c"source");
        source.read_callback_file(c"areas", state, &show_areas);
    })
}

fn show_areas(state: &State, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    state.source.show_areas(f)
}
