//! The simulated clients' commands.

use bytes::Bytes;
use protocols::{Command, Key};
use rand::Rng;

/// The key that conflicting commands share (the original's default, `key: 42`).
pub const CONFLICT_KEY: Key = 42;

/// The `seq`-th command of `client`: on [`CONFLICT_KEY`] with probability
/// `conflicts`%, else on a key no other client uses; a PUT with probability
/// `writes`% (with a value unique to the command, so reads identify the
/// write they saw), else a SCAN of four keys around it with probability
/// `scans`%, else a GET.
pub fn command(rng: &mut impl Rng, client: usize, seq: u64, conflicts: u32, writes: u32, scans: u32) -> Command {
    let key = if rng.gen_range(0..100) < conflicts {
        CONFLICT_KEY
    } else {
        1_000_000 + (client as Key) * 1_000_000_000 + (seq as Key % 1_000)
    };
    if rng.gen_range(0..100) < writes {
        Command::Put {
            key,
            value: Bytes::from(format!("c{client}s{seq}")),
        }
    } else if scans > 0 && rng.gen_range(0..100) < scans {
        Command::Scan { key: key - 2, count: 4 }
    } else {
        Command::Get { key }
    }
}
