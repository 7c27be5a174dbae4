//! The Fast Paxos client: propose to every acceptor, hear the result from
//! the closest replica (from every replica after a timeout).

use super::messages::Message;
use crate::client::PendingCommands;
use crate::command::Command;
use crate::ids::{CommandId, ReplicaId};
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox};
use crate::time::Time;

/// A Fast Paxos client.
#[derive(Debug)]
pub struct FastPaxosClient {
    n: usize,
    closest: ReplicaId,
    pending: PendingCommands,
}

impl ClientProtocol for FastPaxosClient {
    type Message = Message;

    fn new(config: ClientConfig) -> Self {
        FastPaxosClient {
            n: config.quorums.n(),
            closest: config.closest,
            pending: PendingCommands::new(config.timing.retry),
        }
    }

    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        for r in 0..self.n {
            out.send_replica(
                r,
                Message::Propose {
                    id,
                    command: command.clone(),
                    reply: r == self.closest,
                },
            );
        }
        self.pending.insert(id, command, now);
    }

    fn handle(&mut self, _from: ReplicaId, msg: Message, _now: Time, _out: &mut Outbox<Message>) -> Option<Completion> {
        let Message::Reply { id, result, fast } = msg else {
            return None;
        };
        self.pending.complete(id)?;
        Some(Completion {
            id,
            result,
            fast_path: Some(fast),
        })
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        // The closest replica may be gone: everyone answers a retry.
        for (id, command) in self.pending.due(now) {
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
}
