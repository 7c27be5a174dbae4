//! The normal case: pre-accept, the leader's optimistic answer, the fast
//! and slow paths, commit and execution.

use super::*;

impl SwiftReplica {
    // ----- normal case -------------------------------------------------------

    /// `asks`: whether the client wants the result from this replica once
    /// executed, and whether it wants every `SlowAck` (see the `Propose` message).
    pub(super) fn on_propose(
        &mut self,
        id: CommandId,
        command: Command,
        asks: (bool, bool),
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if let Some(result) = self.state.result_of(id) {
            return out.send_client(
                id.client,
                Message::Executed {
                    id,
                    result: result.clone(),
                },
            );
        }
        if self.graph.is_released(id) || self.state.has_executed(id) {
            return; // executed everywhere long ago; its result is forgotten
        }
        let (reply_on_execution, every_slow_ack) = asks;
        if reply_on_execution || every_slow_ack {
            let record = self.records.get_or_default(id);
            record.notify |= reply_on_execution;
            record.every_slow_ack |= every_slow_ack;
        }
        if !matches!(self.status, Status::Normal) {
            return self.parked.push((id, command));
        }
        if let Some(entry) = self.entry(id) {
            return self.resend_votes(id, entry.phase, entry.deps.clone(), now, out);
        }
        self.graph.revive(id);
        self.pre_accept(id, command, now, out);
    }

    /// A client retried: repeat this replica's votes for it in this ballot.
    pub(super) fn resend_votes(
        &mut self,
        id: CommandId,
        phase: Phase,
        deps: Deps,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        let ballot = self.ballot;
        if self.is_leader() && phase != Phase::Committed {
            let Some(command) = self.entry(id).map(|e| e.command.clone()) else {
                return;
            };
            let answer = self.leader_answer(id, &command, deps);
            return out.send_client(id.client, answer);
        }
        match phase {
            Phase::PreAccepted => out.send_client(
                id.client,
                Message::FastAck {
                    ballot,
                    id,
                    deps,
                    command: None,
                },
            ),
            Phase::Accepted => out.send_client(id.client, Message::SlowAck { ballot, id }),
            Phase::Committed => {
                // Committed but not executed yet here: its result comes when it executes.
                self.fetch_what_is_missing(now, out);
            }
        }
    }

    /// Computes the command's dependencies and votes for them (fast path).
    pub(super) fn pre_accept(&mut self, id: CommandId, command: Command, now: Time, out: &mut Outbox<Message>) {
        let leading = self.is_leader();
        if !leading && !self.votes_fast() {
            // Outside the fixed fast quorum: no vote of our own; wait for the
            // leader's dependencies (the empty set reported here counts for nothing).
            self.conflicts.record(id, &command);
            self.put_entry(
                id,
                Entry {
                    command,
                    phase: Phase::PreAccepted,
                    deps: deps_of([], id),
                    voted_fast: false,
                    touched: now,
                },
            );
            return self.accept_if_leader_spoke(id, now, out);
        }
        let deps = deps_of(self.conflicts.dependencies(&command), id);
        self.conflicts.record(id, &command);
        let ballot = self.ballot;
        // The leader's answer, worked out before the entry takes the
        // command and sent once its vote is recorded.
        let answer = leading.then(|| self.leader_answer(id, &command, deps.clone()));
        let phase = if leading { Phase::Accepted } else { Phase::PreAccepted };
        self.put_entry(
            id,
            Entry {
                command,
                phase,
                deps: deps.clone(),
                voted_fast: !leading,
                touched: now,
            },
        );
        self.record_vote(id, out);
        let me = self.id;
        let tallies_fast = self.follower_fast_votes_count();
        let votes = self.votes_mut(id);
        if tallies_fast {
            votes.fast.add(me, deps.clone());
        }
        // No vote carries the command: every replica has the client's own
        // proposal, or waits for it (as in the paper). A replica that
        // missed it gets it from the leader's retransmission of what stays
        // uncommitted (`retransmit_uncommitted`), or from the client's retry.
        if let Some(answer) = answer {
            votes.leader_deps = Some(deps.clone());
            votes.slow.add(me);
            self.fast_votes.broadcast((ballot, FastVote { id, deps }));
            out.send_client(id.client, answer);
            self.try_commit(id, out);
        } else {
            if tallies_fast {
                self.fast_votes.hold(
                    self.follower_votes_to(ballot),
                    (ballot, FastVote { id, deps: deps.clone() }),
                );
            }
            out.send_client(
                id.client,
                Message::FastAck {
                    ballot,
                    id,
                    deps,
                    command: None,
                },
            );
            self.accept_if_leader_spoke(id, now, out);
        }
    }

