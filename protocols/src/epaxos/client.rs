//! The EPaxos client: send to the preferred replica (the closest at first),
//! which leads the command; after a timeout, to the next one (the first may
//! have failed), and from then on to whichever answered
//! ([`crate::preferred`]).

use super::messages::Message;
use crate::command::Command;
use crate::ids::{CommandId, ReplicaId};
use crate::pending::PendingCommands;
use crate::preferred::PreferredReplica;
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox};
use crate::time::Time;

/// An EPaxos client.
#[derive(Debug)]
pub struct EPaxosClient {
    n: usize,
    preferred: PreferredReplica,
    /// Per command in flight, the replica its last attempt went to.
    pending: PendingCommands<ReplicaId>,
}

impl ClientProtocol for EPaxosClient {
    type Message = Message;

    fn new(config: ClientConfig) -> Self {
        let n = config.quorums.n();
        EPaxosClient {
            n,
            preferred: PreferredReplica::new(config.closest, n, config.timing.retry),
            pending: PendingCommands::new(config.timing.retry),
        }
    }

    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        let (to, probe) = self.preferred.targets(id, now);
        for r in std::iter::once(to).chain(probe) {
            out.send_replica(
                r,
                Message::Request {
                    id,
                    command: command.clone(),
                },
            );
        }
        self.pending.insert(id, command, now);
        if let Some(sent_to) = self.pending.extra_mut(id) {
            *sent_to = to;
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
        for (id, command) in self.pending.due(now) {
            let Some(sent_to) = self.pending.extra_mut(id) else {
                continue;
            };
            self.preferred.timed_out(*sent_to, now);
            *sent_to = (*sent_to + 1) % self.n;
            out.send_replica(*sent_to, Message::Request { id, command });
        }
    }

    /// Besides choosing another replica, commands waiting on this one go
    /// out again at the next tick rather than after their timeout.
    fn unreachable(&mut self, replica: ReplicaId, now: Time) {
        self.preferred.unreachable(replica, now);
        if self.pending.extras_mut().any(|sent_to| *sent_to == replica) {
            self.pending.make_all_due();
        }
    }
}
