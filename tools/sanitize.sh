#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer over fastnn's C, from a clean tree.
#
#   tools/sanitize.sh            C-only tests, then the native-backend and reliability tests
#   tools/sanitize.sh --all      C-only tests, then the whole pytest suite (~8 min on 2 cores)
#   tools/sanitize.sh -- ARGS    C-only tests, then pytest ARGS (e.g. tests/test_gemm.py -k big)
#
# The checkout's files (tracked, and new ones not ignored: work in progress is checked
# too) are copied to a scratch directory and built there with FASTNN_SANITIZE=1
# (-fsanitize=address,undefined -O1 -g); the checkout's own build is not touched.
#   1. csrc/tests (test_gemm, test_net) built with `make SANITIZE=1` and run with leak
#      detection on: these are plain C programs, so every leak is ours.
#   2. pytest under the sanitized extension. CPython itself is not instrumented, so the
#      ASan runtime is preloaded (with libstdc++, which ASan must see at start-up to
#      intercept C++ exceptions: matplotlib's extension throws some). Leak detection is
#      off here: CPython keeps memory until exit on purpose.
# Any sanitizer report fails the run; reports are written to files (pytest's output
# capture would swallow them when a report aborts the process) and printed at the end.
# Tests that compile and run C programs of their own are left out of step 2 (they
# would inherit the preloaded runtime; step 1 runs those programs sanitized) and so
# is tests/test_memory.py's measuring (it skips itself under a sanitizer).
#
# Needs gcc (or a CC with the same sanitizers), make, and the test dependencies.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python}
CC=${CC:-gcc}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastnn-sanitize.XXXXXX")
LOGS=$WORK/reports
trap 'status=$?; [ $status -eq 0 ] && rm -rf "$WORK" || echo "kept $WORK"; exit $status' EXIT

DEFAULT_TESTS=(
    tests/test_native_kernels.py tests/test_native_backend.py tests/test_session.py
    tests/test_twins.py tests/test_gemm.py
    tests/test_runtime.py tests/test_threads.py tests/test_interrupt.py tests/test_fuzz.py
    tests/test_bad_input.py tests/test_model_api.py tests/test_save_load.py
    tests/test_resume.py
)
case "${1:-}" in
    --all) shift; TESTS=(tests) ;;
    --) shift; TESTS=("$@") ;;
    "") TESTS=("${DEFAULT_TESTS[@]}") ;;
    *) echo "usage: $0 [--all | -- PYTEST_ARGS...]" >&2; exit 2 ;;
esac

echo "== copying the tree to $WORK/src"
mkdir -p "$WORK/src" "$LOGS"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
        [ -f "$file" ] && cp --parents "$file" "$WORK/src"  # a deleted file is skipped
    done)
cd "$WORK/src"

echo "== building the extension with FASTNN_SANITIZE=1"
FASTNN_SANITIZE=1 CC=$CC "$PYTHON" setup.py build_ext --inplace -q > "$WORK/build.log" 2>&1 ||
    { tail -40 "$WORK/build.log"; exit 1; }

echo "== C-only tests (csrc/tests) under ASan + UBSan, leak detection on"
make -s -C csrc/tests -j "$(nproc)" CC="$CC" SANITIZE=1 BIN="$WORK/cbin" > "$WORK/make.log" 2>&1 ||
    { tail -40 "$WORK/make.log"; exit 1; }
for program in test_gemm test_net; do
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$WORK/cbin/$program" | tail -1
done

echo "== pytest under ASan + UBSan: ${TESTS[*]}"
ASAN_RUNTIME=$("$CC" -print-file-name=libasan.so)
CXX_RUNTIME=$("$CC" -print-file-name=libstdc++.so)
[ -f "$ASAN_RUNTIME" ] || { echo "no ASan runtime ($ASAN_RUNTIME)" >&2; exit 1; }
set +e
LD_PRELOAD="$ASAN_RUNTIME $CXX_RUNTIME" \
    ASAN_OPTIONS="detect_leaks=0:log_path=$LOGS/asan" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOGS/ubsan" \
    "$PYTHON" -m pytest -q -p no:cacheprovider "${TESTS[@]}" \
    --ignore=tests/test_c_library.py --ignore=tests/test_packaging.py \
    --deselect=tests/test_native_backend.py::test_c_network_test_program
tests_status=$?
set -e

if compgen -G "$LOGS/*" > /dev/null; then
    echo "== sanitizer reports"
    cat "$LOGS"/*
    exit 1
fi
echo "== no sanitizer reports"
exit $tests_status
