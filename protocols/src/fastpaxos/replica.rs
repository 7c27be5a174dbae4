//! The Fast Paxos replica: acceptor, learner and (while it leads) coordinator.

use super::messages::{CastVote, Instance, Message, Report, MAX_VOTES};
use super::queue::ProposalQueue;
use super::round::{pick, pick_adding, Round, Step};
use crate::ballot::Ballot;
use crate::batching::HeldVotes;
use crate::command::Command;
use crate::election::{Election, ElectionStep};
use crate::executed_everywhere::ExecutedEverywhere;
use crate::ids::{CommandId, NodeId, ReplicaId};
use crate::log::{Batch, SlotLog};
use crate::pending::ReplyCollector;
use crate::protocol::{Outbox, ReplicaConfig, ReplicaProtocol, Timing};
use crate::quorum::{QuorumSystem, ReplicaSet, Votes};
use crate::rejoin::RejoinPoint;
use crate::session::{Applied, StateChunk, StateMachine};
use crate::time::Time;
use crate::transfer::{install_image, parts_of, ImageSender, IncomingImage, Part, PartedReplies, PART_BYTES};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeMap;
use std::sync::Arc;

/// At most this many decisions answer one catch-up request.
const CATCH_UP_CHUNK: usize = 512;

/// What this replica knows of an undecided instance.
#[derive(Debug)]
struct InstanceState {
    /// The highest round promised to a coordinator for this instance.
    promised: Option<Round>,
    /// This acceptor's last vote.
    vote: Option<(Round, Batch)>,
    /// Every vote heard, per round.
    heard: BTreeMap<Round, ReplyCollector<Batch>>,
    /// When this replica first heard of the instance (the leader recovers it
    /// after a retry timeout).
    since: Time,
    /// When the leader saw the fast round collide with votes missing.
    collided_at: Option<Time>,
    /// When the leader held a majority's fast-round votes without a
    /// decision (votes missing: a fast-quorum member may be gone).
    majority_at: Option<Time>,
}

/// A classic round the leader runs for one stuck instance.
#[derive(Debug)]
struct ClassicRound {
    round: Round,
    promises: ReplyCollector<Option<(Round, Batch)>>,
    proposed: Option<Batch>,
    sent: Time,
}

/// Phase 1 of a new leader over the whole log suffix.
#[derive(Debug)]
struct Election1 {
    from: Instance,
    replied: Votes,
    /// Replies whose parts are still arriving.
    arriving: PartedReplies<Report>,
    /// Per instance, each reporting acceptor's vote.
    votes: BTreeMap<Instance, Vec<Option<(Round, Batch)>>>,
    decided: BTreeMap<Instance, Batch>,
    sent: Time,
}

#[derive(Debug)]
enum Role {
    Follower,
    Candidate(Election1),
    Leader {
        last_heartbeat: Time,
        classic: BTreeMap<Instance, ClassicRound>,
    },
}

/// A Fast Paxos replica.
#[derive(Debug)]
pub struct FastPaxosReplica {
    id: ReplicaId,
    quorums: QuorumSystem,
    timing: Timing,
    /// The highest leader ballot promised.
    ballot: Ballot,
    /// Fast rounds of `ballot` are open from this instance (once its leader
    /// recovered everything below).
    open_from: Option<Instance>,
    role: Role,
    election: Election,
    instances: BTreeMap<Instance, InstanceState>,
    /// Decided values, executed in instance order.
    log: SlotLog,
    state: StateMachine,
    /// Whether each decided, unexecuted instance was decided in its fast round.
    decided_fast: HashMap<Instance, bool>,
    /// Commands received and not decided, and this acceptor's votes for them.
    queue: ProposalQueue,
    /// The next instance this acceptor may vote in.
    next_fast: Instance,
    /// Decided commands not executed yet.
    decided_ids: HashSet<CommandId>,
    /// Commands whose client asked this replica for the result.
    reply_to: HashSet<CommandId>,
    leader_frontier: Instance,
    last_catch_up: Option<Time>,
    /// Replicas this leader believes gone: their fast-round votes went
    /// missing for a heartbeat interval, and nothing came from them since.
    /// An instance that waits only for their votes gets a classic round at
    /// once ([`FastPaxosReplica::fast_round_cannot_finish`]).
    suspected: ReplicaSet,
    /// How far each replica executed (from votes and `CatchUp`).
    executed: ExecutedEverywhere,
    /// Votes for every other replica, sent together at the next flush.
    held_votes: HeldVotes<CastVote>,
    /// Replicas further behind than this are not waited for when releasing.
    release_lag: Instance,
    /// A state image arriving from a replica that released what this one lacks.
    incoming: IncomingImage,
    /// When each lagging replica was last sent an image.
    images: ImageSender,
}

impl ReplicaProtocol for FastPaxosReplica {
    type Message = Message;

    /// Records: `Elect` for a ballot it promised, `Prepare` for an
    /// instance's classic round it promised, `Vote` for each vote, `Commit`
    /// for each decision.
    const DURABLE: bool = true;

