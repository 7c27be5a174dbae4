//! The sans-IO interface every protocol implements, replica side and client side.
//!
//! A host (the simulator in `runtime::sim`, or the thread-per-core runtime)
//! owns the clock and the sockets. It calls [`ReplicaProtocol::handle`] for each
//! arriving message, [`ReplicaProtocol::tick`] periodically, and
//! [`ReplicaProtocol::flush`] when it has drained its inbox; then it carries out
//! the [`Action`]s left in the [`Outbox`]. Protocols never block, sleep or read
//! a clock, so a simulated run is reproducible from its seed.
//!
//! Crash and restart: a protocol says what must survive a crash with
//! [`Action::Persist`] (a record is a message to its own future self: the
//! promise it made, the value it accepted, the decision it learnt). The host
//! puts every record on stable storage before any message queued after it
//! leaves — persist, then send, as `raft-rs`'s `Ready` orders them — and
//! after a restart replays the synced records, oldest first, through
//! [`ReplicaProtocol::restore`] on a fresh replica. Written once here and in
//! the hosts; each protocol only says what to record and how to rebuild.

use crate::command::{Command, CommandResult};
use crate::ids::{ClientId, CommandId, NodeId, ReplicaId};
use crate::quorum::QuorumSystem;
use crate::rejoin::RejoinPoint;
use crate::time::Time;
use std::fmt::Debug;
use std::time::Duration;

/// Something a protocol asks its host to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<M> {
    /// Deliver `msg` to one node.
    Send { to: NodeId, msg: M },
    /// Deliver `msg` to every other replica (the host may encode it once).
    Broadcast(M),
    /// This replica applied `CommandId` to its state machine, for the first
    /// time. Hosts feed it to the agreement checker and to metrics.
    Executed(CommandId),
    /// This replica replaced its executed state with `donor`'s image, taken
    /// after the donor's state machine had applied `applied` commands (a
    /// state transfer, [`crate::transfer`]): the commands it skipped count
    /// as executed here, in the donor's order.
    Installed { donor: ReplicaId, applied: u64 },
    /// Put `record` on stable storage: no message queued after it may leave
    /// before it is synced, since those messages may carry the promise or
    /// vote it records. Replayed by [`ReplicaProtocol::restore`].
    Persist(M),
}

/// The actions a protocol produced during one call, in order.
#[derive(Debug)]
pub struct Outbox<M> {
    actions: Vec<Action<M>>,
    /// Whether the host stores [`Action::Persist`] records. A host without
    /// stable storage says no, so protocols skip building them (a vote's
    /// record copies the command and its dependencies).
    keeps_records: bool,
    /// How many actions the last drain took: [`Outbox::trim`] keeps room
    /// for a step like it.
    last_drained: usize,
}

impl<M> Default for Outbox<M> {
    fn default() -> Self {
        Outbox {
            actions: Vec::new(),
            keeps_records: true,
            last_drained: 0,
        }
    }
}

impl<M> Outbox<M> {
    /// An empty outbox; hosts keep one and reuse it.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty outbox for a host that stores nothing (volatile mode):
    /// [`Outbox::persist`] and [`Outbox::persist_with`] queue nothing.
    pub fn without_records() -> Self {
        Outbox {
            actions: Vec::new(),
            keeps_records: false,
            last_drained: 0,
        }
    }

    /// Whether records are wanted (see [`Outbox::without_records`]).
    pub fn keeps_records(&self) -> bool {
        self.keeps_records
    }

