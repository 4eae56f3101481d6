// SPDX-License-Identifier: GPL-2.0

//! `zonemm/bench/`: `run` starts the benchmark, `results` shows the last
//! run's numbers, one `key=value` line per case.

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
    bench::Bench,
    cmd::BadInput,
    merge::Merger,
};

/// The benchmark and the merger it times.
pub(crate) struct BenchFiles {
    pub(crate) bench: Bench<'static>,
    pub(crate) merger: &'static Merger<'static, 'static>,
}

const LAYERS: [&str; 6] = ["all", "buddy", "slab", "kmalloc", "region", "merge"];

/// Populates `zonemm/bench/`.
pub(crate) fn files<'data>(data: &'data BenchFiles, dir: &ScopedDir<'data, '_>) {
    dir.write_only_callback_file(c"run", data, &write_run);
    dir.read_callback_file(c"results", data, &show_results);
}

/// `[quick] [all|buddy|slab|kmalloc|region|merge]`.
fn parse(line: &str) -> Result<(bool, &str), BadInput<'_>> {
    let mut words = line.split_ascii_whitespace().peekable();
    let quick = words.peek() == Some(&"quick");
    if quick {
        words.next();
    }
    let layer = words.next().unwrap_or("all");
    if !LAYERS.contains(&layer) {
        return Err(BadInput::new("usage: [quick] [all|buddy|slab|kmalloc|region|merge]", layer));
    }
    if let Some(extra) = words.next() {
        return Err(BadInput::new("one layer at a time", extra));
    }
    Ok((quick, layer))
}

fn write_run(data: &BenchFiles, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let (quick, layer) = parse(line).map_err(|bad| refuse("bench/run", bad))?;
    data.bench.run(layer, if quick { 200 } else { 1 }, data.merger)
}

fn show_results(data: &BenchFiles, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    data.bench.show(f)
}
