//! The SwiftPaxos replica.
//!
//! Normal case, ballot `b` led by `L`:
//! * [`SwiftReplica::on_propose`]: a replica that may vote on the fast path
//!   computes the command's dependencies from its conflict table and sends
//!   `FastAck` to every replica and the client (a follower of a
//!   three-replica cluster to `L` and the client only: no other replica
//!   counts it, `follower_votes_to`). `L` also executes the command
//!   optimistically (on a [speculative overlay](crate::speculation)) and
//!   sends the client a `Reply` with the result.
//! * [`SwiftReplica::on_fast_ack`]: when `L`'s `FastAck` arrives, a replica
//!   adopts `L`'s dependencies and sends `SlowAck` to every replica (again
//!   `L` only at three replicas) and the client.
//! * [`SwiftReplica::try_commit`]: every replica commits on its own, on the
//!   **fast path** when a fast quorum (with `L`) voted `L`'s dependencies, or
//!   on the **slow path** when a majority (with `L`) accepted them. Committed
//!   commands execute in dependency order ([`DependencyGraph`]).
//!
//! The client sees the fast path after two one-way delays and the slow path
//! after three. Leader change is in [`recovery`] and below
//! ([`SwiftReplica::start_recovery`], [`SwiftReplica::apply_sync`]).

mod catch_up;
mod client_votes;
mod compaction;
mod leader_change;
use leader_change::{sync_parts, SyncItem};
mod normal_case;
pub mod recovery;
mod release;
mod transfer;

use super::messages::{Decided, FastVote, Message, Phase, ReportedEntry, MAX_BEHIND, MAX_VOTES};
use crate::ballot::Ballot;
use crate::batching::HeldVotes;
use crate::command::Command;
use crate::conflicts::ConflictTable;
use crate::depgraph::{deps_of, DependencyGraph, Deps};
use crate::election::{Election, ElectionStep};
use crate::ids::{ClientId, CommandId, NodeId, ReplicaId};
use crate::pending::ReplyCollector;
use crate::protocol::{Outbox, ReplicaConfig, ReplicaProtocol, Timing};
use crate::quorum::{QuorumSystem, Votes};
use crate::rejoin::RejoinPoint;
use crate::session::{Applied, StateChunk, StateMachine};
use crate::speculation::Speculation;
use crate::stream_windows::StreamMap;
use crate::time::Time;
use crate::transfer::{parts_of, Part, PartedReplies};
use recovery::{execution_order, recover, Report};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::{BTreeMap, VecDeque};

/// At most this many ids go in one catch-up request.
const FETCH_CHUNK: usize = 256;

/// What this replica knows of one command.
#[derive(Clone, Debug)]
struct Entry {
    command: Command,
    phase: Phase,
    /// Its own dependencies while pre-accepted; the leader's once accepted.
    deps: Deps,
    /// Whether this replica sent the client a fast vote for it (with
    /// `deps`, while pre-accepted).
    voted_fast: bool,
    /// When this replica last acted on it, for retransmission and catch-up.
    touched: Time,
}

/// The votes seen for one command in the current ballot.
#[derive(Clone, Debug, Default)]
struct BallotVotes {
    leader_deps: Option<Deps>,
    fast: ReplyCollector<Deps>,
    slow: Votes,
}

/// Everything this replica holds for one command, found with one lookup:
/// the normal case touches a command a dozen times (its proposal, four
/// votes, the commit, execution, release), and separate maps for the
/// entry, the tallies and the flags cost a lookup each.
#[derive(Clone, Debug, Default)]
struct Record {
    /// The command and this replica's phase for it; `None` while only
    /// votes (or a client's request to be notified) arrived.
    entry: Option<Entry>,
    /// The votes seen in the current ballot.
    votes: BallotVotes,
    /// The leader answered it optimistically in this ballot; others get
    /// their result when it executes.
    replied: bool,
    /// Its client asked this replica (its closest) for the result once executed.
    notify: bool,
    /// Its client wants this replica's `SlowAck` even if its fast vote
    /// matched the leader's (see [`super::distances`]).
    every_slow_ack: bool,
    /// Listed in `uncommitted`.
    listed: bool,
}

