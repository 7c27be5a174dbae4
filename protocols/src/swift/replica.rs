//! The SwiftPaxos replica.
//!
//! Normal case, ballot `b` led by `L`:
//! * [`SwiftReplica::on_propose`]: a replica that may vote on the fast path
//!   computes the command's dependencies from its conflict table and sends
//!   `FastAck` to every replica and the client. `L` also executes the command
//!   optimistically (on a [speculative overlay](crate::speculation)) and
//!   sends the client a `Reply` with the result.
//! * [`SwiftReplica::on_fast_ack`]: when `L`'s `FastAck` arrives, a replica
//!   adopts `L`'s dependencies and sends `SlowAck` to every replica and the client.
//! * [`SwiftReplica::try_commit`]: every replica commits on its own, on the
//!   **fast path** when a fast quorum (with `L`) voted `L`'s dependencies, or
//!   on the **slow path** when a majority (with `L`) accepted them. Committed
//!   commands execute in dependency order ([`DependencyGraph`]).
//!
//! The client sees the fast path after two one-way delays and the slow path
//! after three. Leader change is in [`super::recovery`] and below
//! ([`SwiftReplica::start_recovery`], [`SwiftReplica::apply_sync`]).

use super::messages::{Decided, Message, Phase, ReportedEntry};
use super::recovery::{execution_order, recover, Report};
use crate::ballot::Ballot;
use crate::client::ReplyCollector;
use crate::command::Command;
use crate::conflicts::ConflictTable;
use crate::depgraph::{deps_of, DependencyGraph, Deps};
use crate::election::{Election, ElectionStep};
use crate::ids::{CommandId, NodeId, ReplicaId};
use crate::protocol::{Outbox, ReplicaConfig, ReplicaProtocol, Timing};
use crate::quorum::{QuorumSystem, Votes};
use crate::session::{Applied, StateMachine};
use crate::speculation::Speculation;
use crate::time::Time;
use std::collections::{BTreeMap, HashMap, HashSet};

/// At most this many ids go in one catch-up request.
const FETCH_CHUNK: usize = 256;

/// What this replica knows of one command.
#[derive(Clone, Debug)]
struct Entry {
    command: Command,
    phase: Phase,
    /// Its own dependencies while pre-accepted; the leader's once accepted.
    deps: Deps,
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

#[derive(Debug)]
enum Status {
    Normal,
    /// Joined a new ballot; waits for its leader's `Sync`.
    Joining,
    /// Leads a new ballot; gathers reports.
    Recovering { reports: Vec<Report>, sent: Time },
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
    entries: HashMap<CommandId, Entry>,
    votes: HashMap<CommandId, BallotVotes>,
    conflicts: ConflictTable<CommandId>,
    graph: DependencyGraph,
    state: StateMachine,
    speculation: Speculation,
    /// Commands the leader answered optimistically in this ballot; others get
    /// their result when they execute.
    replied: HashSet<CommandId>,
    /// Commands whose client asked this replica (its closest) for the result
    /// once executed.
    notify: HashSet<CommandId>,
    /// Proposals that arrived while joining a ballot.
    parked: Vec<(CommandId, Command)>,
    last_heartbeat: Time,
    last_fetch: Time,
    last_catch_up: Time,
    last_sync_request: Time,
    /// The leader's `Sync`, kept to answer replicas that missed it.
    last_sync: Option<Message>,
    /// Every command this replica committed, in the order it did: the
    /// leader's serves as the list a lagging follower catches up from.
    commit_order: Vec<CommandId>,
    /// How much of the current leader's `commit_order` this follower has
    /// read, and how much the leader's last heartbeat said it has.
    leader_cursor: usize,
    leader_committed: usize,
}

impl ReplicaProtocol for SwiftReplica {
    type Message = Message;

