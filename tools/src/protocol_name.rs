//! Protocol names as users type them, in any case, with the original's aliases.

use std::fmt;
use std::str::FromStr;

/// The protocols of the project, by the names the tools accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolName {
    /// SwiftPaxos (`swiftpaxos`, `swift`).
    SwiftPaxos,
    /// Multi-Paxos (`paxos`).
    Paxos,
    /// N2Paxos (`n2paxos`).
    N2Paxos,
    /// CURP (`curp`).
    Curp,
    /// Fast Paxos (`fastpaxos`).
    FastPaxos,
    /// EPaxos (`epaxos`).
    EPaxos,
}

impl ProtocolName {
    /// Every protocol, in the order tools list them.
    pub const ALL: [ProtocolName; 6] = [
        ProtocolName::SwiftPaxos,
        ProtocolName::Paxos,
        ProtocolName::N2Paxos,
        ProtocolName::Curp,
        ProtocolName::FastPaxos,
        ProtocolName::EPaxos,
    ];
}

impl ProtocolName {
    /// Whether some commands finish on a slower path than others, so that
    /// the share of slow paths means something (the original's client logs
    /// `Slow Paths:` for these).
    pub fn has_slow_path(self) -> bool {
        matches!(self, ProtocolName::SwiftPaxos | ProtocolName::Curp | ProtocolName::FastPaxos | ProtocolName::EPaxos)
    }
}

impl FromStr for ProtocolName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "swiftpaxos" | "swift" => Ok(ProtocolName::SwiftPaxos),
            "paxos" => Ok(ProtocolName::Paxos),
            "n2paxos" => Ok(ProtocolName::N2Paxos),
            "curp" => Ok(ProtocolName::Curp),
            "fastpaxos" => Ok(ProtocolName::FastPaxos),
            "epaxos" => Ok(ProtocolName::EPaxos),
            _ => Err(format!("unknown protocol `{s}` (expected one of swiftpaxos|swift, paxos, n2paxos, curp, fastpaxos, epaxos)")),
        }
    }
}

impl fmt::Display for ProtocolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolName::SwiftPaxos => "swiftpaxos",
            ProtocolName::Paxos => "paxos",
            ProtocolName::N2Paxos => "n2paxos",
            ProtocolName::Curp => "curp",
            ProtocolName::FastPaxos => "fastpaxos",
            ProtocolName::EPaxos => "epaxos",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_with_aliases() {
        assert_eq!("Swift".parse(), Ok(ProtocolName::SwiftPaxos));
        assert_eq!("SWIFTPAXOS".parse(), Ok(ProtocolName::SwiftPaxos));
        assert_eq!("EPaxos".parse(), Ok(ProtocolName::EPaxos));
        assert!("raft".parse::<ProtocolName>().is_err());
        for p in ProtocolName::ALL {
            assert_eq!(p.to_string().parse(), Ok(p));
        }
    }
}