    /// Votes and promises go back to their instances (so the acceptor never
    /// votes twice in a round), decisions rebuild the log and the executed
    /// state. The replica comes back as a follower; fast rounds of a later
    /// ballot than the first open again with its leader's heartbeat.
    fn restore(&mut self, record: Message, out: &mut Outbox<Message>) {
        self.role = Role::Follower;
        match record {
            Message::Elect { ballot, .. } if ballot > self.ballot => {
                self.ballot = ballot;
                self.open_from = None;
            }
            Message::Prepare { instance, round } if !self.log.is_committed(instance) => {
                let state = self.instance(instance, Time::ZERO);
                state.promised = state.promised.max(Some(round));
            }
            Message::Vote {
                instance, round, value, ..
            } if !self.log.is_committed(instance) => {
                let state = self.instance(instance, Time::ZERO);
                state.promised = state.promised.max(Some(round));
                state.vote = Some((round, value));
            }
            Message::Commit { instance, value } => self.decide(instance, value, false, Time::ZERO, out),
            Message::Snapshot {
                of,
                executed,
                part,
                parts,
                state,
                ..
            } => {
                if let Some(image) = self.incoming.add(executed, part, parts, state, Time::ZERO) {
                    self.install(of, executed, image, out);
                }
            }
            _ => {}
        }
        // Messages queued while restoring are dropped.
        self.held_votes.clear();
    }

    /// The executed state in parts, the ballot promised, every decided
    /// instance not executed yet as `Commit`, and per undecided instance
    /// the vote cast (`Vote`) and any higher round promised (`Prepare`).
    /// Executed instances are not kept: a replica that lags behind the
    /// image's frontier gets an image too.
    const REJOINS: bool = true;

    /// One log: past every instance this replica voted in, decided, or
    /// heard a vote or a promise about.
    fn rejoin_point(&self) -> RejoinPoint {
        let known = self.instances.last_key_value().map_or(0, |(i, _)| i + 1);
        RejoinPoint::new(self.ballot.0, [(0, known.max(self.log.end()).max(self.next_fast))])
    }

    /// Everything below the mark is executed here, under a ballot as high.
    fn covers(&self, point: &RejoinPoint) -> bool {
        self.ballot.0 >= point.ballot && self.log.execution_frontier() >= point.mark(0)
    }

    fn snapshot(&self) -> Vec<Message> {
        let (ballot, of, executed) = (self.ballot, self.id, self.log.execution_frontier());
        let chunks = self.state.chunks(PART_BYTES);
        let parts = chunks.len() as u32;
        let mut records: Vec<Message> = chunks
            .into_iter()
            .enumerate()
            .map(|(i, state)| Message::Snapshot {
                ballot,
                of,
                stable: executed,
                executed,
                part: i as u32,
                parts,
                state,
            })
            .collect();
        records.push(Message::Elect { ballot, from: executed });
        for (instance, e) in self.log.entries_from(executed).filter(|(_, e)| e.committed) {
            records.push(Message::Commit {
                instance,
                value: e.value.clone(),
            });
        }
        for (&instance, state) in self
            .instances
            .range(executed..)
            .filter(|(i, _)| !self.log.is_committed(**i))
        {
            if let Some((round, value)) = &state.vote {
                records.push(Message::Vote {
                    instance,
                    round: *round,
                    value: value.clone(),
                    executed,
                });
            }
            let voted = state.vote.as_ref().map(|(round, _)| *round);
            if let Some(round) = state.promised.filter(|p| Some(*p) > voted) {
                records.push(Message::Prepare { instance, round });
            }
        }
        records
    }

