//! The client of the leader-based protocols (Multi-Paxos, N2Paxos): one
//! client written once for both, over their messages ([`LeaderMessages`]).

use crate::command::Command;
use crate::ids::{CommandId, ReplicaId};
use crate::pending::PendingCommands;
use crate::time::Time;

/// The messages a [`LeaderClient`] needs from a leader-based protocol.
pub trait LeaderMessages: Sized {
    /// The message that asks a replica to order `command`.
    fn request(id: CommandId, command: Command) -> Self;
    /// The command id and result, if this message answers a command.
    fn into_reply(self) -> Option<(CommandId, crate::command::CommandResult)>;
    /// The message that asks a replica to answer too when `id` executes,
    /// if the protocol has one (for `waitClosest`).
    fn watch(_id: CommandId) -> Option<Self> {
        None
    }
}

/// The client of a leader-based protocol (Multi-Paxos, N2Paxos): it sends a
/// command to the replica it believes leads, learns the leader from whoever
/// answers, and on a timeout sends to every replica (followers forward to
/// their leader), so a leader change costs a client one timeout at most.
#[derive(Debug)]
pub struct LeaderClient<M> {
    n: usize,
    leader: ReplicaId,
    /// The replica also asked to answer (`waitClosest`), if any.
    closest: Option<ReplicaId>,
    pending: PendingCommands,
    _messages: std::marker::PhantomData<fn() -> M>,
}

impl<M: LeaderMessages + Clone + std::fmt::Debug> crate::protocol::ClientProtocol for LeaderClient<M> {
    type Message = M;

    fn new(config: crate::protocol::ClientConfig) -> Self {
        LeaderClient {
            n: config.quorums.n(),
            leader: config.quorums.initial_ballot().leader(config.quorums.n()),
            closest: config.wait_closest.then_some(config.closest),
            pending: PendingCommands::new(config.timing.retry),
            _messages: std::marker::PhantomData,
        }
    }

    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut crate::Outbox<M>) {
        out.send_replica(self.leader, M::request(id, command.clone()));
        if let (Some(closest), Some(watch)) = (self.closest, M::watch(id)) {
            if closest != self.leader {
                out.send_replica(closest, watch);
            }
        }
        self.pending.insert(id, command, now);
    }

    fn handle(
        &mut self,
        from: ReplicaId,
        msg: M,
        _now: Time,
        _out: &mut crate::Outbox<M>,
    ) -> Option<crate::Completion> {
        let (id, result) = msg.into_reply()?;
        if self.closest != Some(from) {
            self.leader = from;
        }
        self.pending.complete(id)?;
        Some(crate::Completion {
            id,
            result,
            fast_path: None,
        })
    }

    fn tick(&mut self, now: Time, out: &mut crate::Outbox<M>) {
        for (id, command) in self.pending.due(now) {
            for r in 0..self.n {
                out.send_replica(r, M::request(id, command.clone()));
            }
        }
    }
}