#[derive(Debug)]
enum Status {
    Normal,
    /// Joined a new ballot; waits for its leader's `Sync`.
    Joining,
    /// Leads a new ballot; gathers reports.
    /// `abandoned` once a report showed it behind what was released: it
    /// cannot lead, and stays silent until another candidate's ballot.
    /// `released`: per client, the highest figure below which this
    /// candidate or a reporter released (see `finish_recovery_if_reported`).
    Recovering {
        reports: Vec<Report>,
        arriving: PartedReplies<ReportedEntry>,
        sent: Time,
        abandoned: bool,
        released: HashMap<ClientId, u64>,
    },
}

/// A SwiftPaxos replica.
#[derive(Debug)]
pub struct SwiftReplica {
    id: ReplicaId,
    quorums: QuorumSystem,
    timing: Timing,
    ballot: Ballot,
    /// The last ballot this replica synced into (or started in).
    cballot: Ballot,
    status: Status,
    election: Election,
    /// Per client, in a window by sequence number ([`StreamMap`]): a new
    /// record goes at its client's window's end, the table probed has one
    /// entry per client, and a release pops each client's window front.
    /// (A hash map's slot for each new command was a cache miss, `put_entry`
    /// the top symbol of the profile; an `IndexMap`'s index probe then was,
    /// at every lookup and at every release.)
    records: StreamMap<CommandId, Record>,
    /// Entries that may not be committed yet, in the order they arrived:
    /// what the periodic retransmission and fetch look at, instead of every
    /// entry ever seen. Committed ones leave it lazily, at the next scan.
    uncommitted: Vec<CommandId>,
    /// When the leader last looked for accepted commands to retransmit.
    last_retransmit: Time,
    /// Votes for the other replicas (see [`Self::follower_votes_to`]), sent together at the next flush.
    fast_votes: HeldVotes<(Ballot, FastVote)>,
    slow_votes: HeldVotes<(Ballot, CommandId)>,
    conflicts: ConflictTable<CommandId>,
    graph: DependencyGraph,
    state: StateMachine,
    speculation: Speculation,
    /// Proposals that arrived while joining a ballot.
    parked: Vec<(CommandId, Command)>,
    last_heartbeat: Time,
    last_fetch: Time,
    last_catch_up: Time,
    last_sync_request: Time,
    /// The leader's `Sync` in parts, kept to answer replicas that missed it.
    last_sync: Option<Vec<Message>>,
    /// Parts of a `Sync` still arriving (from restore or from the leader).
    arriving_sync: PartedReplies<SyncItem>,
    /// Every command this replica committed, in the order it did, from
    /// position `commit_base` on (what was released is gone): the leader's
    /// serves as the list a lagging follower catches up from.
    commit_order: VecDeque<CommandId>,
    commit_base: usize,
    /// Ids a compacted log's `Image` put back in `commit_order` whose
    /// `Commit` record is still to be replayed: that replay must not list
    /// them a second time. Empty outside a restore.
    restored_order: HashSet<CommandId>,
    /// The leader: each replica's executed prefixes, as last reported.
    prefix_reports: HashMap<ReplicaId, HashMap<ClientId, u64>>,
    /// How many commands a replica may have executed fewer than this leader
    /// before releases stop waiting for it ([`ReplicaConfig::release_lag`]).
    release_lag: u64,
    /// The leader: replicas it released past (they lagged more than the
    /// release lag), until a report shows them caught up by a rejoin. They
    /// get no leader dependencies (`FastAck`s), commits or catch-up from it:
    /// those leave out the commands they never executed, so they could
    /// execute out of order. They are told `Released` instead.
    excluded: HashSet<ReplicaId>,
    /// A state transfer: when this replica last asked for an image, when
    /// it last sent one, and the parts of one arriving.
    last_image_request: Time,
    last_image_sent: Time,
    arriving_image: PartedReplies<transfer::ImagePiece>,
    /// The leader: when each replica's last report arrived.
    last_report_at: HashMap<ReplicaId, Time>,
    /// When this replica entered its ballot: a replica that has not
    /// reported since is waited for a while before it counts as lagging.
    reports_since: Time,
    last_prefix_report: Time,
    /// How much of the current leader's `commit_order` this follower has
    /// read, and how much the leader's last heartbeat said it has.
    leader_cursor: usize,
    leader_committed: usize,
    /// A follower: whether the leader's last `FastAcks` said it heard from
    /// every replica lately, and the `SlowAck`s to clients this follower
    /// left out meanwhile (see `accept_if_leader_spoke`).
    leader_heard_all: bool,
    skipped_slow_acks: VecDeque<(Time, CommandId)>,
    /// The leader: what its last `FastAcks` said of hearing from all.
    said_all_heard: bool,
}

