//! EPaxos messages, named as in the paper (Moraru et al., SOSP '13).

use super::instance::{Attributes, InstanceId, Report, Value};
use crate::ballot::Ballot;
use crate::command::{Command, CommandResult};
use crate::ids::CommandId;
use crate::ids::ReplicaId;
use crate::session::StateChunk;
use crate::transfer::Part;

/// A replica's answer to a `TryPreAccept`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum TryOutcome {
    /// It holds the command with the proposed attributes now.
    Ok,
    /// It holds `with`, which conflicts, is not in the proposed attributes
    /// and does not depend on the instance; `decided` when `with` is
    /// accepted or committed there; `original` when what it holds of
    /// `with` came from `with`'s own leader's pre-accept (its default
    /// ballot), not from a recovery's.
    Conflict {
        with: InstanceId,
        decided: bool,
        original: bool,
    },
    /// A previous recovery already ran phase 1 for the instance: it was not
    /// committed on the fast path.
    NotFast,
    /// It knows the instance further along (accepted or committed).
    Further(Report),
}

/// Every message of EPaxos.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Message {
    /// Client → its command leader.
    Request { id: CommandId, command: Command },
    /// Command leader → client, after execution; `fast` for a fast-path commit.
    Reply {
        id: CommandId,
        result: CommandResult,
        fast: bool,
    },
    /// Phase 1: the leader's value and attributes for `instance`.
    PreAccept {
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
    },
    /// The attributes merged with the replier's conflicts; `unchanged` when
    /// they equal the proposal in the default ballot.
    PreAcceptOk {
        instance: InstanceId,
        ballot: Ballot,
        attrs: Attributes,
        unchanged: bool,
    },
    /// Phase 2 (Paxos accept) of `instance` in `ballot`.
    Accept {
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
    },
    /// The replier accepted.
    AcceptOk { instance: InstanceId, ballot: Ballot },
    /// `instance` is decided.
    Commit {
        instance: InstanceId,
        value: Value,
        attrs: Attributes,
    },
    /// Explicit prepare: a replica recovering `instance` in `ballot`.
    Prepare { instance: InstanceId, ballot: Ballot },
    /// The replier promised `ballot` and holds `report`.
    PrepareOk {
        instance: InstanceId,
        ballot: Ballot,
        report: Option<Report>,
    },
    /// Recovery: could the instance have committed on the fast path with these attributes?
    TryPreAccept {
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
    },
    /// The replier's answer.
    TryPreAcceptReply {
        instance: InstanceId,
        ballot: Ballot,
        outcome: TryOutcome,
    },
    /// The replier promised a higher `ballot` for `instance`.
    Nack { instance: InstanceId, ballot: Ballot },
    /// A replica waiting on `instance` asks who knows it committed.
    Fetch { instance: InstanceId },
    /// The normal case's messages of many instances, gathered by one flush
    /// for one destination (at most [`MAX_STEPS`]): one message where
    /// there would be one per instance.
    Batch { steps: Vec<Step> },
    /// How many instances of each row the sender has heard of, below
    /// which instance of each row it executed everything (for releasing
    /// instances executed everywhere, [`crate::gc`]), and below which it
    /// released them: a replica that executed less there fell behind what
    /// was released past it and asks the sender for its image.
    RowLengths {
        lengths: Vec<u64>,
        executed: Vec<u64>,
        released: Vec<u64>,
    },
    /// A replica behind what the receiver released asks for its image:
    /// `Image` parts follow (a state transfer).
    ImageRequest,
    /// One part of the first records of a snapshot (a compacted log, or
    /// what rebuilds a replica rejoining after losing its state,
    /// [`crate::rejoin`]): the executed state (`StateChunk`s: store and
    /// session table), per row the instance below which everything was
    /// released (executed everywhere), and the next instance of the row of
    /// replica `of`, whose snapshot it is. A record per instance not
    /// released follows. Also a state transfer (`part.version` not 0): sent
    /// to a replica behind what `of` released, and recorded by it before it
    /// installs the image, so that a restart replays the install.
    Image {
        part: Part,
        of: ReplicaId,
        state: StateChunk,
        released: Vec<u64>,
        next_slot: u64,
    },
}

/// The most steps in one [`Message::Batch`], far below the frame cap.
pub const MAX_STEPS: usize = 1024;

/// A normal-case message inside a [`Message::Batch`]: the fields of the
/// message of the same name.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Step {
    /// See [`Message::PreAccept`].
    PreAccept {
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
    },
    /// See [`Message::PreAcceptOk`].
    PreAcceptOk {
        instance: InstanceId,
        ballot: Ballot,
        attrs: Attributes,
        unchanged: bool,
    },
    /// See [`Message::Accept`].
    Accept {
        instance: InstanceId,
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
    },
    /// See [`Message::AcceptOk`].
    AcceptOk { instance: InstanceId, ballot: Ballot },
    /// See [`Message::Commit`].
    Commit {
        instance: InstanceId,
        value: Value,
        attrs: Attributes,
    },
}

impl From<Step> for Message {
    fn from(step: Step) -> Message {
        match step {
            Step::PreAccept {
                instance,
                ballot,
                value,
                attrs,
            } => Message::PreAccept {
                instance,
                ballot,
                value,
                attrs,
            },
            Step::PreAcceptOk {
                instance,
                ballot,
                attrs,
                unchanged,
            } => Message::PreAcceptOk {
                instance,
                ballot,
                attrs,
                unchanged,
            },
            Step::Accept {
                instance,
                ballot,
                value,
                attrs,
            } => Message::Accept {
                instance,
                ballot,
                value,
                attrs,
            },
            Step::AcceptOk { instance, ballot } => Message::AcceptOk { instance, ballot },
            Step::Commit { instance, value, attrs } => Message::Commit { instance, value, attrs },
        }
    }
}

impl Message {
    /// The instance a replica-to-replica message is about, if it is about one.
    pub fn instance(&self) -> Option<InstanceId> {
        match self {
            Message::PreAccept { instance, .. }
            | Message::PreAcceptOk { instance, .. }
            | Message::Accept { instance, .. }
            | Message::AcceptOk { instance, .. }
            | Message::Commit { instance, .. }
            | Message::Prepare { instance, .. }
            | Message::PrepareOk { instance, .. }
            | Message::TryPreAccept { instance, .. }
            | Message::TryPreAcceptReply { instance, .. }
            | Message::Nack { instance, .. }
            | Message::Fetch { instance } => Some(*instance),
            Message::Request { .. }
            | Message::Reply { .. }
            | Message::RowLengths { .. }
            | Message::Batch { .. }
            | Message::Image { .. }
            | Message::ImageRequest => None,
        }
    }
}
