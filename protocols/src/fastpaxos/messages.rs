//! Fast Paxos messages: "phase 1a/1b, 2a/2b" as in the paper, per instance.

use super::round::Round;
use crate::ballot::Ballot;
use crate::command::{Command, CommandResult};
use crate::ids::{CommandId, ReplicaId};
use crate::log::{Batch, Slot};
use crate::session::StateChunk;
use crate::transfer::Part;

/// A log position.
pub type Instance = Slot;

/// What an acceptor reports about one instance in a [`Message::Promise`].
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Report {
    /// The instance.
    pub instance: Instance,
    /// Its last vote, or the decided value with `decided`.
    pub round: Round,
    /// The value voted for (or decided).
    pub value: Batch,
    /// Whether the acceptor knows the value is chosen.
    pub decided: bool,
}

/// The most votes in one [`Message::Votes`], far below the frame cap.
pub const MAX_VOTES: usize = 1024;

/// A vote inside a [`Message::Votes`]: the fields of a `Vote`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct CastVote {
    /// The instance voted in.
    pub instance: Instance,
    /// The round.
    pub round: Round,
    /// The value voted for.
    pub value: Batch,
}

/// Every message of Fast Paxos.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Message {
    /// Client → every acceptor: order `command`; `reply` asks this replica
    /// to answer once it executed it.
    Propose {
        id: CommandId,
        command: Command,
        reply: bool,
    },
    /// Replica → client: `id` executed with `result`; `fast` when its
    /// instance was decided in a fast round without recovery.
    Reply {
        id: CommandId,
        result: CommandResult,
        fast: bool,
    },
    /// Phase 2b, to every replica: the sender voted for `value` at `instance`
    /// in `round`; it has executed every instance below `executed` (for
    /// releasing memory, [`crate::gc`]).
    Vote {
        instance: Instance,
        round: Round,
        value: Batch,
        executed: Instance,
    },
    /// One acceptor's votes of one flush, to every replica (at most
    /// [`MAX_VOTES`]): one message where there would be one per instance.
    /// `executed` as in `Vote`.
    Votes { votes: Vec<CastVote>, executed: Instance },
    /// Phase 1a of a classic round for one stuck instance.
    Prepare { instance: Instance, round: Round },
    /// Phase 1b: the acceptor's last vote at `instance`, if any.
    Promise {
        instance: Instance,
        round: Round,
        vote: Option<(Round, Batch)>,
    },
    /// Phase 2a of a classic round: vote for `value`.
    Accept {
        instance: Instance,
        round: Round,
        value: Batch,
    },
    /// Phase 1a for a new leader: promise `ballot` for every instance from `from`.
    Elect { ballot: Ballot, from: Instance },
    /// Phase 1b for a new leader: every vote (or decision) from `from`, in
    /// parts (a backlog can outgrow a frame; the candidate counts the reply
    /// once whole). Instances below `forgotten` were executed and released:
    /// a candidate that has not executed them cannot lead.
    Elected {
        ballot: Ballot,
        forgotten: Instance,
        part: Part,
        reports: Vec<Report>,
    },
    /// The leader is alive; every instance below `frontier` is decided, and
    /// (Fast Paxos's "any" message) fast rounds of `ballot` are open from
    /// `open_from`, everything below being recovered by the leader.
    /// Every instance below `stable` is executed at every replica: forget them.
    Heartbeat {
        ballot: Ballot,
        frontier: Instance,
        open_from: Instance,
        stable: Instance,
    },
    /// A learner that fell behind asks for decisions from `from`.
    CatchUp { from: Instance },
    /// Part `part` of `parts` of replica `of`'s executed state after every
    /// instance below `executed` ([`crate::transfer`]): the answer to a
    /// `CatchUp` from below what the asked replica released, and the
    /// record the receiver keeps of it.
    Snapshot {
        ballot: Ballot,
        of: ReplicaId,
        stable: Instance,
        executed: Instance,
        part: u32,
        parts: u32,
        state: StateChunk,
    },
    /// `value` is chosen at `instance`.
    Commit { instance: Instance, value: Batch },
    /// The receiver's ballot is stale.
    Nack { ballot: Ballot },
    /// Pre-vote before a leader change (see [`crate::election`]).
    PreVote { ballot: Ballot },
    /// The sender has lost the leader too.
    PreVoteGranted { ballot: Ballot },
}