    fn new(config: ReplicaConfig) -> Self {
        let ballot = config.quorums.initial_ballot();
        let n = config.quorums.n();
        let role = if ballot.leader(n) == config.id {
            Role::Leader {
                last_heartbeat: Time::ZERO,
                classic: BTreeMap::new(),
            }
        } else {
            Role::Follower
        };
        FastPaxosReplica {
            id: config.id,
            quorums: config.quorums,
            timing: config.timing,
            ballot,
            // Nothing was voted before the first ballot: all of it is open.
            open_from: Some(0),
            role,
            election: Election::new(config.id, n, config.timing),
            instances: BTreeMap::new(),
            log: SlotLog::new(),
            state: StateMachine::new(),
            decided_fast: HashMap::default(),
            queue: ProposalQueue::new(),
            next_fast: 0,
            decided_ids: HashSet::default(),
            reply_to: HashSet::default(),
            leader_frontier: 0,
            executed: ExecutedEverywhere::new(n),
            held_votes: HeldVotes::new(),
            last_catch_up: None,
            suspected: ReplicaSet::EMPTY,
            release_lag: config.release_lag,
            incoming: IncomingImage::new(),
            images: ImageSender::new(n),
        }
    }

    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        if let Message::Propose { id, command, reply } = msg {
            return self.on_propose(id, command, reply, now, out);
        }
        let NodeId::Replica(r) = from else { return };
        // Whatever it sent, it is there: its votes are worth waiting for.
        self.suspected.remove(r);
        match msg {
            Message::Propose { .. } | Message::Reply { .. } => {}
            Message::Vote {
                instance,
                round,
                value,
                executed,
            } => {
                self.executed.report(r, executed);
                self.on_vote(r, instance, round, value, now, out)
            }
            Message::Votes { votes, executed } => {
                self.executed.report(r, executed);
                for CastVote { instance, round, value } in votes {
                    self.on_vote(r, instance, round, value, now, out);
                }
            }
            Message::Prepare { instance, round } => self.on_prepare(r, instance, round, now, out),
            Message::Promise { instance, round, vote } => self.on_promise(r, instance, round, vote, now, out),
            Message::Accept { instance, round, value } => self.on_accept(r, instance, round, value, now, out),
            Message::Elect { ballot, from } => self.on_elect(r, ballot, from, now, out),
            Message::Elected {
                ballot,
                forgotten,
                part,
                reports,
            } => self.on_elected(r, ballot, forgotten, part, reports, now, out),
            Message::Heartbeat {
                ballot,
                frontier,
                open_from,
                stable,
            } => {
                self.on_heartbeat(r, ballot, frontier, open_from, now, out);
                if ballot == self.ballot {
                    self.log.forget_below(stable);
                }
            }
            Message::CatchUp { from } => {
                self.executed.report(r, from);
                self.on_catch_up(r, from, now, out)
            }
            Message::Commit { instance, value } => self.decide(instance, value, false, now, out),
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
            Message::PreVoteGranted { ballot } => {
                if matches!(self.role, Role::Follower) && ballot == self.ballot && self.election.granted(r) {
                    self.start_election(now, out);
                }
            }
        }
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        match &mut self.role {
            Role::Leader { last_heartbeat, .. } => {
                if now.since(*last_heartbeat) >= self.timing.heartbeat {
                    *last_heartbeat = now;
                    self.send_heartbeat(out);
                }
                self.recover_stuck_instances(now, out);
            }
            Role::Candidate(e) => {
                if now.since(e.sent) >= self.timing.retry {
                    e.sent = now;
                    out.broadcast(Message::Elect {
                        ballot: self.ballot,
                        from: e.from,
                    });
                }
            }
            Role::Follower => {
                if self.election.tick(self.ballot, now) == ElectionStep::AskPreVotes {
                    out.broadcast(Message::PreVote { ballot: self.ballot });
                    if self.election.alone_is_majority() {
                        self.start_election(now, out);
                    }
                }
                self.request_catch_up_if_behind(now, out);
            }
        }
    }

    /// Sends the votes cast since the last flush as one `Votes` (a lone
    /// vote as a `Vote`); the host flushes whenever its inbox is empty.
    fn flush(&mut self, _now: Time, out: &mut Outbox<Message>) {
        let executed = self.log.execution_frontier();
        let size = |v: &CastVote| 32 + v.value.iter().map(|(_, c)| 48 + c.value_len()).sum::<usize>();
        self.held_votes.flush(
            out,
            MAX_VOTES,
            size,
            |_| (),
            |(), mut votes| match votes.len() {
                1 => {
                    let CastVote { instance, round, value } = votes.pop().expect("one vote");
                    Message::Vote {
                        instance,
                        round,
                        value,
                        executed,
                    }
                }
                _ => Message::Votes { votes, executed },
            },
        );
    }

    fn leader(&self) -> Option<ReplicaId> {
        match self.role {
            Role::Candidate(_) => None,
            Role::Follower if self.election.is_suspecting() => None,
            Role::Leader { .. } | Role::Follower => Some(self.ballot.leader(self.quorums.n())),
        }
    }

    fn describe(&self) -> String {
        let role = match self.role {
            Role::Follower => "follower",
            Role::Candidate(_) => "candidate",
            Role::Leader { .. } => "leader",
        };
        format!(
            "{role} ballot {}, executed up to {}, {} log entries held, {} undecided instances, {} commands queued, {} votes placed, {} decided unexecuted, fast rounds open from {:?}",
            self.ballot,
            self.log.execution_frontier(),
            self.log.len(),
            self.instances.len(),
            self.queue.len(),
            self.queue.votes(),
            self.decided_ids.len(),
            self.open_from
        )
    }
}

/// Normal case: fast votes, learning, uncoordinated recovery, execution.
impl FastPaxosReplica {
    fn n(&self) -> usize {
        self.quorums.n()
    }

    fn on_propose(&mut self, id: CommandId, command: Command, reply: bool, now: Time, out: &mut Outbox<Message>) {
        if let Some(result) = self.state.result_of(id) {
            if reply {
                out.send_client(
                    id.client,
                    Message::Reply {
                        id,
                        result: result.clone(),
                        fast: false,
                    },
                );
            }
            return;
        }
        if self.state.has_executed(id) {
            return; // finished long ago: its client has the answer and its result is gone
        }
        if reply {
            self.reply_to.insert(id);
        }
        if self.decided_ids.contains(&id) || self.queue.contains(id) {
            return;
        }
        self.queue.push(id, command);
        self.vote_queued(now, out);
    }

