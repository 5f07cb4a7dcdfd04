#!/usr/bin/env bash
# The learned-policy table (README, "A policy that learns from the demonstrations"): for
# PushCube and PickCube on the Panda, 100 recorded expert demonstrations (state only), a
# Diffusion Policy trained within MINUTES, then 50 held-out evaluation seeds each, the expert
# that made the demonstrations beside it on the same seeds. Embedded platform (SQLite);
# rerun to resume (campaigns and evaluations by name, a training from its checkpoint).
#   bash benchmarks/policy_table.sh                 # MINUTES=30 EPISODES=50 TASKS="push pick"
#   VARIANT=-abs TRAIN_FLAGS=--absolute bash benchmarks/policy_table.sh   # an ablation beside it
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${MINUTES:-30}"
EPISODES="${EPISODES:-50}"
TASKS="${TASKS:-push pick}"
VARIANT="${VARIANT:-}"
TRAIN_FLAGS="${TRAIN_FLAGS:-}"
OUT="${OUT:-benchmarks/results/policy}"
export BLAZER_DATA_DIR="${BLAZER_DATA_DIR:-$OUT/data}"
mkdir -p "$OUT"
BLAZER=.venv/bin/blazer
for t in $TASKS; do
  $BLAZER campaign run "examples/policy_$t.yaml" > "$OUT/$t-campaign.log" 2>&1
  $BLAZER dataset list 2>/dev/null | grep -q " $t-demos " \
    || $BLAZER dataset build --name "$t-demos" --from "policy-$t"
  $BLAZER models show "$t-demos-policy$VARIANT" > /dev/null 2>&1 \
    || $BLAZER train policy --dataset "$t-demos" --name "$t-demos-policy$VARIANT" \
      --minutes "$MINUTES" $TRAIN_FLAGS 2>> "$OUT/$t-train$VARIANT.log"
done
for t in $TASKS; do
  env_id="$([ "$t" = push ] && echo PushCube-v1 || echo PickCube-v1)"
  $BLAZER eval --model expert --model "policy:$t-demos-policy$VARIANT" --tasks "$env_id" \
    --episodes "$EPISODES" --out "$OUT/eval-$t$VARIANT" --name "policy-eval-$t"
done
