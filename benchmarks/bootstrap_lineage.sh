#!/usr/bin/env bash
# The bootstrap lineage of examples/bootstrap.yaml on the distributed platform: PostgreSQL +
# Redis, a scheduler, two rollout workers and a train worker on this machine. Rerun it with the
# same LINEAGE to resume (the campaign, its rounds and every stage are found by name); the curve
# is then `blazer models lineage $LINEAGE`. Logs and the PID file go to $OUT.
#   LINEAGE=boot bash benchmarks/bootstrap_lineage.sh           # start or resume, in the background
#   LINEAGE=boot-nofocus FOCUS=false bash benchmarks/bootstrap_lineage.sh   # the ablation
#   bash benchmarks/bootstrap_lineage.sh stop
# SCENES, MINUTES and BASE_HELDOUT=false override the spec's bootstrap block (a shorter round;
# the few-shot base's held-out rate is then the README's Result 2, same seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
LINEAGE="${LINEAGE:-boot}"
FOCUS="${FOCUS:-true}"
SCENES="${SCENES:-}"
MINUTES="${MINUTES:-}"
BASE_HELDOUT="${BASE_HELDOUT:-true}"
DB="${DB:-blazer_bootstrap}"
OUT="${OUT:-benchmarks/results/bootstrap}"
export BLAZER_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$DB"
export BLAZER_BROKER_URL="${BLAZER_BROKER_URL:-redis://127.0.0.1:6379/5}"
export BLAZER_DATA_DIR="${BLAZER_DATA_DIR:-$OUT/data}"
mkdir -p "$OUT"
BLAZER=.venv/bin/blazer

tree() {  # a process and all its descendants
  local p
  for p in "$@"; do echo "$p"; tree $(pgrep -P "$p" || true); done
}
stop_all() {
  # Celery's warm shutdown waits for the task in hand (a round's stage can take an hour), so
  # TERM, then KILL whatever is left of each tree: every stage resumes by name
  if [ -f "$OUT/pids" ]; then
    procs=$(tree $(cat "$OUT/pids"))
    kill $procs 2>/dev/null || true
    sleep 10
    kill -9 $procs 2>/dev/null || true
  fi
  rm -f "$OUT/pids"
}
if [ "${1:-}" = stop ]; then
  stop_all
  exit 0
fi

psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1 \
  || createdb -h 127.0.0.1 -U postgres "$DB"
$BLAZER db upgrade
# one llama.cpp thread per rollout worker: two workers share the two cores
spec="$OUT/$LINEAGE.yaml"
.venv/bin/python - "$spec" "$LINEAGE" "$FOCUS" "$SCENES" "$MINUTES" "$BASE_HELDOUT" <<'PY'
import sys, yaml
out, lineage, focus, scenes, minutes, base_heldout = sys.argv[1:]
spec = yaml.safe_load(open("examples/bootstrap.yaml"))
spec["name"] = f"{lineage}-r0"
spec["teacher"]["threads"] = 1
spec["bootstrap"].update(lineage=lineage, focus=focus == "true", heldout_base=base_heldout == "true")
if scenes:
    spec["bootstrap"]["scenes"] = int(scenes)
if minutes:
    spec["bootstrap"]["minutes"] = float(minutes)
yaml.safe_dump(spec, open(out, "w"), sort_keys=False)
PY
$BLAZER campaign create "$spec" 2>&1 | tail -1 || true   # exists already: resume

stop_all
: > "$OUT/pids"
for w in 1 2; do
  nohup $BLAZER worker --loglevel WARNING > "$OUT/worker$w.log" 2>&1 & echo $! >> "$OUT/pids"
done
nohup $BLAZER worker --queues train --loglevel WARNING > "$OUT/train.log" 2>&1 & echo $! >> "$OUT/pids"
nohup $BLAZER scheduler > "$OUT/scheduler.log" 2>&1 & echo $! >> "$OUT/pids"
echo "lineage $LINEAGE running (logs in $OUT); the curve: BLAZER_DATABASE_URL=$BLAZER_DATABASE_URL $BLAZER models lineage $LINEAGE"