impl ReplicaProtocol for SwiftReplica {
    type Message = Message;

    /// Records: `NewLeader` for a ballot it joined and reported in, `Voted`
    /// for each vote, `Sync` for the ballot it synced into, `Commit` for
    /// each decision; a compacted log starts with `Image` parts
    /// ([`compaction`]).
    const DURABLE: bool = true;

    /// Non-conflicting commands execute in different orders at different
    /// replicas.
    const EXECUTES_ONE_SEQUENCE: bool = false;

    fn has_executed(&self, id: CommandId) -> bool {
        self.state.has_executed(id)
    }

    /// A round's proposals: the store's slots for their keys (half a
    /// million keys in `bench`, far more than the cache holds), looked up
    /// together, since each proposal executes here soon after.
    fn warm<'a>(&self, arrived: impl Iterator<Item = &'a Message>) {
        for msg in arrived {
            if let Message::Propose { command, .. } = msg {
                self.state.warm(command);
            }
        }
    }

    /// See [`compaction`].
    fn snapshot(&self) -> Vec<Message> {
        self.compacted()
    }

    const REJOINS: bool = true;

    /// One log per client: past every command of it this replica holds a
    /// record of (the command, a vote for it, a request to be notified).
    /// Commands released were executed everywhere, the old life included.
    fn rejoin_point(&self) -> RejoinPoint {
        RejoinPoint::new(self.ballot.0, self.records.keys().map(|id| (id.client, id.seq + 1)))
    }

    /// In a ballot as high and synced into it, every command of each
    /// client below its mark executed here.
    fn covers(&self, point: &RejoinPoint) -> bool {
        let synced = matches!(self.status, Status::Normal) && self.cballot == self.ballot;
        synced
            && self.ballot.0 >= point.ballot
            && point
                .marks
                .iter()
                .all(|&(client, end)| self.state.executed_prefixes_of(client) >= end)
    }

    /// Rebuilds entries, ballots, the conflict table and (re-executing the
    /// decisions) the state machine, in the order they were recorded. Vote
    /// tallies are not rebuilt: the leader retransmits what is uncommitted.
    fn restore(&mut self, record: Message, out: &mut Outbox<Message>) {
        match record {
            Message::NewLeader { ballot } => self.ballot = self.ballot.max(ballot),
            Message::Voted { ballot, entry } => {
                self.ballot = self.ballot.max(ballot);
                self.restore_vote(*entry);
            }
            Message::Sync {
                ballot,
                part,
                decided,
                voided,
                released: _,
            } => {
                if let Some((decided, voided)) = self.whole_sync(ballot, part, decided, voided) {
                    if self.is_leader_of(ballot) {
                        // Followers that missed it will ask again.
                        self.last_sync = Some(sync_parts(ballot, &decided, &voided, self.released_figures()));
                    }
                    // A ballot synced into already: the `Sync` a compacted
                    // log keeps for followers, its effects in the records
                    // before it.
                    if ballot > self.cballot {
                        self.adopt_sync(ballot, decided, voided, Time::ZERO, out);
                    }
                }
            }
            Message::Image { part, of, .. } if part.version != 0 => {
                // A state transfer this replica installed: again, on top of
                // what the records before it rebuilt.
                if let Some((part, piece)) = transfer::image_piece(record) {
                    if let Some(pieces) = self.arriving_image.add(of as ReplicaId, part, vec![piece]) {
                        self.install(of as ReplicaId, part.version, pieces, out);
                    }
                }
            }
            Message::Image {
                ballot,
                cballot,
                commit_base,
                part: _,
                state,
                released,
                order,
                done,
                of: _,
            } => self.restore_image((ballot, cballot), commit_base, *state, released, *order, *done, out),
            Message::Commit { id, command, deps } => self.commit(id, Some(command), deps, out),
            _ => {}
        }
        self.status = if self.ballot == self.cballot {
            Status::Normal
        } else {
            Status::Joining
        };
        // Which replicas its ballot released past went with the crash: a
        // leader that comes back in its ballot sends dependencies to none
        // until its report shows it is not behind.
        self.excluded = (0..self.n()).filter(|&r| r != self.id).collect();
        // Messages queued while restoring are dropped.
        self.fast_votes.clear();
        self.slow_votes.clear();
    }

    fn new(config: ReplicaConfig) -> Self {
        let n = config.quorums.n();
        let initial = config.quorums.initial_ballot();
        SwiftReplica {
            id: config.id,
            quorums: config.quorums,
            timing: config.timing,
            ballot: initial,
            cballot: initial,
            status: Status::Normal,
            election: Election::new(config.id, n, config.timing),
            records: StreamMap::new(),
            uncommitted: Vec::new(),
            last_retransmit: Time::ZERO,
            fast_votes: HeldVotes::new(),
            slow_votes: HeldVotes::new(),
            conflicts: ConflictTable::new(),
            graph: DependencyGraph::new(),
            state: StateMachine::new(),
            speculation: Speculation::new(),
            parked: Vec::new(),
            last_heartbeat: Time::ZERO,
            last_fetch: Time::ZERO,
            last_catch_up: Time::ZERO,
            last_sync_request: Time::ZERO,
            last_sync: None,
            arriving_sync: PartedReplies::new(),
            commit_order: VecDeque::new(),
            commit_base: 0,
            restored_order: HashSet::default(),
            prefix_reports: HashMap::default(),
            release_lag: config.release_lag,
            reports_since: Time::ZERO,
            excluded: HashSet::default(),
            last_report_at: HashMap::default(),
            last_image_request: Time::ZERO,
            last_image_sent: Time::ZERO,
            arriving_image: PartedReplies::new(),
            last_prefix_report: Time::ZERO,
            leader_cursor: 0,
            leader_committed: 0,
            leader_heard_all: false,
            skipped_slow_acks: VecDeque::new(),
            said_all_heard: false,
        }
    }

    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        if let Message::Propose {
            id,
            command,
            reply_on_execution,
            every_slow_ack,
        } = msg
        {
            return self.on_propose(id, command, (reply_on_execution, every_slow_ack), now, out);
        }
        let NodeId::Replica(r) = from else { return };
        if let Message::Commit { id, .. } = &msg {
            if self.graph.is_released(*id) {
                return; // executed everywhere and forgotten: a stale message
            }
        }
        match msg {
            Message::FastAck {
                ballot,
                id,
                deps,
                command,
            } => {
                // The leader retransmits one command at a time: something is amiss.
                self.leader_says_all_heard(r, ballot, false, out);
                self.on_fast_ack(r, ballot, id, deps, command.map(|c| *c), now, out)
            }
            Message::FastAcks {
                ballot,
                acks,
                all_heard,
            } => {
                self.leader_says_all_heard(r, ballot, all_heard, out);
                for FastVote { id, deps } in acks {
                    self.on_fast_ack(r, ballot, id, deps, None, now, out);
                }
            }
            Message::SlowAck { ballot, id } => self.on_slow_ack(r, ballot, id, now, out),
            Message::SlowAcks { ballot, ids } => {
                for id in ids {
                    self.on_slow_ack(r, ballot, id, now, out);
                }
            }
            Message::Commit { id, command, deps } => self.commit(id, Some(command), deps, out),
            Message::Fetch { ids } => self.on_fetch(r, ids, out),
            Message::Heartbeat {
                ballot,
                committed,
                release,
            } => {
                self.on_heartbeat(r, ballot, committed, now, out);
                if ballot == self.ballot && r == self.leader_id() && matches!(self.status, Status::Normal) {
                    self.release(&release);
                }
            }
            Message::ExecutedPrefixes { prefixes } => self.on_executed_prefixes(r, prefixes, now, out),
            Message::Released { behind } => self.on_released(r, &behind, now, out),
            Message::ImageRequest => self.on_image_request(r, now, out),
            image @ Message::Image { .. } => {
                if let Some((part, piece)) = transfer::image_piece(image) {
                    self.on_image_part(r, part, piece, out);
                }
            }
            Message::CatchUp { ballot, from } => self.on_catch_up(r, ballot, from, out),
            Message::CatchUpReply { ballot, from, commits } => {
                // `from` beyond the cursor: the leader released what lies
                // between, executed everywhere (here too) already.
                if ballot == self.ballot
                    && matches!(self.status, Status::Normal)
                    && from >= self.leader_cursor
                    && from <= self.leader_committed
                {
                    self.leader_cursor = from + commits.len();
                    self.last_catch_up = Time::ZERO;
                    for d in commits {
                        self.commit(d.id, Some(d.command), d.deps, out);
                    }
                }
            }
            Message::PreVote { ballot } => self.on_pre_vote(r, ballot, now, out),
            Message::PreVoteGranted { ballot } => {
                let may_run = self.is_normal_follower() || matches!(self.status, Status::Joining);
                if ballot == self.ballot && may_run && self.election.granted(r) {
                    self.start_recovery(now, out);
                }
            }
            Message::NewLeader { ballot } => self.on_new_leader(r, ballot, now, out),
            Message::NewLeaderAck {
                ballot,
                cballot,
                part,
                entries,
                released,
            } => self.on_new_leader_ack(r, (ballot, cballot, part), entries, &released, now, out),
            Message::Sync {
                ballot,
                part,
                decided,
                voided,
                released,
            } => {
                if ballot > self.ballot || (ballot == self.ballot && matches!(self.status, Status::Joining)) {
                    if self.is_behind(&released) {
                        // Its decisions leave out commands released past
                        // this replica: it must not sync, but rejoin.
                        return self.ask_image(r, now, out);
                    }
                    self.election.heard_leader(now);
                    if let Some((decided, voided)) = self.whole_sync(ballot, part, decided, voided) {
                        self.apply_sync(ballot, decided, voided, now, out);
                    }
                }
            }
            Message::SyncRequest { ballot } => {
                if ballot == self.ballot && self.is_leader() && matches!(self.status, Status::Normal) {
                    for part in self.last_sync.iter().flatten() {
                        out.send_replica(r, part.clone());
                    }
                }
            }
            Message::Nack { ballot } => {
                self.join_ballot(ballot);
                self.saw_ballot(ballot, now, out);
            }
            Message::Propose { .. } | Message::Reply { .. } | Message::Executed { .. } | Message::Voted { .. } => {}
        }
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        let leading = self.is_leader();
        match &mut self.status {
            Status::Recovering { sent, abandoned, .. } => {
                if !*abandoned && now.since(*sent) >= self.timing.retry {
                    *sent = now;
                    out.broadcast(Message::NewLeader { ballot: self.ballot });
                }
            }
            Status::Joining | Status::Normal if !leading => {
                if self.election.tick(self.ballot, now) == ElectionStep::AskPreVotes {
                    out.broadcast(Message::PreVote { ballot: self.ballot });
                    if self.election.alone_is_majority() {
                        self.start_recovery(now, out);
                    }
                }
                if matches!(self.status, Status::Normal) {
                    self.fetch_what_is_missing(now, out);
                    self.release_when_due(now, out);
                }
            }
            Status::Joining => {
                // Only a restart leaves a replica joining its own ballot: it
                // crashed while recovering, before its `Sync` was recorded.
                // Its reports are gone; it recovers again in a new ballot.
                self.start_recovery(now, out);
            }
            Status::Normal => {
                self.release_when_due(now, out);
                self.retransmit_uncommitted(now, out);
            }
        }
    }

    /// Sends the votes gathered since the last flush, one message per kind
    /// (and ballot) per destination; nothing waits when idle, since
    /// the host flushes as soon as its inbox is empty.
    fn flush(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.release_when_due(now, out);
        let fast_size = |(_, v): &(Ballot, FastVote)| 48 + 16 * v.deps.len();
        let all_heard = self.all_heard_to_say(now, out);
        self.fast_votes.flush(
            out,
            MAX_VOTES,
            fast_size,
            |(b, _)| *b,
            |ballot, votes| Message::FastAcks {
                ballot,
                acks: votes.into_iter().map(|(_, v)| v).collect(),
                all_heard,
            },
        );
        self.slow_votes.flush(
            out,
            MAX_VOTES,
            |_| 16,
            |(b, _)| *b,
            |ballot, votes| Message::SlowAcks {
                ballot,
                ids: votes.into_iter().map(|(_, id)| id).collect(),
            },
        );
        if !self.excluded.is_empty() && self.is_leader() {
            let carries_deps = |m: &Message| matches!(m, Message::FastAck { .. } | Message::FastAcks { .. });
            out.narrow_broadcasts(self.n(), self.id, carries_deps, |r| !self.excluded.contains(&r));
        }
    }

    fn leader(&self) -> Option<ReplicaId> {
        matches!(self.status, Status::Normal).then(|| self.ballot.leader(self.quorums.n()))
    }

    fn describe(&self) -> String {
        let status = match self.status {
            Status::Normal => "normal",
            Status::Joining => "joining",
            Status::Recovering { .. } => "recovering",
        };
        let uncommitted = self.entries().filter(|(_, e)| e.phase != Phase::Committed).count();
        let missing = self.graph.missing();
        format!(
            "{status} ballot {} cballot {}, {} known, {uncommitted} uncommitted, {} committed waiting, {} done held, missing {:?}, read {} of the leader's {} commits",
            self.ballot,
            self.cballot,
            self.entries().count(),
            self.graph.pending_len(),
            self.graph.done_len(),
            &missing[..missing.len().min(5)],
            self.leader_cursor,
            self.leader_committed
        )
    }
}

