//! The CURP replica: an N2Paxos replica, a witness, and — while it leads —
//! the master that answers speculatively.

use super::messages::Message;
use super::unsynced::Unsynced;
use crate::ballot::Ballot;
use crate::command::Command;
use crate::ids::{CommandId, NodeId, ReplicaId};
use crate::log::Batch;
use crate::paxos::{self, PaxosReplica};
use crate::protocol::{Action, Outbox, ReplicaConfig, ReplicaProtocol, Timing};
use crate::quorum::{QuorumSystem, Votes};
use crate::rejoin::RejoinPoint;
use crate::speculation::Speculation;
use crate::time::Time;
use std::collections::{BTreeMap, HashSet};

/// What the master is doing in its ballot.
#[derive(Debug)]
enum MasterPhase {
    /// This replica does not lead.
    Idle,
    /// Phase 1 is done; collecting witness reports before serving, with
    /// client commands held until the replay is proposed.
    Replaying(Replay),
    /// Answering and proposing client commands.
    Serving,
}

#[derive(Debug, Default)]
struct Replay {
    reports: Votes,
    /// Per command: how many reporting witnesses hold it.
    witnessed: BTreeMap<CommandId, (Command, usize)>,
    held: Vec<(CommandId, Command)>,
    sent: Time,
}

/// The master's state for one ballot.
#[derive(Debug)]
struct Master {
    ballot: Ballot,
    phase: MasterPhase,
    /// Commands proposed in this ballot (or recovered) and not executed.
    unsynced: Unsynced,
    speculation: Speculation,
    /// Commands admitted since the last flush: they will share one slot.
    open_batch: HashSet<CommandId>,
    /// Commands that conflict with an unsynced one, in arrival order.
    blocked: Vec<(CommandId, Command)>,
    /// Speculative answers, sent at the next flush: after the proposal of
    /// their slot, so after the master's own vote is recorded (it counts
    /// as one of the slow path's majority).
    answers: Vec<(CommandId, Message)>,
}

impl Master {
    fn new(ballot: Ballot, phase: MasterPhase) -> Self {
        Master {
            ballot,
            phase,
            unsynced: Unsynced::new(),
            speculation: Speculation::new(),
            open_batch: HashSet::new(),
            blocked: Vec::new(),
            answers: Vec::new(),
        }
    }
}

/// A CURP replica.
#[derive(Debug)]
pub struct CurpReplica {
    id: ReplicaId,
    quorums: QuorumSystem,
    timing: Timing,
    paxos: PaxosReplica,
    /// The wrapped replica's actions, before they are wrapped in [`Message::Paxos`].
    scratch: Outbox<paxos::Message>,
    witness: Unsynced,
    master: Master,
}

impl ReplicaProtocol for CurpReplica {
    type Message = Message;

    /// Records: N2Paxos's (promises, accepted slots, decisions), and each
    /// command the witness holds, as the `Request` it recorded.
    const DURABLE: bool = true;

    /// N2Paxos's records rebuild the log and the executed state; a witness
    /// record goes back into the witness unless it executed since (synced
    /// commands leave the witness, as they did before the crash). The
    /// replica returns as a follower with no master state.
    fn restore(&mut self, record: Message, out: &mut Outbox<Message>) {
        match record {
            Message::Paxos(paxos::Message::Request { id, command }) if !self.paxos.state().has_executed(id) => {
                self.witness.insert(id, command);
            }
            Message::Paxos(m) => self.paxos.restore(m, &mut self.scratch),
            _ => {}
        }
        for action in self.scratch.drain() {
            match action {
                Action::Executed(id) => {
                    self.witness.remove(id);
                    out.executed(id);
                }
                Action::Installed { donor, applied } => {
                    let state = self.paxos.state();
                    self.witness.remove_where(|id| state.has_executed(id));
                    out.installed(donor, applied);
                }
                _ => {}
            }
        }
        self.master = Master::new(self.paxos.ballot(), MasterPhase::Idle);
    }