    /// The leader's answer to the client: its vote with the optimistic
    /// result when every dependency has executed or was speculated in this
    /// ballot (so the speculative state is the committed order's); otherwise
    /// (right after a leader change) its vote alone, the result following
    /// as `Executed` once the command executes.
    pub(super) fn leader_answer(&mut self, id: CommandId, command: &Command, deps: Deps) -> Message {
        let ballot = self.ballot;
        let speculable = deps
            .iter()
            .all(|d| self.speculation.contains(*d) || self.state.has_executed(*d) || self.graph.is_done(*d));
        if speculable {
            let result = self.speculation.execute(&self.state, id, command);
            self.records.get_or_default(id).replied = true;
            Message::Reply {
                ballot,
                id,
                deps,
                result,
            }
        } else {
            Message::FastAck {
                ballot,
                id,
                deps,
                command: None,
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_fast_ack(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        id: CommandId,
        deps: Deps,
        command: Option<Command>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if self.graph.is_released(id) {
            return; // executed everywhere and forgotten: a stale vote
        }
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
        let tallies_fast = self.follower_fast_votes_count();
        let record = self.records.get_or_default(id);
        if tallies_fast {
            record.votes.fast.add(from, deps.clone());
        }
        if from_leader {
            record.votes.leader_deps = Some(deps);
            record.votes.slow.add(from);
            if record.entry.is_none() && !self.graph.is_committed(id) {
                if let Some(command) = command {
                    // The client's proposal has not arrived (or never will):
                    // accept from the leader's copy, with no fast vote of our own.
                    self.graph.revive(id);
                    self.conflicts.record(id, &command);
                    self.put_entry(
                        id,
                        Entry {
                            command,
                            phase: Phase::PreAccepted,
                            deps: deps_of([], id),
                            voted_fast: false,
                            touched: now,
                        },
                    );
                }
            }
            self.accept_if_leader_spoke(id, now, out);
        }
        self.try_commit(id, out);
    }

    /// Votes for a command this replica already knows committed need no
    /// counting; a leader still retransmitting it gets our slow-path vote.
    pub(super) fn answer_if_committed(&mut self, id: CommandId, from_leader: bool, out: &mut Outbox<Message>) -> bool {
        let committed = self.entry(id).is_some_and(|e| e.phase == Phase::Committed);
        if committed && from_leader {
            out.send_replica(
                self.leader_id(),
                Message::SlowAck {
                    ballot: self.ballot,
                    id,
                },
            );
        }
        committed
    }

    /// Once both the command and the leader's dependencies are here, adopt
    /// them and vote on the slow path (again, if the leader retransmitted).
    pub(super) fn accept_if_leader_spoke(&mut self, id: CommandId, now: Time, out: &mut Outbox<Message>) {
        if self.is_leader() {
            return;
        }
        let me = self.id;
        let Some(record) = self.records.get_mut(&id) else {
            return;
        };
        let Some(leader_deps) = record.votes.leader_deps.clone() else {
            return;
        };
        let Some(entry) = record.entry.as_mut() else { return };
        if entry.phase == Phase::Committed {
            return;
        }
        let matched = entry.phase == Phase::PreAccepted
            && entry.voted_fast
            && entry.deps == leader_deps
            && !record.every_slow_ack;
        entry.phase = Phase::Accepted;
        entry.deps = leader_deps;
        entry.touched = now;
        record.votes.slow.add(me);
        let ballot = self.ballot;
        self.record_vote(id, out);
        self.slow_votes.hold(self.follower_votes_to(ballot), (ballot, id));
        self.slow_ack_to_client(id, matched, now, out);
        self.try_commit(id, out);
    }

    pub(super) fn on_slow_ack(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        id: CommandId,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if self.graph.is_released(id) {
            return; // executed everywhere and forgotten: a stale vote
        }
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        if ballot != self.ballot || !matches!(self.status, Status::Normal) {
            return self.saw_ballot(ballot, now, out);
        }
        if self.answer_if_committed(id, false, out) {
            return;
        }
        self.votes_mut(id).slow.add(from);
        self.try_commit(id, out);
    }

    /// Commits on the fast path (a fast quorum voted the leader's
    /// dependencies) or the slow path (a majority with the leader accepted them).
    pub(super) fn try_commit(&mut self, id: CommandId, out: &mut Outbox<Message>) {
        let Some(record) = self.records.get(&id) else { return };
        let Some(deps) = record.votes.leader_deps.as_ref() else {
            return;
        };
        if record.entry.as_ref().is_none_or(|e| e.phase == Phase::Committed) {
            return;
        }
        let fast = self
            .quorums
            .is_fast_quorum(self.ballot, record.votes.fast.agreeing_with(deps));
        let slow = self.quorums.is_slow_quorum(self.ballot, record.votes.slow.voters());
        if fast || slow {
            let deps = deps.clone();
            self.commit(id, None, deps, out);
        }
    }

    /// Records that `id` committed with `deps` and executes what became
    /// executable. The leader answers clients it has not answered yet.
    pub(super) fn commit(&mut self, id: CommandId, command: Option<Command>, deps: Deps, out: &mut Outbox<Message>) {
        if self.graph.is_committed(id) && self.entry(id).is_none_or(|e| e.phase == Phase::Committed) {
            return;
        }
        let command = match (self.entry_mut(id), command) {
            (Some(e), _) => {
                e.phase = Phase::Committed;
                e.deps = deps.clone();
                e.command.clone()
            }
            (None, Some(command)) => {
                self.graph.revive(id);
                self.conflicts.record(id, &command);
                self.put_entry(
                    id,
                    Entry {
                        command: command.clone(),
                        phase: Phase::Committed,
                        deps: deps.clone(),
                        voted_fast: false,
                        touched: Time::ZERO,
                    },
                );
                command
            }
            (None, None) => return,
        };
        if let Some(record) = self.records.get_mut(&id) {
            record.votes = BallotVotes::default();
        }
        out.persist_with(|| Message::Commit {
            id,
            command: command.clone(),
            deps: deps.clone(),
        });
        if self.restored_order.is_empty() || !self.restored_order.remove(&id) {
            self.commit_order.push_back(id);
        }
        let committed_deps: Vec<CommandId> = deps.iter().copied().filter(|d| self.graph.is_committed(*d)).collect();
        self.conflicts.cover(id, &command, &committed_deps);
        let ready = self.graph.commit(id, command, deps);
        self.execute(ready, out);
    }

    pub(super) fn execute(&mut self, ready: impl IntoIterator<Item = (CommandId, Command)>, out: &mut Outbox<Message>) {
        let leading = self.is_leader() && matches!(self.status, Status::Normal);
        for (id, command) in ready {
            let applied = self.state.apply(id, &command);
            self.speculation.settle(id, &command);
            if let Applied::Fresh(_) = applied {
                out.executed(id);
            }
            let (replied, asked) = match self.records.get_mut(&id) {
                Some(r) => (std::mem::take(&mut r.replied), std::mem::take(&mut r.notify)),
                None => (false, false),
            };
            let answered = leading && replied;
            if (leading || asked) && !answered {
                if let Some(result) = applied.result() {
                    out.send_client(
                        id.client,
                        Message::Executed {
                            id,
                            result: result.clone(),
                        },
                    );
                }
            }
        }
    }
}
