#!/usr/bin/env bash
# The main job on the bundled sample books: build the dataset, train KeepFIT for a few CPU minutes, evaluate.
# Called by `make demo` after set-up; RUN (default runs/demo) receives everything.
set -euo pipefail
RUN=${1:-runs/demo}
BIN=${BIN:-.venv/bin}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg

echo "== 1/3 build the dataset from the bundled sample books"
"$BIN/mmretinal" build --recipe pipelines/sample_books.yaml --out "$RUN/build"
"$BIN/mmretinal" inspect "$RUN/build" --out "$RUN/build/overlays" >/dev/null

echo "== 2/3 train KeepFIT (CPU demo config)"
"$BIN/keepfit" train --config pipelines/keepfit_demo_cpu.yaml \
  --set data.mm_dir="$RUN/build/dataset" --set train.out_dir="$RUN/train"

echo "== 3/3 evaluate on the held-out split"
"$BIN/keepfit" eval --checkpoint "$RUN/train" --data "$RUN/build/dataset" --split test \
  --task zero-shot --task linear-probe --task retrieval --out "$RUN/eval"

cat <<MSG

Outputs
  records and funnel : $RUN/build/figures.jsonl, $RUN/build/stats.json   (mmretinal stats $RUN/build)
  page overlays      : $RUN/build/overlays/
  dataset + card     : $RUN/build/dataset/README.md
  training run       : $RUN/train/   (metrics.jsonl, curves, checkpoints)
  evaluation         : $RUN/eval/
MSG
