//! The Multi-Paxos replica: proposer, acceptor and learner in one.

use super::messages::{Message, PromisedEntry};
use crate::ballot::Ballot;
use crate::command::Command;
use crate::election::{Election, ElectionStep};
use crate::executed_everywhere::ExecutedEverywhere;
use crate::ids::{CommandId, NodeId, ReplicaId};
use crate::log::{noop_batch, Batch, Slot, SlotLog};
use crate::protocol::{DeliberateBugs, Outbox, ReplicaConfig, ReplicaProtocol, Timing};
use crate::quorum::{QuorumSystem, Votes};
use crate::rejoin::RejoinPoint;
use crate::session::{StateChunk, StateMachine};
use crate::time::Time;
use crate::transfer::{install_image, parts_of, ImageSender, IncomingImage, Part, PartedReplies, PART_BYTES};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// At most this many commands go into one slot.
pub const MAX_BATCH: usize = 256;
/// At most this many decisions answer one catch-up request.
const CATCH_UP_CHUNK: usize = 512;

/// A slot the leader proposed and that is not chosen yet.
#[derive(Debug)]
struct Proposal {
    value: Batch,
    votes: Votes,
    sent: Time,
}

/// Phase 1 in progress: promises gathered so far and the best entry per slot.
#[derive(Debug)]
struct Candidacy {
    from_slot: Slot,
    promises: Votes,
    /// Promises whose parts are still arriving.
    arriving: PartedReplies<PromisedEntry>,
    best: BTreeMap<Slot, PromisedEntry>,
    sent: Time,
}

/// Phase 2 running: this replica leads its ballot.
#[derive(Debug)]
struct Leadership {
    next_slot: Slot,
    proposals: BTreeMap<Slot, Proposal>,
    last_heartbeat: Time,
}

#[derive(Debug)]
enum Role {
    Follower,
    Candidate(Candidacy),
    Leader(Leadership),
}

/// A Multi-Paxos replica.
#[derive(Debug)]
pub struct PaxosReplica {
    id: ReplicaId,
    quorums: QuorumSystem,
    timing: Timing,
    bugs: DeliberateBugs,
    /// The highest ballot this replica has promised or led.
    ballot: Ballot,
    role: Role,
    log: SlotLog,
    state: StateMachine,
    election: Election,
    /// The leader's execution frontier, from its heartbeats.
    leader_frontier: Slot,
    last_catch_up: Option<Time>,
    /// Client commands waiting for the next proposal.
    queued: Vec<(CommandId, Command)>,
    /// Commands queued or proposed by this leader and not executed yet, so
    /// that client retries are not proposed twice.
    in_progress: HashSet<CommandId>,
    /// N2Paxos: acceptors send `Accepted` to every replica, and each learns
    /// a decision itself from a majority, one message delay before the
    /// leader's `Commit` would reach it.
    all_to_all: bool,
    /// With `all_to_all`: `Accepted` votes per slot not yet committed here.
    learning: BTreeMap<Slot, (Ballot, Votes)>,
    /// Commands whose client asked this replica to answer too (`Watch`).
    watched: HashSet<CommandId>,
    /// How far each replica executed (from `Accepted` and `CatchUp`): the
    /// leader tells everyone what is executed everywhere, and all forget it.
    executed: ExecutedEverywhere,
    /// Replicas further behind than this are not waited for when releasing.
    release_lag: Slot,
    /// A state image arriving from a replica that released what this one lacks.
    incoming: IncomingImage,
    /// When each lagging replica was last sent an image.
    images: ImageSender,
}

impl ReplicaProtocol for PaxosReplica {
    type Message = Message;

    /// Records: the `Prepare` it promised, the `Accept` it accepted (its
    /// own proposals included), the `Commit` it learnt.
    const DURABLE: bool = true;

    fn new(config: ReplicaConfig) -> Self {
        Self::with_learning(config, false)
    }

