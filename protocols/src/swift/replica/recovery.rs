//! What a new SwiftPaxos leader decides for every command it recovers.
//!
//! The candidate of ballot `b'` gathers reports from a majority `Q`. Only the
//! reports of replicas whose last synced ballot (`cballot`) is the highest
//! among them count (the set `U`): a command that committed in an older
//! ballot was recovered into every later one, and nothing commits in a ballot
//! that a majority never synced into. For each command known in `U`, in order:
//!
//! 1. committed somewhere in `U`: keep its dependencies;
//! 2. accepted somewhere in `U`: keep the leader's dependencies it accepted
//!    (every acceptance in one ballot carries the same ones);
//! 3. (only when the old leader's own report is not in `U`: the leader votes
//!    on every path, so a command it never accepted did not commit)
//!    pre-accepted with the same dependencies `D` by enough of `U` that it
//!    may have committed on the fast path (three-quarters kind: at least
//!    `|FQ| - n + |Q \ {leader}|` replicas, so two different `D` cannot both
//!    qualify; fixed kind: every member of the fixed quorum in `U` but the old
//!    leader): take `D`, plus every command decided by rules 1-2 that conflicts
//!    with it and is not already ordered with it (it neither reaches the
//!    command nor is reached from `D`), so that each conflicting pair stays
//!    ordered. Replicas report *direct* dependencies (see `conflicts`), which
//!    is what makes two qualifying sets for conflicting commands order them;
//! 4. otherwise it cannot have committed: take the union of every reported
//!    dependency set and every other recovered command it conflicts with,
//!    but for those already ordered after it (they reach it through the
//!    dependencies decided so far), so that no cycle runs through commands
//!    that may have committed. Reported sets may still form cycles of
//!    uncommitted commands; execution breaks them deterministically.
//!
//! Dependencies on commands nobody in `U` knows are voided: such a command
//! cannot have committed, since any commit needed a quorum that intersects `Q`.

use crate::ballot::Ballot;
use crate::command::Command;
use crate::depgraph::{deps_of, Deps};
use crate::ids::{CommandId, ReplicaId};
use crate::quorum::{FastQuorums, QuorumSystem};
use crate::swift::messages::{Decided, Phase, ReportedEntry};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// One replica's answer to the new leader.
#[derive(Clone, Debug)]
pub struct Report {
    /// Who reports.
    pub from: ReplicaId,
    /// The last ballot it synced into.
    pub cballot: Ballot,
    /// Everything it knows.
    pub entries: Vec<ReportedEntry>,
}

/// The new leader's decision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Every recovered command with its dependencies from now on, by id.
    pub decided: Vec<Decided>,
    /// Ids referenced as dependencies that nobody knows: dropped.
    pub voided: Vec<CommandId>,
}

/// Everything the reports of `U` (the highest `cballot`) say, per command.
type Known<'a> = BTreeMap<CommandId, Vec<(ReplicaId, &'a ReportedEntry)>>;

/// Decides every command known to the highest-`cballot` reports among `reports`.
pub fn recover(quorums: &QuorumSystem, reports: &[Report]) -> Recovered {
    let Some(top) = reports.iter().map(|r| r.cballot).max() else {
        return Recovered::default();
    };
    let old_leader = top.leader(quorums.n());
    let u: Vec<&Report> = reports.iter().filter(|r| r.cballot == top).collect();
    let q_without_leader = reports.iter().filter(|r| r.from != old_leader).count();
    let mut known: Known = BTreeMap::new();
    for r in &u {
        for e in &r.entries {
            known.entry(e.id).or_default().push((r.from, e));
        }
    }

    let mut decided = rules_one_and_two(&known);
    rule_three(quorums, &u, old_leader, q_without_leader, &known, &mut decided);
    rule_four(&known, &mut decided);

    let command_of = |id: &CommandId| known[id][0].1.command.clone();
    let voided: BTreeSet<CommandId> = decided
        .values()
        .flat_map(|d| d.iter().copied())
        .filter(|d| !known.contains_key(d))
        .collect();
    Recovered {
        decided: decided
            .into_iter()
            .map(|(id, deps)| Decided {
                id,
                command: command_of(&id),
                deps,
            })
            .collect(),
        voided: voided.into_iter().collect(),
    }
}

/// Rules 1 and 2: a command some member of `U` accepted (or committed)
/// keeps the dependencies of its highest phase.
fn rules_one_and_two(known: &Known) -> BTreeMap<CommandId, Deps> {
    let mut decided = BTreeMap::new();
    for (id, views) in known {
        let best = views
            .iter()
            .map(|(_, e)| e)
            .filter(|e| e.phase >= Phase::Accepted)
            .max_by_key(|e| e.phase);
        if let Some(e) = best {
            decided.insert(*id, e.deps.clone());
        }
    }
    decided
}

