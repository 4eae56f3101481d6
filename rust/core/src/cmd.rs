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

/// A number in decimal or `0x` hexadecimal (`kstrtoul(s, 0)`).
pub fn number(word: &str) -> Option<usize> {
    match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16).ok(),
        None => word.parse().ok(),
    }
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
