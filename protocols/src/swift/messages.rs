//! SwiftPaxos messages, named as in the paper (MFastAck, MSlowAck, MNewLeader…).

use crate::ballot::Ballot;
use crate::command::{Command, CommandResult};
use crate::depgraph::Deps;
use crate::ids::{ClientId, CommandId};
use crate::session::StateChunk;
use crate::transfer::Part;
use crate::unboxed::Unboxed;
use rkyv::with::Map;

/// How far a replica got with a command, in the ballot it last synced into.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub enum Phase {
    /// Voted its own dependencies for the fast path.
    PreAccepted,
    /// Adopted the leader's dependencies (slow-path vote, or the leader itself).
    Accepted,
    /// Knows the command committed with these dependencies.
    Committed,
}

/// Every message of SwiftPaxos.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum Message {
    /// Client → every replica: order and execute `command`. The client's
    /// closest replica may be asked to send the result once it executes
    /// (the original's `waitClosest`). `every_slow_ack`: the client's
    /// replicas are at different distances from it, so the slow path may
    /// answer first and no follower leaves its `SlowAck` out
    /// ([`super::distances`]).
    Propose {
        id: CommandId,
        command: Command,
        reply_on_execution: bool,
        every_slow_ack: bool,
    },
    /// A replica's dependencies for `id` (its fast-path vote), to every
    /// replica and to the client. The leader's retransmissions of what
    /// stays uncommitted carry the command, so that replicas which missed
    /// the client's proposal can still accept (a first vote, in
    /// `FastAcks`, does not: replicas wait for the client's proposal).
    /// (The command is boxed, as are the big fields of the other rare
    /// variants below: see [`crate::unboxed`].)
    FastAck {
        ballot: Ballot,
        id: CommandId,
        deps: Deps,
        #[rkyv(with = Map<Unboxed>)]
        command: Option<Box<Command>>,
    },
    /// One replica's `FastAck`s of one flush, to every other replica (a
    /// follower's to the leader only at three replicas): one message per
    /// flush instead of one per command, as Multi-Paxos batches `Accept`s
    /// (at most [`MAX_VOTES`] each).
    /// `all_heard`, from the leader: it heard from every replica lately, so
    /// a follower whose fast vote was the leader's dependencies need not
    /// send the client its `SlowAck` (see `replica/client_votes.rs`).
    FastAcks {
        ballot: Ballot,
        acks: Vec<FastVote>,
        all_heard: bool,
    },
    /// Leader → client: its fast ack with the result of executing optimistically.
    Reply {
        ballot: Ballot,
        id: CommandId,
        deps: Deps,
        result: CommandResult,
    },
    /// A replica accepted the leader's dependencies for `id` (slow-path
    /// vote), to every replica and to the client.
    SlowAck { ballot: Ballot, id: CommandId },
    /// One replica's `SlowAck`s of one flush, to every other replica (the
    /// leader only at three replicas; at most [`MAX_VOTES`] each).
    SlowAcks { ballot: Ballot, ids: Vec<CommandId> },
    /// A replica executed `id`: the result is final. Answers retries of
    /// finished commands and commands recovered by a new leader.
    Executed { id: CommandId, result: CommandResult },
    /// `id` committed with `deps`: catch-up for a replica that missed votes.
    Commit {
        id: CommandId,
        command: Command,
        deps: Deps,
    },
    /// A lagging replica asks the leader for the commit of these commands.
    Fetch { ids: Vec<CommandId> },
    /// The leader is alive and has committed `committed` commands so far.
    /// `release`: per client, every command numbered below the figure
    /// executed at every replica; all forget them ([`crate::gc`]).
    Heartbeat {
        ballot: Ballot,
        committed: usize,
        release: Vec<(ClientId, u64)>,
    },
    /// Follower → leader, every heartbeat interval: per client, every
    /// command numbered below the figure executed here.
    ExecutedPrefixes { prefixes: Vec<(ClientId, u64)> },
    /// Leader → a follower whose report shows it behind what was released
    /// past it (it lagged more than the release lag): per client, below
    /// what the leader released (at most [`MAX_BEHIND`] clients). Those
    /// commands are gone everywhere else, so the follower rejoins by state
    /// transfer ([`crate::Action::Rejoin`]).
    Released { behind: Vec<(ClientId, u64)> },
    /// A replica behind what another released asks it for its image: the
    /// `Image` parts follow (a state transfer).
    ImageRequest,
    /// A follower that fell behind asks for the leader's commits from position `from` on.
    CatchUp { ballot: Ballot, from: usize },
    /// The leader's commits at positions `from..from + commits.len()`.
    CatchUpReply {
        ballot: Ballot,
        from: usize,
        commits: Vec<Decided>,
    },
    /// Pre-vote before a leader change (see `election`).
    PreVote { ballot: Ballot },
    /// The pre-vote is granted.
    PreVoteGranted { ballot: Ballot },
    /// A candidate takes over with `ballot` (MNewLeader).
    NewLeader { ballot: Ballot },
    /// A replica joins `ballot` and reports everything it knows (MNewLeaderAckN),
    /// in `parts` messages (what it knows can outgrow a frame); the leader
    /// counts the report once all parts of one version arrived
    /// ([`crate::transfer::PartedReplies`]).
    /// `released` (in the first part, empty in the others): per client,
    /// below what the reporter released. A candidate that executed less
    /// there fell behind what was released past it and must not lead: the
    /// reports would not show it those commands.
    NewLeaderAck {
        ballot: Ballot,
        cballot: Ballot,
        part: Part,
        entries: Vec<ReportedEntry>,
        released: Vec<(ClientId, u64)>,
    },
    /// The new leader's decision for every recovered command (MSync): each
    /// is accepted in `ballot` with its dependencies; `voided` commands never
    /// reached a quorum and are dropped from every dependency set. In parts
    /// (a recovery can outgrow a frame): a replica applies the `Sync` once
    /// all parts arrived, and records it as the same parts.
    /// `released` (in the first part, empty in the others): per client,
    /// below what the new leader or a replica that reported to it released
    /// (the highest figure; those commands are in no report, and a
    /// dependency on one is not voided). A replica that executed less
    /// there fell behind what was released past it and rejoins by state
    /// transfer instead of syncing: the decisions' dependencies leave out
    /// commands it never executed.
    Sync {
        ballot: Ballot,
        part: Part,
        decided: Vec<Decided>,
        voided: Vec<CommandId>,
        released: Vec<(ClientId, u64)>,
    },
    /// A replica that saw `ballot` but missed its `Sync` asks the leader again.
    SyncRequest { ballot: Ballot },
    /// The receiver's ballot is stale.
    Nack { ballot: Ballot },
    /// Never sent: a replica's vote on `entry` in `ballot` (its fast-path
    /// dependencies, or the leader's once it accepted them), the record it
    /// keeps on stable storage so that after a restart it reports the vote
    /// to a new leader exactly as before the crash.
    Voted {
        ballot: Ballot,
        #[rkyv(with = Unboxed)]
        entry: Box<ReportedEntry>,
    },
    /// Never sent: one part of the first records of a compacted log
    /// (`snapshot`), which rebuild what the replica's earlier records
    /// would: its ballots, its executed state (`StateChunk`s: store and
    /// session table), per client the prefix released everywhere, its
    /// commit order from position `commit_base` on (released ids
    /// included, so the positions a follower catches up by hold), and the
    /// ids done here that no `Commit` record will bring back (voided by a
    /// leader change). `Commit` and `Voted` records for what is not
    /// released follow.
    ///
    /// Also a state transfer (`part.version` not 0): sent to a replica
    /// behind what the sender (`of`) released, and recorded by it before it
    /// installs the image, so that a restart replays the install.
    Image {
        of: u64,
        ballot: Ballot,
        cballot: Ballot,
        commit_base: u64,
        part: Part,
        #[rkyv(with = Unboxed)]
        state: Box<StateChunk>,
        released: Vec<(ClientId, u64)>,
        #[rkyv(with = Unboxed)]
        order: Box<Vec<CommandId>>,
        #[rkyv(with = Unboxed)]
        done: Box<Vec<CommandId>>,
    },
}

/// The most votes in one [`Message::FastAcks`] or [`Message::SlowAcks`], so
/// that a message stays far below the frame cap however busy a flush.
pub const MAX_VOTES: usize = 1024;

/// The most clients one [`Message::Released`] names: one is enough to
/// show the follower it is behind.
pub const MAX_BEHIND: usize = 64;

/// One fast-path vote in a [`Message::FastAcks`]: the fields of a `FastAck`.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct FastVote {
    /// The command's id.
    pub id: CommandId,
    /// The voter's dependencies for it.
    pub deps: Deps,
}

/// One command in a [`Message::NewLeaderAck`].
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct ReportedEntry {
    /// The command's id.
    pub id: CommandId,
    /// The command.
    pub command: Command,
    /// How far the reporter got.
    pub phase: Phase,
    /// The reporter's dependencies for it.
    pub deps: Deps,
}

/// One recovered command in a [`Message::Sync`].
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Decided {
    /// The command's id.
    pub id: CommandId,
    /// The command.
    pub command: Command,
    /// Its dependencies from now on.
    pub deps: Deps,
}
