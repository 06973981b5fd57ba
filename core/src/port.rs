//! Port numbers and ranges as every surface spells them: parsing and
//! checking a port or a range, the browsers' bad-port list, and the kernel's
//! ephemeral range a configured range should stay clear of.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Ports browsers refuse to open (WHATWG Fetch, "bad ports"). Allocation skips
/// them unless a caller asks for one exactly.
pub const BAD_PORTS: &[u16] = &[
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
    103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
    512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
    995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
    6669, 6679, 6697, 10080,
];

/// True for a port on the browsers' bad-port list.
pub fn is_bad_port(port: u16) -> bool {
    BAD_PORTS.binary_search(&port).is_ok()
}

/// An inclusive range of ports that allocation may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    /// A checked range: 1024 <= low <= high.
    pub fn new(low: u16, high: u16) -> Result<PortRange> {
        let value = format!("{low}-{high}");
        if low == 0 {
            return Err(Error::InvalidRange {
                value,
                why: "port 0 is not a port".into(),
            });
        }
        if high < low {
            return Err(Error::InvalidRange {
                value,
                why: "HIGH is below LOW".into(),
            });
        }
        if low < 1024 {
            return Err(Error::InvalidRange {
                value,
                why: "ports below 1024 are never allocated from a range (ask for one exactly with --port P --exact)".into(),
            });
        }
        Ok(PortRange { low, high })
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }

    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.low <= other.high && other.low <= self.high
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

impl FromStr for PortRange {
    type Err = Error;
    fn from_str(s: &str) -> Result<PortRange> {
        let bad = |why: &str| Error::InvalidRange {
            value: s.to_string(),
            why: why.to_string(),
        };
        let (a, b) = s
            .trim()
            .split_once('-')
            .ok_or_else(|| bad("it has no '-'"))?;
        let low: u16 = a
            .trim()
            .parse()
            .map_err(|_| bad("LOW is not a port number (1-65535)"))?;
        let high: u16 = b
            .trim()
            .parse()
            .map_err(|_| bad("HIGH is not a port number (1-65535)"))?;
        PortRange::new(low, high).map_err(|e| match e {
            Error::InvalidRange { why, .. } => bad(&why),
            other => other,
        })
    }
}

/// One or more ranges, tried in order: a new name gets the first free port
/// of the first range with room. Written as ranges joined by commas,
/// `3000-3099,8070-8999`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortRanges(Vec<PortRange>);

impl PortRanges {
    /// The ranges in order; `INVALID_RANGE` for an empty list.
    pub fn new(ranges: Vec<PortRange>) -> Result<PortRanges> {
        if ranges.is_empty() {
            return Err(Error::InvalidRange {
                value: String::new(),
                why: "no range given".into(),
            });
        }
        Ok(PortRanges(ranges))
    }

    /// The first range (the one tried first).
    pub fn first(&self) -> PortRange {
        self.0[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &PortRange> {
        self.0.iter()
    }

    /// True when one of the ranges contains `port`.
    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|r| r.contains(port))
    }
}

impl From<PortRange> for PortRanges {
    fn from(r: PortRange) -> PortRanges {
        PortRanges(vec![r])
    }
}

