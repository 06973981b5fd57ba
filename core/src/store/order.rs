//! The one order of both files and of every list: by port, then by name
//! without regard to case.

use std::cmp::Ordering;

use crate::entry::StoredEntry;

/// Orders names case-insensitively without allocating.
fn cmp_names(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// The order of both files and of every list: by port, then by name
/// without regard to case.
pub(crate) fn port_then_name(a: (u16, &str), b: (u16, &str)) -> Ordering {
    a.0.cmp(&b.0).then_with(|| cmp_names(a.1, b.1))
}

/// [`port_then_name`] for two entries.
pub(crate) fn file_order(a: &StoredEntry, b: &StoredEntry) -> Ordering {
    port_then_name((a.port, &a.name), (b.port, &b.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_first_then_name_in_any_case() {
        assert_eq!(port_then_name((80, "z"), (81, "a")), Ordering::Less);
        assert_eq!(port_then_name((81, "B"), (81, "a")), Ordering::Greater);
        assert_eq!(port_then_name((81, "Web"), (81, "wEB")), Ordering::Equal);
        assert_eq!(port_then_name((81, "web"), (81, "web-2")), Ordering::Less);
    }
}
