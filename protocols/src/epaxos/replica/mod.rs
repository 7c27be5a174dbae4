//! The EPaxos replica: command leader for its own row of instances, acceptor
//! for everyone's, and recoverer of instances whose leader went quiet.
//!
//! - [`normal_case`]: `PreAccept` (fast path), `Accept` (slow path), commit.
//! - [`recovery`]: explicit prepare, `TryPreAccept`, and when to start them.
//!
//! Execution goes by [`DependencyGraph`]: an instance whose attributes name
//! row `q` up to `deps[q]` waits for every instance of that row up to there,
//! and cycles execute in sequence-number order.

mod compaction;
mod normal_case;
mod recovery;
mod transfer;

use super::attributes::ConflictMap;
use super::instance::{command_of, Attributes, InstanceId, Report, Status, Value};
use super::messages::{Message, Step, MAX_STEPS};
use crate::ballot::Ballot;
use crate::batching::HeldVotes;
use crate::depgraph::DependencyGraph;
use crate::ids::{CommandId, NodeId, ReplicaId};
use crate::protocol::{DeliberateBugs, Outbox, ReplicaConfig, ReplicaProtocol, Timing};
use crate::quorum::{QuorumSystem, ReplicaSet, Votes};
use crate::rejoin::RejoinPoint;
use crate::session::{Applied, StateChunk, StateMachine};
use crate::stream_windows::StreamMap;
use crate::time::Time;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// What this replica is doing as the coordinator of an instance.
#[derive(Debug)]
enum Coordination {
    /// Phase 1: gathering `PreAcceptOk`s.
    PreAccepting {
        ballot: Ballot,
        original: Attributes,
        merged: Attributes,
        replies: Votes,
        unchanged: Votes,
        sent: Time,
    },
    /// Phase 2: gathering `AcceptOk`s.
    Accepting { ballot: Ballot, votes: Votes, sent: Time },
    /// Recovery: gathering `PrepareOk`s.
    Preparing {
        ballot: Ballot,
        replies: Vec<(ReplicaId, Option<Report>)>,
        sent: Time,
    },
    /// Recovery: checking whether `attrs` may have been committed on the fast path.
    Trying {
        ballot: Ballot,
        value: Value,
        attrs: Attributes,
        holders: Votes,
        possible: ReplicaSet,
        sent: Time,
    },
}

impl Coordination {
    fn ballot(&self) -> Ballot {
        match self {
            Coordination::PreAccepting { ballot, .. }
            | Coordination::Accepting { ballot, .. }
            | Coordination::Preparing { ballot, .. }
            | Coordination::Trying { ballot, .. } => *ballot,
        }
    }
}

/// One instance as this replica knows it.
#[derive(Debug)]
struct InstanceState {
    /// The highest ballot promised.
    bal: Ballot,
    /// The ballot of the last pre-accept or accept.
    vbal: Ballot,
    status: Status,
    value: Value,
    attrs: Option<Attributes>,
    unchanged: bool,
    /// Committed on the fast path (reported to the client).
    fast: bool,
    coordinating: Option<Coordination>,
    /// When this replica first heard of the instance, or last tried to
    /// recover it: recovery starts a while after.
    since: Time,
    /// When it last asked the others for the instance's commit.
    fetched: Option<Time>,
}

impl InstanceState {
    fn new(instance: InstanceId, now: Time) -> Self {
        let ballot = instance.default_ballot();
        InstanceState {
            bal: ballot,
            vbal: ballot,
            status: Status::None,
            value: None,
            attrs: None,
            unchanged: false,
            fast: false,
            coordinating: None,
            since: now,
            fetched: None,
        }
    }

    fn report(&self) -> Option<Report> {
        let attrs = self.attrs.clone()?;
        Some(Report {
            status: self.status,
            vbal: self.vbal,
            value: self.value.clone(),
            attrs,
            unchanged: self.unchanged,
        })
    }
}

/// How this replica's recoveries went, by the rule that decided them; shown
/// in [`ReplicaProtocol::describe`] so that scenario tests can tell which
/// path a constructed failure took.
#[derive(Debug, Default, Clone, Copy)]
struct RecoveryCounts {
    found_committed: u32,
    found_accepted: u32,
    tried: u32,
    tried_then_accepted: u32,
    conflict_decided: u32,
    conflict_pending: u32,
    phase1: u32,
}

