#!/usr/bin/env bash
# The README's test command. On a fresh machine it sets everything up (ci/bootstrap.sh), then
# runs lint, the C++ tests under CTest and the Python tests under pytest. Extra arguments go
# to pytest. TPGNN_SANITIZE=1 also builds and runs the C++ tests under ASan + UBSan.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash ci/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check python tests benchmarks cpp/vocabulary

ctest_build() {  # DIR EXTRA_CMAKE_ARGS...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DTPGNN_BUILD_TESTS=ON -DPython_EXECUTABLE="$PWD/.venv/bin/python" \
    "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir"
  ctest --test-dir "$dir" --output-on-failure
}
mkdir -p build
echo "== C++ tests (CTest)"
ctest_build build/cpp-tests -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${TPGNN_SANITIZE:-0}" = 1 ]; then
  echo "== C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  ctest_build build/asan -DCMAKE_BUILD_TYPE=Debug -DTPGNN_SANITIZE=ON
fi

echo "== Python tests (pytest)"
python -m pytest "$@"
