// SPDX-License-Identifier: GPL-2.0

//! Parsing of debugfs control writes: one short command per write, words
//! separated by spaces, options as `key=value`.
//!
//! Like the kernel's `kstrtoul()` family and `parse_args()`: a bad word is
//! an error naming it, and nothing is half applied.

/// A rejected command: why, and the word at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadInput<'a> {
    /// One line, for the kernel log.
    pub reason: &'static str,
    /// The word it is about (empty if none).
    pub word: &'a str,
}

impl<'a> BadInput<'a> {
    /// `reason`, about `word`.
    pub const fn new(reason: &'static str, word: &'a str) -> Self {
        Self { reason, word }
    }
}

/// The values of `key=value` words, by position in `keys`. Every word must
/// be one of `keys`, each at most once.
pub fn key_values<'a, const N: usize>(
    line: &'a str,
    keys: [&str; N],
) -> Result<[Option<&'a str>; N], BadInput<'a>> {
    let mut values = [None; N];
    for word in line.split_ascii_whitespace() {
        let (key, value) = word
            .split_once('=')
            .ok_or(BadInput::new("expected key=value", word))?;
        let i = keys
            .iter()
            .position(|&k| k == key)
            .ok_or(BadInput::new("unknown key", word))?;
        if values[i].replace(value).is_some() {
            return Err(BadInput::new("key given twice", word));
        }
    }
    Ok(values)
}

/// A number as `kstrtoul(s, 0)` reads it (`_parse_integer_fixup_radix()`
/// and `_kstrtoull()` of `lib/kstrtox.c`): an optional `+`, then `0x` or
/// `0X` and a hex digit for hexadecimal, a leading `0` for octal, else
/// decimal; every other character must be a digit of that base, and a
/// value that overflows is refused.
pub fn number(word: &str) -> Option<usize> {
    let s = word.strip_prefix('+').unwrap_or(word);
    let (digits, radix) = match s.as_bytes() {
        [b'0', x, h, ..] if x.to_ascii_lowercase() == b'x' && h.is_ascii_hexdigit() => (&s[2..], 16),
        [b'0', ..] => (s, 8),
        _ => (s, 10),
    };
    // `from_str_radix` would take a sign of its own: digits only.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    usize::from_str_radix(digits, radix).ok()
}

/// The value of an optional numeric key, or `default`.
pub fn number_or<'a>(value: Option<&'a str>, default: usize) -> Result<usize, BadInput<'a>> {
    match value {
        None => Ok(default),
        Some(v) => number(v).ok_or(BadInput::new("not a number", v)),
    }
}

/// A size with an optional `K`, `M` or `G` suffix (`memparse()`).
pub fn size(word: &str) -> Option<usize> {
    let (digits, shift) = match word.as_bytes().last()? {
        b'k' | b'K' => (&word[..word.len() - 1], 10),
        b'm' | b'M' => (&word[..word.len() - 1], 20),
        b'g' | b'G' => (&word[..word.len() - 1], 30),
        _ => (word, 0),
    };
    number(digits)?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_by_position() {
        let v = key_values("order=3 zone=DMA32", ["order", "count", "zone"]).unwrap();
        assert_eq!(v, [Some("3"), None, Some("DMA32")]);
        assert_eq!(key_values("", ["a"]).unwrap(), [None]);
    }

    #[test]
    fn key_values_rejects_with_the_word() {
        let keys = ["order", "count"];
        assert_eq!(key_values("order", keys), Err(BadInput::new("expected key=value", "order")));
        assert_eq!(key_values("size=1", keys), Err(BadInput::new("unknown key", "size=1")));
        assert_eq!(key_values("order=1 order=2", keys), Err(BadInput::new("key given twice", "order=2")));
    }

    #[test]
    fn numbers_read_as_kstrtoul_base_0_reads_them() {
        // Octal after a leading zero, as lib/kstrtox.c.
        assert_eq!(number("010"), Some(8));
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("00"), Some(0));
        assert_eq!(number("08"), None);
        assert_eq!(number("0777"), Some(511));
        // Hex only with a digit after the 0x; otherwise it is octal "0x".
        assert_eq!(number("0X1F"), Some(31));
        assert_eq!(number("0x"), None);
        assert_eq!(number("0xg"), None);
        // One leading '+', before the prefix, never after it.
        assert_eq!(number("+5"), Some(5));
        assert_eq!(number("+0x10"), Some(16));
        assert_eq!(number("0x+5"), None);
        assert_eq!(number("++5"), None);
        assert_eq!(number("+"), None);
        assert_eq!(number(" 5"), None);
        // Overflow is refused, at the exact boundary.
        assert_eq!(number("18446744073709551615"), Some(usize::MAX));
        assert_eq!(number("18446744073709551616"), None);
        assert_eq!(number("0xffffffffffffffff"), Some(usize::MAX));
        assert_eq!(number("0x10000000000000000"), None);
        assert_eq!(number("01777777777777777777777"), Some(usize::MAX));
        assert_eq!(number("02000000000000000000000"), None);
    }

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(number("42"), Some(42));
        assert_eq!(number("0x1f"), Some(31));
        assert_eq!(number("-1"), None);
        assert_eq!(number(""), None);
        assert_eq!(number("1e3"), None);
        assert_eq!(number_or(None, 7), Ok(7));
        assert_eq!(number_or(Some("x"), 7), Err(BadInput::new("not a number", "x")));
        assert_eq!(size("4K"), Some(4096));
        assert_eq!(size("2m"), Some(2 << 20));
        assert_eq!(size("100"), Some(100));
        assert_eq!(size("K"), None);
        assert_eq!(size("99999999999999999999G"), None);
    }
}
