#!/usr/bin/env bash
# Prepare the project's virtual environment on any machine, fresh or not:
#   1. .venv with the pinned packages of ci/requirements.txt,
#   2. the C++ extension built and installed (the `tpgnn` package, with its library inside),
#   3. tvm_patch/ applied to the installed TVM.
# Each step is skipped when a stamp shows its inputs unchanged, so a second run with nothing
# changed takes seconds and changes nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  python=$(command -v python3.11 || command -v python3)
  echo "bootstrap: creating $venv with $($python --version)"
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"

digest() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

deps=$(digest ci/requirements.txt)
if [ "$(cat "$venv/.deps-stamp" 2>/dev/null)" != "$deps" ]; then
  echo "bootstrap: installing pinned dependencies"
  "$py" -m pip install --quiet --disable-pip-version-check -r ci/requirements.txt
  echo "$deps" > "$venv/.deps-stamp"
fi

sources=$(find cpp python tvm_patch CMakeLists.txt pyproject.toml -type f \
            -not -path '*/__pycache__/*' -not -name '*.pyc' | LC_ALL=C sort)
build=$(digest $sources)
if [ "$(cat "$venv/.build-stamp" 2>/dev/null)" != "$build" ]; then
  echo "bootstrap: building and installing tpgnn"
  "$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps .
  echo "$build" > "$venv/.build-stamp"
fi

"$py" -m tpgnn.patch apply