/// Rule 3: a command only pre-accepted in `U` may have committed on the
/// fast path if enough of `U` pre-accepted one dependency set (the
/// threshold of three-quarters fast quorums, or every reporting member of
/// the old leader's fixed fast quorum); it keeps that set, ordered against
/// the conflicting commands rules 1 and 2 settled that it neither reaches
/// nor is reached by.
fn rule_three(
    quorums: &QuorumSystem,
    u: &[&Report],
    old_leader: ReplicaId,
    q_without_leader: usize,
    known: &Known,
    decided: &mut BTreeMap<CommandId, Deps>,
) {
    let n = quorums.n();
    let command_of = |id: &CommandId| known[id][0].1.command.clone();
    let settled = decided.clone();
    let mut reversed: HashMap<CommandId, Vec<CommandId>> = HashMap::new();
    for (id, deps) in &settled {
        for d in deps.iter() {
            reversed.entry(*d).or_default().push(*id);
        }
    }
    let fast_threshold = match quorums.fast_quorums() {
        FastQuorums::ThreeQuarters => Some((quorums.three_quarters() + q_without_leader).saturating_sub(n).max(1)),
        FastQuorums::Fixed(_) => None,
    };
    let fixed_members: Vec<ReplicaId> = quorums
        .fixed_fast_quorum(old_leader)
        .iter()
        .filter(|m| *m != old_leader && u.iter().any(|r| r.from == *m))
        .collect();
    // The old leader votes in every path: when its own report is in `U`
    // and rules 1-2 found nothing, it never accepted the command, which
    // therefore cannot have committed. Rule 3's threshold (1 when the leader
    // is in `Q`) would then pick one of several pre-accepted sets that need
    // not order conflicting commands against each other: rule 4 instead.
    if u.iter().any(|r| r.from == old_leader) {
        return;
    }
    for (id, views) in known {
        if decided.contains_key(id) {
            continue;
        }
        let pre_accepted: Vec<(ReplicaId, &Deps)> = views
            .iter()
            .filter(|(_, e)| e.phase == Phase::PreAccepted)
            .map(|(r, e)| (*r, &e.deps))
            .collect();
        let candidate = match fast_threshold {
            Some(t) => {
                // Ordered, so that every run decides alike when several sets
                // reach a threshold of 1 (then none can have committed).
                let mut counts: BTreeMap<&Deps, usize> = BTreeMap::new();
                for (r, d) in &pre_accepted {
                    if *r != old_leader {
                        *counts.entry(*d).or_default() += 1;
                    }
                }
                counts.into_iter().find(|(_, c)| *c >= t).map(|(d, _)| d.clone())
            }
            None => {
                let of_members: Vec<&Deps> = fixed_members
                    .iter()
                    .filter_map(|m| pre_accepted.iter().find(|(r, _)| r == m).map(|(_, d)| *d))
                    .collect();
                let all_agree = !fixed_members.is_empty()
                    && of_members.len() == fixed_members.len()
                    && of_members.windows(2).all(|w| w[0] == w[1]);
                all_agree.then(|| of_members[0].clone())
            }
        };
        if let Some(deps) = candidate {
            let command = command_of(id);
            let reaching = reverse_reach(&reversed, *id);
            let reached = forward_reach(&settled, &deps);
            let mut with_order: Vec<CommandId> = deps.to_vec();
            for other in settled.keys() {
                if other != id
                    && !reaching.contains(other)
                    && !reached.contains(other)
                    && command.conflicts_with(&command_of(other))
                {
                    with_order.push(*other);
                }
            }
            decided.insert(*id, deps_of(with_order, *id));
        }
    }
}