    /// N2Paxos's snapshot, then what the witness holds.
    fn snapshot(&self) -> Vec<Message> {
        let mut records: Vec<Message> = self.paxos.snapshot().into_iter().map(Message::Paxos).collect();
        records.extend(
            self.witness
                .snapshot()
                .into_iter()
                .map(|(id, command)| Message::Paxos(paxos::Message::Request { id, command })),
        );
        records
    }

    const REJOINS: bool = true;

    /// N2Paxos's: a command the master answered speculatively sits in a
    /// slot it proposed in the same step, so the slots cover the witness
    /// answers that counted with it.
    fn rejoin_point(&self) -> RejoinPoint {
        self.paxos.rejoin_point()
    }

    fn covers(&self, point: &RejoinPoint) -> bool {
        self.paxos.covers(point)
    }

    fn new(config: ReplicaConfig) -> Self {
        let (id, quorums, timing) = (config.id, config.quorums.clone(), config.timing);
        let paxos = PaxosReplica::with_learning(config, true);
        // Nothing was recorded anywhere before the first ballot: its leader serves at once.
        let phase = if paxos.is_leader() {
            MasterPhase::Serving
        } else {
            MasterPhase::Idle
        };
        let master = Master::new(paxos.ballot(), phase);
        CurpReplica {
            id,
            quorums,
            timing,
            paxos,
            scratch: Outbox::new(),
            witness: Unsynced::new(),
            master,
        }
    }

    fn handle(&mut self, from: NodeId, msg: Message, now: Time, out: &mut Outbox<Message>) {
        match msg {
            Message::Paxos(paxos::Message::Request { id, command }) if matches!(from, NodeId::Client(_)) => {
                self.on_request(id, command, now, out)
            }
            Message::Paxos(paxos::Message::Accept { ballot, slot, value }) => {
                let value_for_clients = value.clone();
                self.paxos.handle(
                    from,
                    paxos::Message::Accept { ballot, slot, value },
                    now,
                    &mut self.scratch,
                );
                // The vote's record goes out first: clients count `Ordered` as the vote.
                self.after_paxos(now, out);
                if self.paxos.accepted(slot).is_some_and(|(b, _)| b == ballot) {
                    tell_clients_ordered(ballot, &value_for_clients, out);
                }
            }
            Message::Paxos(m) => self.paxos.handle(from, m, now, &mut self.scratch),
            Message::WitnessQuery { ballot } => {
                if let NodeId::Replica(r) = from {
                    if self.paxos.ballot() == ballot {
                        out.send_replica(
                            r,
                            Message::WitnessReport {
                                ballot,
                                records: self.witness.snapshot(),
                            },
                        );
                    }
                }
            }
            Message::WitnessReport { ballot, records } => {
                if let NodeId::Replica(r) = from {
                    self.on_witness_report(r, ballot, records, now);
                }
            }
            Message::Recorded { .. } | Message::SpecReply { .. } | Message::Ordered { .. } => {}
        }
        self.after_paxos(now, out);
    }

    fn tick(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.paxos.tick(now, &mut self.scratch);
        if let MasterPhase::Replaying(replay) = &mut self.master.phase {
            if now.since(replay.sent) >= self.timing.retry {
                replay.sent = now;
                out.broadcast(Message::WitnessQuery {
                    ballot: self.master.ballot,
                });
            }
        }
        self.after_paxos(now, out);
    }

    fn flush(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.paxos.flush(now, &mut self.scratch);
        self.master.open_batch.clear();
        self.after_paxos(now, out);
        for (id, answer) in self.master.answers.drain(..) {
            out.send_client(id.client, answer);
        }
    }

    fn leader(&self) -> Option<ReplicaId> {
        self.paxos.leader()
    }

    fn describe(&self) -> String {
        let phase = match self.master.phase {
            MasterPhase::Idle => "",
            MasterPhase::Replaying(_) => ", master replaying witnesses",
            MasterPhase::Serving => ", master serving",
        };
        format!(
            "{}; witness holds {}{phase}, {} blocked",
            self.paxos.describe(),
            self.witness.len(),
            self.master.blocked.len()
        )
    }
}

