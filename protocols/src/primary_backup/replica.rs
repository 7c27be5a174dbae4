//! The primary-backup replica: replica 0 orders every command and executes
//! it once every backup holds it; backups execute in the primary's order.

use super::messages::{Message, Slot};
use crate::command::Command;
use crate::ids::{CommandId, NodeId, ReplicaId};
use crate::protocol::{Outbox, ReplicaConfig, ReplicaProtocol};
use crate::quorum::Votes;
use crate::session::{Applied, StateMachine};
use crate::time::Time;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// The one primary. There is no view change: this protocol is the guide's
/// example, and it stops when replica 0 stops.
const PRIMARY: ReplicaId = 0;

/// A command the primary ordered and not every backup holds yet.
#[derive(Debug)]
struct Copying {
    id: CommandId,
    command: Command,
    acks: Votes,
    sent: Time,
}

/// A primary-backup replica.
#[derive(Debug)]
pub struct PrimaryBackupReplica {
    id: ReplicaId,
    n: usize,
    retry: Duration,
    state: StateMachine,
    /// Primary: the next slot to give out.
    next_slot: Slot,
    /// Primary: slots not yet held by every backup.
    copying: BTreeMap<Slot, Copying>,
    /// Primary: commands ordered and not executed (a client's retry is not
    /// ordered twice).
    ordered: HashSet<CommandId>,
    /// Backup: slots received ahead of a gap.
    received: BTreeMap<Slot, (CommandId, Command)>,
    /// Every slot below this one is executed here.
    executed_up_to: Slot,
}

impl PrimaryBackupReplica {
    fn is_primary(&self) -> bool {
        self.id == PRIMARY
    }

    /// Primary, on a client's request: order it, or answer a retry of a
    /// command already executed.
    fn on_request(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        if !self.is_primary() {
            return out.send_replica(PRIMARY, Message::Request { id, command });
        }
        if self.state.has_executed(id) {
            // A retry: answered again with its first result (while the
            // session still holds it; a client has moved on otherwise).
            if let Some(result) = self.state.result_of(id) {
                out.send_client(
                    id.client,
                    Message::Reply {
                        id,
                        result: result.clone(),
                    },
                );
            }
            return;
        }
        if !self.ordered.insert(id) {
            return; // ordered already; its reply follows its execution
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        out.broadcast(Message::Backup {
            slot,
            id,
            command: command.clone(),
        });
        let copying = Copying {
            id,
            command,
            acks: Votes::new(),
            sent: now,
        };
        self.copying.insert(slot, copying);
        self.execute_held(out);
    }

    /// Backup, on the primary's copy: hold it, execute what is contiguous,
    /// and acknowledge the prefix held.
    fn on_backup(&mut self, slot: Slot, id: CommandId, command: Command, out: &mut Outbox<Message>) {
        if slot >= self.executed_up_to {
            self.received.insert(slot, (id, command));
        }
        while let Some((id, command)) = self.received.remove(&self.executed_up_to) {
            if matches!(self.state.apply(id, &command), Applied::Fresh(_)) {
                out.executed(id);
            }
            self.executed_up_to += 1;
        }
        if self.executed_up_to > 0 {
            out.send_replica(
                PRIMARY,
                Message::BackupAck {
                    slot: self.executed_up_to - 1,
                },
            );
        }
    }

    /// Primary, on a backup's acknowledgement of every slot up to `slot`.
    fn on_backup_ack(&mut self, from: ReplicaId, slot: Slot, out: &mut Outbox<Message>) {
        for (_, copying) in self.copying.range_mut(..=slot) {
            copying.acks.add(from);
        }
        self.execute_held(out);
    }

    /// Primary: executes, in slot order, every command all backups hold,
    /// and answers its client.
    fn execute_held(&mut self, out: &mut Outbox<Message>) {
        while let Some(entry) = self.copying.first_entry() {
            if !entry.get().acks.reached(self.n - 1) {
                break;
            }
            let Copying { id, command, .. } = entry.remove();
            let applied = self.state.apply(id, &command);
            if matches!(applied, Applied::Fresh(_)) {
                out.executed(id);
            }
            self.ordered.remove(&id);
            self.executed_up_to += 1;
            if let Some(result) = applied.result() {
                out.send_client(
                    id.client,
                    Message::Reply {
                        id,
                        result: result.clone(),
                    },
                );
            }
        }
    }
}

impl ReplicaProtocol for PrimaryBackupReplica {
    type Message = Message;

    fn new(config: ReplicaConfig) -> Self {
        PrimaryBackupReplica {
            id: config.id,
            n: config.quorums.n(),
            retry: config.timing.retry,
            state: StateMachine::new(),
            next_slot: 0,
            copying: BTreeMap::new(),
            ordered: HashSet::new(),
            received: BTreeMap::new(),
            executed_up_to: 0,
        }
    }

    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        match (from, msg) {
            (_, Message::Request { id, command }) => self.on_request(id, command, now, out),
            (NodeId::Replica(PRIMARY), Message::Backup { slot, id, command }) => self.on_backup(slot, id, command, out),
            (NodeId::Replica(r), Message::BackupAck { slot }) if self.is_primary() => self.on_backup_ack(r, slot, out),
            _ => {}
        }
    }

    /// Primary: copies a backup has not acknowledged within a retry timeout
    /// are sent again (a link may have dropped them).
    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        let retry = self.retry;
        for (&slot, copying) in self.copying.iter_mut().filter(|(_, c)| now.since(c.sent) >= retry) {
            copying.sent = now;
            let (id, command) = (copying.id, copying.command.clone());
            out.broadcast(Message::Backup { slot, id, command });
        }
    }

    fn leader(&self) -> Option<ReplicaId> {
        Some(PRIMARY)
    }

    fn has_executed(&self, id: CommandId) -> bool {
        self.state.has_executed(id)
    }

    fn describe(&self) -> String {
        let role = if self.is_primary() { "primary" } else { "backup" };
        format!("{role}, executed up to slot {}", self.executed_up_to)
    }
}