    /// The lowest round this acceptor may still take part in at `instance`.
    fn floor(&self, instance: Instance) -> Round {
        let ballot_floor = Round::new(self.ballot, Step::Fast);
        self.instances
            .get(&instance)
            .and_then(|s| s.promised)
            .map_or(ballot_floor, |p| p.max(ballot_floor))
    }

    fn may_vote(&self, instance: Instance, round: Round) -> bool {
        round >= self.floor(instance)
            && self
                .instances
                .get(&instance)
                .and_then(|s| s.vote.as_ref())
                .is_none_or(|(r, _)| *r < round)
    }

    fn instance(&mut self, instance: Instance, now: Time) -> &mut InstanceState {
        self.instances.entry(instance).or_insert_with(|| InstanceState {
            promised: None,
            vote: None,
            heard: BTreeMap::new(),
            since: now,
            collided_at: None,
            majority_at: None,
        })
    }

    /// Votes, in arrival order, for queued commands without a live vote, each
    /// in this acceptor's next free instance of the open fast round.
    fn vote_queued(&mut self, now: Time, out: &mut Outbox<Message>) {
        let Some(open_from) = self.open_from else { return };
        let fast = Round::new(self.ballot, Step::Fast);
        while let Some((id, command)) = self.queue.first_unvoted() {
            let mut instance = self.next_fast.max(open_from);
            while self.log.is_committed(instance) || !self.may_vote(instance, fast) {
                instance += 1;
            }
            self.next_fast = instance + 1;
            self.queue.voted(id, instance);
            self.cast_vote(instance, fast, Arc::from(vec![(id, command)]), now, out);
        }
    }

    /// Phase 2b: votes, tells everyone, and counts its own vote.
    fn cast_vote(&mut self, instance: Instance, round: Round, value: Batch, now: Time, out: &mut Outbox<Message>) {
        self.instance(instance, now).vote = Some((round, value.clone()));
        out.persist_with(|| Message::Vote {
            instance,
            round,
            value: value.clone(),
            executed: self.log.execution_frontier(),
        });
        self.held_votes.broadcast(CastVote {
            instance,
            round,
            value: value.clone(),
        });
        self.on_vote(self.id, instance, round, value, now, out);
    }

    /// Learns: a fast quorum in a fast round or a majority in a classic one
    /// decides. A fast round that collided is recovered without the
    /// coordinator once every acceptor's vote is in; with votes missing (a
    /// crash, a partition) the leader runs a classic round after a short
    /// grace period, and at once for a collided recovery round.
    fn on_vote(
        &mut self,
        from: ReplicaId,
        instance: Instance,
        round: Round,
        value: Batch,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if self.log.is_committed(instance) {
            return;
        }
        let (n, fast_quorum, majority) = (self.n(), self.quorums.fast_paxos(), self.quorums.majority());
        let leading = matches!(self.role, Role::Leader { .. }) && round.ballot == self.ballot;
        let suspected = self.suspected;
        let state = self.instance(instance, now);
        let heard = state.heard.entry(round).or_default();
        heard.add(from, value.clone());
        let needed = if round.is_fast() { fast_quorum } else { majority };
        if heard.agreeing_with(&value).len() >= needed {
            return self.decide(instance, value, round.step == Step::Fast, now, out);
        }
        if leading && round.step == Step::Fast && heard.responders().len() >= majority {
            state.majority_at.get_or_insert(now);
            let responders = heard.responders();
            let missing: ReplicaSet = ReplicaSet::all(n).iter().filter(|r| !responders.contains(*r)).collect();
            if !missing.is_empty() && missing.is_subset_of(suspected) {
                return self.fast_round_cannot_finish(instance, now, out);
            }
        }
        if !round.is_fast() || !collided(heard, n, fast_quorum, majority) {
            return;
        }
        let everyone_voted = heard.responders().len() == n;
        match round.step {
            Step::Fast if everyone_voted => self.recover_uncoordinated(instance, round, now, out),
            Step::Fast if leading => {
                state.collided_at.get_or_insert(now);
            }
            _ if leading => self.start_classic_round(instance, now, out),
            _ => {}
        }
    }

    /// Uses the collided fast round's votes, from every acceptor, as the
    /// recovery round's phase 1: every replica sees the same votes, so all
    /// pick the same value and the recovery round decides it one delay later.
    fn recover_uncoordinated(&mut self, instance: Instance, fast: Round, now: Time, out: &mut Outbox<Message>) {
        let recovery = Round::new(fast.ballot, Step::Recovery);
        if fast.ballot != self.ballot || !self.may_vote(instance, recovery) {
            return;
        }
        let Some(heard) = self.instances.get(&instance).and_then(|s| s.heard.get(&fast)) else {
            return;
        };
        let reports: Vec<_> = heard
            .responders()
            .iter()
            .map(|r| heard.get(r).map(|v| (fast, v.clone())))
            .collect();
        let value = pick(&reports, self.n(), self.quorums.fast_paxos());
        self.cast_vote(instance, recovery, value, now, out);
    }

