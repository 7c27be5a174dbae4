#!/usr/bin/env bash
# The long run: every test of the regular suite (.ci/run), with the
# simulator's seed matrices in full (300 seeds per cell where the regular
# suite runs 15 to 60) and every process scenario (restarts, damaged logs,
# a full disk, state transfer) for all six protocols instead of a
# representative two or three. Run it before a release and after changing a
# protocol's recovery; its run time on the 2-core VM is in the README.
# Extra arguments go to `cargo test` (e.g. `-p tools --test sim_cli`).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTPAXOS_LONG_TESTS=1 cargo test --profile ci --workspace --no-fail-fast "$@"
