#!/usr/bin/env bash
# The crash-restart matrix of issue 11: every protocol, 3 and 5 replicas,
# 2% and 50% conflicts, 300 faulty seeds with restarts. Prints a Markdown
# table row per run (what results/restarts.md holds).
# Usage: tools/restart-seeds.sh [durable|volatile]   (default: durable)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-durable}"
case "$mode" in durable|volatile) ;; *) echo "usage: $0 [durable|volatile]" >&2; exit 2 ;; esac
cargo build --profile ci --bin sim >&2
echo "| protocol | replicas | conflicts | result | state transfers | restarts from a compacted log | volatile restarts rejoined | wall time |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for protocol in paxos swiftpaxos n2paxos curp fastpaxos epaxos; do
  for replicas in 3 5; do
    for conflicts in 2 50; do
      start=$(date +%s)
      out=$(./target/ci/sim --protocol "$protocol" --replicas "$replicas" --seeds 300 --faults --restarts "$mode" --conflicts "$conflicts")
      result=$(tail -n 1 <<<"$out")
      transfers=$(grep -o '^state transfers: [0-9]* in [0-9]* seeds' <<<"$out" | sed 's/state transfers: //' || true)
      compacted=$(grep -o '^restarts from a compacted log: [0-9]* in [0-9]* seeds' <<<"$out" | sed 's/restarts from a compacted log: //' || true)
      rejoined=$(grep -o '^volatile restarts rejoined: [0-9]* in [0-9]* seeds' <<<"$out" | sed 's/volatile restarts rejoined: //' || true)
      echo "| $protocol | $replicas | $conflicts% | $result | ${transfers:-0} | ${compacted:-0} | ${rejoined:-n/a} | $(( $(date +%s) - start )) s |"
    done
  done
done