    /// `value` is chosen at `instance`: commands it holds leave the queue,
    /// and the one this acceptor voted there, if it lost, is voted again.
    fn decide(&mut self, instance: Instance, value: Batch, fast: bool, now: Time, out: &mut Outbox<Message>) {
        if !self.log.commit(instance, self.ballot, value.clone()) {
            return;
        }
        out.persist_with(|| Message::Commit {
            instance,
            value: value.clone(),
        });
        self.instances.remove(&instance);
        if let Role::Leader { classic, .. } = &mut self.role {
            classic.remove(&instance);
        }
        self.decided_fast.insert(instance, fast);
        for (id, _) in value.iter() {
            self.decided_ids.insert(*id);
        }
        self.queue.decided(instance, value.iter().map(|(id, _)| *id));
        self.execute(out);
        self.vote_queued(now, out);
    }

    fn execute(&mut self, out: &mut Outbox<Message>) {
        while let Some((instance, value)) = self.log.next_to_execute() {
            let fast = self.decided_fast.remove(&instance).unwrap_or(false);
            for (id, command) in value.iter() {
                let applied = self.state.apply(*id, command);
                if matches!(applied, Applied::Fresh(_)) {
                    out.executed(*id);
                }
                self.decided_ids.remove(id);
                if self.reply_to.remove(id) {
                    if let Some(result) = applied.result() {
                        out.send_client(
                            id.client,
                            Message::Reply {
                                id: *id,
                                result: result.clone(),
                                fast,
                            },
                        );
                    }
                }
            }
        }
    }
}

/// Whether a fast round with these votes can no longer decide: they come
/// from at least a majority, and even if every acceptor not heard from voted
/// for the most voted value, it would fall short of a fast quorum.
fn collided(heard: &ReplyCollector<Batch>, n: usize, fast_quorum: usize, majority: usize) -> bool {
    let responders = heard.responders();
    if responders.len() < majority {
        return false;
    }
    let most = responders
        .iter()
        .filter_map(|r| heard.get(r))
        .map(|v| heard.agreeing_with(v).len())
        .max()
        .unwrap_or(0);
    most + (n - responders.len()) < fast_quorum
}

/// Classic rounds: the leader's recovery of stuck instances, and leader change.
impl FastPaxosReplica {
    /// The fast round of `instance` waits only for votes of replicas this
    /// leader suspects: a classic round (a majority) decides it instead,
    /// without waiting for the fast round to time out. While a fast-quorum
    /// member is down, every instance goes this way; fast rounds finish on
    /// their own again once its votes arrive.
    fn fast_round_cannot_finish(&mut self, instance: Instance, now: Time, out: &mut Outbox<Message>) {
        self.start_classic_round(instance, now, out);
    }

    /// The replicas whose fast-round vote at `instance` has not arrived.
    fn missing_fast_voters(&self, instance: Instance) -> ReplicaSet {
        let fast = Round::new(self.ballot, Step::Fast);
        let heard = self.instances.get(&instance).and_then(|s| s.heard.get(&fast));
        ReplicaSet::all(self.n())
            .iter()
            .filter(|r| heard.is_none_or(|h| !h.responders().contains(*r)))
            .collect()
    }

    /// An instance undecided for a retry timeout (votes missing: a crash, a
    /// partition), or collided with votes missing for a heartbeat interval,
    /// gets a classic round; so does a hole below the highest instance
    /// anyone voted in. One that held a majority's fast votes for a
    /// heartbeat interval without the rest gets one too, and the replicas
    /// whose votes are missing are suspected from then on.
    fn recover_stuck_instances(&mut self, now: Time, out: &mut Outbox<Message>) {
        let frontier = self.log.execution_frontier();
        let highest = self.instances.keys().next_back().copied().unwrap_or(frontier);
        for hole in frontier..highest {
            if !self.log.is_committed(hole) {
                self.instance(hole, now);
            }
        }
        let grace = self.timing.heartbeat;
        // While a replica is suspected, any instance undecided for a
        // heartbeat interval is stuck (it may hold too few votes ever to
        // finish: acceptors with nothing queued do not vote in it): it
        // waits no retry timeout, since every later one waits for it to execute.
        let degraded = !self.suspected.is_empty();
        let stuck: Vec<Instance> = self
            .instances
            .iter()
            .filter(|(_, s)| {
                now.since(s.since) >= self.timing.retry
                    || s.collided_at.is_some_and(|t| now.since(t) >= grace)
                    || s.majority_at.is_some_and(|t| now.since(t) >= grace)
                    || (degraded && now.since(s.since) >= grace)
            })
            .map(|(i, _)| *i)
            .collect();
        for instance in stuck {
            if self.instances.get(&instance).is_some_and(|s| s.majority_at.is_some()) {
                let missing = self.missing_fast_voters(instance);
                missing.iter().for_each(|r| {
                    self.suspected.insert(r);
                });
            }
            self.start_classic_round(instance, now, out);
        }
    }

