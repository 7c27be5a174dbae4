//! Retransmission and catch-up: a leader repeats what is not committed, a
//! lagging follower fetches the leader's commits by position and missing
//! dependencies by id, a replica that missed a leader change asks for its `Sync`.

use super::*;

impl SwiftReplica {
    // ----- retransmission and catch-up ----------------------------------------

    pub(super) fn retransmit_uncommitted(&mut self, now: Time, out: &mut Outbox<Message>) {
        if !matches!(self.status, Status::Normal) {
            return;
        }
        // Looked for a few times per retry interval, not at every tick.
        if now.since(self.last_retransmit) < self.timing.retry / 4 {
            return;
        }
        self.last_retransmit = now;
        let ballot = self.ballot;
        let me = self.id;
        for id in self.overdue(now, true) {
            let Some(record) = self.records.get_mut(&id) else {
                continue;
            };
            let Some(e) = record.entry.as_mut() else { continue };
            e.touched = now;
            // Its own vote counts again (a restart forgets the tallies).
            let votes = &mut record.votes;
            if votes.leader_deps.is_none() {
                votes.leader_deps = Some(e.deps.clone());
                votes.fast.add(me, e.deps.clone());
                votes.slow.add(me);
            }
            out.broadcast(Message::FastAck {
                ballot,
                id,
                deps: e.deps.clone(),
                command: Some(Box::new(e.command.clone())),
            });
        }
    }

    pub(super) fn fetch_what_is_missing(&mut self, now: Time, out: &mut Outbox<Message>) {
        if now.since(self.last_fetch) < self.timing.retry {
            return;
        }
        let mut ids: Vec<CommandId> = self.graph.missing();
        ids.extend(self.overdue(now, false));
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(FETCH_CHUNK);
        self.last_fetch = now;
        out.send_replica(self.leader_id(), Message::Fetch { ids });
    }

    pub(super) fn on_fetch(&mut self, from: ReplicaId, ids: Vec<CommandId>, out: &mut Outbox<Message>) {
        // Only the leader answers, and not a replica it released past
        // (see `excluded`): a former leader's commits of a later ballot
        // could leave out commands released past the asking replica.
        if !self.is_leader() || !matches!(self.status, Status::Normal) || self.excluded.contains(&from) {
            return;
        }
        for id in ids {
            if let Some(e) = self.entry(id).filter(|e| e.phase == Phase::Committed) {
                out.send_replica(
                    from,
                    Message::Commit {
                        id,
                        command: e.command.clone(),
                        deps: e.deps.clone(),
                    },
                );
            }
        }
    }

    pub(super) fn on_heartbeat(
        &mut self,
        from: ReplicaId,
        ballot: Ballot,
        committed: usize,
        now: Time,
        out: &mut Outbox<Message>,
    ) {
        if ballot < self.ballot {
            return out.send_replica(from, Message::Nack { ballot: self.ballot });
        }
        if ballot == self.ballot && from == self.leader_id() {
            self.election.heard_leader(now);
            self.leader_committed = committed;
            if matches!(self.status, Status::Normal)
                && committed > self.leader_cursor
                && now.since(self.last_catch_up) >= self.timing.retry
            {
                self.last_catch_up = now;
                out.send_replica(
                    from,
                    Message::CatchUp {
                        ballot,
                        from: self.leader_cursor,
                    },
                );
            }
        }
        self.saw_ballot(ballot, now, out);
    }

    pub(super) fn on_catch_up(&mut self, to: ReplicaId, ballot: Ballot, from: usize, out: &mut Outbox<Message>) {
        let end = self.commit_base + self.commit_order.len();
        if ballot != self.ballot || !self.is_leader() || from > end || self.excluded.contains(&to) {
            return;
        }
        // Below `commit_base` everything was released: executed everywhere.
        let from = from.max(self.commit_base);
        // At most FETCH_CHUNK commits and about a part's worth of bytes
        // (values can be large), so a reply stays far below the frame cap.
        let mut bytes = 0;
        let commits = self
            .commit_order
            .range(from - self.commit_base..)
            .take(FETCH_CHUNK)
            .filter_map(|id| {
                self.entry(*id).map(|e| Decided {
                    id: *id,
                    command: e.command.clone(),
                    deps: e.deps.clone(),
                })
            })
            .take_while(|d| {
                let first = bytes == 0;
                bytes += 64 + d.command.value_len() + 16 * d.deps.len();
                first || bytes <= crate::transfer::PART_BYTES
            })
            .collect();
        out.send_replica(to, Message::CatchUpReply { ballot, from, commits });
    }

    /// A message showed a ballot above ours, or ours while we still wait for
    /// its `Sync`: we missed part of a leader change, so ask that ballot's
    /// leader for its `Sync`.
    pub(super) fn saw_ballot(&mut self, ballot: Ballot, now: Time, out: &mut Outbox<Message>) {
        let missed = ballot > self.ballot || (ballot == self.ballot && matches!(self.status, Status::Joining));
        if missed && now.since(self.last_sync_request) >= self.timing.retry {
            self.last_sync_request = now;
            out.send_replica(ballot.leader(self.n()), Message::SyncRequest { ballot });
        }
    }
}
