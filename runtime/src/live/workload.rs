//! What live clients send: which keys, which operations, and when (closed
//! or open loop). Every choice is a pure function of the client and the
//! command's number, so two runs with the same settings send the same
//! commands.

use bytes::Bytes;
use protocols::Command;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};

/// The key conflicting commands share (the original's `key: 42`).
pub const CONFLICT_KEY: i64 = 42;

/// Where the keys of a command come from.
#[derive(Clone, Debug)]
pub enum Keys {
    /// The original's model: `conflicts`% of each client's commands on the
    /// one shared key, the rest on keys no other client touches.
    SharedKey,
    /// Every command on a key drawn uniformly from `keyspace` keys shared
    /// by all clients: conflicts follow from the key space's size.
    Uniform {
        /// How many keys.
        keyspace: u64,
    },
    /// Keys drawn from a Zipf law of exponent `exponent` over `keyspace`
    /// keys shared by all clients (rank 1 the hottest), as skewed key-value
    /// benchmarks (YCSB) do.
    Zipf {
        /// The law's exponent (0.99 in YCSB).
        exponent: f64,
        /// How many keys.
        keyspace: u64,
        /// The law, built once.
        law: Zipf<f64>,
    },
}

impl Keys {
    /// Parses `uniform` or `zipf:S` over `keyspace` keys, or `shared` (the original's).
    pub fn parse(text: &str, keyspace: u64) -> Result<Keys, String> {
        if keyspace == 0 {
            return Err("the key space needs at least one key".into());
        }
        match text.trim() {
            "shared" => Ok(Keys::SharedKey),
            "uniform" => Ok(Keys::Uniform { keyspace }),
            other => {
                let exponent = other
                    .strip_prefix("zipf:")
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or_else(|| {
                        format!(
                            "unknown key distribution `{other}` (expected shared, uniform or zipf:S, e.g. zipf:0.99)"
                        )
                    })?;
                let law = Zipf::new(keyspace, exponent).map_err(|e| format!("zipf:{exponent}: {e}"))?;
                Ok(Keys::Zipf {
                    exponent,
                    keyspace,
                    law,
                })
            }
        }
    }

    /// The key of command `i` of `client` when it is not on the shared key.
    fn key(&self, client: u64, i: u64) -> i64 {
        const SHARED_BASE: i64 = 1 << 40;
        match self {
            Keys::SharedKey => 1_000_000 + (client as i64) * 1_000_000 + (i % 1000) as i64,
            Keys::Uniform { keyspace } => SHARED_BASE + (mix(client, i) % keyspace) as i64,
            Keys::Zipf { law, .. } => {
                let rank = law.sample(&mut ChaCha8Rng::seed_from_u64(mix(client, i)));
                SHARED_BASE + rank as i64 - 1
            }
        }
    }
}

