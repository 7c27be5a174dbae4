//! Leader change: pre-vote, `NewLeader`, reports, the recovery decision and `Sync`.

use super::*;

impl SwiftReplica {
    // ----- leader change --------------------------------------------------------

    pub(super) fn on_pre_vote(&mut self, from: ReplicaId, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
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
    pub(super) fn start_recovery(&mut self, now: Time, out: &mut Outbox<Message>) {
        self.ballot = self.ballot.next_owned_by(self.id, self.n());
        self.election.candidacy_started(now);
        self.leave_ballot();
        let own = Report {
            from: self.id,
            cballot: self.cballot,
            entries: self.report(),
        };
        let released = self.released_figures().into_iter().collect();
        self.status = Status::Recovering {
            reports: vec![own],
            arriving: PartedReplies::new(),
            sent: now,
            abandoned: false,
            released,
        };
        // Its own report counts toward the majority: the ballot is a promise.
        out.persist(Message::NewLeader { ballot: self.ballot });
        out.broadcast(Message::NewLeader { ballot: self.ballot });
        self.finish_recovery_if_reported(now, out);
    }

    /// Moves to a higher `ballot` seen in passing, without its leader's
    /// `Sync` yet: this replica stops voting in its old ballot (a promise, as
    /// in Paxos phase 1) and waits for the `Sync` or a new election.
    pub(super) fn join_ballot(&mut self, ballot: Ballot) {
        if ballot > self.ballot {
            self.ballot = ballot;
            self.status = Status::Joining;
            self.leave_ballot();
        }
    }

    /// Stops acting in the old ballot: votes, optimistic results and answers go.
    pub(super) fn leave_ballot(&mut self) {
        self.records.retain(|_, record| {
            record.votes = BallotVotes::default();
            record.replied = false;
            record.entry.is_some() || record.notify
        });
        self.speculation.clear();
        // Slow-path votes of the old ballot are no answer in the new one.
        self.skipped_slow_acks.clear();
        self.leader_heard_all = false;
    }

    pub(super) fn report(&self) -> Vec<ReportedEntry> {
        let mut entries: Vec<ReportedEntry> = self
            .entries()
            .map(|(id, e)| ReportedEntry {
                id,
                command: e.command.clone(),
                phase: e.phase,
                deps: e.deps.clone(),
            })
            .collect();
        entries.sort_by_key(|e| e.id);
        entries
    }

    pub(super) fn on_new_leader(&mut self, from: ReplicaId, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
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
        out.persist(Message::NewLeader { ballot });
        let cballot = self.cballot;
        let mut released = Some(self.released_figures());
        for (part, entries) in parts_of(self.report(), now.0, reported_size) {
            let released = released.take().unwrap_or_default();
            out.send_replica(
                from,
                Message::NewLeaderAck {
                    ballot,
                    cballot,
                    part,
                    entries,
                    released,
                },
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_new_leader_ack(
        &mut self,
        from: ReplicaId,
        (ballot, cballot, part): (Ballot, Ballot, Part),
        entries: Vec<ReportedEntry>,
        released: &[(ClientId, u64)],
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot > self.ballot {
            return self.saw_ballot(ballot, now, out);
        }
        let behind = self.is_behind(released);
        let Status::Recovering {
            reports,
            arriving,
            abandoned,
            released: highest,
            ..
        } = &mut self.status
        else {
            return;
        };
        if ballot == self.ballot {
            for &(client, below) in released {
                let figure = highest.entry(client).or_insert(below);
                *figure = (*figure).max(below);
            }
        }
        if behind || *abandoned {
            // The reporter released commands this candidate never
            // executed: their entries are gone from its report, so this
            // replica cannot lead. It stops asking; another replica's
            // election takes over, and that leader's `Sync` shows this one
            // behind, so it then installs that leader's image.
            *abandoned = true;
            return;
        }
        if ballot != self.ballot || reports.iter().any(|r| r.from == from) {
            return;
        }
        let Some(entries) = arriving.add(from, part, entries) else {
            return;
        };
        reports.push(Report { from, cballot, entries });
        self.finish_recovery_if_reported(now, out);
    }

    pub(super) fn finish_recovery_if_reported(&mut self, now: Time, out: &mut Outbox<Message>) {
        let Status::Recovering { reports, released, .. } = &self.status else {
            return;
        };
        if reports.len() < self.quorums.majority() {
            return;
        }
        // Released commands (executed at every replica the releasing
        // leader waited for, this candidate included: a candidate behind a
        // reporter's release abandons) are in no report. A reporter that
        // fell behind may still hold votes on them: not recovered again.
        // A dependency on one is not a command that cannot have committed,
        // so it is not voided: voided, a replica that never executed it
        // would run its dependents without it. The `Sync` carries the
        // highest release any reporter made, so that such a replica sees it
        // is behind and installs an image instead.
        let is_released = |id: &CommandId| released.get(&id.client).is_some_and(|&below| id.seq < below);
        let reports: Vec<Report> = reports
            .iter()
            .map(|r| Report {
                from: r.from,
                cballot: r.cballot,
                entries: r.entries.iter().filter(|e| !is_released(&e.id)).cloned().collect(),
            })
            .collect();
        let mut recovered = recover(&self.quorums, &reports);
        recovered.voided.retain(|id| !is_released(id));
        let mut figures: Vec<(ClientId, u64)> = released.iter().map(|(&client, &below)| (client, below)).collect();
        figures.sort_unstable();
        let parts = sync_parts(self.ballot, &recovered.decided, &recovered.voided, figures);
        for part in &parts {
            out.persist(part.clone());
            out.broadcast(part.clone());
        }
        self.last_sync = Some(parts);
        self.apply_sync(self.ballot, recovered.decided, recovered.voided, now, out);
    }

    /// Enters `ballot` with the new leader's decisions: each recovered
    /// command is accepted with its dependencies and goes through the slow
    /// path again in this ballot; what was not recovered is proposed afresh.
    pub(super) fn apply_sync(
        &mut self,
        ballot: Ballot,
        decided: Vec<Decided>,
        voided: Vec<CommandId>,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if !self.is_leader_of(ballot) {
            // The leader recorded its `Sync` before sending it.
            for part in sync_parts(ballot, &decided, &voided, Vec::new()) {
                out.persist(part);
            }
        }
        let retry = self.adopt_sync(ballot, decided, voided, now, out);

        // Vote for every recovered command not committed yet: the leader's
        // decision is its accept, the others answer with SlowAck.
        let leader = self.leader_id();
        let leading = self.is_leader();
        let mut pending: Vec<(CommandId, Deps)> = self
            .entries()
            .filter(|(_, e)| e.phase == Phase::Accepted)
            .map(|(id, e)| (id, e.deps.clone()))
            .collect();
        pending.sort_by_key(|(id, _)| *id);
        for (id, deps) in pending {
            let me = self.id;
            let votes = self.votes_mut(id);
            votes.leader_deps = Some(deps);
            votes.slow.add(leader);
            votes.slow.add(me);
            if !leading {
                self.slow_votes.hold(self.follower_votes_to(ballot), (ballot, id));
            }
            self.try_commit(id, out);
        }
        for (id, command) in retry {
            // A parked retry of a command the Sync decided is already voted for above.
            if self.entry(id).is_none() && !self.graph.is_committed(id) && !self.state.has_executed(id) {
                self.graph.revive(id);
                self.pre_accept(id, command, now, out);
            }
        }
    }

    pub(super) fn is_leader_of(&self, ballot: Ballot) -> bool {
        ballot.leader(self.n()) == self.id
    }

    /// The state half of [`Self::apply_sync`], also what a restart replays:
    /// enters `ballot`, accepts the decided commands with their
    /// dependencies, drops what was not recovered (returned, to be proposed
    /// afresh) and executes what the voided commands held up.
    pub(super) fn adopt_sync(
        &mut self,
        ballot: Ballot,
        decided: Vec<Decided>,
        voided: Vec<CommandId>,
        now: Time,
        out: &mut Outbox<Message>,
    ) -> BTreeMap<CommandId, Command> {
        self.ballot = ballot;
        self.cballot = ballot;
        self.leader_cursor = 0;
        self.leader_committed = 0;
        self.reports_since = now;
        self.status = Status::Normal;
        self.leave_ballot();

        let recovered: HashSet<CommandId> = decided.iter().map(|d| d.id).collect();
        let mut retry: BTreeMap<CommandId, Command> = self.parked.drain(..).collect();
        let dropped: Vec<CommandId> = self
            .entries()
            .filter(|(id, e)| e.phase != Phase::Committed && !recovered.contains(id))
            .map(|(id, _)| id)
            .collect();
        for id in dropped {
            if let Some(e) = self.records.get_mut(&id).and_then(|r| r.entry.take()) {
                retry.insert(id, e.command);
            }
        }
        for d in &decided {
            match self.entry_mut(d.id) {
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
                    let phase = if self.graph.is_committed(d.id) {
                        Phase::Committed
                    } else {
                        Phase::Accepted
                    };
                    self.put_entry(
                        d.id,
                        Entry {
                            command: d.command.clone(),
                            phase,
                            deps: d.deps.clone(),
                            voted_fast: false,
                            touched: now,
                        },
                    );
                }
            }
        }
        self.rebuild_conflicts();
        for id in voided {
            let ready = self.graph.void(id);
            self.execute(ready, out);
        }
        retry
    }

    /// After a leader change every replica's conflict table holds the known
    /// commands in execution order, so that new commands follow the last
    /// recovered one of each key, and all tables agree (the fast path works).
    pub(super) fn rebuild_conflicts(&mut self) {
        let mut known: Vec<(CommandId, Command, Deps)> = self
            .entries()
            .map(|(id, e)| (id, e.command.clone(), e.deps.clone()))
            .collect();
        known.sort_by_key(|(id, _, _)| *id);
        let mut table = ConflictTable::new();
        let by_id: HashMap<CommandId, &Command> = known.iter().map(|(id, c, _)| (*id, c)).collect();
        let committed: HashMap<CommandId, &Deps> = self
            .entries()
            .filter(|(_, e)| e.phase == Phase::Committed)
            .map(|(id, e)| (id, &e.deps))
            .collect();
        for id in execution_order(&known) {
            table.record(id, by_id[&id]);
            if let Some(deps) = committed.get(&id) {
                let committed_deps: Vec<CommandId> =
                    deps.iter().copied().filter(|d| committed.contains_key(d)).collect();
                table.cover(id, by_id[&id], &committed_deps);
            }
        }
        self.conflicts = table;
    }
}

/// Roughly how many bytes an entry takes in a `NewLeaderAck`.
fn reported_size(e: &ReportedEntry) -> usize {
    96 + e.command.value_len() + 16 * e.deps.len()
}

/// One decision of a `Sync`, while its parts are put back together.
#[derive(Debug, Clone)]
pub(super) enum SyncItem {
    Decided(Decided),
    Voided(CommandId),
}

/// A `Sync` cut into parts under the frame cap; the ballot is the version
/// (a leader sends one `Sync` per ballot, the same parts every time).
pub(super) fn sync_parts(
    ballot: Ballot,
    decided: &[Decided],
    voided: &[CommandId],
    released: Vec<(ClientId, u64)>,
) -> Vec<Message> {
    let mut released = Some(released);
    let items: Vec<SyncItem> = decided
        .iter()
        .cloned()
        .map(SyncItem::Decided)
        .chain(voided.iter().copied().map(SyncItem::Voided))
        .collect();
    let size = |item: &SyncItem| match item {
        SyncItem::Decided(d) => 64 + d.command.value_len() + 16 * d.deps.len(),
        SyncItem::Voided(_) => 16,
    };
    parts_of(items, ballot.0, size)
        .map(|(part, items)| {
            let (decided, voided) = unzip_sync(items);
            let released = released.take().unwrap_or_default();
            Message::Sync {
                ballot,
                part,
                decided,
                voided,
                released,
            }
        })
        .collect()
}

/// A `Sync`'s decisions and voided commands, from its items.
fn unzip_sync(items: Vec<SyncItem>) -> (Vec<Decided>, Vec<CommandId>) {
    let (mut decided, mut voided) = (Vec::new(), Vec::new());
    for item in items {
        match item {
            SyncItem::Decided(d) => decided.push(d),
            SyncItem::Voided(id) => voided.push(id),
        }
    }
    (decided, voided)
}

impl SwiftReplica {
    /// Adds a part of `ballot`'s `Sync`; answers its decisions once whole.
    pub(super) fn whole_sync(
        &mut self,
        ballot: Ballot,
        part: Part,
        decided: Vec<Decided>,
        voided: Vec<CommandId>,
    ) -> Option<(Vec<Decided>, Vec<CommandId>)> {
        let items = decided
            .into_iter()
            .map(SyncItem::Decided)
            .chain(voided.into_iter().map(SyncItem::Voided))
            .collect();
        let leader = ballot.leader(self.n());
        let whole = self.arriving_sync.add(
            leader,
            Part {
                version: ballot.0,
                ..part
            },
            items,
        )?;
        Some(unzip_sync(whole))
    }
}