    /// A promise raises the ballot; an accepted value goes back in the log;
    /// a decision is committed and executed, rebuilding the state machine
    /// and the session table in slot order. The replica comes back as a
    /// follower: leading again takes a phase 1 in a higher ballot.
    fn restore(&mut self, record: Message, out: &mut Outbox<Message>) {
        self.role = Role::Follower;
        match record {
            Message::Prepare { ballot, .. } => self.ballot = self.ballot.max(ballot),
            Message::Accept { ballot, slot, value } => {
                self.ballot = self.ballot.max(ballot);
                self.log.accept(slot, ballot, value);
            }
            Message::Commit { slot, value } if slot < self.log.execution_frontier() => {
                self.log.keep_executed(slot, self.ballot, value)
            }
            Message::Commit { slot, value } => {
                self.log.commit(slot, self.ballot, value);
                self.execute(out);
            }
            Message::Snapshot {
                ballot,
                of,
                stable,
                executed,
                part,
                parts,
                state,
            } => {
                self.ballot = self.ballot.max(ballot);
                if let Some(image) = self.incoming.add(executed, part, parts, state, Time::ZERO) {
                    self.install(of, stable, executed, image, out);
                    self.execute(out);
                }
            }
            _ => {}
        }
    }

    /// The executed state in chunks, then every slot still held: executed
    /// ones from the stable frontier (others may still catch up from
    /// them) and decided ones as `Commit`, accepted ones as `Accept` in
    /// the ballot that accepted them.
    fn snapshot(&self) -> Vec<Message> {
        let stable = self.log.forgotten();
        let mut records = self.image(stable);
        for (slot, e) in self.log.entries_from(stable) {
            let value = e.value.clone();
            records.push(if e.committed {
                Message::Commit { slot, value }
            } else {
                Message::Accept {
                    ballot: e.ballot,
                    slot,
                    value,
                }
            });
        }
        records
    }

    const REJOINS: bool = true;

    /// One log: the end of every slot this replica knows of — accepted,
    /// proposed by it as leader, reported in promises, or voted on by
    /// others (N2Paxos learners).
    fn rejoin_point(&self) -> RejoinPoint {
        let mut end = self.log.end();
        match &self.role {
            Role::Leader(l) => end = end.max(l.next_slot),
            Role::Candidate(c) => end = end.max(c.best.last_key_value().map_or(0, |(s, _)| s + 1)),
            Role::Follower => {}
        }
        end = end.max(self.learning.last_key_value().map_or(0, |(s, _)| s + 1));
        RejoinPoint::new(self.ballot.0, [(0, end)])
    }

