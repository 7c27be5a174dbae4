//! State transfer: a follower the leader released past ([`super::release`])
//! installs another replica's image instead of the commands it missed,
//! which are gone everywhere else.
//!
//! The follower keeps its own state as a voter — its ballot, the ballot it
//! synced into, and every entry it holds (its votes, with their
//! dependencies, and the commands it knows committed) — and replaces what
//! it executed: the donor's `Image` parts (the same parts a compacted log
//! starts with) bring the store, the session table, the released prefixes
//! and the commit order. Its own entries then go back on top: a committed
//! one is committed again (executed now if the image lacks it, a no-op
//! otherwise: the session table applies each command once), a vote is put
//! back as it was. Nothing it promised or voted is forgotten, so it needs
//! no one's acknowledgement, unlike a replica that lost its state
//! ([`crate::rejoin`]); and it asks only one replica, so a replica down
//! for good does not keep it from catching up.

use super::*;

/// One `Image` part's contents, put back together with [`PartedReplies`].
#[derive(Clone, Debug)]
pub(super) struct ImagePiece {
    commit_base: u64,
    state: StateChunk,
    released: Vec<(ClientId, u64)>,
    order: Vec<CommandId>,
    done: Vec<CommandId>,
}

impl SwiftReplica {
    /// Another replica released, per client, below figures this replica
    /// has not executed up to: ask `donor` (who showed it) for its image,
    /// at most once per retry interval.
    pub(super) fn ask_image(&mut self, donor: ReplicaId, now: Time, out: &mut Outbox<Message>) {
        if donor == self.id || now.since(self.last_image_request) < self.timing.retry {
            return;
        }
        self.last_image_request = now;
        out.send_replica(donor, Message::ImageRequest);
    }

    /// A replica behind what this one released asks for its image: sent
    /// in parts (a new version each time, so retries never mix), when this
    /// replica is synced into its ballot (a leader change rebuilds state).
    pub(super) fn on_image_request(&mut self, from: ReplicaId, now: Time, out: &mut Outbox<Message>) {
        if now.since(self.last_image_sent) < self.timing.retry / 2 {
            return; // a copy just left; one per request burst
        }
        let parts = self.image_parts(now.0.max(1));
        if !parts.is_empty() {
            self.last_image_sent = now;
            for part in parts {
                out.send_replica(from, part);
            }
        }
    }

    /// One `Image` part from `donor`; the whole image is installed if this
    /// replica is still behind what it stands for.
    pub(super) fn on_image_part(&mut self, donor: ReplicaId, part: Part, piece: ImagePiece, out: &mut Outbox<Message>) {
        if part.version == 0 {
            return; // a compacted log's part, never sent
        }
        let Some(pieces) = self.arriving_image.add(donor, part, vec![piece]) else {
            return;
        };
        let released: Vec<(ClientId, u64)> = pieces.iter().flat_map(|p| p.released.iter().copied()).collect();
        if !self.is_behind(&released) {
            return;
        }
        self.install(donor, part.version, pieces, out);
    }

    /// Replaces the executed state with the donor's image and puts this
    /// replica's own entries back on top (see the module). The image is
    /// recorded before anything it leads to leaves (a restart replays the
    /// install), with the entries it voids here: a restart may not rebuild
    /// every entry this replica held (some were never recorded), and what
    /// the image executed must not wait for them after a replay either.
    pub(super) fn install(
        &mut self,
        donor: ReplicaId,
        version: u64,
        pieces: Vec<ImagePiece>,
        out: &mut Outbox<Message>,
    ) {
        let mut own: Vec<(CommandId, Entry)> = self
            .records
            .drain()
            .into_iter()
            .filter_map(|(id, r)| r.entry.map(|e| (id, e)))
            .collect();
        own.sort_unstable_by_key(|(id, _)| *id);
        self.uncommitted.clear();
        self.conflicts = ConflictTable::new();
        self.graph = DependencyGraph::new();
        self.state = StateMachine::new();
        self.speculation = Speculation::new();
        self.commit_order.clear();
        self.restored_order.clear();
        self.commit_base = pieces.first().map_or(0, |p| p.commit_base as usize);
        self.leader_cursor = 0;
        let mut recorded: Vec<ImagePiece> = Vec::new();
        for piece in pieces {
            if out.keeps_records() {
                recorded.push(piece.clone());
            }
            self.state.absorb(piece.state);
            for (client, below) in piece.released {
                self.graph.release_below(client, below);
            }
            for id in piece.order {
                if !self.graph.is_released(id) {
                    self.restored_order.insert(id);
                }
                self.commit_order.push_back(id);
            }
            for id in piece.done {
                let ready = self.graph.void(id);
                self.execute(ready, out);
            }
        }
        // What the image executed above the released prefixes is done here:
        // commands may depend on it, and no commit of it may be coming (the
        // leader releases it once everyone reports it executed).
        for (client, below) in self.state.executed_prefixes() {
            for seq in self.graph.released_below(client).max(1)..below {
                let ready = self.graph.void(CommandId::new(client, seq));
                self.execute(ready, out);
            }
        }
        if let Some(last) = recorded.last_mut() {
            last.done.extend(
                own.iter()
                    .map(|(id, _)| *id)
                    .filter(|id| !self.graph.is_released(*id) && self.state.has_executed(*id)),
            );
        }
        let count = recorded.len() as u32;
        for (index, p) in recorded.into_iter().enumerate() {
            out.persist(Message::Image {
                of: donor as u64,
                ballot: self.ballot,
                cballot: self.cballot,
                commit_base: p.commit_base,
                part: Part {
                    version,
                    index: index as u32,
                    count,
                },
                state: Box::new(p.state),
                released: p.released,
                order: Box::new(p.order),
                done: Box::new(p.done),
            });
        }
        out.installed(donor, self.state.applied_count());
        for (id, entry) in own {
            if self.graph.is_released(id) {
                continue;
            }
            if self.state.has_executed(id) {
                // Executed in the image, so decided: whatever this replica
                // voted for it is moot, and nothing may wait for it.
                let ready = self.graph.void(id);
                self.execute(ready, out);
                continue;
            }
            if entry.phase == Phase::Committed {
                self.commit(id, Some(entry.command), entry.deps, out);
            } else {
                self.restore_vote(ReportedEntry {
                    id,
                    command: entry.command,
                    phase: entry.phase,
                    deps: entry.deps,
                });
            }
        }
        // Ids of the donor's commit order this replica did not commit
        // again are committed by catch-up, which lists them anew.
        self.restored_order.clear();
    }
}

/// The contents of an `Image` message, if it is one.
pub(super) fn image_piece(msg: Message) -> Option<(Part, ImagePiece)> {
    match msg {
        Message::Image {
            commit_base,
            part,
            state,
            released,
            order,
            done,
            ..
        } => Some((
            part,
            ImagePiece {
                commit_base,
                state: *state,
                released,
                order: *order,
                done: *done,
            },
        )),
        _ => None,
    }
}
