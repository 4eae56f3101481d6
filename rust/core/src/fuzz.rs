// SPDX-License-Identifier: GPL-2.0

//! Generated-input tests of the command parsers (`make fuzz`): every
//! parser driven by arbitrary and grammar-shaped input, checked against a
//! reference written from `lib/kstrtox.c` byte by byte, never allowed to
//! panic. `cargo test` runs a few hundred cases each; `make fuzz` runs
//! `ZONEMM_FUZZ_CASES` each with a fresh seed (`PROPTEST_RNG_SEED`), and
//! proptest keeps any failing input under `proptest-regressions/`, which is
//! committed and replayed first by every later run.

extern crate std;

use std::{
    collections::BTreeSet,
    string::String,
    vec,
    vec::Vec,
};

use proptest::prelude::*;

use crate::cmd::{
    key_values,
    number,
    size, //
};

/// Cases per property: `ZONEMM_FUZZ_CASES`, or proptest's default.
fn cases() -> u32 {
    std::env::var("ZONEMM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// `kstrtoull(s, 0, &res)` of `lib/kstrtox.c`, transcribed: `+`, then
/// `_parse_integer_fixup_radix()`, `_parse_integer_limit()` with overflow
/// as `-ERANGE`, no digits as `-EINVAL`, one trailing newline allowed.
fn kstrtoull(s: &[u8]) -> Option<u64> {
    let mut i = usize::from(s.first() == Some(&b'+'));
    let mut base = 10u128;
    if s.get(i) == Some(&b'0') {
        let x = s.get(i + 1).map(|c| c | 0x20) == Some(b'x');
        if x && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    let (mut value, mut digits) = (0u128, 0);
    while let Some(&c) = s.get(i) {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => break,
        };
        if u128::from(d) >= base {
            break;
        }
        value = value * base + u128::from(d);
        if value > u128::from(u64::MAX) {
            return None;
        }
        i += 1;
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    if s.get(i) == Some(&b'\n') {
        i += 1;
    }
    (i == s.len()).then_some(value as u64)
}

/// Words built from what number parsers trip over.
fn number_word() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("0"), Just("0x"), Just("0X"), Just("+"), Just("-"), Just("1"), Just("7"),
        Just("8"), Just("9"), Just("a"), Just("f"), Just("F"), Just("g"), Just("x"),
        Just("18446744073709551615"), Just("18446744073709551616"), Just("ffffffffffffffff"),
        Just("1777777777777777777777"), Just(" "), Just("\t"), Just("\0"), Just("\r"),
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

/// Lines of `key=value`-ish words.
fn command_line() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("order=3"), Just("count=1"), Just("zone=DMA32"), Just("order"), Just("="),
        Just("order=="), Just("=3"), Just("size=1"), Just("ORDER=1"), Just("order=0x1"),
        Just("\t"), Just(" "), Just("count="), Just("é=1"),
    ];
    proptest::collection::vec(word, 0..8).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// `number()` is `kstrtoul(s, 0)` on every word a command can hold
    /// (words have no whitespace, so never the kernel's trailing newline).
    #[test]
    fn fuzz_number_is_kstrtoul(word in number_word()) {
        prop_assume!(!word.contains('\n'));
        let want = kstrtoull(word.as_bytes()).map(|v| v as usize);
        prop_assert_eq!(number(&word), want, "{:?}", word);
    }

    #[test]
    fn fuzz_number_on_any_string(word in any::<String>()) {
        prop_assume!(!word.contains('\n'));
        prop_assert_eq!(number(&word), kstrtoull(word.as_bytes()).map(|v| v as usize));
    }

    /// `size()` is a number times its suffix (`K`, `M`, `G`, either case,
    /// as the last character), or nothing; never a wrapped product.
    #[test]
    fn fuzz_size_is_a_number_times_its_suffix(word in number_word(), suffix in "[kKmMgG]?") {
        let input = [word.as_str(), suffix.as_str()].concat();
        let (digits, shift) = match input.as_bytes().last().map(u8::to_ascii_lowercase) {
            Some(b'k') => (&input[..input.len() - 1], 10),
            Some(b'm') => (&input[..input.len() - 1], 20),
            Some(b'g') => (&input[..input.len() - 1], 30),
            _ => (input.as_str(), 0),
        };
        let want = number(digits).and_then(|n| n.checked_mul(1usize << shift));
        prop_assert_eq!(size(&input), want, "{:?}", input);
    }

    /// `key_values()` accepts exactly lines of known `key=value` words, each
    /// key at most once, and names a word of the line when it refuses.
    #[test]
    fn fuzz_key_values(line in command_line()) {
        let keys = ["order", "count", "zone"];
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        let mut seen = BTreeSet::new();
        let good = words.iter().all(|w| match w.split_once('=') {
            Some((k, _)) => keys.contains(&k) && seen.insert(k),
            None => false,
        });
        match key_values(&line, keys) {
            Ok(values) => {
                prop_assert!(good, "{:?} accepted", line);
                for (key, value) in keys.iter().zip(values) {
                    let given = words.iter().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')));
                    prop_assert_eq!(value, given);
                }
            }
            Err(bad) => {
                prop_assert!(!good, "{:?} refused: {:?}", line, bad);
                prop_assert!(words.contains(&bad.word), "{:?} names {:?}", line, bad.word);
            }
        }
    }

    #[test]
    fn fuzz_key_values_on_any_string(line in any::<String>()) {
        let _ = key_values(&line, ["a", "b"]);
        let _ = size(&line);
    }
}
