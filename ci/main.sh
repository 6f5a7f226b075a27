#!/usr/bin/env bash
# The README's main command. On a fresh machine it sets everything up (ci/bootstrap.sh), then
# runs the project's main job. Extra arguments go to `tpgnn graph`.
# Until the trained GNN lands (issue 5), the main job samples MetaSchedule schedules of a
# ResNet-18 conv2d, extracts their program graphs and prints a summary with a plot.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ci/bootstrap.sh
mkdir -p out
exec .venv/bin/tpgnn graph --workload conv2d --num 256 --json out/graph_summary.json \
  --plot out/graph_node_types.png "$@"