impl SwiftReplica {
    fn n(&self) -> usize {
        self.quorums.n()
    }

    /// Records this replica's vote on `id` before the message carrying it
    /// leaves.
    fn record_vote(&self, id: CommandId, out: &mut Outbox<Message>) {
        if !out.keeps_records() {
            return;
        }
        if let Some(e) = self.entry(id) {
            let entry = ReportedEntry {
                id,
                command: e.command.clone(),
                phase: e.phase,
                deps: e.deps.clone(),
            };
            out.persist(Message::Voted {
                ballot: self.ballot,
                entry: Box::new(entry),
            });
        }
    }

    /// A recorded vote back in the entries (and, if new, the conflict table).
    fn restore_vote(&mut self, entry: ReportedEntry) {
        let id = entry.id;
        if self.graph.is_committed(id) || self.entry(id).is_some_and(|e| e.phase == Phase::Committed) {
            return;
        }
        if self.entry(id).is_none() {
            self.graph.revive(id);
            self.conflicts.record(id, &entry.command);
        }
        self.put_entry(
            id,
            Entry {
                command: entry.command,
                phase: entry.phase,
                deps: entry.deps,
                voted_fast: false,
                touched: Time::ZERO,
            },
        );
    }

    /// Records `entry` for `id`, indexing it while it is not committed.
    fn put_entry(&mut self, id: CommandId, entry: Entry) {
        let record = self.records.get_or_default(id);
        if entry.phase != Phase::Committed && !record.listed {
            record.listed = true;
            self.uncommitted.push(id);
        }
        record.entry = Some(entry);
    }