    /// Queues `msg` for `to`.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.actions.push(Action::Send { to, msg });
    }

    /// Queues `msg` for replica `to`.
    pub fn send_replica(&mut self, to: ReplicaId, msg: M) {
        self.send(NodeId::Replica(to), msg);
    }

    /// Queues `msg` for client `to`.
    pub fn send_client(&mut self, to: ClientId, msg: M) {
        self.send(NodeId::Client(to), msg);
    }

    /// Queues `msg` for every replica but the sender.
    pub fn broadcast(&mut self, msg: M) {
        self.actions.push(Action::Broadcast(msg));
    }

    /// Reports a first execution of `id`.
    pub fn executed(&mut self, id: CommandId) {
        self.actions.push(Action::Executed(id));
    }

    /// Reports a state transfer installed from `donor` (see [`Action::Installed`]).
    pub fn installed(&mut self, donor: ReplicaId, applied: u64) {
        self.actions.push(Action::Installed { donor, applied });
    }

    /// Records `record` durably before any later message leaves (see
    /// [`Action::Persist`]).
    pub fn persist(&mut self, record: M) {
        if self.keeps_records {
            self.actions.push(Action::Persist(record));
        }
    }

    /// [`Outbox::persist`] for a record that costs something to build: `build`
    /// runs only when the host keeps records.
    pub fn persist_with(&mut self, build: impl FnOnce() -> M) {
        if self.keeps_records {
            self.actions.push(Action::Persist(build()));
        }
    }

    /// Turns each queued broadcast that `pick` selects into sends to the
    /// replicas among `0..n` (but `me`) that `keep` accepts: for a replica
    /// that must stop hearing some messages (SwiftPaxos's leader and a
    /// replica behind what it released).
    pub fn narrow_broadcasts(
        &mut self,
        n: usize,
        me: ReplicaId,
        pick: impl Fn(&M) -> bool,
        keep: impl Fn(ReplicaId) -> bool,
    ) where
        M: Clone,
    {
        if !self
            .actions
            .iter()
            .any(|a| matches!(a, Action::Broadcast(msg) if pick(msg)))
        {
            return;
        }
        let actions = std::mem::take(&mut self.actions);
        for action in actions {
            match action {
                Action::Broadcast(msg) if pick(&msg) => {
                    for r in (0..n).filter(|&r| r != me && keep(r)) {
                        self.actions.push(Action::Send {
                            to: NodeId::Replica(r),
                            msg: msg.clone(),
                        });
                    }
                }
                other => self.actions.push(other),
            }
        }
    }

    /// Takes every queued action, leaving the outbox empty.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action<M>> {
        self.last_drained = self.actions.len();
        self.actions.drain(..)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Gives back the room a burst of actions took (a catch-up executes
    /// thousands of commands in one step), once the outbox is drained:
    /// hosts call it between steps so that a replica does not hold the
    /// size of its largest step for good.
    /// Steps of the usual size never shrink it (that would reallocate on
    /// every step under load): only room eight times the last step's
    /// ([`crate::shrink::give_back_for`]).
    pub fn trim(&mut self) {
        if self.actions.is_empty() {
            crate::shrink::give_back_for(&mut self.actions, self.last_drained);
        }
    }

    /// The queued actions, for tests.
    pub fn actions(&self) -> &[Action<M>] {
        &self.actions
    }

    /// Moves every action of `inner` (a wrapped protocol's outbox) into this
    /// one, wrapping its messages with `wrap`; lets a protocol built on
    /// another (CURP on N2Paxos) reuse it whole.
    pub fn absorb<N>(&mut self, inner: &mut Outbox<N>, mut wrap: impl FnMut(N) -> M) {
        let keeps_records = self.keeps_records;
        self.actions.extend(inner.drain().filter_map(|a| match a {
            Action::Send { to, msg } => Some(Action::Send { to, msg: wrap(msg) }),
            Action::Broadcast(msg) => Some(Action::Broadcast(wrap(msg))),
            Action::Executed(id) => Some(Action::Executed(id)),
            Action::Installed { donor, applied } => Some(Action::Installed { donor, applied }),
            Action::Persist(record) => keeps_records.then(|| Action::Persist(wrap(record))),
        }));
    }
}

/// Timeouts, derived from the deployment's latencies so that the same code
/// works on loopback and across continents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How often a host calls `tick`.
    pub tick: Duration,
    /// How often a leader with nothing to send tells followers it is alive.
    pub heartbeat: Duration,
    /// How long a follower waits without hearing the leader before it tries
    /// to take over; successors in ballot order wait longer, so that one
    /// candidate usually runs alone.
    pub leader_timeout: Duration,
    /// How long before an unanswered message (a client's command, a leader's
    /// accept, a follower's catch-up request) is sent again.
    pub retry: Duration,
}

impl Timing {
    /// Timeouts for a deployment whose largest one-way delay is `max_delay`.
    pub fn for_max_delay(max_delay: Duration) -> Timing {
        let d = max_delay.max(Duration::from_millis(1));
        Timing {
            tick: (d / 4).clamp(Duration::from_millis(1), Duration::from_millis(20)),
            heartbeat: (d * 2).max(Duration::from_millis(10)),
            leader_timeout: d * 10 + Duration::from_millis(50),
            retry: d * 8 + Duration::from_millis(20),
        }
    }
}