/// A 64-bit hash of (client, i) (SplitMix64's finaliser).
fn mix(client: u64, i: u64) -> u64 {
    let mut z = client.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_add(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the clients send: exact shares, not probabilities, so that
/// `conflicts: 2` means 2 in every 100 commands of each client.
#[derive(Clone, Debug)]
pub struct Workload {
    /// With [`Keys::SharedKey`]: percentage of commands on [`Workload::key`].
    pub conflicts: u32,
    /// Percentage of the non-SCAN commands that are PUTs (the rest GETs).
    pub writes: u32,
    /// Percentage of commands that are SCANs of [`Workload::scan_length`] keys.
    pub scans: u32,
    /// Keys a SCAN covers after its first.
    pub scan_length: u64,
    /// Where keys come from.
    pub keys: Keys,
    /// The key conflicting commands share (the original's `key`).
    pub key: i64,
    /// Bytes per PUT value.
    pub value: Bytes,
    /// Read back, after its last command, every key a client wrote and
    /// check it holds the client's last acknowledged write. PUT values are
    /// then unique (client and command number at the front), so a read
    /// tells which write it saw. Needs [`Keys::SharedKey`] (keys of one's own).
    pub verify: bool,
}

impl Workload {
    /// The original's workload: `conflicts`% on the shared key, `writes`%
    /// PUTs, no SCANs.
    pub fn original(conflicts: u32, writes: u32, value: Bytes) -> Workload {
        Workload {
            conflicts,
            writes,
            scans: 0,
            scan_length: 0,
            keys: Keys::SharedKey,
            key: CONFLICT_KEY,
            value,
            verify: false,
        }
    }
}

/// Whether the `i`-th event hits a `pct`% share: exactly `pct` in every
/// 100 consecutive `i`, spread evenly.
pub fn exact_share(i: u64, pct: u32) -> bool {
    let p = u64::from(pct.min(100));
    (i + 1) * p / 100 != i * p / 100
}

impl Workload {
    /// The `i`-th command of `client`.
    pub fn command(&self, client: u64, i: u64) -> Command {
        // Each client's shared-key commands start at an offset of its own:
        // at the same positions for every client, clients in a closed loop
        // reach them together and the shared key sees all of them at once
        // (a burst of hundreds of conflicting commands twice in every 100,
        // where the original's independent random draws spread them).
        let key = match self.keys {
            Keys::SharedKey if exact_share(i.wrapping_add(mix(client, 0) % 100), self.conflicts) => self.key,
            _ => self.keys.key(client, i),
        };
        // SCANs first, exactly `scans`% of positions; PUTs are `writes`% of
        // the positions that are not SCANs, counted apart.
        let position = i.wrapping_add(client);
        if exact_share(position, self.scans) {
            return Command::Scan {
                key,
                count: self.scan_length,
            };
        }
        let not_scans_before = position - position * u64::from(self.scans.min(100)) / 100;
        if exact_share(not_scans_before, self.writes) {
            let value = if self.verify {
                self.unique_value(client, i)
            } else {
                self.value.clone()
            };
            Command::Put { key, value }
        } else {
            Command::Get { key }
        }
    }

    /// `c<client>i<i>`, then the configured value, cut to its size (never
    /// shorter than the tag).
    fn unique_value(&self, client: u64, i: u64) -> Bytes {
        let mut v = format!("c{client}i{i}:").into_bytes();
        let size = self.value.len().max(v.len());
        v.extend_from_slice(&self.value);
        v.truncate(size);
        Bytes::from(v)
    }
}

/// When an open-loop host starts its commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    /// Evenly spaced, `1/rate` apart.
    Constant,
    /// A Poisson process: exponential gaps of mean `1/rate`.
    Poisson,
}

impl std::str::FromStr for Arrivals {
    type Err = String;
    fn from_str(s: &str) -> Result<Arrivals, String> {
        match s {
            "constant" => Ok(Arrivals::Constant),
            "poisson" => Ok(Arrivals::Poisson),
            _ => Err(format!("unknown arrivals `{s}` (expected poisson or constant)")),
        }
    }
}

/// The gaps between an open-loop host's command starts.
pub struct ArrivalClock {
    arrivals: Arrivals,
    mean_gap_ns: f64,
    rng: ChaCha8Rng,
}

impl ArrivalClock {
    /// Starts at `rate` commands per second, seeded.
    pub fn new(arrivals: Arrivals, rate: f64, seed: u64) -> ArrivalClock {
        ArrivalClock {
            arrivals,
            mean_gap_ns: 1e9 / rate.max(1e-9),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The gap to the next start, in nanoseconds.
    pub fn next_gap_ns(&mut self) -> u64 {
        match self.arrivals {
            Arrivals::Constant => self.mean_gap_ns as u64,
            Arrivals::Poisson => {
                let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
                (-u.ln() * self.mean_gap_ns) as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact_in_every_hundred() {
        for pct in [0, 2, 5, 50, 100] {
            for window in 0..5u64 {
                let hits = (window * 100..(window + 1) * 100)
                    .filter(|&i| exact_share(i, pct))
                    .count();
                assert_eq!(hits, pct as usize, "{pct}% in window {window}");
            }
        }
    }

    #[test]
    fn clients_reach_the_shared_key_at_positions_of_their_own() {
        let w = Workload::original(2, 50, Bytes::from_static(b"v"));
        let shared = |client: u64, i: u64| matches!(w.command(client, i), Command::Put { key, .. } | Command::Get { key } if key == CONFLICT_KEY);
        // Each client: exactly 2 in every 100 of its commands.
        for client in 0..64 {
            assert_eq!((0..1000).filter(|&i| shared(client, i)).count(), 20, "client {client}");
        }
        // Across 512 clients in step, no position sends them all at once
        // (the same positions for all made bursts of 512 on one key).
        let busiest = (0..100)
            .map(|i| (0..512).filter(|&c| shared(c, i)).count())
            .max()
            .unwrap_or(0);
        assert!(
            busiest <= 40,
            "{busiest} of 512 clients on the shared key at one position"
        );
        // And both PUTs and GETs reach it.
        let puts = (0..512)
            .flat_map(|c| (0..100).map(move |i| (c, i)))
            .filter(|&(c, i)| shared(c, i) && matches!(w.command(c, i), Command::Put { .. }))
            .count();
        assert!(
            (400..=624).contains(&puts),
            "{puts} of 1,024 shared-key commands are PUTs"
        );
    }

    #[test]
    fn the_mix_is_exact_per_hundred_commands() {
        let w = Workload {
            scans: 10,
            scan_length: 5,
            writes: 50,
            ..Workload::original(0, 50, Bytes::from_static(b"v"))
        };
        let (mut scans, mut puts) = (0, 0);
        for i in 0..1000 {
            match w.command(3, i) {
                Command::Scan { count, .. } => {
                    assert_eq!(count, 5);
                    scans += 1
                }
                Command::Put { .. } => puts += 1,
                _ => {}
            }
        }
        assert_eq!((scans, puts), (100, 450));
    }

    #[test]
    fn zipf_keys_are_skewed_and_uniform_keys_are_not() {
        let count_hottest = |keys: Keys| {
            let w = Workload {
                keys,
                ..Workload::original(0, 0, Bytes::new())
            };
            let mut hits = std::collections::HashMap::new();
            for client in 0..20 {
                for i in 0..500 {
                    let Command::Get { key } = w.command(client, i) else {
                        panic!("GETs only")
                    };
                    *hits.entry(key).or_insert(0u32) += 1;
                }
            }
            hits.values().copied().max().unwrap_or(0)
        };
        // 10,000 draws over 1,000 keys: uniform gives ~10 per key; Zipf
        // 0.99 puts ~13% of draws on rank 1.
        assert!(count_hottest(Keys::parse("uniform", 1000).expect("uniform")) < 40);
        assert!(count_hottest(Keys::parse("zipf:0.99", 1000).expect("zipf")) > 800);
        assert!(
            Keys::parse("zipf:x", 10).is_err()
                && Keys::parse("normal", 10).is_err()
                && Keys::parse("uniform", 0).is_err()
        );
    }

    #[test]
    fn poisson_gaps_average_the_rate() {
        let mut clock = ArrivalClock::new(Arrivals::Poisson, 10_000.0, 7);
        let total: u64 = (0..100_000).map(|_| clock.next_gap_ns()).sum();
        let mean_us = total as f64 / 100_000.0 / 1e3;
        assert!((95.0..105.0).contains(&mean_us), "{mean_us}");
        assert_eq!(ArrivalClock::new(Arrivals::Constant, 20_000.0, 0).next_gap_ns(), 50_000);
    }
}