    /// What this replica knows of `id`.
    fn entry(&self, id: CommandId) -> Option<&Entry> {
        self.records.get(&id).and_then(|r| r.entry.as_ref())
    }

    fn entry_mut(&mut self, id: CommandId) -> Option<&mut Entry> {
        self.records.get_mut(&id).and_then(|r| r.entry.as_mut())
    }

    /// Every command this replica knows, in no particular order.
    fn entries(&self) -> impl Iterator<Item = (CommandId, &Entry)> {
        self.records
            .iter()
            .filter_map(|(id, r)| r.entry.as_ref().map(|e| (id, e)))
    }

    /// The votes for `id` in this ballot, created if none came yet.
    fn votes_mut(&mut self, id: CommandId) -> &mut BallotVotes {
        &mut self.records.get_or_default(id).votes
    }

    /// The indexed entries still not committed, in id order, that were last
    /// touched a retry timeout ago (only accepted ones with `accepted_only`);
    /// drops committed or
    /// forgotten ones from the index on the way.
    fn overdue(&mut self, now: Time, accepted_only: bool) -> Vec<CommandId> {
        let retry = self.timing.retry;
        let records = &mut self.records;
        let mut due = Vec::new();
        self.uncommitted.retain(|id| {
            let Some(record) = records.get_mut(id) else {
                return false;
            };
            match &record.entry {
                Some(e) if e.phase != Phase::Committed => {
                    if (!accepted_only || e.phase == Phase::Accepted) && now.since(e.touched) >= retry {
                        due.push(*id);
                    }
                    true
                }
                _ => {
                    record.listed = false;
                    false
                }
            }
        });
        due.sort_unstable();
        due.dedup();
        due
    }