/// Leader timeouts after its start before a replica releases past one it
/// has never heard a floor report from (see `on_floors`): longer than any
/// outage the simulator schedules, so a restart followed by a partition
/// does not look like a replica that fell behind.
const NEVER_HEARD_GRACE: u32 = 40;

/// An EPaxos replica.
#[derive(Debug)]
pub struct EPaxosReplica {
    id: ReplicaId,
    quorums: QuorumSystem,
    timing: Timing,
    bugs: DeliberateBugs,
    /// `f + ⌊(f + 1)/2⌋`, the paper's optimized fast quorum (leader included).
    fast_quorum: usize,
    next_slot: u64,
    /// Per row, in a window by slot ([`StreamMap`]): a new instance is
    /// written at its row's warm end, a lookup indexes the row's window,
    /// and a release pops the front. (A B-tree moved its large states
    /// along a node at every insert and release: memmove was the top of
    /// the profile. A hash map's all-at-once doubling rehashed every state
    /// in place, which at hundreds of thousands of instances stalled the
    /// replica for half a second; a window grows by copying, and releases
    /// keep it to the release lag.) Iteration goes row by row in no
    /// particular row order: what needs the instances' order sorts.
    instances: StreamMap<InstanceId, InstanceState>,
    /// Instances known here and not committed: what `tick` looks at (in
    /// instance order, sorted there). Per row like `instances`: a B-tree's
    /// insert and remove at every instance were 2% of the profile.
    undecided: StreamMap<InstanceId, ()>,
    conflicts: ConflictMap,
    graph: DependencyGraph<InstanceId, Value>,
    /// Per row: every instance below has executed here.
    row_floor: Vec<u64>,
    state: StateMachine,
    /// Commands this replica leads and has not executed yet.
    leading: HashMap<CommandId, InstanceId>,
    /// Commands whose client waits for this replica's reply.
    reply_to: HashSet<CommandId>,
    /// Per row, how many instances this replica has heard of.
    row_known: Vec<u64>,
    last_row_length: Time,
    recoveries: RecoveryCounts,
    /// Per replica, per row: below which instance it executed everything.
    floor_reports: Vec<Vec<u64>>,
    /// Normal-case messages for the next flush, one `Batch` per destination.
    steps: HeldVotes<Step>,
    /// How many instances of a row a replica may have executed fewer than
    /// this one before releases stop waiting for it, once it is silent
    /// ([`ReplicaConfig::release_lag`]).
    release_lag: u64,
    /// When each replica's floors last arrived (this replica's own: when
    /// it started), to tell a silent replica from a busy one.
    floors_heard: Vec<Option<Time>>,
    /// A state transfer: when this replica last asked for an image, when
    /// it last sent one, and the parts of one arriving.
    last_image_request: Option<Time>,
    last_image_sent: Time,
    /// Whether it asked for an image since it last installed one.
    asked_since_install: bool,
    /// Per row, the most any other replica said it released: everything
    /// below is committed at every replica that was not silent, so a
    /// replica behind it (back from a long absence) fetches those
    /// instances, or installs an image, but never recovers them.
    released_elsewhere: Vec<u64>,
    arriving_image: crate::transfer::PartedReplies<transfer::ImagePiece>,
}

/// Releasing instances executed everywhere ([`crate::gc`]): replicas
/// gossip their per-row execution floors with the row lengths; below the
/// smallest floor of a row, every replica executed every instance, so all
/// forget them (the dependency graph keeps only the number).
impl EPaxosReplica {
    fn on_floors(&mut self, from: ReplicaId, floors: &[u64], now: Time) {
        let n = self.n();
        if let Some(report) = self.floor_reports.get_mut(from) {
            for (row, &floor) in floors.iter().enumerate().take(n) {
                report[row] = report[row].max(floor);
            }
        }
        let started = *self.floors_heard[self.id].get_or_insert(now);
        if from != self.id {
            self.floors_heard[from] = Some(now);
        }
        for row in 0..n {
            // A replica silent for a while (down or cut off) and further
            // behind than the release lag is not waited for; it installs
            // an image when it returns (`transfer`).
            let own = self.row_floor[row];
            // One not heard from at all since this replica started (it
            // restarted, then was cut off) may be ahead of it in another
            // row: releasing past it could leave two replicas each past the
            // other, neither image holding what the other executed. So it
            // is waited for much longer than one heard and then silent.
            let waited = |r: ReplicaId| {
                let silent_for = match self.floors_heard[r] {
                    Some(heard) => now.since(heard) >= 4 * self.timing.retry,
                    None => now.since(started) >= NEVER_HEARD_GRACE * self.timing.leader_timeout,
                };
                r == self.id || !silent_for || self.floor_reports[r][row] + self.release_lag >= own
            };
            let stable = (0..n)
                .filter(|&r| waited(r))
                .map(|r| self.floor_reports[r][row])
                .min()
                .unwrap_or(0)
                .min(own);
            let from_slot = self.graph.released_below(row as u64);
            if stable > from_slot {
                let below = stable;
                self.graph.release_below(row as u64, below);
                self.instances.release_below(row as u64, below, |_, _| {});
                self.undecided.release_below(row as u64, below, |_, _| {});
            }
        }
    }
}