/// Test-only switches that break a protocol on purpose: each exists to prove
/// that the checkers catch the bug it plants. Always off outside tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliberateBugs {
    /// Multi-Paxos: a new leader skips phase 1 and proposes into slots it
    /// believes free, without learning what a majority may have accepted.
    pub paxos_skip_phase1: bool,
    /// EPaxos: a replica executes each command as soon as it commits,
    /// ignoring its dependencies.
    pub epaxos_execute_on_commit: bool,
    /// Host, not protocol: messages leave before the records queued ahead
    /// of them are synced, so a crash can lose a promise or a vote that
    /// others already counted (the simulator honours it with restarts).
    pub send_before_sync: bool,
    /// Host, not protocol: a replica restarted without its state votes at
    /// once, as a fresh replica, instead of rejoining ([`crate::rejoin`]).
    pub rejoin_at_once: bool,
    /// Host, not protocol: a replica whose log has a storage fault (a
    /// damaged entry that was synced) cuts it at the first bad entry and
    /// votes on what is left, instead of rejoining.
    pub trust_damaged_log: bool,
}

/// What a replica needs to know to start.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    /// This replica's id, `0..n`.
    pub id: ReplicaId,
    /// The deployment's quorums (and so `n`).
    pub quorums: QuorumSystem,
    /// Timeouts.
    pub timing: Timing,
    /// Planted bugs, for checker tests only.
    pub bugs: DeliberateBugs,
    /// How many log positions (slots, instances) a replica may fall behind
    /// the leader before the others release past it instead of
    /// holding their logs for it: memory stays bounded while a replica is
    /// down or slow, and it rejoins by state transfer.
    pub release_lag: u64,
}

/// The default [`ReplicaConfig::release_lag`]: 16,384 positions, a few
/// seconds of a loaded Multi-Paxos (slots hold up to 256 commands).
pub const DEFAULT_RELEASE_LAG: u64 = 16_384;

/// What a client needs to know to start.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// This client's id.
    pub id: ClientId,
    /// The deployment's quorums (and so `n`).
    pub quorums: QuorumSystem,
    /// The replica nearest to the client, for protocols that read locally
    /// or wait for the closest replica (the original's `waitClosest`).
    pub closest: ReplicaId,
    /// Timeouts.
    pub timing: Timing,
    /// Also wait for the closest replica's answer (the original's
    /// `waitClosest`): the client completes on whichever comes first.
    pub wait_closest: bool,
}

/// A command the client has an answer for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Which command.
    pub id: CommandId,
    /// Its result.
    pub result: CommandResult,
    /// Whether it finished on the protocol's fast path (`None` for protocols
    /// that have only one path).
    pub fast_path: Option<bool>,
}

/// The replica side of a protocol.
pub trait ReplicaProtocol {
    /// Every message the protocol exchanges, between replicas and with clients.
    type Message: Clone + Debug;

    /// Whether the protocol records what must survive a crash
    /// ([`Action::Persist`]) and rebuilds itself from it
    /// ([`ReplicaProtocol::restore`]); hosts refuse to restart a replica
    /// from its records when it does not, rather than let it come back
    /// with amnesia.
    const DURABLE: bool = false;

    /// Whether every replica executes the same sequence of commands (a log
    /// of slots or instances), rather than only conflicting commands in
    /// the same order (the dependency protocols). Checkers hold a state
    /// transfer to the stricter rule when it does: the image must hold
    /// what the receiver had executed, in its order.
    const EXECUTES_ONE_SEQUENCE: bool = true;

    /// A replica in its initial state.
    fn new(config: ReplicaConfig) -> Self;

    /// Replays one record this replica persisted before it crashed, on a
    /// replica fresh from [`ReplicaProtocol::new`], oldest record first and
    /// before any other call. Re-executing decisions reports
    /// [`Action::Executed`] again (the host learns what the rebuilt state
    /// holds); messages queued here are dropped.
    fn restore(&mut self, _record: Self::Message, _out: &mut Outbox<Self::Message>) {}

