//! The SwiftPaxos client: propose to every replica, complete on the fast
//! path (the leader's result and a fast quorum of matching dependencies, two
//! one-way delays) or the slow path (the leader's result and a majority of
//! slow-path votes, three one-way delays).

use super::distances::Distances;
use super::messages::Message;
use crate::command::{Command, CommandResult};
use crate::depgraph::Deps;
use crate::ids::{CommandId, ReplicaId};
use crate::pending::{BallotTallies, ReplyCollector};
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox};
use crate::quorum::{QuorumSystem, Votes};
use crate::time::Time;

/// Votes for one command, in the highest ballot the client has seen.
#[derive(Debug, Default)]
struct Tally {
    /// The leader's dependencies, from its `Reply` or its `FastAck`.
    leader_deps: Option<Deps>,
    /// The leader's optimistic result, from its `Reply`.
    result: Option<CommandResult>,
    fast: ReplyCollector<Deps>,
    slow: Votes,
}

/// A SwiftPaxos client.
#[derive(Debug)]
pub struct SwiftClient {
    quorums: QuorumSystem,
    /// The replica asked for the executed result, with `waitClosest`.
    closest: Option<ReplicaId>,
    tallies: BallotTallies<Tally>,
    /// Whether to ask followers for every `SlowAck`.
    distances: Distances,
}

impl SwiftClient {
    fn check(&mut self, id: CommandId) -> Option<Completion> {
        let (ballot, tally) = self.tallies.get(id)?;
        let (result, deps) = (tally.result.as_ref()?, tally.leader_deps.as_ref()?);
        let fast = self.quorums.is_fast_quorum(ballot, tally.fast.agreeing_with(deps));
        let slow = self.quorums.is_slow_quorum(ballot, tally.slow.voters());
        if !(fast || slow) {
            return None;
        }
        let completion = Completion {
            id,
            result: result.clone(),
            fast_path: Some(fast),
        };
        self.tallies.finish(id);
        Some(completion)
    }

    /// Sends `command` to every replica, asking the closest one (with
    /// `waitClosest`) for its result once executed.
    fn propose(&self, id: CommandId, command: &Command, out: &mut Outbox<Message>) {
        let every_slow_ack = self.distances.wants_every_slow_ack();
        for r in 0..self.quorums.n() {
            let reply_on_execution = self.closest == Some(r);
            out.send_replica(
                r,
                Message::Propose {
                    id,
                    command: command.clone(),
                    reply_on_execution,
                    every_slow_ack,
                },
            );
        }
    }
}

impl ClientProtocol for SwiftClient {
    type Message = Message;

    fn new(config: ClientConfig) -> Self {
        let n = config.quorums.n();
        SwiftClient {
            quorums: config.quorums,
            closest: config.wait_closest.then_some(config.closest),
            tallies: BallotTallies::new(config.timing.retry),
            distances: Distances::new(n),
        }
    }

    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        self.propose(id, &command, out);
        self.distances.sent(id, now);
        self.tallies.submit(id, command, now);
    }

    fn handle(&mut self, from: ReplicaId, msg: Message, now: Time, _out: &mut Outbox<Message>) -> Option<Completion> {
        match msg {
            Message::Reply {
                ballot,
                id,
                deps,
                result,
            } => {
                self.distances.answered(from, id, now);
                let tally = self.tallies.in_ballot(id, ballot)?;
                tally.fast.add(from, deps.clone());
                tally.slow.add(from);
                tally.leader_deps = Some(deps);
                tally.result = Some(result);
                self.check(id)
            }
            Message::FastAck { ballot, id, deps, .. } => {
                self.distances.answered(from, id, now);
                let leader = ballot.leader(self.quorums.n());
                let tally = self.tallies.in_ballot(id, ballot)?;
                if from == leader {
                    tally.leader_deps = Some(deps.clone());
                    tally.slow.add(from);
                }
                tally.fast.add(from, deps);
                self.check(id)
            }
            Message::SlowAck { ballot, id } => {
                self.tallies.in_ballot(id, ballot)?.slow.add(from);
                self.check(id)
            }
            Message::Executed { id, result } => {
                self.tallies.finish(id)?;
                Some(Completion {
                    id,
                    result,
                    fast_path: Some(false),
                })
            }
            _ => None,
        }
    }

    fn forget_answers(&mut self) {
        self.tallies.forget_answers();
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        for (id, command) in self.tallies.due(now) {
            self.distances.resent(id);
            self.propose(id, &command, out);
        }
    }
}
