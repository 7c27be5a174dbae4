//! Log compaction: the records that rebuild this replica as it is now
//! ([`ReplicaProtocol::snapshot`]), so that a durable host can replace its
//! write-ahead log with them instead of replaying every decision since the
//! start.
//!
//! The snapshot is `Image` parts (ballots, executed state, released
//! prefixes, commit order, ids voided here), then a `Commit` record per
//! committed command not released, in commit order, then a `Voted` record
//! per vote on a command not committed yet, then (at the leader) the parts
//! of its `Sync`, which it keeps to answer followers that missed it.
//! Replaying them rebuilds the same entries, the same conflict table (it
//! holds every command not released, less what committed writes cover,
//! and covering depends only on the commit order, which is kept), the same
//! positions in the commit order, and re-executing a decision already in
//! the image changes nothing (the session table executes each command once).

use super::*;
use crate::transfer::{split_by_size, PART_BYTES};

impl SwiftReplica {
    /// See the module: empty while a leader change is under way (the
    /// records so far then stay; the next sync after it compacts).
    pub(super) fn compacted(&self) -> Vec<Message> {
        let mut records = self.image_parts(0);
        if records.is_empty() {
            return records;
        }
        self.push_entries(&mut records);
        records
    }

    /// The `Image` parts of this replica's state, tagged `version` (0 in a
    /// compacted log; a state transfer tags each copy it sends); none
    /// during a leader change.
    pub(super) fn image_parts(&self, version: u64) -> Vec<Message> {
        if !matches!(self.status, Status::Normal) || self.ballot != self.cballot {
            return Vec::new();
        }
        // Ids and prefixes take 16 bytes each; each list is cut into parts
        // of at most PART_BYTES, and part i carries the i-th piece of each.
        let mut states = self.state.chunks(PART_BYTES).into_iter();
        let mut released: Vec<(ClientId, u64)> = self.graph.released_prefixes().collect();
        released.sort_unstable();
        let mut released = split_by_size(released, PART_BYTES, |_| 16).into_iter();
        let mut order = split_by_size(self.commit_order.iter().copied().collect(), PART_BYTES, |_| 16).into_iter();
        let mut done: Vec<CommandId> = self
            .graph
            .done_above_released()
            .map(|(client, seq)| CommandId::new(client, seq))
            .filter(|id| self.entry(*id).is_none_or(|e| e.phase != Phase::Committed))
            .collect();
        done.sort_unstable();
        let mut done = split_by_size(done, PART_BYTES, |_| 16).into_iter();
        let count = [states.len(), released.len(), order.len(), done.len()]
            .into_iter()
            .max()
            .unwrap_or(0)
            .max(1);
        (0..count)
            .map(|index| Message::Image {
                of: self.id as u64,
                ballot: self.ballot,
                cballot: self.cballot,
                commit_base: self.commit_base as u64,
                part: Part {
                    version,
                    index: index as u32,
                    count: count as u32,
                },
                state: Box::new(states.next().unwrap_or_default()),
                released: released.next().unwrap_or_default(),
                order: Box::new(order.next().unwrap_or_default()),
                done: Box::new(done.next().unwrap_or_default()),
            })
            .collect()
    }

    /// A compacted log's records after the image (see the module).
    fn push_entries(&self, records: &mut Vec<Message>) {
        let mut emitted: HashSet<CommandId> = HashSet::default();
        for id in &self.commit_order {
            if let Some(e) = self.entry(*id).filter(|e| e.phase == Phase::Committed) {
                if emitted.insert(*id) {
                    records.push(Message::Commit {
                        id: *id,
                        command: e.command.clone(),
                        deps: e.deps.clone(),
                    });
                }
            }
        }
        let mut rest: Vec<(CommandId, &Entry)> = self.entries().filter(|(id, _)| !emitted.contains(id)).collect();
        rest.sort_unstable_by_key(|(id, _)| *id);
        for (id, e) in rest {
            records.push(match e.phase {
                Phase::Committed => Message::Commit {
                    id,
                    command: e.command.clone(),
                    deps: e.deps.clone(),
                },
                phase => Message::Voted {
                    ballot: self.ballot,
                    entry: Box::new(ReportedEntry {
                        id,
                        command: e.command.clone(),
                        phase,
                        deps: e.deps.clone(),
                    }),
                },
            });
        }
        if self.is_leader() {
            records.extend(self.last_sync.iter().flatten().cloned());
        }
    }

    /// Replays one `Image` part: the first sets the commit order's base;
    /// every part adds its share of state, released prefixes, commit order
    /// and voided ids.
    pub(super) fn restore_image(
        &mut self,
        (ballot, cballot): (Ballot, Ballot),
        commit_base: u64,
        state: StateChunk,
        released: Vec<(ClientId, u64)>,
        order: Vec<CommandId>,
        done: Vec<CommandId>,
        out: &mut Outbox<Message>,
    ) {
        self.ballot = self.ballot.max(ballot);
        self.cballot = self.cballot.max(cballot);
        if self.commit_order.is_empty() {
            self.commit_base = commit_base as usize;
        }
        self.state.absorb(state);
        for (client, below) in released {
            self.graph.release_below(client, below);
        }
        for id in order {
            // Released ids only hold their position; the others are
            // committed again by the `Commit` records that follow.
            if !self.graph.is_released(id) {
                self.restored_order.insert(id);
            }
            self.commit_order.push_back(id);
        }
        for id in done {
            let ready = self.graph.void(id);
            self.execute(ready, out);
        }
    }
}
