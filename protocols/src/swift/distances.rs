//! How far each replica is from a client, so that the client can tell
//! whether the slow path may ever beat the fast path.
//!
//! A follower whose fast vote matched the leader's can leave its `SlowAck`
//! out (`replica/client_votes.rs`): on a LAN the fast path always answers
//! first, and the `SlowAck` only costs a message. Across sites it may not:
//! with three replicas the fast path waits for the farther follower, the
//! slow path for the leader relaying to the nearer one, and a client near
//! the leader and one follower completes sooner on the slow path. So each
//! `Propose` says whether the client wants every `SlowAck`.
//!
//! It does unless all its replicas are within [`SPREAD`] of each other in
//! round trip. Then the slow path cannot win by more than that: a
//! follower's `SlowAck` travels client → leader → follower → client, at
//! least `(rtt(leader) + rtt(follower)) / 2 >= min rtt`, and the fast path
//! takes at most the largest round trip. Round trips are the smallest seen
//! over a window of [`WINDOW`] to [`WINDOW`] × 2 (queueing under load
//! raises every sample, not the smallest), measured on one command in
//! [`SAMPLE_EVERY`] from its first send to each replica's first answer.

use crate::ids::{CommandId, ReplicaId};
use crate::time::Time;
use smallvec::SmallVec;
use std::time::Duration;

/// How much closer the slow path may come before a client wants every `SlowAck`.
pub const SPREAD: Duration = Duration::from_millis(1);

/// How long a smallest round trip is trusted: routes and emulated delays
/// may change.
pub const WINDOW: Duration = Duration::from_secs(10);

/// One command in this many is measured (the first one always): a round
/// trip per few hundred commands is plenty, and every answer of every
/// command measured cost a client host ~1.7% of its time.
const SAMPLE_EVERY: u64 = 8;

/// How many measured commands a client remembers the send time of: answers
/// from slower replicas arrive after the command completed.
const RECENT: usize = 2;

/// Nothing measured, in [`Distances::smallest`].
const UNMEASURED: u32 = u32::MAX;

/// The smallest round trip to each replica a client saw lately.
#[derive(Clone, Debug)]
pub struct Distances {
    /// Per replica, in microseconds: the smallest round trip in this
    /// window and in the last ([`UNMEASURED`] if none). Inline up to five
    /// replicas: a client host holds one per client.
    smallest: SmallVec<[[u32; 2]; 5]>,
    window_start: Time,
    /// Measured commands sent once (not retried), with when.
    recent: [Option<(CommandId, Time)>; RECENT],
}

impl Distances {
    /// Nothing measured yet, to `n` replicas.
    pub fn new(n: usize) -> Self {
        Distances {
            smallest: SmallVec::from_elem([UNMEASURED; 2], n),
            window_start: Time::ZERO,
            recent: [None; RECENT],
        }
    }

    fn measures(id: CommandId) -> bool {
        id.seq % SAMPLE_EVERY == 1
    }

    /// `id` was sent to every replica for the first time.
    pub fn sent(&mut self, id: CommandId, now: Time) {
        if Self::measures(id) {
            self.recent.rotate_right(1);
            self.recent[0] = Some((id, now));
        }
    }

    /// `id` was sent again: its answers no longer measure a round trip.
    pub fn resent(&mut self, id: CommandId) {
        self.recent
            .iter_mut()
            .filter(|slot| slot.is_some_and(|(i, _)| i == id))
            .for_each(|slot| *slot = None);
    }

    /// `from` answered about `id`.
    pub fn answered(&mut self, from: ReplicaId, id: CommandId, now: Time) {
        if !Self::measures(id) {
            return;
        }
        let Some((_, sent)) = self.recent.iter().flatten().find(|(i, _)| *i == id) else {
            return;
        };
        let micros = u32::try_from(now.since(*sent).as_micros()).unwrap_or(UNMEASURED - 1);
        if now.since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.smallest
                .iter_mut()
                .for_each(|[this, last]| (*last, *this) = (*this, UNMEASURED));
        }
        if let Some([this, _]) = self.smallest.get_mut(from) {
            *this = (*this).min(micros);
        }
    }

    /// Whether the replicas are far enough apart in round trip that the
    /// slow path may answer first (or not all measured yet).
    pub fn wants_every_slow_ack(&self) -> bool {
        let (mut low, mut high) = (u32::MAX, 0);
        for &[this, last] in &self.smallest {
            let smallest = this.min(last);
            if smallest == UNMEASURED {
                return true;
            }
            low = low.min(smallest);
            high = high.max(smallest);
        }
        u128::from(high - low.min(high)) > SPREAD.as_micros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends the `k`th measured command at `at` ms and has replica `r`
    /// answer after `round_trips_ms[r]`.
    fn measure(d: &mut Distances, k: u64, at: u64, round_trips_ms: &[u64]) {
        let id = CommandId::new(1, (k - 1) * SAMPLE_EVERY + 1);
        d.sent(id, Time::from_millis(at));
        for (r, ms) in round_trips_ms.iter().enumerate() {
            d.answered(r, id, Time::from_millis(at + ms));
        }
    }

    #[test]
    fn equidistant_replicas_need_no_matching_slow_acks() {
        let mut d = Distances::new(3);
        assert!(d.wants_every_slow_ack(), "nothing measured yet");
        measure(&mut d, 1, 0, &[0, 0]);
        assert!(d.wants_every_slow_ack(), "one replica not measured yet");
        measure(&mut d, 2, 100, &[0, 1, 0]);
        assert!(!d.wants_every_slow_ack());
    }

    #[test]
    fn replicas_at_different_distances_need_every_slow_ack() {
        let mut d = Distances::new(3);
        measure(&mut d, 1, 0, &[10, 60, 140]);
        assert!(d.wants_every_slow_ack());
    }

    #[test]
    fn queueing_does_not_count_the_smallest_round_trip_does() {
        let mut d = Distances::new(3);
        measure(&mut d, 1, 0, &[0, 0, 0]);
        measure(&mut d, 2, 100, &[5, 30, 2]);
        assert!(!d.wants_every_slow_ack());
    }

    #[test]
    fn answers_to_a_retried_command_are_not_round_trips() {
        let mut d = Distances::new(2);
        let id = CommandId::new(1, 1);
        d.sent(id, Time::ZERO);
        d.answered(0, id, Time::ZERO);
        d.resent(id);
        d.answered(1, id, Time::from_millis(500));
        assert!(d.wants_every_slow_ack(), "replica 1 unmeasured");
    }

    #[test]
    fn only_one_command_in_eight_is_measured() {
        let mut d = Distances::new(1);
        let id = CommandId::new(1, 2);
        d.sent(id, Time::ZERO);
        d.answered(0, id, Time::ZERO);
        assert!(d.wants_every_slow_ack(), "command 2 is not measured");
        measure(&mut d, 1, 0, &[3]);
        assert!(!d.wants_every_slow_ack());
    }

    #[test]
    fn old_round_trips_expire_after_two_windows() {
        let mut d = Distances::new(2);
        measure(&mut d, 1, 0, &[0, 0]);
        assert!(!d.wants_every_slow_ack());
        let later = WINDOW.as_millis() as u64;
        measure(&mut d, 2, later, &[0, 50]);
        assert!(!d.wants_every_slow_ack(), "the last window's 0 ms still counts");
        measure(&mut d, 3, 2 * later, &[0, 50]);
        assert!(d.wants_every_slow_ack(), "replica 1 moved away");
    }
}