impl fmt::Display for PortRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for PortRanges {
    type Err = Error;
    /// `LOW-HIGH[,LOW-HIGH...]`; an error names the part that is wrong.
    fn from_str(s: &str) -> Result<PortRanges> {
        if !s.contains(',') {
            return s.parse::<PortRange>().map(PortRanges::from);
        }
        let ranges = s
            .split(',')
            .map(|part| {
                part.parse::<PortRange>().map_err(|e| match e {
                    Error::InvalidRange { why, .. } => Error::InvalidRange {
                        value: s.to_string(),
                        why: format!("its part {:?}: {why}", part.trim()),
                    },
                    other => other,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        PortRanges::new(ranges)
    }
}

/// Parses a port given as text ("8080"): 1-65535.
pub fn parse_port(s: &str) -> Result<u16> {
    let bad = |why: &str| Error::InvalidPort {
        value: s.to_string(),
        why: format!("{why}; a port is a whole number from 1 to 65535"),
    };
    let n: u64 = s.trim().parse().map_err(|_| bad("not a number"))?;
    check_port(n).map_err(|_| {
        bad(if n == 0 {
            "0 is not a port"
        } else {
            "too large"
        })
    })
}

/// The `INVALID_PORT` error for a value that is not a port, as every
/// surface reports it (a number too large, negative, fractional, 0...).
pub fn invalid_port(value: impl fmt::Display) -> Error {
    Error::InvalidPort {
        value: value.to_string(),
        why: "a port is a whole number from 1 to 65535".into(),
    }
}

/// Checks a port given as a number: 1-65535.
pub fn check_port(n: u64) -> Result<u16> {
    match u16::try_from(n) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(invalid_port(n)),
    }
}

/// Checks a port given as a floating-point number (JavaScript): a whole
/// number from 1 to 65535.
pub fn check_port_f64(n: f64) -> Result<u16> {
    if n.fract() == 0.0 && (1.0..=65535.0).contains(&n) {
        Ok(n as u16)
    } else {
        Err(invalid_port(n))
    }
}

/// The kernel's ephemeral port range (Linux: ip_local_port_range), if known.
pub fn ephemeral_range() -> Option<PortRange> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|t| t.parse::<u16>().ok());
    let (low, high) = (it.next()??, it.next()??);
    Some(PortRange { low, high })
}

/// A warning when `range` overlaps the kernel's ephemeral range: outgoing
/// connections can take ports there at any moment.
pub fn ephemeral_warning(range: &PortRange) -> Option<String> {
    let eph = ephemeral_range()?;
    range.overlaps(&eph).then(|| {
        format!(
            "range {range} overlaps the kernel's ephemeral port range {eph} (ip_local_port_range): outgoing connections may take ports in it; prefer a range below {}",
            eph.low
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn bad_ports_sorted_and_known() {
        assert!(BAD_PORTS.windows(2).all(|w| w[0] < w[1]));
        for p in [6000, 6665, 6669, 6697, 10080] {
            assert!(is_bad_port(p));
        }
        assert!(!is_bad_port(8070));
    }

    #[test]
    fn ranges() {
        assert_eq!(
            " 8070 - 8999 ".parse::<PortRange>().unwrap(),
            PortRange {
                low: 8070,
                high: 8999
            }
        );
        assert_eq!(PortRange::new(2000, 2000).unwrap().to_string(), "2000-2000");
        for bad in ["9000-8000", "abc", "80-90", "0-10", "1-70000", "5000"] {
            let e = bad.parse::<PortRange>().unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidRange, "{bad}");
        }
    }

    #[test]
    fn range_lists() {
        let r: PortRanges = " 3000-3099 , 8070-8999".parse().unwrap();
        assert_eq!(r.to_string(), "3000-3099,8070-8999");
        assert_eq!(r.first(), PortRange::new(3000, 3099).unwrap());
        assert!(r.contains(8070) && r.contains(3099) && !r.contains(3100));
        assert_eq!("8070-8999".parse::<PortRanges>().unwrap().iter().count(), 1);
        for bad in [
            "3000-3099,",
            ",3000-3099",
            "3000-3099,abc",
            "3000-3099,90-80",
            "",
        ] {
            let e = bad.parse::<PortRanges>().unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidRange, "{bad}");
        }
        let e = "3000-3099,9000-8000".parse::<PortRanges>().unwrap_err();
        assert!(e.to_string().contains("\"9000-8000\""), "{e}");
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("8080").unwrap(), 8080);
        for bad in ["0", "65536", "abc", "-1", ""] {
            assert_eq!(
                parse_port(bad).unwrap_err().code(),
                ErrorCode::InvalidPort,
                "{bad}"
            );
        }
    }
}
