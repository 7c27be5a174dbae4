//! The Fast Paxos client: propose to every acceptor, hear the result from
//! the preferred replica (the closest at first; from every replica after a
//! timeout, and from then on from whichever answered: [`crate::preferred`]).

use super::messages::Message;
use crate::command::Command;
use crate::ids::{CommandId, ReplicaId};
use crate::pending::PendingCommands;
use crate::preferred::PreferredReplica;
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox};
use crate::time::Time;

/// A Fast Paxos client.
#[derive(Debug)]
pub struct FastPaxosClient {
    n: usize,
    preferred: PreferredReplica,
    /// Per command in flight, the replica asked to answer.
    pending: PendingCommands<ReplicaId>,
}

impl ClientProtocol for FastPaxosClient {
    type Message = Message;

    fn new(config: ClientConfig) -> Self {
        let n = config.quorums.n();
        FastPaxosClient {
            n,
            preferred: PreferredReplica::new(config.closest, n, config.timing.retry),
            pending: PendingCommands::new(config.timing.retry),
        }
    }

    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        let (asked, probe) = self.preferred.targets(id, now);
        for r in 0..self.n {
            out.send_replica(
                r,
                Message::Propose {
                    id,
                    command: command.clone(),
                    reply: r == asked || Some(r) == probe,
                },
            );
        }
        self.pending.insert(id, command, now);
        if let Some(asked_to_answer) = self.pending.extra_mut(id) {
            *asked_to_answer = asked;
        }
    }

    fn handle(&mut self, from: ReplicaId, msg: Message, now: Time, _out: &mut Outbox<Message>) -> Option<Completion> {
        let Message::Reply { id, result, fast } = msg else {
            return None;
        };
        self.preferred.answered(from, id, now);
        self.pending.complete(id)?;
        Some(Completion {
            id,
            result,
            fast_path: Some(fast),
        })
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        // The replica asked may be gone: everyone answers a retry.
        for (id, command) in self.pending.due(now) {
            if let Some(asked) = self.pending.extra(id) {
                self.preferred.timed_out(*asked, now);
            }
            for r in 0..self.n {
                out.send_replica(
                    r,
                    Message::Propose {
                        id,
                        command: command.clone(),
                        reply: true,
                    },
                );
            }
        }
    }

    /// Besides choosing another replica, commands waiting on this one go
    /// out again at the next tick rather than after their timeout.
    fn unreachable(&mut self, replica: ReplicaId, now: Time) {
        self.preferred.unreachable(replica, now);
        if self.pending.extras_mut().any(|asked| *asked == replica) {
            self.pending.make_all_due();
        }
    }
}
