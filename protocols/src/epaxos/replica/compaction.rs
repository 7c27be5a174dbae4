//! Log compaction: the records that rebuild this replica as it is now
//! ([`ReplicaProtocol::snapshot`]), so that a durable host can replace its
//! write-ahead log with them instead of replaying every decision since the
//! start.
//!
//! The snapshot is `Image` parts (the executed state, per row the released
//! prefix, this replica's next instance), then per instance not released,
//! in instance order, the record its last change left: `Commit` once
//! decided, else the `PrepareOk` it would answer a recoverer with (its
//! promise and last vote). Replaying them rebuilds the instances, the
//! conflict map (for every instance not released, as the full log would
//! less the released ones) and the execution frontiers; decisions the
//! image already executed are not executed again (the session table).

use super::*;
use crate::transfer::{Part, PART_BYTES};

impl EPaxosReplica {
    /// See the module.
    pub(super) fn compacted(&self) -> Vec<Message> {
        let released: Vec<u64> = (0..self.n()).map(|row| self.graph.released_below(row as u64)).collect();
        let chunks = self.state.chunks(PART_BYTES);
        let count = chunks.len() as u32;
        let mut records: Vec<Message> = chunks
            .into_iter()
            .enumerate()
            .map(|(index, state)| Message::Image {
                part: Part {
                    version: 0,
                    index: index as u32,
                    count,
                },
                of: self.id,
                state,
                released: released.clone(),
                next_slot: self.next_slot,
            })
            .collect();
        let mut instances: Vec<(InstanceId, &InstanceState)> = self.instances.iter().collect();
        instances.sort_unstable_by_key(|(instance, _)| *instance);
        for (instance, s) in instances {
            records.push(match (&s.status, &s.attrs) {
                (Status::Committed, Some(attrs)) => Message::Commit {
                    instance,
                    value: s.value.clone(),
                    attrs: attrs.clone(),
                },
                _ => Message::PrepareOk {
                    instance,
                    ballot: s.bal,
                    report: s.report(),
                },
            });
        }
        records
    }

    /// Replays one `Image` part of replica `of`'s snapshot: its next
    /// instance is this replica's only if the snapshot is its own (another
    /// replica's, when rejoining, says nothing of this replica's row
    /// beyond the instances it lists).
    pub(super) fn restore_image(&mut self, of: ReplicaId, state: StateChunk, released: &[u64], next_slot: u64) {
        self.state.absorb(state);
        for (row, &below) in released.iter().enumerate().take(self.n()) {
            self.graph.release_below(row as u64, below);
            self.row_floor[row] = self.row_floor[row].max(below);
            self.row_known[row] = self.row_known[row].max(below);
        }
        if of == self.id {
            self.next_slot = self.next_slot.max(next_slot);
        }
        self.next_slot = self.next_slot.max(self.graph.released_below(self.id as u64));
    }
}
