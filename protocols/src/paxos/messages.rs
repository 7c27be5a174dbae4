//! Multi-Paxos messages, named as in "Paxos Made Simple" (phase 1a/1b, 2a/2b).

use crate::ballot::Ballot;
use crate::command::{Command, CommandResult};
use crate::ids::{CommandId, ReplicaId};
use crate::log::{Batch, Slot};
use crate::session::StateChunk;
use crate::transfer::Part;

/// Every message of Multi-Paxos.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Message {
    /// Client → replica: please order and execute `command`.
    Request { id: CommandId, command: Command },
    /// Client → its closest replica: answer me too when `id` executes (the
    /// original's `waitClosest`; N2Paxos clients always do).
    Watch { id: CommandId },
    /// Replica → client: `id` was executed with `result`.
    Reply { id: CommandId, result: CommandResult },
    /// Before raising its ballot, a follower that lost the leader asks whether
    /// the others lost it too (a pre-vote, as in Raft): a replica cut off
    /// alone must not come back with a higher ballot and depose a working leader.
    PreVote { ballot: Ballot },
    /// The sender has not heard a leader for a leader timeout either.
    PreVoteGranted { ballot: Ballot },
    /// Phase 1a: a candidate asks for promises not to accept lower ballots,
    /// and for what was accepted at `from_slot` and above.
    Prepare { ballot: Ballot, from_slot: Slot },
    /// Phase 1b: the promise, with the acceptor's entries at `from_slot` and
    /// above, in `parts` messages (a log can outgrow a frame; the candidate
    /// counts the promise once all arrived). Slots below `forgotten` were
    /// executed and released: a candidate that has not executed them cannot
    /// lead, and fetches them instead. `part` tells one promise's parts
    /// from a retransmitted one's ([`crate::transfer::PartedReplies`]).
    Promise {
        ballot: Ballot,
        forgotten: Slot,
        part: Part,
        entries: Vec<PromisedEntry>,
    },
    /// Phase 2a: the leader proposes `value` for `slot`.
    Accept { ballot: Ballot, slot: Slot, value: Batch },
    /// Phase 2b: the acceptor accepted `slot` in `ballot`; it has executed
    /// every slot below `executed` (for releasing memory, [`crate::gc`]).
    Accepted { ballot: Ballot, slot: Slot, executed: Slot },
    /// The leader tells learners that `value` is chosen at `slot`.
    Commit { slot: Slot, value: Batch },
    /// The leader is alive; every slot below `frontier` is committed, and
    /// every slot below `stable` is executed at every replica (forget them).
    Heartbeat {
        ballot: Ballot,
        frontier: Slot,
        stable: Slot,
    },
    /// A learner that fell behind asks the leader for decisions from `from_slot`.
    CatchUp { from_slot: Slot },
    /// The receiver's ballot is stale: the sender has promised `ballot`.
    Nack { ballot: Ballot },
    /// Part `part` of `parts` of replica `of`'s executed state after every
    /// slot below `executed` ([`crate::transfer`]). Sent to a replica that
    /// asked for slots released before it executed them (state transfer),
    /// and recorded: by that replica once it installed the image, and by a
    /// replica compacting its log, as the record that replaces it (with its
    /// promise, and with the `Commit`s that follow it for the slots from
    /// `stable` kept for catch-up).
    Snapshot {
        ballot: Ballot,
        of: ReplicaId,
        stable: Slot,
        executed: Slot,
        part: u32,
        parts: u32,
        state: StateChunk,
    },
}

/// One log entry reported in a [`Message::Promise`].
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct PromisedEntry {
    /// The slot.
    pub slot: Slot,
    /// The ballot it was accepted in.
    pub ballot: Ballot,
    /// The accepted value.
    pub value: Batch,
    /// Whether the acceptor knows it committed.
    pub committed: bool,
}
