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
/// or for one.
#[derive(Debug)]
pub struct HeldVotes<V> {
    to_all: Vec<V>,
    to_one: Vec<(ReplicaId, V)>,
}

impl<V> Default for HeldVotes<V> {
    fn default() -> Self {
        HeldVotes { to_all: Vec::new(), to_one: Vec::new() }
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
        self.to_one.push((to, vote));
    }

    /// Forgets what is held (a restart drops what restoring queued).
    pub fn clear(&mut self) {
        self.to_all.clear();
        self.to_one.clear();
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.to_all.is_empty() && self.to_one.is_empty()
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
        let limit = Limit { votes: max.max(1), bytes: MAX_BATCH_BYTES, size: &size };
        for (k, votes) in runs(std::mem::take(&mut self.to_all), &limit, &key) {
            out.broadcast(pack(k, votes));
        }
        let mut to_one = std::mem::take(&mut self.to_one);
        while let Some(&(to, _)) = to_one.first() {
            let (mine, rest): (Vec<_>, Vec<_>) = to_one.into_iter().partition(|(r, _)| *r == to);
            to_one = rest;
            for (k, votes) in runs(mine.into_iter().map(|(_, v)| v).collect(), &limit, &key) {
                out.send_replica(to, pack(k, votes));
            }
        }
    }
}

/// Splits `votes` into runs of equal key, each at most `max` long.
/// Bytes of votes one batch carries at most (a lone larger vote goes alone).
pub const MAX_BATCH_BYTES: usize = crate::transfer::PART_BYTES;

struct Limit<'a, V> {
    votes: usize,
    bytes: usize,
    size: &'a dyn Fn(&V) -> usize,
}

fn runs<V, K: PartialEq>(votes: Vec<V>, limit: &Limit<'_, V>, key: &impl Fn(&V) -> K) -> Vec<(K, Vec<V>)> {
    let mut out: Vec<(K, Vec<V>, usize)> = Vec::new();
    for vote in votes {
        let (k, bytes) = (key(&vote), (limit.size)(&vote));
        match out.last_mut() {
            Some((last, run, used)) if *last == k && run.len() < limit.votes && *used + bytes <= limit.bytes => {
                run.push(vote);
                *used += bytes;
            }
            _ => out.push((k, vec![vote], bytes)),
        }
    }
    out.into_iter().map(|(k, run, _)| (k, run)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Action;
    use crate::ids::NodeId;

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
        held.flush(&mut out, 2, |_| 1, |v| v.0, |k, votes| (k, votes.iter().map(|v| v.1).collect()));
        let sent: Vec<Action<(u32, String)>> = out.drain().collect();
        assert_eq!(
            sent,
            vec![
                Action::Broadcast((1, "ab".into())),
                Action::Broadcast((2, "cd".into())),
                Action::Broadcast((2, "e".into())),
                Action::Send { to: NodeId::Replica(2), msg: (1, "xz".into()) },
                Action::Send { to: NodeId::Replica(1), msg: (1, "y".into()) },
            ]
        );
        assert!(held.is_empty());
    }

    #[test]
    fn a_batch_stays_under_the_byte_limit_and_a_large_vote_goes_alone() {
        let mut held = HeldVotes::new();
        for bytes in [600_000usize, 600_000, 100, 3 * MAX_BATCH_BYTES, 10] {
            held.broadcast(bytes);
        }
        let mut out: Outbox<Vec<usize>> = Outbox::new();
        held.flush(&mut out, 1024, |b| *b, |_| (), |(), votes| votes);
        let sent: Vec<Vec<usize>> = out.drain().filter_map(|a| if let Action::Broadcast(v) = a { Some(v) } else { None }).collect();
        assert_eq!(sent, vec![vec![600_000], vec![600_000, 100], vec![3 * MAX_BATCH_BYTES], vec![10]]);
    }
}
