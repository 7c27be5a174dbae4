//! Which core each executor runs on, and how it waits when idle. The
//! design pins one executor per core (thread-per-core); pinning more
//! executors than cores would stack two busy-polling executors on one core
//! while another sits idle, so the default pins only when every executor
//! can have a core of its own. Likewise an idle executor parks at once by
//! default: spinning before parking wins a wake-up on a machine with a
//! core per executor, and steals the core from a busy neighbour when
//! executors outnumber cores (measured in results/README.md).

use glommio::{LocalExecutorBuilder, Placement};
use std::time::Duration;

/// The pinning policy a user picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pinning {
    /// Pin when there are at least as many cores as executors, else let
    /// the kernel schedule them.
    Auto,
    /// Pin, round-robin over the cores, even when they are fewer.
    On,
    /// Never pin.
    Off,
}

impl std::str::FromStr for Pinning {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Pinning::Auto),
            "on" => Ok(Pinning::On),
            "off" => Ok(Pinning::Off),
            _ => Err(format!("unknown pinning `{s}` (expected auto, on or off)")),
        }
    }
}

/// Hands out placements for a known number of executors.
#[derive(Debug)]
pub struct CorePlan {
    cores: Vec<usize>,
    pin: bool,
    next: usize,
    spin: Duration,
}

impl CorePlan {
    /// A plan for `executors` executors on this machine's cores (as
    /// `core_affinity` reports them, which respects the process's CPU set).
    pub fn new(pinning: Pinning, executors: usize) -> CorePlan {
        let cores: Vec<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        let pin = !cores.is_empty()
            && match pinning {
                Pinning::Auto => executors <= cores.len(),
                Pinning::On => true,
                Pinning::Off => false,
            };
        CorePlan {
            cores,
            pin,
            next: 0,
            spin: Duration::ZERO,
        }
    }

    /// Executors spin this long when idle before they park (zero: park at once).
    pub fn with_spin(mut self, spin: Duration) -> CorePlan {
        self.spin = spin;
        self
    }

    /// The builder of the next executor: its placement, its name, how it waits.
    pub fn next_executor(&mut self, name: &str) -> LocalExecutorBuilder {
        let builder = LocalExecutorBuilder::new(self.next_placement()).name(name);
        if self.spin.is_zero() {
            builder
        } else {
            builder.spin_before_park(self.spin)
        }
    }

    /// Whether executors are pinned.
    pub fn pins(&self) -> bool {
        self.pin
    }

    /// The placement of the next executor.
    pub fn next_placement(&mut self) -> Placement {
        if !self.pin {
            return Placement::Unbound;
        }
        let core = self.cores[self.next % self.cores.len()];
        self.next += 1;
        Placement::Fixed(core)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_pins_only_when_every_executor_gets_a_core() {
        let cores = core_affinity::get_core_ids().map_or(0, |c| c.len());
        if cores == 0 {
            return;
        }
        assert!(CorePlan::new(Pinning::Auto, cores).pins());
        assert!(!CorePlan::new(Pinning::Auto, cores + 1).pins());
        assert!(!CorePlan::new(Pinning::Off, 1).pins());
        let mut plan = CorePlan::new(Pinning::On, cores * 2);
        let placements: Vec<String> = (0..cores * 2).map(|_| format!("{:?}", plan.next_placement())).collect();
        assert_eq!(placements[0], placements[cores], "round-robin wraps to the first core");
        assert_eq!("ON".parse(), Ok(Pinning::On));
        assert!("sometimes".parse::<Pinning>().is_err());
    }
}