    /// Phase 1 (or, once a value is proposed, phase 2 again) of this
    /// leader's classic round for `instance`, at most once per retry timeout.
    fn start_classic_round(&mut self, instance: Instance, now: Time, out: &mut Outbox<Message>) {
        let round = Round::new(self.ballot, Step::Classic);
        let Role::Leader { classic, .. } = &mut self.role else {
            return;
        };
        let attempt = classic.entry(instance).or_insert_with(|| ClassicRound {
            round,
            promises: ReplyCollector::new(),
            proposed: None,
            sent: now,
        });
        if attempt.sent != now && now.since(attempt.sent) < self.timing.retry {
            return;
        }
        attempt.sent = now;
        match attempt.proposed.clone() {
            Some(value) => {
                out.broadcast(Message::Accept {
                    instance,
                    round,
                    value: value.clone(),
                });
                self.on_accept(self.id, instance, round, value, now, out);
            }
            None => {
                out.broadcast(Message::Prepare { instance, round });
                self.on_prepare(self.id, instance, round, now, out);
            }
        }
    }

    fn on_prepare(&mut self, from: ReplicaId, instance: Instance, round: Round, now: Time, out: &mut Outbox<Message>) {
        if self.log.is_forgotten(instance) {
            return;
        }
        if let Some(value) = self.log.get(instance).filter(|e| e.committed).map(|e| e.value.clone()) {
            return self.reply(from, Message::Commit { instance, value }, now, out);
        }
        if round < self.floor(instance) {
            return self.reply(from, Message::Nack { ballot: self.ballot }, now, out);
        }
        let state = self.instance(instance, now);
        state.promised = Some(round);
        let vote = state.vote.clone();
        out.persist(Message::Prepare { instance, round });
        self.reply(from, Message::Promise { instance, round, vote }, now, out);
    }

    fn on_promise(
        &mut self,
        from: ReplicaId,
        instance: Instance,
        round: Round,
        vote: Option<(Round, Batch)>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let (n, fast_quorum, majority) = (self.n(), self.quorums.fast_paxos(), self.quorums.majority());
        let fast = Round::new(self.ballot, Step::Fast);
        let heard = self.instances.get(&instance).and_then(|s| s.heard.get(&fast));
        let Role::Leader { classic, .. } = &mut self.role else {
            return;
        };
        let Some(attempt) = classic
            .get_mut(&instance)
            .filter(|a| a.round == round && a.proposed.is_none())
        else {
            return;
        };
        attempt.promises.add(from, vote);
        let replied = attempt.promises.responders();
        if replied.len() < majority {
            return;
        }
        let reports: Vec<_> = replied
            .iter()
            .filter_map(|r| attempt.promises.get(r).cloned())
            .collect();
        let also_heard: Vec<&Batch> =
            heard.map_or(Vec::new(), |h| h.responders().iter().filter_map(|r| h.get(r)).collect());
        let value = pick_adding(&reports, n, fast_quorum, &also_heard);
        attempt.proposed = Some(value.clone());
        out.broadcast(Message::Accept {
            instance,
            round,
            value: value.clone(),
        });
        self.on_accept(self.id, instance, round, value, now, out);
    }

    fn on_accept(
        &mut self,
        from: ReplicaId,
        instance: Instance,
        round: Round,
        value: Batch,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if self.log.is_forgotten(instance) {
            return;
        }
        if let Some(decided) = self.log.get(instance).filter(|e| e.committed).map(|e| e.value.clone()) {
            return self.reply(
                from,
                Message::Commit {
                    instance,
                    value: decided,
                },
                now,
                out,
            );
        }
        if !self.may_vote(instance, round) {
            if round < self.floor(instance) {
                self.reply(from, Message::Nack { ballot: self.ballot }, now, out);
            } else if let Some((voted, value)) = self
                .instances
                .get(&instance)
                .and_then(|s| s.vote.clone())
                .filter(|(r, _)| *r == round)
            {
                // A retransmitted Accept: our vote may have been lost.
                out.broadcast(Message::Vote {
                    instance,
                    round: voted,
                    value,
                    executed: self.log.execution_frontier(),
                });
            }
            return;
        }
        self.instance(instance, now).promised = Some(round);
        self.cast_vote(instance, round, value, now, out);
    }

    /// Sends `msg` to `to`, or handles it at once when `to` is this replica.
    fn reply(&mut self, to: ReplicaId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        if to == self.id {
            self.handle(NodeId::Replica(self.id), msg, now, out);
        } else {
            out.send_replica(to, msg);
        }
    }

