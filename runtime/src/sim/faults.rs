//! The faults of a run, drawn from its seed before it starts.

use super::Restarts;
use protocols::quorum::ReplicaSet;
use protocols::{ReplicaId, Time, Timing};
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

/// A change to the simulated network or to a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The replica stops (crash-stop unless a [`Fault::Restart`] follows):
    /// it neither sends nor receives, and what it had not synced is lost.
    Crash(ReplicaId),
    /// A crashed replica starts again, rebuilt from what it had synced
    /// ([`protocols::protocol::ReplicaProtocol::restore`]).
    Restart(ReplicaId),
    /// These replicas are cut off from every other node until [`Fault::Heal`].
    Partition(ReplicaSet),
    /// These replicas are cut off from the other replicas, but clients
    /// still reach every replica, until [`Fault::Heal`]: a replica that
    /// lost its links to its peers and still answers its clients' dials.
    Cut(ReplicaSet),
    /// The partition ends.
    Heal,
    /// Messages between two sites take `extra` longer (both directions).
    SpikeStart { a: usize, b: usize, extra: Duration },
    /// The spike between two sites ends.
    SpikeEnd { a: usize, b: usize },
}

/// Faults with their times, plus the per-message jitter bound.
#[derive(Clone, Debug, Default)]
pub struct FaultSchedule {
    /// Faults in time order.
    pub events: Vec<(Time, Fault)>,
    /// Every message gets a uniform extra delay below this; zero without faults.
    pub jitter: Duration,
    /// When the last transient fault (partition, spike) is over.
    pub settled_at: Time,
}

impl FaultSchedule {
    /// No faults at all: delays are exactly the placement's.
    pub fn none() -> Self {
        Self::default()
    }

    /// Draws a schedule for `n` replicas over about `horizon` of activity:
    /// between one and `f` crashes (the initial leader, replica 0, in half
    /// the runs), one or two partitions of a random proper subset of the
    /// replicas lasting up to three leader timeouts (in half of them the
    /// clients still reach every replica: [`Fault::Cut`]), up to three delay
    /// spikes between two sites, and jitter that reorders messages across links.
    ///
    /// With `restarts`, crashed replicas come back instead (see
    /// [`FaultSchedule::draw_restarts`]).
    pub fn draw(
        rng: &mut impl Rng,
        n: usize,
        sites: usize,
        max_delay: Duration,
        timing: &Timing,
        horizon: Duration,
        restarts: Restarts,
    ) -> Self {
        let mut events = Vec::new();
        let horizon_ns = horizon.as_nanos().max(1) as u64;
        let at = |rng: &mut dyn rand::RngCore, from: f64, to: f64| {
            Time((horizon_ns as f64 * (from + (to - from) * rng.gen::<f64>())) as u64)
        };

        let f = (n - 1) / 2;
        let mut settled = Time::ZERO;
        if restarts != Restarts::Never {
            settled = Self::draw_restarts(rng, n, timing, horizon, restarts == Restarts::Durable, &mut events);
        } else if f > 0 {
            let crashes = rng.gen_range(1..=f);
            let mut victims: Vec<ReplicaId> = (0..n).collect();
            victims.shuffle(rng);
            if rng.gen_bool(0.5) {
                let leader = victims.iter().position(|&r| r == 0).expect("replica 0 exists");
                victims.swap(0, leader);
            }
            for &victim in &victims[..crashes] {
                events.push((at(rng, 0.05, 1.0), Fault::Crash(victim)));
            }
        }

        let mut next_free = Time::ZERO;
        for _ in 0..rng.gen_range(1..=2) {
            let start = at(rng, 0.0, 1.0).max(next_free);
            let length = timing.leader_timeout.mul_f64(rng.gen_range(0.5..3.0));
            let size = rng.gen_range(1..n.max(2));
            let mut members: Vec<ReplicaId> = (0..n).collect();
            members.shuffle(rng);
            let group: ReplicaSet = members[..size.min(n)].iter().copied().collect();
            let from_clients_too = rng.gen_bool(0.5);
            if n > 1 {
                events.push((
                    start,
                    if from_clients_too {
                        Fault::Partition(group)
                    } else {
                        Fault::Cut(group)
                    },
                ));
                events.push((start + length, Fault::Heal));
            }
            next_free = start + length;
            settled = settled.max(next_free);
        }

        if sites > 1 {
            for _ in 0..rng.gen_range(0..=3) {
                let a = rng.gen_range(0..sites);
                let b = (a + rng.gen_range(1..sites)) % sites;
                let extra = max_delay.max(Duration::from_millis(5)).mul_f64(rng.gen_range(1.0..5.0));
                let start = at(rng, 0.0, 1.0);
                let end = start + timing.leader_timeout.mul_f64(rng.gen_range(0.2..2.0));
                events.push((start, Fault::SpikeStart { a, b, extra }));
                events.push((end, Fault::SpikeEnd { a, b }));
                settled = settled.max(end);
            }
        }

        events.sort_by_key(|(t, _)| *t);
        FaultSchedule {
            events,
            jitter: (max_delay / 10).max(Duration::from_micros(500)),
            settled_at: settled,
        }
    }

