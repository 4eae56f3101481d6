// SPDX-License-Identifier: GPL-2.0

//! `zonemm/fault/`: `probability`, `interval`, `times`, `space` and
//! `where`, as the kernel's `failslab`/`fail_page_alloc` directories, and
//! `injected`. Bad input gets `EINVAL` and one log line, and changes
//! nothing.

use kernel::{
    debugfs::ScopedDir,
    fmt,
    prelude::*,
    uaccess::UserSliceReader, //
};

use super::{
    buddy::{
        read_command,
        refuse, //
    },
    StateRef,
};
use crate::{
    cmd::{
        number,
        BadInput, //
    },
    fault,
};

/// Populates `zonemm/fault/`.
pub(crate) fn files<'data>(s: &'data StateRef, dir: &ScopedDir<'data, '_>) {
    dir.read_write_callback_file(c"probability", s, &show_probability, &store_probability);
    dir.read_write_callback_file(c"interval", s, &show_interval, &store_interval);
    dir.read_write_callback_file(c"times", s, &show_times, &store_times);
    dir.read_write_callback_file(c"space", s, &show_space, &store_space);
    dir.read_write_callback_file(c"where", s, &show_where, &store_where);
    dir.read_callback_file(c"injected", s, &show_injected);
}

fn show_probability(_: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", fault::attr().probability)
}

fn show_interval(_: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", fault::attr().interval)
}

fn show_times(_: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", fault::attr().times)
}

fn show_space(_: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", fault::attr().space)
}

fn show_injected(_: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", fault::injected())
}

fn show_where(_: &StateRef, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mask = fault::sites();
    let mut first = true;
    for (name, site) in fault::SITES {
        if mask & site as u32 != 0 {
            write!(f, "{}{name}", if first { "" } else { "," })?;
            first = false;
        }
    }
    writeln!(f, "{}", if first { "none" } else { "" })
}

/// Reads one number in `range` from a write to `file`.
fn read_number(reader: &mut UserSliceReader, file: &str, range: core::ops::RangeInclusive<u64>) -> Result<u64> {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    number(line)
        .map(|n| n as u64)
        .filter(|n| range.contains(n))
        .ok_or_else(|| refuse(file, BadInput::new("out of range or not a number", line)))
}

fn store_probability(_: &StateRef, reader: &mut UserSliceReader) -> Result {
    let v = read_number(reader, "fault/probability", 0..=100)?;
    fault::set(fault::FaultAttr { probability: v as u32, ..fault::attr() });
    Ok(())
}

fn store_interval(_: &StateRef, reader: &mut UserSliceReader) -> Result {
    let v = read_number(reader, "fault/interval", 1..=u32::MAX as u64)?;
    fault::set(fault::FaultAttr { interval: v, count: 0, ..fault::attr() });
    Ok(())
}

fn store_times(_: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let v = if line == "-1" {
        -1
    } else {
        let n = number(line).filter(|&n| n <= i32::MAX as usize);
        n.ok_or_else(|| refuse("fault/times", BadInput::new("-1 or a count", line)))? as i64
    };
    fault::set(fault::FaultAttr { times: v, ..fault::attr() });
    Ok(())
}

fn store_space(_: &StateRef, reader: &mut UserSliceReader) -> Result {
    let v = read_number(reader, "fault/space", 0..=u32::MAX as u64)?;
    fault::set(fault::FaultAttr { space: v, ..fault::attr() });
    Ok(())
}

fn store_where(_: &StateRef, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0; 128];
    let line = read_command(reader, &mut buf)?;
    let mut mask = 0;
    if line != "none" {
        for word in line.split(',') {
            let site = fault::SITES.iter().find(|(n, _)| *n == word).map(|(_, s)| *s as u32);
            mask |= site.ok_or_else(|| refuse("fault/where", BadInput::new("sites are source, buddy, slab, region, merge (or none)", word)))?;
        }
    }
    fault::set_sites(mask);
    Ok(())
}
