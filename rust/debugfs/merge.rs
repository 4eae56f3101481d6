// SPDX-License-Identifier: GPL-2.0

//! `zonemm/merge/`: one file per `/sys/kernel/mm/ksm/` entry, with the
//! kernel's meaning (`Documentation/admin-guide/mm/ksm.rst`).
//!
//! Out-of-range writes get `EINVAL` (`EBUSY` for `max_page_sharing` while
//! pages are shared, as in the kernel) and one log line, and change
//! nothing.

use kernel::{
    debugfs::ScopedDir,
    fmt,
    prelude::*,
    uaccess::UserSliceReader, //
};

use super::buddy::{
    read_command,
    refuse, //
};
use crate::{
    cmd::{
        number,
        BadInput, //
    },
    merge::{
        Knob,
        Merger, //
    },
};

/// One file: a knob (read/write) or a counter (read-only).
pub(crate) struct MergeFile {
    merger: &'static Merger<'static, 'static>,
    name: &'static str,
    knob: Option<Knob>,
}

/// Every file of the directory.
pub(crate) struct MergeFiles(KVec<MergeFile>);

const KNOBS: [(&CStr, &str, Knob); 5] = [
    (c"run", "run", Knob::Run),
    (c"pages_to_scan", "pages_to_scan", Knob::PagesToScan),
    (c"sleep_millisecs", "sleep_millisecs", Knob::SleepMillisecs),
    (c"max_page_sharing", "max_page_sharing", Knob::MaxPageSharing),
    (c"use_zero_pages", "use_zero_pages", Knob::UseZeroPages),
];

const COUNTERS: [(&CStr, &str); 10] = [
    (c"pages_scanned", "pages_scanned"),
    (c"pages_shared", "pages_shared"),
    (c"pages_sharing", "pages_sharing"),
    (c"pages_unshared", "pages_unshared"),
    (c"pages_volatile", "pages_volatile"),
    (c"full_scans", "full_scans"),
    (c"stable_node_chains", "stable_node_chains"),
    (c"stable_node_dups", "stable_node_dups"),
    (c"ksm_zero_pages", "ksm_zero_pages"),
    (c"general_profit", "general_profit"),
];

impl MergeFiles {
    /// The files' data, over `merger`.
    pub(crate) fn new(merger: &'static Merger<'static, 'static>) -> Result<Self> {
        let mut v = KVec::new();
        for (_, name, knob) in KNOBS {
            v.push(MergeFile { merger, name, knob: Some(knob) }, GFP_KERNEL)?;
        }
        for (_, name) in COUNTERS {
            v.push(MergeFile { merger, name, knob: None }, GFP_KERNEL)?;
        }
        Ok(Self(v))
    }
}

/// Populates `zonemm/merge/`.
pub(crate) fn files<'data>(data: &'data MergeFiles, dir: &ScopedDir<'data, '_>) {
    for (file, (cname, _, _)) in data.0.iter().zip(KNOBS) {
        dir.read_write_callback_file(cname, file, &show, &store);
    }
    for (file, (cname, _)) in data.0.iter().skip(KNOBS.len()).zip(COUNTERS) {
        dir.read_callback_file(cname, file, &show);
    }
}

fn show(file: &MergeFile, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match file.knob {
        Some(k) => writeln!(f, "{}", file.merger.knob(k)),
        None => file.merger.show_counter(file.name, f),
    }
}

fn store(file: &MergeFile, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let Some(knob) = file.knob else { return Err(EINVAL) };
    let v = number(line).ok_or_else(|| refuse(file.name, BadInput::new("not a number", line)))?;
    file.merger.set_knob(knob, v).map_err(|why| {
        pr_warn!("merge/{}: {why}: '{line}'\n", file.name);
        if why.starts_with("busy") {
            EBUSY
        } else {
            EINVAL
        }
    })
}
