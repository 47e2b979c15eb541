#!/bin/bash
# Both scale benchmarks against the same fleets: for each size and scenario, build one private Prometheus
# with a day of history (python -m fleetui.lab.scale serve), run bench/refresh.py and bench/console.py
# against it ROUNDS times, then tear it down. Root on Debian; run it in a private network namespace, e.g.
#     /work/iso NAME bench/scale.sh            (or: bench/scale.sh "10000 healthy" "50000 half-down")
set -u
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
# refreshes per round: the raw replay of one fleet's requests varied from 69 to 165 ms within one 21-run round
# (10,000 hosts, half-down), so the medians need about this many to settle
RUNS=${RUNS:-15}
CONFIGS=("$@")
[ ${#CONFIGS[@]} -eq 0 ] && CONFIGS=("10000 healthy" "10000 half-down" "50000 half-down" "50000 healthy")
for cfg in "${CONFIGS[@]}"; do
    set -- $cfg
    work=$(mktemp -d -p /srv scale-bench-XXXX 2>/dev/null || mktemp -d)
    mkfifo "$work/hold"
    t0=$(date +%s)
    .venv/bin/python -m fleetui.lab.scale serve --root "$work/prom" --hosts "$1" --scenario "$2" \
        < "$work/hold" > "$work/info.json" 2> "$work/serve.log" &
    serve=$!
    exec 3> "$work/hold"  # the server runs until this is closed
    while [ ! -s "$work/info.json" ]; do
        kill -0 $serve 2>/dev/null || { cat "$work/serve.log"; exit 1; }
        sleep 2
    done
    echo "== $1 hosts, $2: built in $(( $(date +%s) - t0 )) s: $(tr '\n' ' ' < "$work/serve.log")"
    for round in $(seq "$ROUNDS"); do
        echo "-- round $round: bench/refresh.py"
        .venv/bin/python bench/refresh.py --server "$work/info.json" --runs "$RUNS"
        echo "-- round $round: bench/console.py"
        .venv/bin/python bench/console.py --server "$work/info.json" --seconds 60
    done
    exec 3>&-
    wait $serve
    rm -rf "$work"
done
