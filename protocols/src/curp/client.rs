//! The CURP client: send to every replica; done with the master's
//! speculative answer and either a superquorum of witness records (fast,
//! two one-way delays) or a majority that accepted the command's slot
//! (slow, three), or with the master's answer after execution.

use super::messages::Message;
use crate::command::{Command, CommandResult};
use crate::ids::{CommandId, ReplicaId};
use crate::paxos;
use crate::pending::BallotTallies;
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox};
use crate::quorum::{QuorumSystem, Votes};
use crate::time::Time;

/// Answers for one command in the highest ballot the client has seen.
#[derive(Debug, Default)]
struct Tally {
    /// The master's speculative result.
    result: Option<CommandResult>,
    /// Whether witnesses may complete it (see [`Message::SpecReply`]).
    commutes: bool,
    recorded: Votes,
    ordered: Votes,
}

/// A CURP client.
#[derive(Debug)]
pub struct CurpClient {
    quorums: QuorumSystem,
    tallies: BallotTallies<Tally>,
}

impl CurpClient {
    fn check(&mut self, id: CommandId) -> Option<Completion> {
        let (_, tally) = self.tallies.get(id)?;
        let result = tally.result.as_ref()?;
        let fast = tally.commutes && tally.recorded.reached(self.quorums.three_quarters());
        let slow = tally.ordered.reached(self.quorums.majority());
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

    fn send_to_all(&self, id: CommandId, command: &Command, out: &mut Outbox<Message>) {
        for r in 0..self.quorums.n() {
            out.send_replica(
                r,
                Message::Paxos(paxos::Message::Request {
                    id,
                    command: command.clone(),
                }),
            );
        }
    }
}

impl ClientProtocol for CurpClient {
    type Message = Message;

    fn new(config: ClientConfig) -> Self {
        CurpClient {
            quorums: config.quorums,
            tallies: BallotTallies::new(config.timing.retry),
        }
    }

    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        self.send_to_all(id, &command, out);
        self.tallies.submit(id, command, now);
    }

    fn handle(&mut self, from: ReplicaId, msg: Message, _now: Time, _out: &mut Outbox<Message>) -> Option<Completion> {
        match msg {
            Message::SpecReply {
                ballot,
                id,
                result,
                commutes,
            } => {
                let tally = self.tallies.in_ballot(id, ballot)?;
                tally.result = Some(result);
                tally.commutes = commutes;
                // The master accepted the command's slot when it proposed it.
                tally.ordered.add(from);
                self.check(id)
            }
            Message::Recorded { ballot, id } => {
                self.tallies.in_ballot(id, ballot)?.recorded.add(from);
                self.check(id)
            }
            Message::Ordered { ballot, id } => {
                self.tallies.in_ballot(id, ballot)?.ordered.add(from);
                self.check(id)
            }
            Message::Paxos(paxos::Message::Reply { id, result }) => {
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
            self.send_to_all(id, &command, out);
        }
    }
}
