#!/usr/bin/env bash
# Regenerates results/research: throughput–latency curves of all six
# protocols (closed loop over client counts, open loop over offered rates)
# and one leader-failure timeline per protocol, with the commands that made
# them in commands.txt (results/research/README.md says what they show).
# About 8 minutes on the 2-core VM. Run from the repository root.
set -euo pipefail
out=results/research
cargo build --release --bin bench
bench=target/release/bench
rm -rf "$out/curves" "$out/timelines" "$out/runs"
mkdir -p "$out/curves" "$out/timelines" "$out/runs"
: > "$out/commands.txt"
run() { echo "bench $*" | tee -a "$out/commands.txt"; "$bench" "$@"; }
run --protocol all --sweep clients=1,8,32,128,512 --duration 4s --warmup 1s --plot --output "$out/runs" --quiet
run --protocol all --sweep rate=10k,25k,50k,100k,150k,200k --clients 1024 --duration 4s --warmup 1s --plot --output "$out/runs" --quiet
mv "$out"/runs/sweep-* "$out/curves/"
# The sweeps' per-run timelines are not kept; their JSON is.
rm -f "$out"/runs/*-timeline.png
for p in swiftpaxos paxos n2paxos curp fastpaxos epaxos; do
  scratch=$(mktemp -d)
  echo "bench --protocol $p --fault kill-leader@3s --duration 8s --warmup 2s --plot --output SCRATCH --quiet   # then renamed to timelines/P-kill-leader.{png,json,txt}" >> "$out/commands.txt"
  "$bench" --protocol "$p" --fault kill-leader@3s --duration 8s --warmup 2s --plot --output "$scratch" --quiet | tee "$out/timelines/$p-kill-leader.txt"
  # Stable names for the figure and its data.
  mv "$scratch"/*-timeline.png "$out/timelines/$p-kill-leader.png"
  mv "$scratch"/*.json "$out/timelines/$p-kill-leader.json"
  rm -rf "$scratch"
done
