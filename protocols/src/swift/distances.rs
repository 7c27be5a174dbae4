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
//! raises every sample, not the smallest), measured from a command's first
//! send to each replica's first answer about it.

use crate::ids::{CommandId, ReplicaId};
use crate::time::Time;
use std::time::Duration;

/// How much closer the slow path may come before a client wants every `SlowAck`.
pub const SPREAD: Duration = Duration::from_millis(1);

/// How long a smallest round trip is trusted: routes and emulated delays
/// may change.
pub const WINDOW: Duration = Duration::from_secs(10);

/// How many recent commands a client remembers the send time of: answers
/// from slower replicas arrive after the command completed.
const RECENT: usize = 4;

/// The smallest round trip to each replica a client saw lately.
#[derive(Clone, Debug)]
pub struct Distances {
    /// Per replica: the smallest round trip in this window and in the last.
    smallest: Vec<(Option<Duration>, Option<Duration>)>,
    window_start: Time,
    /// Commands sent once (not retried), with when.
    recent: [Option<(CommandId, Time)>; RECENT],
    next_slot: usize,
}

impl Distances {
    /// Nothing measured yet, to `n` replicas.
    pub fn new(n: usize) -> Self {
        Distances { smallest: vec![(None, None); n], window_start: Time::ZERO, recent: [None; RECENT], next_slot: 0 }
    }

    /// `id` was sent to every replica for the first time.
    pub fn sent(&mut self, id: CommandId, now: Time) {
        self.recent[self.next_slot] = Some((id, now));
        self.next_slot = (self.next_slot + 1) % RECENT;
    }

    /// `id` was sent again: its answers no longer measure a round trip.
    pub fn resent(&mut self, id: CommandId) {
        self.recent.iter_mut().filter(|slot| slot.is_some_and(|(i, _)| i == id)).for_each(|slot| *slot = None);
    }

    /// `from` answered about `id`.
    pub fn answered(&mut self, from: ReplicaId, id: CommandId, now: Time) {
        let Some((_, sent)) = self.recent.iter().flatten().find(|(i, _)| *i == id) else { return };
        let round_trip = now.since(*sent);
        if now.since(self.window_start) >= WINDOW {
            self.window_start = now;
            self.smallest.iter_mut().for_each(|(this, last)| (*last, *this) = (this.take(), None));
        }
        if let Some((this, _)) = self.smallest.get_mut(from) {
            *this = Some(this.map_or(round_trip, |d| d.min(round_trip)));
        }
    }

    /// Whether the replicas are far enough apart in round trip that the
    /// slow path may answer first (or not all measured yet).
    pub fn wants_every_slow_ack(&self) -> bool {
        let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
        for (this, last) in &self.smallest {
            let Some(d) = [*this, *last].into_iter().flatten().min() else { return true };
            low = low.min(d);
            high = high.max(d);
        }
        high.saturating_sub(low) > SPREAD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(d: &mut Distances, seq: u64, at: u64, round_trips_ms: &[u64]) {
        let id = CommandId::new(1, seq);
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
