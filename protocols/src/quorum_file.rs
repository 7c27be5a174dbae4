//! The original tool's quorum file (`-quorum FILE`).
//!
//! One replica alias per line forms a fast quorum; a line of two words whose
//! first is `l` (e.g. `l us-west-1`) names that quorum's leader and member;
//! `---` starts the (leader, quorum) pair of the next ballot; a line `3/4`
//! selects the three-quarters kind instead of fixed quorums. Parsing takes the
//! text, not a path, so that it stays pure; callers add the file name to errors.

use crate::quorum::{FastQuorums, ReplicaSet};
use thiserror::Error;

/// What is wrong with a quorum file, with the 1-based line where it is.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum QuorumFileError {
    /// A line is neither an alias, `l ALIAS`, `---` nor `3/4`.
    #[error("line {line}: expected an alias, `l ALIAS`, `---` or `3/4`, found `{text}`")]
    Malformed { line: usize, text: String },
    /// An alias that is not one of the deployment's replicas.
    #[error("line {line}: `{alias}` is not a replica of this deployment (replicas: {known})")]
    UnknownReplica { line: usize, alias: String, known: String },
    /// A quorum with no `l ALIAS` line.
    #[error("quorum {index} (ending at line {line}) names no leader (`l ALIAS`)")]
    NoLeader { index: usize, line: usize },
    /// A quorum with two leader lines.
    #[error("line {line}: a second leader in one quorum")]
    TwoLeaders { line: usize },
    /// A fixed quorum that is not a majority of the replicas.
    #[error("quorum {index} (ending at line {line}) has {size} replicas; a fast quorum needs a majority ({majority})")]
    TooSmall {
        index: usize,
        line: usize,
        size: usize,
        majority: usize,
    },
}

/// Parses `text` against the replicas' aliases (index = replica id).
pub fn parse(text: &str, replicas: &[&str]) -> Result<FastQuorums, QuorumFileError> {
    let majority = replicas.len() / 2 + 1;
    let mut three_quarters = false;
    let mut quorums: Vec<(ReplicaId, ReplicaSet)> = Vec::new();
    let mut current = Pending::default();
    let mut last_line = 0;

    let lookup = |alias: &str, line: usize| {
        replicas
            .iter()
            .position(|r| *r == alias)
            .ok_or_else(|| QuorumFileError::UnknownReplica {
                line,
                alias: alias.to_string(),
                known: replicas.join(", "),
            })
    };

    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        last_line = line;
        let content = raw.split("//").next().unwrap_or("").trim();
        let words: Vec<&str> = content.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            ["3/4"] => three_quarters = true,
            ["---"] => {
                quorums.push(current.finish(quorums.len(), line, majority)?);
                current = Pending::default();
            }
            ["l", alias] => {
                let id = lookup(alias, line)?;
                if current.leader.replace(id).is_some() {
                    return Err(QuorumFileError::TwoLeaders { line });
                }
                current.members.insert(id);
            }
            [alias] => {
                current.members.insert(lookup(alias, line)?);
            }
            _ => {
                return Err(QuorumFileError::Malformed {
                    line,
                    text: content.to_string(),
                })
            }
        }
    }
    if three_quarters {
        return Ok(FastQuorums::ThreeQuarters);
    }
    if !current.members.is_empty() || quorums.is_empty() {
        quorums.push(current.finish(quorums.len(), last_line, majority)?);
    }
    Ok(FastQuorums::Fixed(quorums))
}

use crate::ids::ReplicaId;

#[derive(Default)]
struct Pending {
    leader: Option<ReplicaId>,
    members: ReplicaSet,
}

impl Pending {
    fn finish(self, index: usize, line: usize, majority: usize) -> Result<(ReplicaId, ReplicaSet), QuorumFileError> {
        let leader = self.leader.ok_or(QuorumFileError::NoLeader { index, line })?;
        if self.members.len() < majority {
            return Err(QuorumFileError::TooSmall {
                index,
                line,
                size: self.members.len(),
                majority,
            });
        }
        Ok((leader, self.members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS: [&str; 5] = ["ap-south-1", "ap-northeast-1", "eu-west-3", "us-west-1", "af-south-1"];

    #[test]
    fn the_reference_file_is_one_fixed_quorum_led_by_us_west_1() {
        let text = "ap-south-1\nap-northeast-1\nl us-west-1";
        let expected = FastQuorums::Fixed(vec![(3, [0, 1, 3].into_iter().collect())]);
        assert_eq!(parse(text, &AWS), Ok(expected));
    }

    #[test]
    fn dashes_start_the_next_ballots_pair() {
        let text = "l ap-south-1\neu-west-3\naf-south-1\n---\nl eu-west-3\nus-west-1\naf-south-1\n";
        let FastQuorums::Fixed(q) = parse(text, &AWS).unwrap() else {
            panic!("fixed expected")
        };
        assert_eq!(
            q,
            vec![
                (0, [0, 2, 4].into_iter().collect()),
                (2, [2, 3, 4].into_iter().collect())
            ]
        );
    }

    #[test]
    fn three_quarters_line_selects_that_kind() {
        assert_eq!(parse("3/4\n", &AWS), Ok(FastQuorums::ThreeQuarters));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("ap-south-1\nmars-1\n", &AWS),
            Err(QuorumFileError::UnknownReplica {
                line: 2,
                alias: "mars-1".into(),
                known: AWS.join(", ")
            })
        );
        assert!(matches!(
            parse("a b c", &AWS),
            Err(QuorumFileError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            parse("ap-south-1\neu-west-3\nus-west-1", &AWS),
            Err(QuorumFileError::NoLeader { .. })
        ));
        assert!(matches!(
            parse("l ap-south-1\nl eu-west-3", &AWS),
            Err(QuorumFileError::TwoLeaders { line: 2 })
        ));
        assert!(matches!(
            parse("l ap-south-1\neu-west-3", &AWS),
            Err(QuorumFileError::TooSmall { size: 2, .. })
        ));
    }
}