/// Rule 4: every command still undecided cannot have committed; it takes
/// the union of what was reported for it and every conflicting known
/// command. A conflicting command that already reaches this one (it is
/// ordered after it, through dependencies decided above) is not added:
/// the edge would close a cycle through commands that may have committed,
/// and breaking that cycle by id could run a committed command before one
/// its committed dependencies put first (a leader cut off from the others
/// committed two conflicting commands on the fast path, both after a third
/// that never committed).
fn rule_four(known: &Known, decided: &mut BTreeMap<CommandId, Deps>) {
    let command_of = |id: &CommandId| known[id][0].1.command.clone();
    let undecided: Vec<CommandId> = known.keys().filter(|id| !decided.contains_key(id)).copied().collect();
    let reported = |id: &CommandId| -> BTreeSet<CommandId> {
        known[id].iter().flat_map(|(_, e)| e.deps.iter().copied()).collect()
    };
    // Every edge known so far: those decided above, and the reported ones
    // of the commands still to decide (they keep them).
    let mut reversed_decided: HashMap<CommandId, Vec<CommandId>> = HashMap::new();
    for (id, deps) in decided.iter() {
        add_edges(&mut reversed_decided, *id, &mut deps.iter().copied());
    }
    for id in &undecided {
        add_edges(&mut reversed_decided, *id, &mut reported(id).into_iter());
    }
    let index = ConflictIndex::new(known.iter().map(|(id, views)| (*id, &views[0].1.command)));
    for id in &undecided {
        let command = command_of(id);
        let reaching = reverse_reach(&reversed_decided, *id);
        let mut union = reported(id);
        for other in index.candidates(&command) {
            if other != *id && !reaching.contains(&other) && command.conflicts_with(&command_of(&other)) {
                union.insert(other);
            }
        }
        let deps = deps_of(union, *id);
        add_edges(&mut reversed_decided, *id, &mut deps.iter().copied());
        decided.insert(*id, deps);
    }
}

/// The recovered commands by key, so that finding a command's conflicts
/// does not compare it with every other: a new leader may recover tens of
/// thousands of commands, and comparing each with all took seconds.
struct ConflictIndex {
    /// Single-key commands by key.
    by_key: BTreeMap<crate::command::Key, Vec<CommandId>>,
    /// SCANs, compared with everything (they are rare).
    scans: Vec<CommandId>,
    /// Every command, for a SCAN's candidates.
    all: Vec<CommandId>,
}

impl ConflictIndex {
    fn new<'a>(commands: impl Iterator<Item = (CommandId, &'a Command)>) -> Self {
        let mut index = ConflictIndex {
            by_key: BTreeMap::new(),
            scans: Vec::new(),
            all: Vec::new(),
        };
        for (id, command) in commands {
            index.all.push(id);
            match command {
                Command::Put { key, .. } | Command::Get { key } => index.by_key.entry(*key).or_default().push(id),
                Command::Scan { .. } => index.scans.push(id),
                Command::Noop => {}
            }
        }
        index
    }

    /// A superset of the commands that may conflict with `command`.
    fn candidates(&self, command: &Command) -> Vec<CommandId> {
        match command {
            Command::Put { key, .. } | Command::Get { key } => self
                .by_key
                .get(key)
                .into_iter()
                .flatten()
                .chain(self.scans.iter())
                .copied()
                .collect(),
            Command::Scan { .. } => self.all.clone(),
            Command::Noop => Vec::new(),
        }
    }
}

/// Records that `id` depends on each of `deps`, in a map from a command to
/// those that depend on it.
fn add_edges(
    reversed: &mut HashMap<CommandId, Vec<CommandId>>,
    id: CommandId,
    deps: &mut dyn Iterator<Item = CommandId>,
) {
    for d in deps {
        reversed.entry(d).or_default().push(id);
    }
}

/// The settled commands that reach `target` through settled dependencies.
fn reverse_reach(reversed: &HashMap<CommandId, Vec<CommandId>>, target: CommandId) -> HashSet<CommandId> {
    let mut seen = HashSet::new();
    let mut stack = vec![target];
    while let Some(x) = stack.pop() {
        for y in reversed.get(&x).into_iter().flatten() {
            if seen.insert(*y) {
                stack.push(*y);
            }
        }
    }
    seen
}

/// Everything reachable from `start` through settled dependencies.
fn forward_reach(settled: &BTreeMap<CommandId, Deps>, start: &Deps) -> HashSet<CommandId> {
    let mut seen = HashSet::new();
    let mut stack: Vec<CommandId> = start.to_vec();
    while let Some(x) = stack.pop() {
        if seen.insert(x) {
            if let Some(d) = settled.get(&x) {
                stack.extend(d.iter().copied());
            }
        }
    }
    seen
}

