//! Per-command messages held until the host's flush, then sent as one
//! message per destination: what Multi-Paxos gets from putting many
//! commands in one `Accept`, for protocols whose votes are per command
//! (SwiftPaxos's `FastAck`/`SlowAck`, EPaxos's `PreAccept`…`Commit`).
//!
//! The host calls [`crate::ReplicaProtocol::flush`] as soon as its inbox
//! is empty (the simulator after every message), so an idle system sends
//! each vote at once: batching costs no delay, it only gathers what
//! arrived together. Records queued meanwhile ([`crate::Action::Persist`])
//! stay ahead of the batch in the outbox: persist, then send, still holds.

use crate::ids::ReplicaId;
use crate::protocol::Outbox;

/// Messages of one kind held for the next flush, for every other replica
/// or for one. The queues keep their room from flush to flush (a busy
/// replica holds about as many votes each time), so holding a vote does
/// not reallocate; [`crate::shrink::give_back_for`] trims them after a burst.
#[derive(Debug)]
pub struct HeldVotes<V> {
    to_all: Vec<V>,
    /// Per destination named since the last flush, in the order first
    /// named: its votes.
    to_one: Vec<(ReplicaId, Vec<V>)>,
    /// How many of `to_one`'s queues hold votes (the others wait, empty,
    /// for the next flush to name them).
    named: usize,
}

impl<V> Default for HeldVotes<V> {
    fn default() -> Self {
        HeldVotes {
            to_all: Vec::new(),
            to_one: Vec::new(),
            named: 0,
        }
    }
}

impl<V> HeldVotes<V> {
    /// Nothing held.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds `vote` for every other replica.
    pub fn broadcast(&mut self, vote: V) {
        self.to_all.push(vote);
    }

    /// Holds `vote` for replica `to`.
    pub fn send(&mut self, to: ReplicaId, vote: V) {
        let named = &mut self.to_one[..self.named];
        if let Some((_, votes)) = named.iter_mut().find(|(r, _)| *r == to) {
            return votes.push(vote);
        }
        // Named first now: its queue (kept from an earlier flush, or new) goes next in line.
        match self.to_one[self.named..].iter().position(|(r, _)| *r == to) {
            Some(at) => self.to_one.swap(self.named, self.named + at),
            None => {
                self.to_one.push((to, Vec::new()));
                let last = self.to_one.len() - 1;
                self.to_one.swap(self.named, last);
            }
        }
        self.to_one[self.named].1.push(vote);
        self.named += 1;
    }

    /// Holds `vote` for replica `to`, or for every other replica (`None`).
    pub fn hold(&mut self, to: Option<ReplicaId>, vote: V) {
        match to {
            Some(to) => self.send(to, vote),
            None => self.broadcast(vote),
        }
    }

    /// Forgets what is held (a restart drops what restoring queued).
    pub fn clear(&mut self) {
        self.to_all.clear();
        self.to_one.iter_mut().for_each(|(_, votes)| votes.clear());
        self.named = 0;
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.to_all.is_empty() && self.named == 0
    }

    /// Sends everything held: consecutive votes with the same `key` (a
    /// ballot, say) become one message `pack(key, votes)` of at most `max`
    /// votes and about [`MAX_BATCH_BYTES`] by `size` (votes may carry
    /// commands, whose values can be large: a batch must stay far below
    /// the frame cap) — to every other replica, then to each single
    /// destination in the order they were first named.
    pub fn flush<K: PartialEq, M>(
        &mut self,
        out: &mut Outbox<M>,
        max: usize,
        size: impl Fn(&V) -> usize,
        key: impl Fn(&V) -> K,
        mut pack: impl FnMut(K, Vec<V>) -> M,
    ) {
        let limit = Limit {
            votes: max.max(1),
            bytes: MAX_BATCH_BYTES,
            size: &size,
        };
        let held = self.to_all.len();
        runs(&mut self.to_all, &limit, &key, |k, votes| out.broadcast(pack(k, votes)));
        crate::shrink::give_back_for(&mut self.to_all, held);
        for (to, votes) in &mut self.to_one[..self.named] {
            let (to, held) = (*to, votes.len());
            runs(votes, &limit, &key, |k, votes| out.send_replica(to, pack(k, votes)));
            crate::shrink::give_back_for(votes, held);
        }
        self.named = 0;
    }
}

/// Bytes of votes one batch carries at most (a lone larger vote goes alone).
pub const MAX_BATCH_BYTES: usize = crate::transfer::PART_BYTES;

struct Limit<'a, V> {
    votes: usize,
    bytes: usize,
    size: &'a dyn Fn(&V) -> usize,
}