impl CurpReplica {
    /// A client's command: record it as a witness, and as master answer or hold it.
    fn on_request(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        let synced = self.paxos.state().has_executed(id);
        let held_before = self.witness.contains(id);
        if !synced && self.witness.record_if_commutes(id, &command) {
            if !held_before {
                // The client counts this record toward durability: keep it first.
                out.persist_with(|| {
                    Message::Paxos(paxos::Message::Request {
                        id,
                        command: command.clone(),
                    })
                });
            }
            out.send_client(
                id.client,
                Message::Recorded {
                    ballot: self.paxos.ballot(),
                    id,
                },
            );
        }
        match &mut self.master.phase {
            MasterPhase::Idle => {}
            MasterPhase::Replaying(replay) => replay.held.push((id, command)),
            MasterPhase::Serving => self.admit_or_block(id, command, now),
        }
    }

    /// The master's rule. A command is proposed only when every unsynced
    /// command it conflicts with is still in the open batch, so that the
    /// two share a slot: a later slot holding it could otherwise be chosen
    /// while the earlier conflicting one is lost, and recovery would replay
    /// that one after it. It is answered speculatively when those commands
    /// were speculated too (their writes are in the overlay). Any other
    /// command waits until what it conflicts with has executed.
    fn admit_or_block(&mut self, id: CommandId, command: Command, now: Time) {
        let m = &mut self.master;
        if self.paxos.state().has_executed(id) {
            // Executed already: the Paxos replica answers with the stored result.
            return self.paxos.handle(
                NodeId::Client(id.client),
                paxos::Message::Request { id, command },
                now,
                &mut self.scratch,
            );
        }
        if m.unsynced.contains(id) {
            if m.speculation.contains(id) {
                let result = m.speculation.execute(self.paxos.state(), id, &command);
                let commutes = m.unsynced.conflicting(id, &command).is_empty();
                m.answers.push((
                    id,
                    Message::SpecReply {
                        ballot: m.ballot,
                        id,
                        result,
                        commutes,
                    },
                ));
            }
            return;
        }
        let conflicting = m.unsynced.conflicting(id, &command);
        if conflicting.iter().any(|c| !m.open_batch.contains(c)) {
            if !m.blocked.iter().any(|(b, _)| *b == id) {
                m.blocked.push((id, command));
            }
            return;
        }
        if conflicting.iter().all(|c| m.speculation.contains(*c)) {
            let result = m.speculation.execute(self.paxos.state(), id, &command);
            let commutes = conflicting.is_empty();
            m.answers.push((
                id,
                Message::SpecReply {
                    ballot: m.ballot,
                    id,
                    result,
                    commutes,
                },
            ));
        }
        m.unsynced.insert(id, command.clone());
        m.open_batch.insert(id);
        self.paxos.handle(
            NodeId::Client(id.client),
            paxos::Message::Request { id, command },
            now,
            &mut self.scratch,
        );
        if m.open_batch.len() >= paxos::replica::MAX_BATCH {
            self.paxos.flush(now, &mut self.scratch);
            self.master.open_batch.clear();
        }
    }

    fn on_witness_report(&mut self, from: ReplicaId, ballot: Ballot, records: Vec<(CommandId, Command)>, now: Time) {
        let MasterPhase::Replaying(replay) = &mut self.master.phase else {
            return;
        };
        if ballot != self.master.ballot || !replay.reports.add(from) {
            return;
        }
        for (id, command) in records {
            replay.witnessed.entry(id).or_insert((command, 0)).1 += 1;
        }
        if replay.reports.reached(self.quorums.majority()) {
            self.finish_replay(now);
        }
    }