    fn observe_ballot(&mut self, ballot: Ballot, now: Time) {
        if ballot > self.ballot {
            self.ballot = ballot;
            self.role = Role::Follower;
            self.open_from = None;
            self.election.heard_leader(now);
        }
    }

    fn on_pre_vote(&mut self, from: ReplicaId, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        if matches!(self.role, Role::Follower) && !self.election.leader_recently_heard(now) {
            out.send_replica(from, Message::PreVoteGranted { ballot });
        }
    }

    /// Phase 1 for a new ballot, over every instance from the execution frontier.
    fn start_election(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.ballot = self.ballot.next_owned_by(self.id, self.n());
        self.open_from = None;
        self.election.candidacy_started(now);
        let from = self.log.execution_frontier();
        self.role = Role::Candidate(Election1 {
            from,
            replied: Votes::new(),
            arriving: PartedReplies::new(),
            votes: BTreeMap::new(),
            decided: BTreeMap::new(),
            sent: now,
        });
        // Its own report counts toward the majority: the ballot is a promise.
        out.persist(Message::Elect {
            ballot: self.ballot,
            from,
        });
        out.broadcast(Message::Elect {
            ballot: self.ballot,
            from,
        });
        let reports = self.reports_from(from);
        let whole = Part {
            version: 0,
            index: 0,
            count: 1,
        };
        self.on_elected(self.id, self.ballot, self.log.forgotten(), whole, reports, now, out);
    }

    fn reports_from(&self, from: Instance) -> Vec<Report> {
        let mut reports: Vec<Report> = self
            .log
            .entries_from(from)
            .filter(|(_, e)| e.committed)
            .map(|(instance, e)| Report {
                instance,
                round: Round::new(e.ballot, Step::Classic),
                value: e.value.clone(),
                decided: true,
            })
            .collect();
        for (instance, state) in self.instances.range(from..) {
            if let Some((round, value)) = &state.vote {
                reports.push(Report {
                    instance: *instance,
                    round: *round,
                    value: value.clone(),
                    decided: false,
                });
            }
        }
        reports
    }