/// Empties `votes` into runs of equal key, each within `limit`, handing
/// each run to `send` in order.
fn runs<V, K: PartialEq>(
    votes: &mut Vec<V>,
    limit: &Limit<'_, V>,
    key: &impl Fn(&V) -> K,
    mut send: impl FnMut(K, Vec<V>),
) {
    let mut remaining = votes.len();
    let mut run: Option<(K, Vec<V>, usize)> = None;
    for vote in votes.drain(..) {
        let (k, bytes) = (key(&vote), (limit.size)(&vote));
        match &mut run {
            Some((last, held, used)) if *last == k && held.len() < limit.votes && *used + bytes <= limit.bytes => {
                held.push(vote);
                *used += bytes;
            }
            _ => {
                if let Some((k, held, _)) = run.take() {
                    send(k, held);
                }
                // Sized once for what may follow, so a batch does not regrow vote by vote.
                let mut held = Vec::with_capacity(remaining.min(limit.votes).min(limit.bytes / bytes.max(1) + 1));
                held.push(vote);
                run = Some((k, held, bytes));
            }
        }
        remaining -= 1;
    }
    if let Some((k, held, _)) = run {
        send(k, held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::protocol::Action;

    #[test]
    fn held_votes_leave_as_one_message_per_key_run_and_destination() {
        let mut held = HeldVotes::new();
        for v in [(1, 'a'), (1, 'b'), (2, 'c'), (2, 'd'), (2, 'e')] {
            held.broadcast(v);
        }
        held.send(2, (1, 'x'));
        held.send(1, (1, 'y'));
        held.send(2, (1, 'z'));
        let mut out: Outbox<(u32, String)> = Outbox::new();
        held.flush(
            &mut out,
            2,
            |_| 1,
            |v| v.0,
            |k, votes| (k, votes.iter().map(|v| v.1).collect()),
        );
        let sent: Vec<Action<(u32, String)>> = out.drain().collect();
        assert_eq!(
            sent,
            vec![
                Action::Broadcast((1, "ab".into())),
                Action::Broadcast((2, "cd".into())),
                Action::Broadcast((2, "e".into())),
                Action::Send {
                    to: NodeId::Replica(2),
                    msg: (1, "xz".into())
                },
                Action::Send {
                    to: NodeId::Replica(1),
                    msg: (1, "y".into())
                },
            ]
        );
        assert!(held.is_empty());
    }

    #[test]
    fn each_flush_sends_to_destinations_in_the_order_it_named_them() {
        let mut held = HeldVotes::new();
        let mut out: Outbox<(u32, String)> = Outbox::new();
        let mut flush = |held: &mut HeldVotes<(u32, char)>| {
            held.flush(
                &mut out,
                8,
                |_| 1,
                |v| v.0,
                |k, votes| (k, votes.iter().map(|v| v.1).collect()),
            );
            out.drain().collect::<Vec<_>>()
        };
        held.send(2, (1, 'a'));
        held.send(1, (1, 'b'));
        assert_eq!(flush(&mut held).len(), 2);
        held.send(1, (1, 'c'));
        held.send(3, (1, 'd'));
        held.send(2, (1, 'e'));
        held.send(1, (1, 'f'));
        assert_eq!(
            flush(&mut held),
            vec![
                Action::Send {
                    to: NodeId::Replica(1),
                    msg: (1, "cf".into())
                },
                Action::Send {
                    to: NodeId::Replica(3),
                    msg: (1, "d".into())
                },
                Action::Send {
                    to: NodeId::Replica(2),
                    msg: (1, "e".into())
                },
            ]
        );
        assert!(held.is_empty());
        assert!(flush(&mut held).is_empty());
        held.send(3, (1, 'g'));
        held.clear();
        assert!(held.is_empty() && flush(&mut held).is_empty());
    }

    #[test]
    fn a_batch_stays_under_the_byte_limit_and_a_large_vote_goes_alone() {
        let mut held = HeldVotes::new();
        for bytes in [600_000usize, 600_000, 100, 3 * MAX_BATCH_BYTES, 10] {
            held.broadcast(bytes);
        }
        let mut out: Outbox<Vec<usize>> = Outbox::new();
        held.flush(&mut out, 1024, |b| *b, |_| (), |(), votes| votes);
        let sent: Vec<Vec<usize>> = out
            .drain()
            .filter_map(|a| if let Action::Broadcast(v) = a { Some(v) } else { None })
            .collect();
        assert_eq!(
            sent,
            vec![vec![600_000], vec![600_000, 100], vec![3 * MAX_BATCH_BYTES], vec![10]]
        );
    }
}
