//! Reading a file laid out exactly as portreg writes it, without serde:
//! the cursor both layout readers (registry.json's in `text`, leases.json's
//! in `leases_text`) walk their text with. Every step either matches what
//! the writer puts there or gives up (`None`), leaving the text to
//! serde_json, so what a layout reader returns is what serde_json reads.

use std::str::FromStr;

pub(super) struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Cursor<'a> {
        Cursor { text, at: 0 }
    }

    /// Where the cursor is, in bytes from the start.
    pub fn at(&self) -> usize {
        self.at
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    /// Steps over `lit`, if the text goes on with it.
    pub fn eat(&mut self, lit: &[u8]) -> Option<()> {
        self.rest()
            .as_bytes()
            .starts_with(lit)
            .then(|| self.at += lit.len())
    }

    /// Steps to `at`, further on in the text.
    pub fn skip_to(&mut self, at: usize) {
        debug_assert!(at >= self.at && at <= self.text.len());
        self.at = at;
    }

    /// A JSON string with nothing escaped in it (and so no control
    /// character, which JSON does not allow raw).
    pub fn string(&mut self) -> Option<&'a str> {
        self.eat(b"\"")?;
        let rest = self.rest();
        let len = memchr::memchr2(b'"', b'\\', rest.as_bytes())?;
        let s = &rest[..len];
        if rest.as_bytes()[len] != b'"' || s.bytes().any(|b| b < 0x20) {
            return None;
        }
        self.at += len + 1;
        Some(s)
    }

    /// A whole number of at most `max_digits` digits, as serde_json reads
    /// it into `T` (a leading zero is not JSON: left to serde_json).
    pub fn number<T: FromStr>(&mut self, max_digits: usize) -> Option<T> {
        let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > max_digits || (digits > 1 && self.rest().starts_with('0')) {
            return None;
        }
        let n = self.rest()[..digits].parse().ok()?;
        self.at += digits;
        Some(n)
    }

    /// Whether only whitespace is left, which serde_json allows after the
    /// value.
    pub fn at_end(&self) -> bool {
        self.rest()
            .bytes()
            .all(|b| matches!(b, b' ' | b'\n' | b'\t' | b'\r'))
    }
}