    fn leader_id(&self) -> ReplicaId {
        self.ballot.leader(self.n())
    }

    fn is_leader(&self) -> bool {
        self.leader_id() == self.id
    }

    fn is_normal_follower(&self) -> bool {
        matches!(self.status, Status::Normal) && !self.is_leader()
    }

    /// Where a follower's votes go: every other replica (`None`), or with a
    /// majority of two (three replicas) the leader alone. A follower then
    /// commits from the leader's vote and its own, so the other followers
    /// would count its votes for nothing (at three replicas a third of the
    /// votes each replica decodes and tallies; the client gets a copy of
    /// its own). Larger clusters need them to reach a majority.
    fn follower_votes_to(&self, ballot: Ballot) -> Option<ReplicaId> {
        (self.quorums.majority() <= 2).then(|| ballot.leader(self.n()))
    }

    /// Whether a follower's fast-path vote goes to any replica. With three
    /// replicas and three-quarters quorums it does not: the other follower
    /// would not count it (see [`Self::follower_votes_to`]), and the leader
    /// needs both followers' votes for its fast quorum but one follower's
    /// `SlowAck` for its slow one, which comes anyway, one delay later,
    /// and survives a follower's crash. The leader's commit waits that
    /// delay; no client does (each counts its own votes, and the leader
    /// answered optimistically already), and each replica handles two
    /// votes per command fewer (results/README.md measures it). No replica
    /// can then gather a fast quorum, so none tallies fast votes.
    fn follower_fast_votes_count(&self) -> bool {
        !(self.quorums.majority() <= 2
            && matches!(self.quorums.fast_quorums(), crate::quorum::FastQuorums::ThreeQuarters))
    }

    /// Whether this replica votes on the fast path in the current ballot:
    /// every replica with three-quarters quorums, the fixed quorum's members otherwise.
    fn votes_fast(&self) -> bool {
        match self.quorums.fast_quorums() {
            crate::quorum::FastQuorums::ThreeQuarters => true,
            crate::quorum::FastQuorums::Fixed(_) => self.quorums.fixed_fast_quorum(self.leader_id()).contains(self.id),
        }
    }
}