    /// Everything below the mark is executed here, in a ballot as high.
    fn covers(&self, point: &RejoinPoint) -> bool {
        self.ballot.0 >= point.ballot && self.log.execution_frontier() >= point.mark(0)
    }

    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        if let Message::Request { id, command } = msg {
            return self.on_request(from, id, command, out);
        }
        if let Message::Watch { id } = msg {
            return self.on_watch(id, out);
        }
        let NodeId::Replica(r) = from else { return };
        match msg {
            Message::Request { .. } | Message::Reply { .. } | Message::Watch { .. } => {}
            Message::Prepare { ballot, from_slot } => self.on_prepare(r, ballot, from_slot, now, out),
            Message::Promise {
                ballot,
                forgotten,
                part,
                entries,
            } => self.on_promise(r, ballot, forgotten, part, entries, now, out),
            Message::Accept { ballot, slot, value } => self.on_accept(r, ballot, slot, value, now, out),
            Message::Accepted { ballot, slot, executed } => {
                self.executed.report(r, executed);
                self.on_accepted(r, ballot, slot, now, out)
            }
            Message::Commit { slot, value } => self.on_commit(r, slot, value, now, out),
            Message::Heartbeat {
                ballot,
                frontier,
                stable,
            } => {
                self.on_heartbeat(r, ballot, frontier, now, out);
                if ballot == self.ballot {
                    self.release(stable);
                }
            }
            Message::CatchUp { from_slot } => {
                self.executed.report(r, from_slot);
                self.on_catch_up(r, from_slot, now, out)
            }
            Message::Nack { ballot } => self.observe_ballot(ballot, now),
            Message::Snapshot {
                of,
                executed,
                part,
                parts,
                state,
                ..
            } => self.on_image(of, executed, (part, parts), state, now, out),
            Message::PreVote { ballot } => self.on_pre_vote(r, ballot, now, out),
            Message::PreVoteGranted { ballot } => self.on_pre_vote_granted(r, ballot, now, out),
        }
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        let mut heartbeat = false;
        match &mut self.role {
            Role::Leader(l) => {
                if now.since(l.last_heartbeat) >= self.timing.heartbeat {
                    l.last_heartbeat = now;
                    heartbeat = true;
                }
                for (slot, p) in l
                    .proposals
                    .iter_mut()
                    .filter(|(_, p)| now.since(p.sent) >= self.timing.retry)
                {
                    p.sent = now;
                    out.broadcast(Message::Accept {
                        ballot: self.ballot,
                        slot: *slot,
                        value: p.value.clone(),
                    });
                }
            }
            Role::Candidate(c) => {
                if now.since(c.sent) >= self.timing.retry {
                    c.sent = now;
                    out.broadcast(Message::Prepare {
                        ballot: self.ballot,
                        from_slot: c.from_slot,
                    });
                }
            }
            Role::Follower => {
                if self.election.tick(self.ballot, now) == ElectionStep::AskPreVotes {
                    out.broadcast(Message::PreVote { ballot: self.ballot });
                    if self.election.alone_is_majority() {
                        self.start_phase1(now, out);
                    }
                }
                self.request_catch_up_if_behind(now, out);
            }
        }
        if heartbeat {
            self.send_heartbeat(out);
        }
    }

    fn flush(&mut self, now: Time, out: &mut Outbox<Message>) {
        if !matches!(self.role, Role::Leader(_)) || self.queued.is_empty() {
            return;
        }
        let queued = std::mem::take(&mut self.queued);
        for chunk in queued.chunks(MAX_BATCH) {
            let slot = match &mut self.role {
                Role::Leader(l) => {
                    l.next_slot += 1;
                    l.next_slot - 1
                }
                _ => unreachable!("checked above"),
            };
            self.propose(slot, Arc::from(chunk), now, out);
        }
    }

    fn describe(&self) -> String {
        let role = match self.role {
            Role::Follower => "follower",
            Role::Candidate(_) => "candidate",
            Role::Leader(_) => "leader",
        };
        format!(
            "{role} ballot {}, executed up to slot {}, log end {}, {} entries held",
            self.ballot,
            self.log.execution_frontier(),
            self.log.end(),
            self.log.len()
        )
    }

    fn leader(&self) -> Option<ReplicaId> {
        match self.role {
            Role::Candidate(_) => None,
            Role::Follower if self.election.is_suspecting() => None,
            Role::Leader(_) | Role::Follower => Some(self.ballot.leader(self.quorums.n())),
        }
    }
}

impl PaxosReplica {
    /// A replica that learns decisions from the leader's `Commit`
    /// (Multi-Paxos) or from everyone's `Accepted` (N2Paxos, `all_to_all`).
    pub fn with_learning(config: ReplicaConfig, all_to_all: bool) -> Self {
        let ballot = config.quorums.initial_ballot();

        let n = config.quorums.n();
        let role = if ballot.leader(n) == config.id {
            Role::Leader(Leadership {
                next_slot: 0,
                proposals: BTreeMap::new(),
                last_heartbeat: Time::ZERO,
            })
        } else {
            Role::Follower
        };
        PaxosReplica {
            id: config.id,
            quorums: config.quorums,
            timing: config.timing,
            bugs: config.bugs,
            ballot,
            role,
            log: SlotLog::new(),
            state: StateMachine::new(),
            election: Election::new(config.id, n, config.timing),
            leader_frontier: 0,
            last_catch_up: None,
            queued: Vec::new(),
            in_progress: HashSet::new(),
            all_to_all,
            learning: BTreeMap::new(),
            watched: HashSet::new(),
            executed: ExecutedEverywhere::new(n),
            release_lag: config.release_lag,
            incoming: IncomingImage::new(),
            images: ImageSender::new(n),
        }
    }

    fn n(&self) -> usize {
        self.quorums.n()
    }

    /// Whether this replica leads its ballot (phase 1 done).
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// The highest ballot this replica has promised or leads; protocols
    /// layered on Paxos (CURP) tag their own messages with it.
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// The executed state, for protocols that answer from it before commit.
    pub fn state(&self) -> &StateMachine {
        &self.state
    }

    /// Commands in slots this replica accepted or learnt and has not
    /// executed yet (for a new leader: everything phase 1 recovered).
    pub fn unexecuted(&self) -> impl Iterator<Item = (CommandId, &Command)> {
        self.log
            .entries_from(self.log.execution_frontier())
            .flat_map(|(_, e)| e.value.iter().map(|(id, c)| (*id, c)))
    }

