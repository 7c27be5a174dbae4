#!/usr/bin/env bash
# Reruns the table of all six protocols in one run of the machine: the main
# job's setting (3 replicas on loopback, 512 closed-loop clients, 2%
# conflicts, 100-byte values), 12 s measured so that resident memory is
# sampled 10 s in and at the end. Writes each protocol's JSON and the table
# (table.md, with the command, commit and machine) under results/bench-all/.
# About 90 seconds. Run from the repository root.
set -euo pipefail
out=results/bench-all
cargo build --release --bin bench
mkdir -p "$out"
rm -f "$out"/bench-*.json
cmd=(target/release/bench --protocol all --clients 512 --duration 12s --warmup 2s --output "$out" --quiet)
"${cmd[@]}" | tee "$out/run.txt"
{
  echo "# All six protocols, one run"
  echo
  echo "Command: \`bench ${cmd[*]:1}\` (via tools/bench-all.sh), commit $(git rev-parse --short HEAD),"
  echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(uname -sr)."
  echo
  sed -n '/^| protocol/,$p' "$out/run.txt"
  echo
  echo "Resident memory is the bench process's, which runs the protocols one after"
  echo "another: compare a row's two figures (growth while measuring), not rows."
} > "$out/table.md"
cat "$out/table.md"
