#!/usr/bin/env bash
# The geo evaluation (issue 6), every file under results/geo/ from scratch:
#   1. the real runtime (bench) with the reference region table, SwiftPaxos
#      and Paxos at 2% conflicts, one loopback address per site;
#   2. the simulator for every protocol and conflict rate, Flint's estimates,
#      the CSVs and plots, and the runtime-vs-simulation comparison.
# Usage: tools/evaluate.sh [REFERENCE_DIR]   (default: ../shared/reference)
set -euo pipefail
cd "$(dirname "$0")/.."
REFERENCE="${1:-../shared/reference}"
TABLE="$REFERENCE/aws-latency-table.txt"
[ -f "$TABLE" ] || { echo "evaluate.sh: $TABLE not found (pass the reference folder)" >&2; exit 2; }

cargo build --release --bin evaluate --bin bench

# Replica 0 leads: the reference quorum file's leader (us-west-1) first.
REPLICAS=us-west-1,ap-south-1,ap-northeast-1,eu-west-3,af-south-1
SITES=ap-east-1,ap-northeast-1,ap-southeast-2,eu-west-1,ca-central-1,sa-east-1,us-east-1,us-east-2,us-west-1,us-west-2,ap-south-1,eu-west-3,af-south-1
rm -rf results/geo/runtime
for protocol in swiftpaxos paxos; do
  ./target/release/bench --protocol "$protocol" --replicas 5 --latency "$TABLE" \
    --replica-sites "$REPLICAS" --client-sites "$SITES" --clients 26 \
    --conflicts 2 --writes 100 --duration 20s --warmup 3s --quiet --output results/geo/runtime
done

./target/release/evaluate --reference "$REFERENCE" --out results/geo --runtime results/geo/runtime