    /// The value this replica accepted for `slot`, and in which ballot.
    pub fn accepted(&self, slot: Slot) -> Option<(Ballot, &Batch)> {
        self.log.get(slot).map(|e| (e.ballot, &e.value))
    }

    fn on_request(&mut self, from: NodeId, id: CommandId, command: Command, out: &mut Outbox<Message>) {
        if let Some(result) = self.state.result_of(id) {
            return out.send_client(
                id.client,
                Message::Reply {
                    id,
                    result: result.clone(),
                },
            );
        }
        if self.state.has_executed(id) {
            return; // finished long ago: its client has the answer and its result is gone
        }
        match self.role {
            Role::Leader(_) | Role::Candidate(_) => {
                if self.in_progress.insert(id) {
                    self.queued.push((id, command));
                }
            }
            Role::Follower => {
                let leader = self.ballot.leader(self.n());
                if matches!(from, NodeId::Client(_)) && leader != self.id {
                    out.send_replica(leader, Message::Request { id, command });
                }
            }
        }
    }

    /// Adopts a higher ballot seen in any message, stepping down if needed.
    fn observe_ballot(&mut self, ballot: Ballot, now: Time) {
        if ballot > self.ballot {
            self.ballot = ballot;
            self.role = Role::Follower;
            self.queued.clear();
            self.in_progress.clear();
            self.election.heard_leader(now);
        }
    }

    fn on_pre_vote(&mut self, from: ReplicaId, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        let leading = matches!(self.role, Role::Leader(_));
        if !leading && !self.election.leader_recently_heard(now) {
            out.send_replica(from, Message::PreVoteGranted { ballot });
        }
    }

    fn on_pre_vote_granted(&mut self, from: ReplicaId, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
        if matches!(self.role, Role::Follower) && ballot == self.ballot && self.election.granted(from) {
            self.start_phase1(now, out);
        }
    }

    fn start_phase1(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.ballot = self.ballot.next_owned_by(self.id, self.n());
        self.election.candidacy_started(now);
        if self.bugs.paxos_skip_phase1 {
            // Planted bug: lead at once, proposing after the slots this
            // replica happens to know, ignoring what others accepted.
            let next_slot = self.log.end();
            self.role = Role::Leader(Leadership {
                next_slot,
                proposals: BTreeMap::new(),
                last_heartbeat: now,
            });
            self.send_heartbeat(out);
            return;
        }
        let from_slot = self.log.execution_frontier();
        let best = self
            .log
            .entries_from(from_slot)
            .map(|(slot, e)| (slot, promised(slot, e)))
            .collect();
        // The candidate's own promise counts: it must survive a crash.
        out.persist(Message::Prepare {
            ballot: self.ballot,
            from_slot,
        });
        let mut promises = Votes::new();
        promises.add(self.id);
        self.role = Role::Candidate(Candidacy {
            from_slot,
            promises,
            arriving: PartedReplies::new(),
            best,
            sent: now,
        });
        out.broadcast(Message::Prepare {
            ballot: self.ballot,
            from_slot,
        });
        self.become_leader_if_promised(now, out);
    }

