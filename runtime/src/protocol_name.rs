//! Protocol names as users type them, in any case, with the original's
//! aliases, and the one place where a name becomes a protocol type
//! ([`ProtocolName::dispatch`]): the simulator, the CLI and `bench` each
//! say what to do with "some protocol `P`", and this match picks `P`.

use crate::wire::Wire;
use protocols::protocol::Protocol;
use std::fmt;
use std::str::FromStr;

/// Work generic over the protocol, run for the protocol a name picks.
pub trait WithProtocol {
    /// What the work returns.
    type Output;
    /// Runs the work with protocol `P`.
    fn run<P: Protocol>(self) -> Self::Output
    where
        P::Message: Wire;
}

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
        matches!(
            self,
            ProtocolName::SwiftPaxos | ProtocolName::Curp | ProtocolName::FastPaxos | ProtocolName::EPaxos
        )
    }
}

impl ProtocolName {
    /// Runs `work` with the protocol this name stands for.
    pub fn dispatch<W: WithProtocol>(self, work: W) -> W::Output {
        match self {
            ProtocolName::SwiftPaxos => work.run::<protocols::swift::SwiftPaxos>(),
            ProtocolName::Paxos => work.run::<protocols::paxos::Paxos>(),
            ProtocolName::N2Paxos => work.run::<protocols::n2paxos::N2Paxos>(),
            ProtocolName::Curp => work.run::<protocols::curp::Curp>(),
            ProtocolName::FastPaxos => work.run::<protocols::fastpaxos::FastPaxos>(),
            ProtocolName::EPaxos => work.run::<protocols::epaxos::EPaxos>(),
        }
    }

    /// Parses a comma-separated list of names, or `all` (every protocol).
    pub fn parse_list(text: &str) -> Result<Vec<ProtocolName>, String> {
        if text.trim().eq_ignore_ascii_case("all") {
            return Ok(ProtocolName::ALL.to_vec());
        }
        let mut list = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let p: ProtocolName = name.parse()?;
            if !list.contains(&p) {
                list.push(p);
            }
        }
        if list.is_empty() {
            return Err("no protocol named".into());
        }
        Ok(list)
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
            _ => Err(format!(
                "unknown protocol `{s}` (expected one of swiftpaxos|swift, paxos, n2paxos, curp, fastpaxos, epaxos)"
            )),
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

    #[test]
    fn lists_and_all() {
        assert_eq!(
            ProtocolName::parse_list("paxos,swift"),
            Ok(vec![ProtocolName::Paxos, ProtocolName::SwiftPaxos])
        );
        assert_eq!(ProtocolName::parse_list("ALL"), Ok(ProtocolName::ALL.to_vec()));
        assert!(ProtocolName::parse_list("paxos,raft").is_err());
        assert!(ProtocolName::parse_list(",").is_err());
    }

    /// Dispatch reaches the type the name stands for.
    #[test]
    fn dispatch_picks_the_named_type() {
        struct Name;
        impl WithProtocol for Name {
            type Output = &'static str;
            fn run<P: Protocol>(self) -> &'static str
            where
                P::Message: Wire,
            {
                P::NAME
            }
        }
        for p in ProtocolName::ALL {
            assert_eq!(p.dispatch(Name).parse(), Ok(p));
        }
    }
}
