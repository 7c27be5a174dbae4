//! The EPaxos client: send to the closest replica, which leads the command;
//! after a timeout, to the next one (the first may have failed).

use super::messages::Message;
use crate::client::PendingCommands;
use crate::command::Command;
use crate::ids::{CommandId, ReplicaId};
use crate::protocol::{ClientConfig, ClientProtocol, Completion, Outbox};
use crate::time::Time;
use std::collections::HashMap;

/// An EPaxos client.
#[derive(Debug)]
pub struct EPaxosClient {
    n: usize,
    closest: ReplicaId,
    pending: PendingCommands,
    /// Retries so far, per command: the k-th goes to the k-th next replica.
    retries: HashMap<CommandId, usize>,
}

impl ClientProtocol for EPaxosClient {
    type Message = Message;

    fn new(config: ClientConfig) -> Self {
        EPaxosClient {
            n: config.quorums.n(),
            closest: config.closest,
            pending: PendingCommands::new(config.timing.retry),
            retries: HashMap::new(),
        }
    }

    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        out.send_replica(
            self.closest,
            Message::Request {
                id,
                command: command.clone(),
            },
        );
        self.pending.insert(id, command, now);
    }

    fn handle(&mut self, _from: ReplicaId, msg: Message, _now: Time, _out: &mut Outbox<Message>) -> Option<Completion> {
        let Message::Reply { id, result, fast } = msg else {
            return None;
        };
        self.pending.complete(id)?;
        self.retries.remove(&id);
        Some(Completion {
            id,
            result,
            fast_path: Some(fast),
        })
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        for (id, command) in self.pending.due(now) {
            let k = self.retries.entry(id).or_insert(0);
            *k += 1;
            out.send_replica((self.closest + *k) % self.n, Message::Request { id, command });
        }
    }
}
