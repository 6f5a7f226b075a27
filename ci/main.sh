#!/usr/bin/env bash
# The README's main command. On a fresh machine it sets everything up (ci/bootstrap.sh), then
# runs the project's main job: `tpgnn tune` tunes ResNet-18's heaviest tasks with the shipped
# GNN and with XGBoost (same seed and budget), compiles and times the whole network, and
# writes out/tune/report.json and out/tune/best_latency.png. Extra arguments go to
# `tpgnn tune` (e.g. --network mobilenet_v2 --trials 64).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ci/bootstrap.sh
exec .venv/bin/tpgnn tune --out out/tune "$@"