impl ReplicaProtocol for EPaxosReplica {
    type Message = Message;

    /// Records: for an instance whose acceptor state changed before a
    /// message that carries it (a pre-accept, accept or promise), the
    /// `PrepareOk` it would answer a recoverer with (promised ballot and
    /// report); `Commit` for each decision.
    const DURABLE: bool = true;

    /// Instances that do not depend on each other execute in different
    /// orders at different replicas.
    const EXECUTES_ONE_SEQUENCE: bool = false;

    fn has_executed(&self, id: CommandId) -> bool {
        self.state.has_executed(id)
    }

    /// The conflict map holds every key ever touched (tens of megabytes in
    /// `bench`), the store every key written: a round's requests' and
    /// steps' keys are looked up in both together first
    /// ([`ConflictMap::warm`]); each is recorded at once and executes here
    /// soon after.
    fn warm<'a>(&self, arrived: impl Iterator<Item = &'a Message>) {
        let warm = |command: &crate::command::Command| {
            self.conflicts.warm([command]);
            self.state.warm(command);
        };
        for msg in arrived {
            match msg {
                Message::Request { command, .. } => warm(command),
                Message::PreAccept { value, .. } | Message::Accept { value, .. } | Message::Commit { value, .. } => {
                    warm(command_of(value))
                }
                Message::Batch { steps } => {
                    for step in steps {
                        if let Step::PreAccept { value, .. } | Step::Accept { value, .. } | Step::Commit { value, .. } =
                            step
                        {
                            warm(command_of(value));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// See [`compaction`].
    fn snapshot(&self) -> Vec<Message> {
        self.compacted()
    }

    const REJOINS: bool = true;

    /// One log per row: past every instance of it this replica holds or
    /// heard of (and, for its own row, every one it started). No ballot:
    /// EPaxos's are per instance, and those below the marks are decided.
    fn rejoin_point(&self) -> RejoinPoint {
        let mut ends = self.row_known.clone();
        for instance in self.instances.keys() {
            let end = &mut ends[instance.leader];
            *end = (*end).max(instance.slot + 1);
        }
        ends[self.id] = ends[self.id].max(self.next_slot);
        RejoinPoint::new(0, ends.into_iter().enumerate().map(|(row, end)| (row as u64, end)))
    }

    /// Every instance below each row's mark executed here.
    fn covers(&self, point: &RejoinPoint) -> bool {
        point
            .marks
            .iter()
            .all(|&(row, end)| self.row_floor.get(row as usize).is_some_and(|&floor| floor >= end))
    }

    /// Instances come back with their promised ballot and last vote, this
    /// replica's own row resumes after the last instance it used, and
    /// decisions rebuild the executed state. Coordination (retries,
    /// recoveries in progress) starts afresh from `tick`.
    fn restore(&mut self, record: Message, out: &mut Outbox<Message>) {
        let (instance, decision) = match record {
            Message::PrepareOk {
                instance,
                ballot,
                report,
            } => {
                if self
                    .instances
                    .get(&instance)
                    .is_some_and(|s| s.status == Status::Committed)
                {
                    return;
                }
                if let Some(r) = report {
                    self.hold(instance, r.status, r.vbal, r.value, r.attrs, r.unchanged, Time::ZERO);
                }
                let s = self.instance(instance, Time::ZERO);
                s.bal = s.bal.max(ballot);
                (instance, None)
            }
            Message::Commit { instance, value, attrs } => (instance, Some((value, attrs))),
            image @ Message::Image { part, .. } if part.version != 0 => {
                // A state transfer this replica installed: again, on top of
                // what the records before it rebuilt.
                if let Some((of, part, piece)) = transfer::image_piece(image) {
                    if let Some(pieces) = self.arriving_image.add(of, part, vec![piece]) {
                        self.install(of, pieces, out);
                    }
                }
                return;
            }
            Message::Image {
                of,
                state,
                released,
                next_slot,
                ..
            } => return self.restore_image(of, state, &released, next_slot),
            _ => return,
        };
        if instance.leader == self.id {
            self.next_slot = self.next_slot.max(instance.slot + 1);
        }
        if let Some((value, attrs)) = decision {
            self.commit(instance, value, attrs, false, Time::ZERO, out);
        }
        // Messages queued while restoring are dropped.
        self.steps.clear();
    }

    fn new(config: ReplicaConfig) -> Self {
        let n = config.quorums.n();
        EPaxosReplica {
            id: config.id,
            fast_quorum: config.quorums.epaxos_fast(),
            quorums: config.quorums,
            timing: config.timing,
            bugs: config.bugs,
            next_slot: 0,
            instances: StreamMap::new(),
            undecided: StreamMap::new(),
            conflicts: ConflictMap::new(n),
            graph: DependencyGraph::new(),
            row_floor: vec![0; n],
            state: StateMachine::new(),
            leading: HashMap::default(),
            reply_to: HashSet::default(),
            row_known: vec![0; n],
            last_row_length: Time::ZERO,
            recoveries: RecoveryCounts::default(),
            floor_reports: vec![vec![0; n]; n],
            steps: HeldVotes::new(),
            release_lag: config.release_lag,
            floors_heard: vec![None; n],
            last_image_request: None,
            last_image_sent: Time::ZERO,
            asked_since_install: false,
            released_elsewhere: vec![0; n],
            arriving_image: crate::transfer::PartedReplies::new(),
        }
    }

    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        if let Message::Request { id, command } = msg {
            return self.on_request(id, command, now, out);
        }
        let NodeId::Replica(r) = from else { return };
        if msg.instance().is_some_and(|i| i.leader >= self.n()) {
            return; // no such row: a malformed message
        }
        if msg.instance().is_some_and(|i| self.graph.is_released(i)) {
            return; // executed everywhere and forgotten: a stale message
        }
        match msg {
            Message::Request { .. } | Message::Reply { .. } => {}
            Message::ImageRequest => self.on_image_request(r, now, out),
            image @ Message::Image { .. } => {
                if let Some((_, part, piece)) = transfer::image_piece(image) {
                    if part.version != 0 {
                        self.on_image_part(r, part, piece, out);
                    }
                }
            }
            Message::Batch { steps } => {
                for step in steps {
                    self.handle(from, step.into(), now, out);
                }
            }
            Message::PreAccept {
                instance,
                ballot,
                value,
                attrs,
            } => self.on_pre_accept(r, instance, ballot, value, attrs, now, out),
            Message::PreAcceptOk {
                instance,
                ballot,
                attrs,
                unchanged,
            } => self.on_pre_accept_ok(r, instance, ballot, attrs, unchanged, now, out),
            Message::Accept {
                instance,
                ballot,
                value,
                attrs,
            } => self.on_accept(r, instance, ballot, value, attrs, now, out),
            Message::AcceptOk { instance, ballot } => self.on_accept_ok(r, instance, ballot, now, out),
            Message::Commit { instance, value, attrs } => self.commit(instance, value, attrs, false, now, out),
            Message::Prepare { instance, ballot } => self.on_prepare(r, instance, ballot, now, out),
            Message::PrepareOk {
                instance,
                ballot,
                report,
            } => self.on_prepare_ok(r, instance, ballot, report, now, out),
            Message::TryPreAccept {
                instance,
                ballot,
                value,
                attrs,
            } => self.on_try_pre_accept(r, instance, ballot, value, attrs, now, out),
            Message::TryPreAcceptReply {
                instance,
                ballot,
                outcome,
            } => self.on_try_pre_accept_reply(r, instance, ballot, outcome, now, out),
            Message::Nack { instance, ballot } => self.on_nack(instance, ballot),
            Message::Fetch { instance } => self.on_fetch(r, instance, out),
            Message::RowLengths {
                lengths,
                executed,
                released,
            } => {
                self.on_row_lengths(&lengths, now);
                self.on_floors(r, &executed, now);
                self.check_released(r, &released, now, out);
            }
        }
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        if now.since(self.last_row_length) >= self.timing.heartbeat && self.row_known.iter().any(|l| *l > 0) {
            self.last_row_length = now;
            out.broadcast(Message::RowLengths {
                lengths: self.row_known.clone(),
                executed: self.row_floor.clone(),
                released: self.released(),
            });
            let own = self.row_floor.clone();
            self.on_floors(self.id, &own, now);
        }
        self.notice_missing_dependencies(now, out);
        let mut undecided: Vec<InstanceId> = self.undecided.keys().collect();
        undecided.sort_unstable();
        for instance in undecided {
            self.tick_instance(instance, now, out);
        }
    }

    /// Sends the normal-case messages gathered since the last flush, one
    /// `Batch` per destination (a lone message goes as itself); the host
    /// flushes whenever its inbox is empty, so nothing waits when idle.
    fn flush(&mut self, _now: Time, out: &mut Outbox<Message>) {
        self.steps.flush(
            out,
            MAX_STEPS,
            step_size,
            |_| (),
            |(), mut steps| match steps.len() {
                1 => steps.pop().expect("one step").into(),
                _ => Message::Batch { steps },
            },
        );
    }

    fn leader(&self) -> Option<ReplicaId> {
        // Leaderless: every replica leads its own commands.
        Some(self.id)
    }

    fn describe(&self) -> String {
        let stuck: Vec<String> = self
            .undecided
            .keys()
            .take(5)
            .map(|i| match self.instances.get(&i) {
                Some(s) => format!("{i} {:?}@{}", s.status, s.vbal),
                None => format!("{i} (not held)"),
            })
            .collect();
        let r = self.recoveries;
        format!(
            "{} instances led, {} held, {} done held, floors {:?}, {} undecided here (e.g. {}), {} committed waiting to execute; recovery: committed {} accepted {} tried {} tried-then-accepted {} conflict-decided {} conflict-pending {} phase1 {}",
            self.next_slot,
            self.instances.len(),
            self.graph.done_len(),
            self.row_floor,
            self.undecided.len(),
            stuck.join(", "),
            self.graph.pending_len(),
            r.found_committed,
            r.found_accepted,
            r.tried,
            r.tried_then_accepted,
            r.conflict_decided,
            r.conflict_pending,
            r.phase1
        )
    }
}

/// Shared by the normal case and recovery.
impl EPaxosReplica {
    fn n(&self) -> usize {
        self.quorums.n()
    }

    fn instance(&mut self, instance: InstanceId, now: Time) -> &mut InstanceState {
        self.instances
            .get_or_insert_with(instance, || InstanceState::new(instance, now))
    }

    /// Sends `msg` to `to`, or handles it at once when `to` is this replica.
    fn send(&mut self, to: ReplicaId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        if to == self.id {
            self.handle(NodeId::Replica(self.id), msg, now, out);
        } else {
            out.send_replica(to, msg);
        }
    }

    /// Records `instance`'s acceptor state (promise and vote) before a
    /// message that depends on it leaves.
    fn record(&self, instance: InstanceId, out: &mut Outbox<Message>) {
        if let Some(s) = self.instances.get(&instance) {
            out.persist_with(|| Message::PrepareOk {
                instance,
                ballot: s.bal,
                report: s.report(),
            });
        }
    }

    /// Records what a pre-accept or accept told us about `instance`.
    fn hold(
        &mut self,
        instance: InstanceId,
        status: Status,
        vbal: Ballot,
        value: Value,
        attrs: Attributes,
        unchanged: bool,
        now: Time,
    ) {
        let s = self
            .instances
            .get_or_insert_with(instance, || InstanceState::new(instance, now));
        // The conflict map keeps maxima, so recording the same command
        // again with no higher sequence number changes nothing: a commit
        // of what was pre-accepted skips its key's lookup (a cache miss
        // at half a million keys). Only `hold` sets `attrs`, always after
        // recording them.
        let recorded = s.attrs.as_ref().is_some_and(|held| held.seq >= attrs.seq) && s.value == value;
        if !recorded {
            self.conflicts.record(instance, command_of(&value), attrs.seq);
        }
        s.status = status;
        s.vbal = vbal;
        s.value = value;
        s.attrs = Some(attrs);
        s.unchanged = unchanged;
        if status != Status::Committed {
            self.undecided.insert(instance, ());
        }
        self.extend_row(instance.leader, instance.slot + 1, now);
    }

    fn on_nack(&mut self, instance: InstanceId, ballot: Ballot) {
        if let Some(s) = self.instances.get_mut(&instance) {
            s.bal = s.bal.max(ballot);
            if s.coordinating.as_ref().is_some_and(|c| c.ballot() < s.bal) {
                s.coordinating = None;
            }
        }
    }

    fn on_fetch(&mut self, from: ReplicaId, instance: InstanceId, out: &mut Outbox<Message>) {
        if let Some(s) = self.instances.get(&instance).filter(|s| s.status == Status::Committed) {
            if let Some(attrs) = s.attrs.clone() {
                out.send_replica(
                    from,
                    Message::Commit {
                        instance,
                        value: s.value.clone(),
                        attrs,
                    },
                );
            }
        }
    }

    /// `instance` is decided with `value` and `attrs`: it joins the
    /// dependency graph, and whatever became executable runs.
    fn commit(
        &mut self,
        instance: InstanceId,
        value: Value,
        attrs: Attributes,
        fast: bool,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if self
            .instances
            .get(&instance)
            .is_some_and(|s| s.status == Status::Committed)
        {
            return;
        }
        let vbal = self.instance(instance, now).vbal;
        out.persist_with(|| Message::Commit {
            instance,
            value: value.clone(),
            attrs: attrs.clone(),
        });
        self.hold(
            instance,
            Status::Committed,
            vbal,
            value.clone(),
            attrs.clone(),
            false,
            now,
        );
        let s = self.instance(instance, now);
        s.fast = fast;
        s.coordinating = None;
        self.undecided.remove(&instance);
        if self.bugs.epaxos_execute_on_commit {
            // Planted bug: no waiting for dependencies.
            return self.apply(vec![(instance, value)], out);
        }
        let executable = self
            .graph
            .commit_prefixes(instance, value, Self::graph_deps(&attrs), attrs.seq);
        self.apply(executable, out);
    }

    /// The edges `instance` gets in the dependency graph: EPaxos depends on
    /// every instance of row `q` up to `deps[q]` that conflicts, and the
    /// graph gets every one of them (those that do not conflict too: the
    /// order only tightens, the same on every replica), as one prefix per
    /// row that it reads lazily: a replica far behind would otherwise hold
    /// a list as long as its gap per command.
    fn graph_deps(attrs: &Attributes) -> crate::depgraph::DepList<InstanceId> {
        attrs
            .deps
            .iter()
            .enumerate()
            .filter_map(|(row, top)| top.map(|slot| InstanceId { leader: row, slot }))
            .collect()
    }

    fn apply(&mut self, executable: impl IntoIterator<Item = (InstanceId, Value)>, out: &mut Outbox<Message>) {
        for (instance, value) in executable {
            if let Some((id, command)) = value {
                let applied = self.state.apply(id, &command);
                if matches!(applied, Applied::Fresh(_)) {
                    out.executed(id);
                }
                self.leading.remove(&id);
                if self.reply_to.remove(&id) {
                    let fast = self.instances.get(&instance).is_some_and(|s| s.fast);
                    if let Some(result) = applied.result() {
                        out.send_client(
                            id.client,
                            Message::Reply {
                                id,
                                result: result.clone(),
                                fast,
                            },
                        );
                    }
                }
            }
            let row = instance.leader;
            while self.graph.is_done(InstanceId {
                leader: row,
                slot: self.row_floor[row],
            }) {
                self.row_floor[row] += 1;
            }
        }
    }
}

/// Roughly how many bytes a step takes in a `Batch` (its command's value
/// dominates when values are large).
fn step_size(step: &Step) -> usize {
    let value = match step {
        Step::PreAccept { value, .. } | Step::Accept { value, .. } | Step::Commit { value, .. } => {
            value.as_ref().map_or(0, |(_, c)| c.value_len())
        }
        Step::PreAcceptOk { .. } | Step::AcceptOk { .. } => 0,
    };
    128 + value
}
