// SPDX-License-Identifier: GPL-2.0

//! `zonemm/stress/`: `run` (`seconds=N`) and `results`.

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
        key_values,
        number,
        BadInput, //
    },
    merge::Merger,
    stress::Stress,
    State,
};

/// The stress run and what it works on.
pub(crate) struct StressFiles {
    pub(crate) stress: Stress,
    pub(crate) state: &'static State,
    pub(crate) merger: &'static Merger<'static, 'static>,
}

/// Populates `zonemm/stress/`.
pub(crate) fn files<'data>(data: &'data StressFiles, dir: &ScopedDir<'data, '_>) {
    dir.write_only_callback_file(c"run", data, &write_run);
    dir.read_callback_file(c"results", data, &show_results);
}

fn write_run(data: &StressFiles, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let [seconds] = key_values(line, ["seconds"]).map_err(|bad| refuse("stress/run", bad))?;
    let seconds = seconds
        .and_then(number)
        .filter(|s| (1..=600).contains(s))
        .ok_or_else(|| refuse("stress/run", BadInput::new("seconds=N, 1 to 600, is required", line)))?;
    data.stress.run(data.state, data.merger, seconds as u32)
}

fn show_results(data: &StressFiles, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    data.stress.show(f)
}