    fn on_elect(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        from_instance: Instance,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        self.observe_ballot(ballot, now);
        self.election.heard_leader(now);
        out.persist(Message::Elect {
            ballot,
            from: from_instance,
        });
        let forgotten = self.log.forgotten();
        for (part, reports) in parts_of(self.reports_from(from_instance), now.0, report_size) {
            out.send_replica(
                from,
                Message::Elected {
                    ballot,
                    forgotten,
                    part,
                    reports,
                },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_elected(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        forgotten: Instance,
        part: Part,
        reports: Vec<Report>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot > self.ballot {
            return self.observe_ballot(ballot, now);
        }
        let Role::Candidate(e) = &mut self.role else { return };
        if ballot != self.ballot || e.replied.voters().contains(from) {
            return;
        }
        if forgotten > e.from {
            // `from` released instances this candidate never executed: it
            // cannot recover them, so it fetches them and leaves leading to
            // a replica that has them.
            self.role = Role::Follower;
            self.last_catch_up = Some(now);
            let frontier = self.log.execution_frontier();
            return out.send_replica(from, Message::CatchUp { from: frontier });
        }
        let Some(reports) = e.arriving.add(from, part, reports) else {
            return;
        };
        e.replied.add(from);
        let slot = e.replied.count() - 1;
        for r in reports {
            if r.decided {
                e.decided.insert(r.instance, r.value);
                continue;
            }
            let votes = e.votes.entry(r.instance).or_default();
            votes.resize(slot, None);
            votes.push(Some((r.round, r.value)));
        }
        if e.replied.reached(self.quorums.majority()) {
            self.become_leader(now, out);
        }
    }

    /// With a majority's reports: decided instances are committed, every
    /// other reported instance (and hole) gets a classic round with the
    /// value [`pick`] allows, and fast rounds open after the last of them.
    fn become_leader(&mut self, now: Time, out: &mut Outbox<Message>) {
        let Role::Candidate(e) = std::mem::replace(
            &mut self.role,
            Role::Leader {
                last_heartbeat: now,
                classic: BTreeMap::new(),
            },
        ) else {
            return;
        };
        let replied = e.replied.count();
        let last_reported = e.votes.keys().chain(e.decided.keys()).max().copied();
        let open_from = last_reported.map_or(e.from, |i| i + 1).max(e.from);
        let round = Round::new(self.ballot, Step::Classic);
        for (instance, value) in e.decided {
            out.broadcast(Message::Commit {
                instance,
                value: value.clone(),
            });
            self.decide(instance, value, false, now, out);
        }
        for instance in e.from..open_from {
            if self.log.is_committed(instance) {
                continue;
            }
            let mut reports = e.votes.get(&instance).cloned().unwrap_or_default();
            reports.resize(replied, None);
            let value = pick(&reports, self.n(), self.quorums.fast_paxos());
            if let Role::Leader { classic, .. } = &mut self.role {
                classic.insert(
                    instance,
                    ClassicRound {
                        round,
                        promises: ReplyCollector::new(),
                        proposed: Some(value.clone()),
                        sent: now,
                    },
                );
            }
            out.broadcast(Message::Accept {
                instance,
                round,
                value: value.clone(),
            });
            self.on_accept(self.id, instance, round, value, now, out);
        }
        self.open_fast_rounds(open_from, now, out);
        self.send_heartbeat(out);
    }

    fn open_fast_rounds(&mut self, from: Instance, now: Time, out: &mut Outbox<Message>) {
        self.open_from = Some(from);
        self.next_fast = from;
        // Votes of older ballots at or above `from` are void: vote again.
        self.queue.void_from(from);
        self.vote_queued(now, out);
    }

    /// The leader's heartbeat: its frontier, where fast rounds are open,
    /// and what every replica executed (everyone forgets below it).
    fn send_heartbeat(&mut self, out: &mut Outbox<Message>) {
        let frontier = self.log.execution_frontier();
        self.executed.report(self.id, frontier);
        let stable = self.executed.stable_within(self.release_lag, self.id);
        if let Some(open_from) = self.open_from {
            out.broadcast(Message::Heartbeat {
                ballot: self.ballot,
                frontier,
                open_from,
                stable,
            });
            self.log.forget_below(stable);
        }
    }

    fn on_heartbeat(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        frontier: Instance,
        open_from: Instance,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        self.observe_ballot(ballot, now);
        self.election.heard_leader(now);
        if self.open_from.is_none() {
            self.open_fast_rounds(open_from, now, out);
        }
        self.leader_frontier = self.leader_frontier.max(frontier);
        self.request_catch_up_if_behind(now, out);
    }

    fn request_catch_up_if_behind(&mut self, now: Time, out: &mut Outbox<Message>) {
        let frontier = self.log.execution_frontier();
        if self.leader_frontier <= frontier
            || self.last_catch_up.is_some_and(|t| now.since(t) < self.timing.retry)
            || self.incoming.is_arriving(now, self.timing.retry)
        {
            return;
        }
        self.last_catch_up = Some(now);
        out.send_replica(self.ballot.leader(self.n()), Message::CatchUp { from: frontier });
    }

    /// Decisions from `from_instance`, or the executed state if this
    /// replica released instances the asker has not executed.
    fn on_catch_up(&mut self, from: ReplicaId, from_instance: Instance, now: Time, out: &mut Outbox<Message>) {
        if from_instance < self.log.forgotten() {
            if self.images.may_send(from, now, self.timing.leader_timeout) {
                let (ballot, of, executed) = (self.ballot, self.id, self.log.execution_frontier());
                let chunks = self.state.chunks(PART_BYTES);
                let parts = chunks.len() as u32;
                for (i, state) in chunks.into_iter().enumerate() {
                    out.send_replica(
                        from,
                        Message::Snapshot {
                            ballot,
                            of,
                            stable: executed,
                            executed,
                            part: i as u32,
                            parts,
                            state,
                        },
                    );
                }
            }
            return;
        }
        for (instance, e) in self
            .log
            .entries_from(from_instance)
            .filter(|(_, e)| e.committed)
            .take(CATCH_UP_CHUNK)
        {
            out.send_replica(
                from,
                Message::Commit {
                    instance,
                    value: e.value.clone(),
                },
            );
        }
    }
}

impl FastPaxosReplica {
    /// Part of another replica's image arrived; once whole it replaces this
    /// replica's executed state (recorded first), and catch-up goes on
    /// from the image's frontier.
    fn on_image(
        &mut self,
        of: ReplicaId,
        executed: Instance,
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
        self.install(of, executed, image, out);
        self.last_catch_up = None;
        self.request_catch_up_if_behind(now, out);
    }

    /// Replaces the executed state with an image taken after every instance
    /// below `executed`; what this replica held about those instances goes,
    /// and commands the image executed leave the queue.
    fn install(&mut self, of: ReplicaId, executed: Instance, image: Vec<StateChunk>, out: &mut Outbox<Message>) {
        if !install_image(&mut self.state, &mut self.log, executed, executed, image) {
            return;
        }
        self.instances = self.instances.split_off(&executed);
        self.decided_fast.retain(|instance, _| *instance >= executed);
        let state = &self.state;
        self.decided_ids.retain(|id| !state.has_executed(*id));
        self.reply_to.retain(|id| !state.has_executed(*id));
        self.queue.installed(executed, |id| state.has_executed(id));
        self.next_fast = self.next_fast.max(executed);
        self.incoming.forget_below(executed);
        if of != self.id {
            out.installed(of, self.state.applied_count());
        }
        self.execute(out);
    }
}

/// Roughly how many bytes a report takes in an `Elected`.
fn report_size(r: &Report) -> usize {
    64 + r.value.iter().map(|(_, c)| 48 + c.value_len()).sum::<usize>()
}