/// The order in which the decided commands would execute, with dependencies
/// outside the set taken as done: replicas record the recovered commands in
/// their conflict tables in this order, so that later commands follow the
/// last of each key.
pub fn execution_order(decided: &[(CommandId, Command, Deps)]) -> Vec<CommandId> {
    let mut graph = crate::depgraph::DependencyGraph::new();
    let inside: HashSet<CommandId> = decided.iter().map(|(id, _, _)| *id).collect();
    for (_, _, deps) in decided {
        for d in deps.iter().filter(|d| !inside.contains(d)) {
            graph.void(*d);
        }
    }
    let mut order = Vec::with_capacity(decided.len());
    for (id, command, deps) in decided {
        order.extend(
            graph
                .commit(*id, command.clone(), deps.clone())
                .into_iter()
                .map(|(id, _)| id),
        );
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn id(c: u64) -> CommandId {
        CommandId::new(c, 1)
    }
    fn put() -> Command {
        Command::Put {
            key: 1,
            value: Bytes::from_static(b"v"),
        }
    }
    fn entry(c: u64, phase: Phase, deps: &[u64]) -> ReportedEntry {
        ReportedEntry {
            id: id(c),
            command: put(),
            phase,
            deps: deps_of(deps.iter().map(|&d| id(d)), id(c)),
        }
    }
    fn report(from: ReplicaId, cballot: u64, entries: Vec<ReportedEntry>) -> Report {
        Report {
            from,
            cballot: Ballot(cballot),
            entries,
        }
    }
    fn deps_of_decided(r: &Recovered, c: u64) -> Vec<u64> {
        r.decided
            .iter()
            .find(|d| d.id == id(c))
            .expect("decided")
            .deps
            .iter()
            .map(|d| d.client)
            .collect()
    }

    #[test]
    fn committed_and_accepted_dependencies_are_kept() {
        let q = QuorumSystem::new(5);
        let reports = vec![
            report(
                1,
                0,
                vec![entry(10, Phase::Committed, &[11]), entry(11, Phase::PreAccepted, &[])],
            ),
            report(
                2,
                0,
                vec![entry(11, Phase::Accepted, &[12]), entry(12, Phase::PreAccepted, &[])],
            ),
            report(3, 0, vec![entry(10, Phase::PreAccepted, &[])]),
        ];
        let r = recover(&q, &reports);
        assert_eq!(deps_of_decided(&r, 10), vec![11]);
        assert_eq!(deps_of_decided(&r, 11), vec![12]);
    }

    #[test]
    fn a_possible_fast_commit_is_recovered_with_its_dependencies() {
        // n = 5, old leader 0 dead; fast quorum 4 (leader + 3). Q = {1, 2, 3}:
        // threshold 4 - 5 + 3 = 2 matching pre-accepts.
        let q = QuorumSystem::new(5);
        let reports = vec![
            report(
                1,
                0,
                vec![entry(20, Phase::PreAccepted, &[]), entry(21, Phase::PreAccepted, &[20])],
            ),
            report(
                2,
                0,
                vec![entry(20, Phase::PreAccepted, &[]), entry(21, Phase::PreAccepted, &[20])],
            ),
            report(
                3,
                0,
                vec![entry(21, Phase::PreAccepted, &[]), entry(20, Phase::PreAccepted, &[21])],
            ),
        ];
        let r = recover(&q, &reports);
        assert_eq!(deps_of_decided(&r, 20), Vec::<u64>::new());
        assert_eq!(deps_of_decided(&r, 21), vec![20]);
        assert!(r.voided.is_empty());
    }

    #[test]
    fn without_a_possible_fast_commit_everything_conflicting_is_a_dependency() {
        let q = QuorumSystem::new(5);
        let reports = vec![
            report(1, 0, vec![entry(30, Phase::PreAccepted, &[])]),
            report(2, 0, vec![entry(31, Phase::PreAccepted, &[])]),
            report(3, 0, vec![]),
        ];
        let r = recover(&q, &reports);
        // Neither may have committed; they are ordered (the first one
        // decided depends on the other, which is then already after it).
        assert_eq!(deps_of_decided(&r, 30), vec![31]);
        assert_eq!(deps_of_decided(&r, 31), Vec::<u64>::new());
    }

    /// Seen in the simulator: the old leader, cut off from the others but
    /// not from its clients, committed 13 and then 8 (which depends on 13)
    /// on the fast path, and 13 depends on 3, which never committed. Rule 4
    /// once gave 3 every conflicting command as a dependency; 8 and 15 then
    /// closed cycles through 13, and breaking them by id ran 8 before 13.
    #[test]
    fn rule_four_never_closes_a_cycle_through_fast_committed_commands() {
        let q = QuorumSystem::new(3);
        let reports = vec![
            report(
                1,
                0,
                vec![
                    entry(3, Phase::PreAccepted, &[]),
                    entry(13, Phase::PreAccepted, &[3]),
                    entry(8, Phase::PreAccepted, &[13]),
                    entry(15, Phase::PreAccepted, &[3, 8]),
                ],
            ),
            report(
                2,
                0,
                vec![entry(13, Phase::PreAccepted, &[3]), entry(8, Phase::PreAccepted, &[13])],
            ),
        ];
        let r = recover(&q, &reports);
        assert_eq!(deps_of_decided(&r, 13), vec![3]);
        assert_eq!(deps_of_decided(&r, 8), vec![13]);
        assert_eq!(
            deps_of_decided(&r, 3),
            Vec::<u64>::new(),
            "everything conflicting already follows 3"
        );
        let decided: Vec<_> = r
            .decided
            .iter()
            .map(|d| (d.id, d.command.clone(), d.deps.clone()))
            .collect();
        let order: Vec<u64> = execution_order(&decided).iter().map(|id| id.client).collect();
        let at = |c: u64| order.iter().position(|&x| x == c).expect("executed");
        assert!(at(3) < at(13) && at(13) < at(8) && at(8) < at(15), "{order:?}");
    }

    #[test]
    fn only_the_highest_cballot_counts_and_unknown_dependencies_are_voided() {
        let q = QuorumSystem::new(5);
        let reports = vec![
            report(1, 5, vec![entry(40, Phase::Accepted, &[99])]),
            report(2, 0, vec![entry(41, Phase::Accepted, &[])]),
            report(3, 5, vec![]),
        ];
        let r = recover(&q, &reports);
        assert_eq!(r.decided.len(), 1, "41 was only accepted in an older ballot: {r:?}");
        assert_eq!(r.voided, vec![id(99)]);
    }

    #[test]
    fn a_pre_accept_that_could_not_have_committed_is_ordered_after_a_settled_conflict() {
        // 50 committed (slow path) without 51 in its dependencies; two
        // replicas pre-accepted 51 without 50. 51 must end up after 50.
        let q = QuorumSystem::new(5);
        let reports = vec![
            report(
                1,
                0,
                vec![entry(51, Phase::PreAccepted, &[]), entry(50, Phase::Accepted, &[])],
            ),
            report(
                2,
                0,
                vec![entry(51, Phase::PreAccepted, &[]), entry(50, Phase::PreAccepted, &[51])],
            ),
            report(3, 0, vec![entry(50, Phase::Accepted, &[])]),
        ];
        let r = recover(&q, &reports);
        assert_eq!(deps_of_decided(&r, 50), Vec::<u64>::new());
        assert_eq!(deps_of_decided(&r, 51), vec![50]);
    }

    #[test]
    fn commands_the_reporting_old_leader_never_accepted_are_ordered_by_rule_four() {
        // n = 5, Q = {0, 1, 4} with the old leader 0 (back after a restart)
        // knowing neither command: neither can have committed. Replicas 1
        // and 4 each pre-accepted one of two conflicting commands without
        // the other; taking either set as is (rule 3's threshold is 1 here)
        // would leave the pair unordered, and replicas would execute it in
        // arrival order. Rule 4 orders them.
        let q = QuorumSystem::new(5);
        let reports = vec![
            report(0, 0, vec![]),
            report(1, 0, vec![entry(70, Phase::PreAccepted, &[])]),
            report(4, 0, vec![entry(71, Phase::PreAccepted, &[])]),
        ];
        let r = recover(&q, &reports);
        assert_eq!(deps_of_decided(&r, 70), vec![71]);
        assert_eq!(deps_of_decided(&r, 71), Vec::<u64>::new(), "already ordered before 70");
    }

    #[test]
    fn fixed_quorum_needs_every_member_in_the_recovery_quorum() {
        // Fixed fast quorum of leader 0: {0, 1, 2}. Q = {1, 3, 4}: member 1 alone decides.
        let fixed = crate::quorum::ReplicaSet::from_iter([0, 1, 2]);
        let q = QuorumSystem::with_fast_quorums(5, FastQuorums::Fixed(vec![(0, fixed)]));
        let reports = vec![
            report(
                1,
                0,
                vec![entry(60, Phase::PreAccepted, &[61]), entry(61, Phase::PreAccepted, &[])],
            ),
            report(3, 0, vec![entry(60, Phase::PreAccepted, &[])]),
            report(4, 0, vec![]),
        ];
        let r = recover(&q, &reports);
        assert_eq!(deps_of_decided(&r, 60), vec![61]);
        assert_eq!(deps_of_decided(&r, 61), Vec::<u64>::new());
    }

    #[test]
    fn execution_order_puts_dependencies_first() {
        let decided = vec![
            (id(2), put(), deps_of([id(1)], id(2))),
            (id(1), put(), deps_of([id(7)], id(1))),
            (id(3), put(), deps_of([id(2)], id(3))),
        ];
        assert_eq!(execution_order(&decided), vec![id(1), id(2), id(3)]);
    }
}