    fn new(config: ReplicaConfig) -> Self {
        let n = config.quorums.n();
        SwiftReplica {
            id: config.id,
            quorums: config.quorums,
            timing: config.timing,
            ballot: Ballot::INITIAL,
            cballot: Ballot::INITIAL,
            status: Status::Normal,
            election: Election::new(config.id, n, config.timing),
            entries: HashMap::new(),
            votes: HashMap::new(),
            conflicts: ConflictTable::new(),
            graph: DependencyGraph::new(),
            state: StateMachine::new(),
            speculation: Speculation::new(),
            replied: HashSet::new(),
            notify: HashSet::new(),
            parked: Vec::new(),
            last_heartbeat: Time::ZERO,
            last_fetch: Time::ZERO,
            last_catch_up: Time::ZERO,
            last_sync_request: Time::ZERO,
            last_sync: None,
            commit_order: Vec::new(),
            leader_cursor: 0,
            leader_committed: 0,
        }
    }

    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        if let Message::Propose { id, command, reply_on_execution } = msg {
            if reply_on_execution {
                self.notify.insert(id);
            }
            return self.on_propose(id, command, now, out);
        }
        let NodeId::Replica(r) = from else { return };
        match msg {
            Message::FastAck { ballot, id, deps, command } => self.on_fast_ack(r, ballot, id, deps, command, now, out),
            Message::SlowAck { ballot, id } => self.on_slow_ack(r, ballot, id, now, out),
            Message::Commit { id, command, deps } => self.commit(id, Some(command), deps, out),
            Message::Fetch { ids } => self.on_fetch(r, ids, out),
            Message::Heartbeat { ballot, committed } => self.on_heartbeat(r, ballot, committed, now, out),
            Message::CatchUp { ballot, from } => self.on_catch_up(r, ballot, from, out),
            Message::CatchUpReply { ballot, from, commits } => {
                if ballot == self.ballot && matches!(self.status, Status::Normal) && from == self.leader_cursor {
                    self.leader_cursor += commits.len();
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
            Message::NewLeaderAck { ballot, cballot, entries } => self.on_new_leader_ack(r, ballot, cballot, entries, now, out),
            Message::Sync { ballot, decided, voided } => {
                if ballot > self.ballot || (ballot == self.ballot && matches!(self.status, Status::Joining)) {
                    self.election.heard_leader(now);
                    self.apply_sync(ballot, decided, voided, now, out);
                }
            }
            Message::SyncRequest { ballot } => {
                if ballot == self.ballot && self.is_leader() && matches!(self.status, Status::Normal) {
                    if let Some(sync) = &self.last_sync {
                        out.send_replica(r, sync.clone());
                    }
                }
            }
            Message::Nack { ballot } => {
                self.join_ballot(ballot);
                self.saw_ballot(ballot, now, out);
            }
            Message::Propose { .. } | Message::Reply { .. } | Message::Executed { .. } => {}
        }
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        let leading = self.is_leader();
        match &mut self.status {
            Status::Recovering { sent, .. } => {
                if now.since(*sent) >= self.timing.retry {
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
                }
            }
            Status::Joining | Status::Normal => {
                if now.since(self.last_heartbeat) >= self.timing.heartbeat {
                    self.last_heartbeat = now;
                    out.broadcast(Message::Heartbeat { ballot: self.ballot, committed: self.commit_order.len() });
                }
                self.retransmit_uncommitted(now, out);
            }
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
        let uncommitted = self.entries.values().filter(|e| e.phase != Phase::Committed).count();
        let missing = self.graph.missing();
        format!(
            "{status} ballot {} cballot {}, {} known, {uncommitted} uncommitted, {} committed waiting, missing {:?}, read {} of the leader's {} commits",
            self.ballot,
            self.cballot,
            self.entries.len(),
            self.graph.pending_len(),
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

    fn leader_id(&self) -> ReplicaId {
        self.ballot.leader(self.n())
    }

    fn is_leader(&self) -> bool {
        self.leader_id() == self.id
    }

    fn is_normal_follower(&self) -> bool {
        matches!(self.status, Status::Normal) && !self.is_leader()
    }

    /// Whether this replica votes on the fast path in the current ballot:
    /// every replica with three-quarters quorums, the fixed quorum's members otherwise.
    fn votes_fast(&self) -> bool {
        match self.quorums.fast_quorums() {
            crate::quorum::FastQuorums::ThreeQuarters => true,
            crate::quorum::FastQuorums::Fixed(_) => self.quorums.fixed_fast_quorum(self.leader_id()).contains(self.id),
        }
    }

    // ----- normal case -------------------------------------------------------

    fn on_propose(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        if let Some(result) = self.state.result_of(id) {
            return out.send_client(id.client, Message::Executed { id, result: result.clone() });
        }
        if !matches!(self.status, Status::Normal) {
            return self.parked.push((id, command));
        }
        if let Some(entry) = self.entries.get(&id) {
            return self.resend_votes(id, entry.phase, entry.deps.clone(), now, out);
        }
        self.graph.revive(id);
        self.pre_accept(id, command, now, out);
    }

    /// A client retried: repeat this replica's votes for it in this ballot.
    fn resend_votes(&mut self, id: CommandId, phase: Phase, deps: Deps, now: Time, out: &mut Outbox<Message>) {
        let ballot = self.ballot;
        if self.is_leader() && phase != Phase::Committed {
            let command = self.entries[&id].command.clone();
            let answer = self.leader_answer(id, &command, deps);
            return out.send_client(id.client, answer);
        }
        match phase {
            Phase::PreAccepted => out.send_client(id.client, Message::FastAck { ballot, id, deps, command: None }),
            Phase::Accepted => out.send_client(id.client, Message::SlowAck { ballot, id }),
            Phase::Committed => {
                // Committed but not executed yet here: its result comes when it executes.
                self.fetch_what_is_missing(now, out);
            }
        }
    }

    /// Computes the command's dependencies and votes for them (fast path).
    fn pre_accept(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        let leading = self.is_leader();
        if !leading && !self.votes_fast() {
            // Outside the fixed fast quorum: no vote of our own; wait for the
            // leader's dependencies (the empty set reported here counts for nothing).
            self.conflicts.record(id, &command);
            self.entries.insert(id, Entry { command, phase: Phase::PreAccepted, deps: deps_of([], id), touched: now });
            return self.accept_if_leader_spoke(id, now, out);
        }
        let deps = deps_of(self.conflicts.dependencies(&command), id);
        self.conflicts.record(id, &command);
        let ballot = self.ballot;
        let phase = if leading { Phase::Accepted } else { Phase::PreAccepted };
        self.entries.insert(id, Entry { command: command.clone(), phase, deps: deps.clone(), touched: now });
        let votes = self.votes.entry(id).or_default();
        votes.fast.add(self.id, deps.clone());
        if leading {
            votes.leader_deps = Some(deps.clone());
            votes.slow.add(self.id);
            let answer = self.leader_answer(id, &command, deps.clone());
            out.broadcast(Message::FastAck { ballot, id, deps, command: Some(command) });
            out.send_client(id.client, answer);
            self.try_commit(id, out);
        } else {
            out.broadcast(Message::FastAck { ballot, id, deps: deps.clone(), command: None });
            out.send_client(id.client, Message::FastAck { ballot, id, deps, command: None });
            self.accept_if_leader_spoke(id, now, out);
        }
    }

    /// The leader's answer to the client: its vote with the optimistic
    /// result when every dependency has executed or was speculated in this
    /// ballot (so the speculative state is the committed order's); otherwise
    /// (right after a leader change) its vote alone, the result following
    /// as `Executed` once the command executes.
    fn leader_answer(&mut self, id: CommandId, command: &Command, deps: Deps) -> Message {
        let ballot = self.ballot;
        let speculable =
            deps.iter().all(|d| self.speculation.contains(*d) || self.state.result_of(*d).is_some() || self.graph.is_done(*d));
        if speculable {
            let result = self.speculation.execute(&self.state, id, command);
            self.replied.insert(id);
            Message::Reply { ballot, id, deps, result }
        } else {
            Message::FastAck { ballot, id, deps, command: None }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_fast_ack(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        id: CommandId,
        deps: Deps,
        command: Option<Command>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        if ballot != self.ballot || !matches!(self.status, Status::Normal) {
            return self.saw_ballot(ballot, now, out);
        }
        let from_leader = from == self.leader_id();
        if from_leader {
            self.election.heard_leader(now);
        }
        if self.answer_if_committed(id, from_leader, out) {
            return;
        }
        let votes = self.votes.entry(id).or_default();
        votes.fast.add(from, deps.clone());
        if from_leader {
            votes.leader_deps = Some(deps);
            votes.slow.add(from);
            if !self.entries.contains_key(&id) && !self.graph.is_committed(id) {
                if let Some(command) = command {
                    // The client's proposal has not arrived (or never will):
                    // accept from the leader's copy, with no fast vote of our own.
                    self.graph.revive(id);
                    self.conflicts.record(id, &command);
                    self.entries.insert(id, Entry { command, phase: Phase::PreAccepted, deps: deps_of([], id), touched: now });
                }
            }
            self.accept_if_leader_spoke(id, now, out);
        }
        self.try_commit(id, out);
    }

    /// Votes for a command this replica already knows committed need no
    /// counting; a leader still retransmitting it gets our slow-path vote.
    fn answer_if_committed(&mut self, id: CommandId, from_leader: bool, out: &mut Outbox<Message>) -> bool {
        let committed = self.entries.get(&id).is_some_and(|e| e.phase == Phase::Committed);
        if committed && from_leader {
            out.send_replica(self.leader_id(), Message::SlowAck { ballot: self.ballot, id });
        }
        committed
    }

    /// Once both the command and the leader's dependencies are here, adopt
    /// them and vote on the slow path (again, if the leader retransmitted).
    fn accept_if_leader_spoke(&mut self, id: CommandId, now: Time, out: &mut Outbox<Message>) {
        if self.is_leader() {
            return;
        }
        let Some(leader_deps) = self.votes.get(&id).and_then(|v| v.leader_deps.clone()) else { return };
        let Some(entry) = self.entries.get_mut(&id) else { return };
        if entry.phase == Phase::Committed {
            return;
        }
        entry.phase = Phase::Accepted;
        entry.deps = leader_deps;
        entry.touched = now;
        let ballot = self.ballot;
        self.votes.entry(id).or_default().slow.add(self.id);
        out.broadcast(Message::SlowAck { ballot, id });
        out.send_client(id.client, Message::SlowAck { ballot, id });
        self.try_commit(id, out);
    }

    fn on_slow_ack(&mut self, from: ReplicaId, ballot: Ballot, id: CommandId, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        if ballot != self.ballot || !matches!(self.status, Status::Normal) {
            return self.saw_ballot(ballot, now, out);
        }
        if self.answer_if_committed(id, false, out) {
            return;
        }
        self.votes.entry(id).or_default().slow.add(from);
        self.try_commit(id, out);
    }

    /// Commits on the fast path (a fast quorum voted the leader's
    /// dependencies) or the slow path (a majority with the leader accepted them).
    fn try_commit(&mut self, id: CommandId, out: &mut Outbox<Message>) {
        let Some(votes) = self.votes.get(&id) else { return };
        let Some(deps) = votes.leader_deps.clone() else { return };
        let fast = self.quorums.is_fast_quorum(self.ballot, votes.fast.agreeing_with(&deps));
        let slow = self.quorums.is_slow_quorum(self.ballot, votes.slow.voters());
        if (fast || slow) && self.entries.get(&id).is_some_and(|e| e.phase != Phase::Committed) {
            self.commit(id, None, deps, out);
        }
    }

    /// Records that `id` committed with `deps` and executes what became
    /// executable. The leader answers clients it has not answered yet.
    fn commit(&mut self, id: CommandId, command: Option<Command>, deps: Deps, out: &mut Outbox<Message>) {
        if self.graph.is_committed(id) && !self.entries.get(&id).is_some_and(|e| e.phase != Phase::Committed) {
            return;
        }
        let command = match (self.entries.get_mut(&id), command) {
            (Some(e), _) => {
                e.phase = Phase::Committed;
                e.deps = deps.clone();
                e.command.clone()
            }
            (None, Some(command)) => {
                self.graph.revive(id);
                self.conflicts.record(id, &command);
                self.entries.insert(id, Entry { command: command.clone(), phase: Phase::Committed, deps: deps.clone(), touched: Time::ZERO });
                command
            }
            (None, None) => return,
        };
        self.votes.remove(&id);
        self.commit_order.push(id);
        let committed_deps: Vec<CommandId> = deps.iter().copied().filter(|d| self.graph.is_committed(*d)).collect();
        self.conflicts.cover(id, &command, &committed_deps);
        let ready = self.graph.commit(id, command, deps);
        self.execute(ready, out);
    }

    fn execute(&mut self, ready: Vec<(CommandId, Command)>, out: &mut Outbox<Message>) {
        let leading = self.is_leader() && matches!(self.status, Status::Normal);
        for (id, command) in ready {
            let applied = self.state.apply(id, &command);
            self.speculation.settle(id, &command);
            if let Applied::Fresh(_) = applied {
                out.executed(id);
            }
            let answered = leading && self.replied.remove(&id);
            let asked = self.notify.remove(&id);
            if (leading || asked) && !answered {
                if let Some(result) = applied.result() {
                    out.send_client(id.client, Message::Executed { id, result: result.clone() });
                }
            }
        }
    }

    // ----- retransmission and catch-up ----------------------------------------

    fn retransmit_uncommitted(&mut self, now: Time, out: &mut Outbox<Message>) {
        if !matches!(self.status, Status::Normal) {
            return;
        }
        let ballot = self.ballot;
        let mut late: Vec<CommandId> =
            self.entries.iter().filter(|(_, e)| e.phase == Phase::Accepted && now.since(e.touched) >= self.timing.retry).map(|(id, _)| *id).collect();
        late.sort_unstable();
        for id in late {
            let e = self.entries.get_mut(&id).expect("listed");
            e.touched = now;
            out.broadcast(Message::FastAck { ballot, id, deps: e.deps.clone(), command: Some(e.command.clone()) });
        }
    }

    fn fetch_what_is_missing(&mut self, now: Time, out: &mut Outbox<Message>) {
        if now.since(self.last_fetch) < self.timing.retry {
            return;
        }
        let mut ids: Vec<CommandId> = self.graph.missing();
        ids.extend(self.entries.iter().filter(|(_, e)| e.phase != Phase::Committed && now.since(e.touched) >= self.timing.retry).map(|(id, _)| *id));
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(FETCH_CHUNK);
        self.last_fetch = now;
        out.send_replica(self.leader_id(), Message::Fetch { ids });
    }

    fn on_fetch(&mut self, from: ReplicaId, ids: Vec<CommandId>, out: &mut Outbox<Message>) {
        for id in ids {
            if let Some(e) = self.entries.get(&id).filter(|e| e.phase == Phase::Committed) {
                out.send_replica(from, Message::Commit { id, command: e.command.clone(), deps: e.deps.clone() });
            }
        }
    }

    fn on_heartbeat(&mut self, from: ReplicaId, ballot: Ballot, committed: usize, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        if ballot == self.ballot && from == self.leader_id() {
            self.election.heard_leader(now);
            self.leader_committed = committed;
            if matches!(self.status, Status::Normal) && committed > self.leader_cursor && now.since(self.last_catch_up) >= self.timing.retry {
                self.last_catch_up = now;
                out.send_replica(from, Message::CatchUp { ballot, from: self.leader_cursor });
            }
        }
        self.saw_ballot(ballot, now, out);
    }

    fn on_catch_up(&mut self, to: ReplicaId, ballot: Ballot, from: usize, out: &mut Outbox<Message>) {
        if ballot != self.ballot || !self.is_leader() || from > self.commit_order.len() {
            return;
        }
        let commits = self.commit_order[from..]
            .iter()
            .take(FETCH_CHUNK)
            .filter_map(|id| self.entries.get(id).map(|e| Decided { id: *id, command: e.command.clone(), deps: e.deps.clone() }))
            .collect();
        out.send_replica(to, Message::CatchUpReply { ballot, from, commits });
    }

    /// A message showed a ballot above ours, or ours while we still wait for
    /// its `Sync`: we missed part of a leader change, so ask that ballot's
    /// leader for its `Sync`.
    fn saw_ballot(&mut self, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
        let missed = ballot > self.ballot || (ballot == self.ballot && matches!(self.status, Status::Joining));
        if missed && now.since(self.last_sync_request) >= self.timing.retry {
            self.last_sync_request = now;
            out.send_replica(ballot.leader(self.n()), Message::SyncRequest { ballot });
        }
    }

    // ----- leader change --------------------------------------------------------

    fn on_pre_vote(&mut self, from: ReplicaId, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        // Someone joined a ballot we missed (its candidate may be gone): stop
        // acting in ours, so that the pre-vote can gather a majority.
        self.join_ballot(ballot);
        let leading = self.is_leader() && matches!(self.status, Status::Normal);
        if !leading && !self.election.leader_recently_heard(now) {
            out.send_replica(from, Message::PreVoteGranted { ballot });
        }
    }

    /// Takes over with the next ballot this replica owns: every replica
    /// joins it and reports what it knows (MNewLeader).
    fn start_recovery(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.ballot = self.ballot.next_owned_by(self.id, self.n());
        self.election.candidacy_started(now);
        self.leave_ballot();
        let own = Report { from: self.id, cballot: self.cballot, entries: self.report() };
        self.status = Status::Recovering { reports: vec![own], sent: now };
        out.broadcast(Message::NewLeader { ballot: self.ballot });
        self.finish_recovery_if_reported(now, out);
    }

    /// Moves to a higher `ballot` seen in passing, without its leader's
    /// `Sync` yet: this replica stops voting in its old ballot (a promise, as
    /// in Paxos phase 1) and waits for the `Sync` or a new election.
    fn join_ballot(&mut self, ballot: Ballot) {
        if ballot > self.ballot {
            self.ballot = ballot;
            self.status = Status::Joining;
            self.leave_ballot();
        }
    }

    /// Stops acting in the old ballot: votes, optimistic results and answers go.
    fn leave_ballot(&mut self) {
        self.votes.clear();
        self.speculation.clear();
        self.replied.clear();
    }

    fn report(&self) -> Vec<ReportedEntry> {
        let mut entries: Vec<ReportedEntry> = self
            .entries
            .iter()
            .map(|(id, e)| ReportedEntry { id: *id, command: e.command.clone(), phase: e.phase, deps: e.deps.clone() })
            .collect();
        entries.sort_by_key(|e| e.id);
        entries
    }

    fn on_new_leader(&mut self, from: ReplicaId, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        if ballot == self.ballot && !matches!(self.status, Status::Joining) {
            return;
        }
        self.ballot = ballot;
        self.status = Status::Joining;
        self.leave_ballot();
        self.election.heard_leader(now);
        out.send_replica(from, Message::NewLeaderAck { ballot, cballot: self.cballot, entries: self.report() });
    }

    fn on_new_leader_ack(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        cballot: Ballot,
        entries: Vec<ReportedEntry>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot > self.ballot {
            return self.saw_ballot(ballot, now, out);
        }
        let Status::Recovering { reports, .. } = &mut self.status else { return };
        if ballot != self.ballot || reports.iter().any(|r| r.from == from) {
            return;
        }
        reports.push(Report { from, cballot, entries });
        self.finish_recovery_if_reported(now, out);
    }

    fn finish_recovery_if_reported(&mut self, now: Time, out: &mut Outbox<Message>) {
        let Status::Recovering { reports, .. } = &self.status else { return };
        if reports.len() < self.quorums.majority() {
            return;
        }
        let recovered = recover(&self.quorums, reports);
        let sync = Message::Sync { ballot: self.ballot, decided: recovered.decided.clone(), voided: recovered.voided.clone() };
        out.broadcast(sync.clone());
        self.last_sync = Some(sync);
        self.apply_sync(self.ballot, recovered.decided, recovered.voided, now, out);
    }

    /// Enters `ballot` with the new leader's decisions: each recovered
    /// command is accepted with its dependencies and goes through the slow
    /// path again in this ballot; what was not recovered is proposed afresh.
    fn apply_sync(&mut self, ballot: Ballot, decided: Vec<Decided>, voided: Vec<CommandId>, now: Time, out: &mut Outbox<Message>) {
        self.ballot = ballot;
        self.cballot = ballot;
        self.leader_cursor = 0;
        self.leader_committed = 0;
        self.status = Status::Normal;
        self.leave_ballot();

        let recovered: HashSet<CommandId> = decided.iter().map(|d| d.id).collect();
        let mut retry: BTreeMap<CommandId, Command> = self.parked.drain(..).collect();
        let dropped: Vec<CommandId> =
            self.entries.iter().filter(|(id, e)| e.phase != Phase::Committed && !recovered.contains(id)).map(|(id, _)| *id).collect();
        for id in dropped {
            if let Some(e) = self.entries.remove(&id) {
                retry.insert(id, e.command);
            }
        }
        for d in &decided {
            match self.entries.get_mut(&d.id) {
                Some(e) if e.phase == Phase::Committed => {}
                Some(e) => {
                    e.phase = Phase::Accepted;
                    e.deps = d.deps.clone();
                    e.touched = now;
                }
                None => {
                    if !self.graph.is_committed(d.id) {
                        self.graph.revive(d.id);
                    }
                    let phase = if self.graph.is_committed(d.id) { Phase::Committed } else { Phase::Accepted };
                    self.entries.insert(d.id, Entry { command: d.command.clone(), phase, deps: d.deps.clone(), touched: now });
                }
            }
        }
        self.rebuild_conflicts();
        for id in voided {
            let ready = self.graph.void(id);
            self.execute(ready, out);
        }

        // Vote for every recovered command not committed yet: the leader's
        // decision is its accept, the others answer with SlowAck.
        let leader = self.leader_id();
        let leading = self.is_leader();
        let mut pending: Vec<(CommandId, Deps)> =
            self.entries.iter().filter(|(_, e)| e.phase == Phase::Accepted).map(|(id, e)| (*id, e.deps.clone())).collect();
        pending.sort_by_key(|(id, _)| *id);
        for (id, deps) in pending {
            let votes = self.votes.entry(id).or_default();
            votes.leader_deps = Some(deps);
            votes.slow.add(leader);
            votes.slow.add(self.id);
            if !leading {
                out.broadcast(Message::SlowAck { ballot, id });
            }
            self.try_commit(id, out);
        }
        for (id, command) in retry {
            // A parked retry of a command the Sync decided is already voted for above.
            if !self.entries.contains_key(&id) && !self.graph.is_committed(id) && self.state.result_of(id).is_none() {
                self.graph.revive(id);
                self.pre_accept(id, command, now, out);
            }
        }
    }

    /// After a leader change every replica's conflict table holds the known
    /// commands in execution order, so that new commands follow the last
    /// recovered one of each key, and all tables agree (the fast path works).
    fn rebuild_conflicts(&mut self) {
        let mut known: Vec<(CommandId, Command, Deps)> =
            self.entries.iter().map(|(id, e)| (*id, e.command.clone(), e.deps.clone())).collect();
        known.sort_by_key(|(id, _, _)| *id);
        let mut table = ConflictTable::new();
        let by_id: HashMap<CommandId, &Command> = known.iter().map(|(id, c, _)| (*id, c)).collect();
        let committed: HashMap<CommandId, &Deps> =
            self.entries.iter().filter(|(_, e)| e.phase == Phase::Committed).map(|(id, e)| (*id, &e.deps)).collect();
        for id in execution_order(&known) {
            table.record(id, by_id[&id]);
            if let Some(deps) = committed.get(&id) {
                let committed_deps: Vec<CommandId> = deps.iter().copied().filter(|d| committed.contains_key(d)).collect();
                table.cover(id, by_id[&id], &committed_deps);
            }
        }
        self.conflicts = table;
    }
}