    /// With reports from `R` witnesses, a command that completed on the fast
    /// path was recorded by at least `3n/4 + 1 - (n - R)` of them: those are
    /// proposed again, after everything phase 1 recovered. Two conflicting
    /// commands cannot both reach that count (no witness holds both), so the
    /// replayed commands commute and their order does not matter.
    fn finish_replay(&mut self, now: Time) {
        let MasterPhase::Replaying(replay) = std::mem::replace(&mut self.master.phase, MasterPhase::Serving) else {
            return;
        };
        let n = self.quorums.n();
        let threshold = (self.quorums.three_quarters() + replay.reports.count())
            .saturating_sub(n)
            .max(1);
        let state = self.paxos.state();
        let recovered: Vec<_> = self
            .paxos
            .unexecuted()
            .filter(|(id, _)| !state.has_executed(*id))
            .map(|(id, c)| (id, c.clone()))
            .collect();
        for (id, command) in recovered {
            self.master.unsynced.insert(id, command);
        }
        for (id, (command, count)) in replay.witnessed {
            if count < threshold || self.master.unsynced.contains(id) || self.paxos.state().has_executed(id) {
                continue;
            }
            self.master.unsynced.insert(id, command.clone());
            self.paxos.handle(
                NodeId::Replica(self.id),
                paxos::Message::Request { id, command },
                now,
                &mut self.scratch,
            );
        }
        // The replayed commands get slots of their own, before anything new.
        self.paxos.flush(now, &mut self.scratch);
        for (id, command) in replay.held {
            self.admit_or_block(id, command, now);
        }
    }

    /// Moves the Paxos replica's actions out; executed commands are synced
    /// (witness and master drop them, blocked commands may go); a change of
    /// ballot or leadership resets the master.
    fn after_paxos(&mut self, now: Time, out: &mut Outbox<Message>) {
        // Each round only proposes (no execution without new input), so this ends.
        loop {
            let executed: Vec<CommandId> = self
                .scratch
                .actions()
                .iter()
                .filter_map(|a| if let Action::Executed(id) = a { Some(*id) } else { None })
                .collect();
            let installed = self
                .scratch
                .actions()
                .iter()
                .any(|a| matches!(a, Action::Installed { .. }));
            out.absorb(&mut self.scratch, Message::Paxos);
            if installed {
                // A state transfer executed commands without naming them.
                let state = self.paxos.state();
                self.witness.remove_where(|id| state.has_executed(id));
                self.master.unsynced.remove_where(|id| state.has_executed(id));
            }
            for id in &executed {
                self.witness.remove(*id);
                if let Some(command) = self.master.unsynced.remove(*id) {
                    self.master.speculation.settle(*id, &command);
                }
            }
            self.follow_leadership(now, out);
            if !executed.is_empty() && matches!(self.master.phase, MasterPhase::Serving) {
                for (id, command) in std::mem::take(&mut self.master.blocked) {
                    self.admit_or_block(id, command, now);
                }
            }
            if self.scratch.is_empty() {
                self.scratch.trim();
                return;
            }
        }
    }

    fn follow_leadership(&mut self, now: Time, out: &mut Outbox<Message>) {
        let (ballot, leads) = (self.paxos.ballot(), self.paxos.is_leader());
        let serving_here = !matches!(self.master.phase, MasterPhase::Idle);
        if ballot == self.master.ballot && leads == serving_here {
            return;
        }
        self.master = Master::new(ballot, MasterPhase::Idle);
        if leads {
            let mut replay = Replay {
                sent: now,
                ..Replay::default()
            };
            replay.reports.add(self.id);
            for (id, command) in self.witness.snapshot() {
                replay.witnessed.insert(id, (command, 1));
            }
            self.master.phase = MasterPhase::Replaying(replay);
            out.broadcast(Message::WitnessQuery { ballot });
            if self.quorums.majority() == 1 {
                self.finish_replay(now);
            }
        }
    }
}

/// After accepting a slot, an acceptor tells each client with a command in
/// it (CURP's slow path: a majority of these plus the master's answer).
fn tell_clients_ordered(ballot: Ballot, value: &Batch, out: &mut Outbox<Message>) {
    for (id, _) in value.iter() {
        out.send_client(id.client, Message::Ordered { ballot, id: *id });
    }
}