    /// Crash-restart episodes, one after another so that at most `f`
    /// replicas are down at once: one to three episodes in which 1..=f
    /// replicas (the initial leader, replica 0, among them in half the
    /// episodes) crash together and each restarts after 0.3 to 4 leader
    /// timeouts, so a replica may crash several times; and in one run in
    /// four, last, the whole cluster loses power and comes back (only with
    /// `whole_cluster`: replicas that keep their disks). Returns when the
    /// last replica is back.
    pub fn draw_restarts(
        rng: &mut impl Rng,
        n: usize,
        timing: &Timing,
        horizon: Duration,
        whole_cluster: bool,
        events: &mut Vec<(Time, Fault)>,
    ) -> Time {
        let f = (n - 1) / 2;
        let mut next_free = Time((horizon.as_nanos() as f64 * rng.gen_range(0.05..0.4)) as u64);
        let down_for = |rng: &mut dyn rand::RngCore| timing.leader_timeout.mul_f64(0.3 + 3.7 * rng.gen::<f64>());
        if f > 0 {
            for _ in 0..rng.gen_range(1..=3) {
                let mut victims: Vec<ReplicaId> = (0..n).collect();
                victims.shuffle(rng);
                if rng.gen_bool(0.5) {
                    let leader = victims.iter().position(|&r| r == 0).expect("replica 0 exists");
                    victims.swap(0, leader);
                }
                let start = next_free;
                for &victim in &victims[..rng.gen_range(1..=f)] {
                    let back = start + down_for(rng);
                    events.push((start, Fault::Crash(victim)));
                    events.push((back, Fault::Restart(victim)));
                    next_free = next_free.max(back);
                }
                next_free = next_free + timing.leader_timeout.mul_f64(rng.gen_range(0.5..3.0));
            }
        }
        if rng.gen_bool(0.25) && whole_cluster {
            let back = next_free + down_for(rng);
            for r in 0..n {
                events.push((next_free, Fault::Crash(r)));
                events.push((back, Fault::Restart(r)));
            }
            next_free = back;
        }
        next_free
    }

    /// Adds faults at fixed times; the run settles only after the last
    /// scripted heal or spike end.
    pub fn add(&mut self, scripted: &[(Time, Fault)]) {
        for (t, f) in scripted {
            if !matches!(
                f,
                Fault::Crash(_) | Fault::Partition(_) | Fault::Cut(_) | Fault::SpikeStart { .. }
            ) {
                // Heals, spike ends and restarts: the run settles after them.
                self.settled_at = self.settled_at.max(*t);
            }
            self.events.push((*t, f.clone()));
        }
        self.events.sort_by_key(|(t, _)| *t);
    }

    /// One line per fault, for reports.
    pub fn describe(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|(t, f)| {
                let ms = t.as_nanos() as f64 / 1e6;
                match f {
                    Fault::Crash(r) => format!("{ms:.1}ms crash replica {r}"),
                    Fault::Restart(r) => format!("{ms:.1}ms restart replica {r}"),
                    Fault::Partition(g) => format!("{ms:.1}ms partition {g:?} from the rest"),
                    Fault::Cut(g) => format!("{ms:.1}ms cut {g:?} from the other replicas (not from clients)"),
                    Fault::Heal => format!("{ms:.1}ms heal partition"),
                    Fault::SpikeStart { a, b, extra } => {
                        format!("{ms:.1}ms delay spike +{extra:?} between sites {a} and {b}")
                    }
                    Fault::SpikeEnd { a, b } => format!("{ms:.1}ms spike between sites {a} and {b} ends"),
                }
            })
            .collect()
    }
}
