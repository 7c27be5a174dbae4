//! State transfer: a replica the others released past (it was silent for a
//! while and further behind than the release lag) installs another
//! replica's image instead of the instances it missed, which are gone
//! everywhere else.
//!
//! A replica learns it is behind from the released prefixes every
//! `RowLengths` carries, asks the sender (`ImageRequest`) and gets its
//! `Image` parts (the parts a compacted log starts with: executed state,
//! per row the released prefix). It keeps everything it holds as an
//! acceptor — every instance above the image's released prefixes, with
//! its promise, vote and decision — and replaces only what it executed, so
//! it forgets nothing it promised and needs no one's acknowledgement.
//! Dependencies name every instance of a row up to a slot, so no command
//! executes here before the instances it follows: those the image executed
//! above its released prefixes are fetched (others hold them until they
//! release them) and execute as no-ops (the session table applies each
//! command once).

use super::*;
use crate::transfer::Part;

/// One `Image` part's contents, put back together with [`PartedReplies`].
#[derive(Clone, Debug)]
pub(super) struct ImagePiece {
    state: StateChunk,
    released: Vec<u64>,
}

impl EPaxosReplica {
    /// Another replica released, per row, below `released`: if this one
    /// executed less there, it asks that replica for its image, at most
    /// once per two retry intervals.
    pub(super) fn check_released(&mut self, from: ReplicaId, released: &[u64], now: Time, out: &mut Outbox<Message>) {
        for (mine, &theirs) in self.released_elsewhere.iter_mut().zip(released) {
            *mine = (*mine).max(theirs);
        }
        let asked_lately = self
            .last_image_request
            .is_some_and(|at| now.since(at) < 2 * self.timing.retry);
        if self.is_behind(released) && !asked_lately {
            self.last_image_request = Some(now);
            self.asked_since_install = true;
            out.send_replica(from, Message::ImageRequest);
        }
    }

    /// Whether another replica released `instance` (see
    /// `released_elsewhere`) and this one has not executed it.
    pub(super) fn is_released_elsewhere(&self, instance: InstanceId) -> bool {
        instance.slot >= self.row_floor[instance.leader]
            && self
                .released_elsewhere
                .get(instance.leader)
                .is_some_and(|&below| instance.slot < below)
    }

    fn is_behind(&self, released: &[u64]) -> bool {
        released
            .iter()
            .zip(&self.row_floor)
            .any(|(&theirs, &ours)| theirs > ours)
    }

    /// The released prefix of every row.
    pub(super) fn released(&self) -> Vec<u64> {
        (0..self.n()).map(|row| self.graph.released_below(row as u64)).collect()
    }

    /// Sends this replica's image in parts, a new version per copy.
    pub(super) fn on_image_request(&mut self, from: ReplicaId, now: Time, out: &mut Outbox<Message>) {
        if now.since(self.last_image_sent) < self.timing.retry / 2 {
            return;
        }
        self.last_image_sent = now;
        let released = self.released();
        let chunks = self.state.chunks(crate::transfer::PART_BYTES);
        let count = chunks.len() as u32;
        for (index, state) in chunks.into_iter().enumerate() {
            let part = Part {
                version: now.0.max(1),
                index: index as u32,
                count,
            };
            out.send_replica(
                from,
                Message::Image {
                    part,
                    of: self.id,
                    state,
                    released: released.clone(),
                    next_slot: 0,
                },
            );
        }
    }

    /// One part of a transferred image; the whole image is recorded and
    /// installed if this replica is still behind what it stands for.
    pub(super) fn on_image_part(&mut self, of: ReplicaId, part: Part, piece: ImagePiece, out: &mut Outbox<Message>) {
        let Some(pieces) = self.arriving_image.add(of, part, vec![piece]) else {
            return;
        };
        let released = pieces.first().map(|p| p.released.clone()).unwrap_or_default();
        // Only a copy asked for since the last install: an image of a large
        // state takes a while to arrive, and a copy asked for before would
        // be installed a second time (each install holds two copies of the
        // state at its peak, and the allocator keeps part of it).
        if !self.is_behind(&released) || !self.asked_since_install {
            return;
        }
        self.asked_since_install = false;
        let count = pieces.len() as u32;
        for (index, p) in pieces.iter().enumerate() {
            out.persist_with(|| Message::Image {
                part: Part {
                    version: part.version,
                    index: index as u32,
                    count,
                },
                of,
                state: p.state.clone(),
                released: p.released.clone(),
                next_slot: 0,
            });
        }
        self.install(of, pieces, out);
    }

    /// Replaces the executed state with `of`'s image, keeping every
    /// instance above its released prefixes (see the module).
    pub(super) fn install(&mut self, of: ReplicaId, pieces: Vec<ImagePiece>, out: &mut Outbox<Message>) {
        let n = self.n();
        let released = pieces.first().map(|p| p.released.clone()).unwrap_or_default();
        let released_here = |i: &InstanceId| released.get(i.leader).is_some_and(|&below| i.slot < below);
        let mut kept: Vec<(InstanceId, InstanceState)> = self
            .instances
            .drain()
            .into_iter()
            .filter(|(i, _)| !released_here(i))
            .collect();
        kept.sort_unstable_by_key(|(instance, _)| *instance);
        self.undecided = StreamMap::new();
        self.conflicts = ConflictMap::new(n);
        self.graph = DependencyGraph::new();
        self.state = StateMachine::new();
        self.row_floor = vec![0; n];
        for piece in pieces {
            self.state.absorb(piece.state);
        }
        for (row, &below) in released.iter().enumerate().take(n) {
            self.graph.release_below(row as u64, below);
            self.row_floor[row] = below;
            self.row_known[row] = self.row_known[row].max(below);
        }
        self.next_slot = self.next_slot.max(self.row_floor[self.id]);
        out.installed(of, self.state.applied_count());
        for (instance, s) in kept {
            let (bal, committed) = (s.bal, s.status == Status::Committed);
            match (committed, s.attrs.clone()) {
                (true, Some(attrs)) => {
                    self.instance(instance, Time::ZERO).vbal = s.vbal;
                    self.commit(instance, s.value, attrs, s.fast, Time::ZERO, out);
                }
                (false, Some(attrs)) => self.hold(instance, s.status, s.vbal, s.value, attrs, s.unchanged, Time::ZERO),
                _ => {}
            }
            let kept = self.instance(instance, Time::ZERO);
            kept.bal = kept.bal.max(bal);
        }
        for row in 0..n {
            for slot in self.row_floor[row]..self.row_known[row] {
                self.notice(InstanceId { leader: row, slot }, Time::ZERO);
            }
        }
    }
}

/// The contents of an `Image` message, if it is one.
pub(super) fn image_piece(msg: Message) -> Option<(ReplicaId, Part, ImagePiece)> {
    match msg {
        Message::Image {
            part,
            of,
            state,
            released,
            ..
        } => Some((of, part, ImagePiece { state, released })),
        _ => None,
    }
}