    fn on_prepare(&mut self, from: ReplicaId, ballot: Ballot, from_slot: Slot, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        self.observe_ballot(ballot, now);
        self.election.heard_leader(now);
        out.persist(Message::Prepare { ballot, from_slot });
        let entries = self
            .log
            .entries_from(from_slot)
            .map(|(slot, e)| promised(slot, e))
            .collect();
        let forgotten = self.log.forgotten();
        for (part, entries) in parts_of(entries, now.0, promised_size) {
            out.send_replica(
                from,
                Message::Promise {
                    ballot,
                    forgotten,
                    part,
                    entries,
                },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_promise(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        forgotten: Slot,
        part: Part,
        entries: Vec<PromisedEntry>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot > self.ballot {
            return self.observe_ballot(ballot, now);
        }
        let Role::Candidate(c) = &mut self.role else { return };
        if ballot != self.ballot {
            return;
        }
        if forgotten > c.from_slot {
            // `from` released slots this candidate never executed: nobody
            // can report them, so it cannot lead. It fetches them instead,
            // and a replica that has them will lead.
            self.role = Role::Follower;
            self.last_catch_up = Some(now);
            let from_slot = self.log.execution_frontier();
            return out.send_replica(from, Message::CatchUp { from_slot });
        }
        if c.promises.voters().contains(from) {
            return;
        }
        let Some(entries) = c.arriving.add(from, part, entries) else {
            return;
        };
        for e in entries {
            let better = match c.best.get(&e.slot) {
                None => true,
                Some(cur) => !cur.committed && (e.committed || e.ballot > cur.ballot),
            };
            if better {
                c.best.insert(e.slot, e);
            }
        }
        c.promises.add(from);
        self.become_leader_if_promised(now, out);
    }

    /// With promises from a majority, recovers every slot from the candidacy's
    /// start: committed values stay, the highest-ballot accepted value is
    /// proposed again, and gaps become no-ops.
    fn become_leader_if_promised(&mut self, now: Time, out: &mut Outbox<Message>) {
        let Role::Candidate(c) = &self.role else { return };
        if !c.promises.reached(self.quorums.majority()) {
            return;
        }
        let Role::Candidate(c) = std::mem::replace(&mut self.role, Role::Follower) else {
            unreachable!()
        };
        let next_slot = c
            .best
            .last_key_value()
            .map_or(c.from_slot, |(s, _)| s + 1)
            .max(self.log.end());
        self.role = Role::Leader(Leadership {
            next_slot,
            proposals: BTreeMap::new(),
            last_heartbeat: now,
        });
        self.send_heartbeat(out);
        for slot in c.from_slot..next_slot {
            if self.log.is_committed(slot) {
                continue;
            }
            match c.best.get(&slot) {
                Some(e) if e.committed => {
                    self.commit(slot, e.value.clone(), out);
                    out.broadcast(Message::Commit {
                        slot,
                        value: e.value.clone(),
                    });
                }
                Some(e) => {
                    self.in_progress.extend(e.value.iter().map(|(id, _)| *id));
                    self.propose(slot, e.value.clone(), now, out);
                }
                None => self.propose(slot, noop_batch(), now, out),
            }
        }
        self.execute(out);
    }

    /// Phase 2a for one slot.
    fn propose(&mut self, slot: Slot, value: Batch, now: Time, out: &mut Outbox<Message>) {
        let Role::Leader(l) = &mut self.role else { return };
        self.log.accept(slot, self.ballot, value.clone());
        // The leader's own vote: recorded before its Accept leaves.
        out.persist_with(|| Message::Accept {
            ballot: self.ballot,
            slot,
            value: value.clone(),
        });
        let mut votes = Votes::new();
        votes.add(self.id);
        l.proposals.insert(
            slot,
            Proposal {
                value: value.clone(),
                votes,
                sent: now,
            },
        );
        out.broadcast(Message::Accept {
            ballot: self.ballot,
            slot,
            value,
        });
        self.commit_if_chosen(slot, out);
    }

    fn on_accept(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        slot: Slot,
        value: Batch,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        self.observe_ballot(ballot, now);
        self.election.heard_leader(now);
        if !self.log.is_committed(slot) {
            out.persist_with(|| Message::Accept {
                ballot,
                slot,
                value: value.clone(),
            });
        }
        self.log.accept(slot, ballot, value);
        if self.all_to_all {
            out.broadcast(Message::Accepted {
                ballot,
                slot,
                executed: self.log.execution_frontier(),
            });
            // The leader accepted its own proposal before sending it: two votes.
            self.learn(from, ballot, slot, out);
            self.learn(self.id, ballot, slot, out);
        } else {
            out.send_replica(
                from,
                Message::Accepted {
                    ballot,
                    slot,
                    executed: self.log.execution_frontier(),
                },
            );
        }
    }

    /// N2Paxos: counts an `Accepted` vote; with a majority for the value this
    /// replica accepted in the same ballot, the slot is chosen: commit it here.
    fn learn(&mut self, from: ReplicaId, ballot: Ballot, slot: Slot, out: &mut Outbox<Message>) {
        if self.log.is_committed(slot) || ballot < self.ballot {
            return;
        }
        let (seen, votes) = self.learning.entry(slot).or_insert((ballot, Votes::new()));
        if *seen != ballot {
            *seen = ballot;
            *votes = Votes::new();
        }
        votes.add(from);
        if !votes.reached(self.quorums.majority()) {
            return;
        }
        let Some(value) = self
            .log
            .get(slot)
            .filter(|e| e.ballot == ballot)
            .map(|e| e.value.clone())
        else {
            return;
        };
        self.learning.remove(&slot);
        self.commit(slot, value, out);
        self.execute(out);
    }

    fn on_watch(&mut self, id: CommandId, out: &mut Outbox<Message>) {
        match self.state.result_of(id) {
            Some(result) => out.send_client(
                id.client,
                Message::Reply {
                    id,
                    result: result.clone(),
                },
            ),
            None => {
                self.watched.insert(id);
            }
        }
    }

    fn on_accepted(&mut self, from: ReplicaId, ballot: Ballot, slot: Slot, now: Time, out: &mut Outbox<Message>) {
        if ballot > self.ballot {
            return self.observe_ballot(ballot, now);
        }
        if self.all_to_all && !self.is_leader() {
            return self.learn(from, ballot, slot, out);
        }
        let Role::Leader(l) = &mut self.role else { return };
        if ballot != self.ballot {
            return;
        }
        if let Some(p) = l.proposals.get_mut(&slot) {
            p.votes.add(from);
            self.commit_if_chosen(slot, out);
        }
    }

    /// Phase 2 done for `slot` once a majority accepted: commit, tell the
    /// learners, execute what became executable.
    fn commit_if_chosen(&mut self, slot: Slot, out: &mut Outbox<Message>) {
        let Role::Leader(l) = &mut self.role else { return };
        let majority = self.quorums.majority();
        if !l.proposals.get(&slot).is_some_and(|p| p.votes.reached(majority)) {
            return;
        }
        let Some(p) = l.proposals.remove(&slot) else { return };
        self.commit(slot, p.value.clone(), out);
        if !self.all_to_all {
            out.broadcast(Message::Commit { slot, value: p.value });
        }
        self.execute(out);
    }

    fn on_commit(&mut self, from: ReplicaId, slot: Slot, value: Batch, now: Time, out: &mut Outbox<Message>) {
        if from == self.ballot.leader(self.n()) {
            self.election.heard_leader(now);
        }
        self.commit(slot, value, out);
        self.execute(out);
    }

    /// Learns that `value` is chosen at `slot` and records the decision, so
    /// that a restart rebuilds the executed state even after the others
    /// released the slot.
    fn commit(&mut self, slot: Slot, value: Batch, out: &mut Outbox<Message>) {
        if !self.log.is_forgotten(slot) && self.log.commit(slot, self.ballot, value.clone()) {
            out.persist(Message::Commit { slot, value });
        }
    }

    /// Applies committed slots in order. The leader answers clients, also
    /// for duplicates (a retried command gets its first result again).
    fn execute(&mut self, out: &mut Outbox<Message>) {
        while let Some((_, batch)) = self.log.next_to_execute() {
            for (id, command) in batch.iter() {
                let applied = self.state.apply(*id, command);
                if matches!(applied, crate::session::Applied::Fresh(_)) {
                    out.executed(*id);
                }
                self.in_progress.remove(id);
                let watched = self.watched.remove(id);
                if self.is_leader() || watched {
                    if let Some(result) = applied.result() {
                        out.send_client(
                            id.client,
                            Message::Reply {
                                id: *id,
                                result: result.clone(),
                            },
                        );
                    }
                }
            }
        }
    }

    fn on_heartbeat(&mut self, from: ReplicaId, ballot: Ballot, frontier: Slot, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        self.observe_ballot(ballot, now);
        self.election.heard_leader(now);
        self.leader_frontier = self.leader_frontier.max(frontier);
        self.request_catch_up_if_behind(now, out);
    }

    fn request_catch_up_if_behind(&mut self, now: Time, out: &mut Outbox<Message>) {
        let frontier = self.log.execution_frontier();
        if self.leader_frontier <= frontier {
            return;
        }
        if self.last_catch_up.is_some_and(|t| now.since(t) < self.timing.retry)
            || self.incoming.is_arriving(now, self.timing.retry)
        {
            return;
        }
        self.last_catch_up = Some(now);
        out.send_replica(self.ballot.leader(self.n()), Message::CatchUp { from_slot: frontier });
    }

    /// Decisions from `from_slot`, or the executed state if this replica
    /// released slots the asker has not executed.
    fn on_catch_up(&mut self, from: ReplicaId, from_slot: Slot, now: Time, out: &mut Outbox<Message>) {
        if from_slot < self.log.forgotten() {
            if self.images.may_send(from, now, self.timing.leader_timeout) {
                let executed = self.log.execution_frontier();
                for part in self.image(executed) {
                    out.send_replica(from, part);
                }
            }
            return;
        }
        for (slot, e) in self
            .log
            .entries_from(from_slot)
            .filter(|(_, e)| e.committed)
            .take(CATCH_UP_CHUNK)
        {
            out.send_replica(
                from,
                Message::Commit {
                    slot,
                    value: e.value.clone(),
                },
            );
        }
    }
}

impl PaxosReplica {
    /// The leader's heartbeat: its frontier (followers behind it catch up)
    /// and the stable frontier (everyone forgets what is below it).
    fn send_heartbeat(&mut self, out: &mut Outbox<Message>) {
        let frontier = self.log.execution_frontier();
        self.executed.report(self.id, frontier);
        let stable = self.executed.stable_within(self.release_lag, self.id);
        out.broadcast(Message::Heartbeat {
            ballot: self.ballot,
            frontier,
            stable,
        });
        self.release(stable);
    }

    /// Forgets the slots below `stable` that this replica executed, and
    /// any vote counts left below its execution frontier.
    fn release(&mut self, stable: Slot) {
        self.log.forget_below(stable);
        let frontier = self.log.execution_frontier();
        if self.learning.first_key_value().is_some_and(|(s, _)| *s < frontier) {
            self.learning = self.learning.split_off(&frontier);
        }
    }
}

impl PaxosReplica {
    /// This replica's executed state as `Snapshot` parts, with `stable` as
    /// the first slot it still holds for catch-up.
    fn image(&self, stable: Slot) -> Vec<Message> {
        let (ballot, executed) = (self.ballot, self.log.execution_frontier());
        let chunks = self.state.chunks(PART_BYTES);
        let parts = chunks.len() as u32;
        let of = self.id;
        let part = |(i, state)| Message::Snapshot {
            ballot,
            of,
            stable,
            executed,
            part: i as u32,
            parts,
            state,
        };
        chunks.into_iter().enumerate().map(part).collect()
    }

    /// Part of another replica's image arrived; once whole it replaces this
    /// replica's executed state (recorded first), and catch-up goes on
    /// from the image's frontier.
    fn on_image(
        &mut self,
        of: ReplicaId,
        executed: Slot,
        (part, parts): (u32, u32),
        state: StateChunk,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let (ballot, frontier) = (self.ballot, self.log.execution_frontier());
        let record = |part, parts, state| Message::Snapshot {
            ballot,
            of,
            stable: executed,
            executed,
            part,
            parts,
            state,
        };
        let Some(image) = self
            .incoming
            .receive(frontier, (executed, part, parts), state, now, out, record)
        else {
            return;
        };
        self.install(of, executed, executed, image, out);
        self.execute(out);
        self.last_catch_up = None;
        self.request_catch_up_if_behind(now, out);
    }

    /// Replaces the executed state with an image taken after every slot
    /// below `executed`; the log keeps this replica's votes above it.
    fn install(
        &mut self,
        of: ReplicaId,
        stable: Slot,
        executed: Slot,
        image: Vec<StateChunk>,
        out: &mut Outbox<Message>,
    ) {
        if !install_image(&mut self.state, &mut self.log, stable, executed, image) {
            return;
        }
        self.learning = self.learning.split_off(&executed);
        self.incoming.forget_below(executed);
        if of != self.id {
            out.installed(of, self.state.applied_count());
        }
    }
}

/// Roughly how many bytes an entry takes in a `Promise`.
fn promised_size(e: &PromisedEntry) -> usize {
    64 + e.value.iter().map(|(_, c)| 48 + c.value_len()).sum::<usize>()
}

fn promised(slot: Slot, e: &crate::log::Entry) -> PromisedEntry {
    PromisedEntry {
        slot,
        ballot: e.ballot,
        value: e.value.clone(),
        committed: e.committed,
    }
}