    /// Records that rebuild this replica as it is now, to replace every
    /// record it persisted so far (hosts compact their logs with it, right
    /// after a sync, when nothing is unsynced). Empty when the protocol
    /// cannot summarise itself: its log then keeps every record.
    fn snapshot(&self) -> Vec<Self::Message> {
        Vec::new()
    }

    /// Whether a replica restarted without its state can rejoin
    /// ([`crate::rejoin`]): the protocol reports a [`RejoinPoint`], says
    /// when it [`covers`](ReplicaProtocol::covers) one, and its
    /// [`snapshot`](ReplicaProtocol::snapshot) rebuilds another replica.
    const REJOINS: bool = false;

    /// The highest ballot and log positions this replica knows of, for a
    /// replica rejoining after losing its state: it waits until a donor
    /// covers every other replica's point.
    fn rejoin_point(&self) -> RejoinPoint {
        RejoinPoint::default()
    }

    /// Whether this replica's snapshot may rebuild a rejoining replica that
    /// waits for `point`: its ballot is at least as high, and everything
    /// below every mark is decided here.
    fn covers(&self, _point: &RejoinPoint) -> bool {
        false
    }

    /// Handles one message from `from`.
    fn handle(&mut self, from: NodeId, msg: Self::Message, now: Time, out: &mut Outbox<Self::Message>);

    /// About to handle `arrived` (everything that came since the last
    /// round), in order: a chance to look up what they will touch, so that
    /// tables far larger than the cache miss once per round in parallel
    /// rather than once per message in turn. Changes nothing; the default
    /// does nothing.
    fn warm<'a>(&self, _arrived: impl Iterator<Item = &'a Self::Message>)
    where
        Self::Message: 'a,
    {
    }

    /// Lets time-driven behaviour run: heartbeats, suspicion, retransmission.
    fn tick(&mut self, now: Time, out: &mut Outbox<Self::Message>);

    /// Called when the host has no more input for now; protocols that batch
    /// send what they gathered. The default has nothing gathered.
    fn flush(&mut self, _now: Time, _out: &mut Outbox<Self::Message>) {}

    /// The replica this one currently follows, for tests and metrics.
    fn leader(&self) -> Option<ReplicaId>;

    /// Whether this replica's state machine applied `id`: after a state
    /// transfer of a protocol that does not execute one sequence
    /// ([`ReplicaProtocol::EXECUTES_ONE_SEQUENCE`]), checkers learn from it
    /// which commands the installed image stood for.
    fn has_executed(&self, _id: CommandId) -> bool {
        false
    }

    /// One line on the replica's state, printed when a simulated run fails.
    fn describe(&self) -> String {
        String::new()
    }
}

/// The client side of a protocol: whom to send a command, when it is done.
pub trait ClientProtocol {
    /// The protocol's message type (shared with its replicas).
    type Message: Clone + Debug;

    /// A client with nothing in flight.
    fn new(config: ClientConfig) -> Self;

    /// Starts `command` under `id`.
    fn submit(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Self::Message>);

    /// Handles a replica's message; returns the commands it completes.
    fn handle(
        &mut self,
        from: ReplicaId,
        msg: Self::Message,
        now: Time,
        out: &mut Outbox<Self::Message>,
    ) -> Option<Completion>;

    /// Retransmits what went unanswered for too long.
    fn tick(&mut self, now: Time, out: &mut Outbox<Self::Message>);

    /// A replica restarted without its state ([`crate::rejoin`]): answers
    /// held from its earlier life must no longer count, so clients that
    /// count votes drop every answer they hold (replicas answer the
    /// retransmitted commands again). The default holds none.
    fn forget_answers(&mut self) {}

    /// The host's link to `replica` failed (its connection closed or could
    /// not be made): a client that asks one replica first stops asking it
    /// ([`crate::preferred`]). The default ignores it.
    fn unreachable(&mut self, _replica: ReplicaId, _now: Time) {}
}

/// Ties a protocol's replica and client sides together under one name, so
/// hosts are generic over protocols.
pub trait Protocol {
    /// The message type of both sides.
    type Message: Clone + Debug;
    /// The replica side.
    type Replica: ReplicaProtocol<Message = Self::Message>;
    /// The client side.
    type Client: ClientProtocol<Message = Self::Message>;
    /// The protocol's name on the command line.
    const NAME: &'static str;
}
