#!/usr/bin/env bash
# valgrind memcheck over a small native-backend run, from a clean tree.
#
#   tools/valgrind.sh
#
# The checkout's files (tracked, and new ones not ignored) are copied to a scratch
# directory and built there as usual (-O3 with -g, as setup.py builds), and
# tools/valgrind_workload.py (training, predict, evaluate, save/load, on two threads)
# runs under memcheck with
#   * PYTHONMALLOC=malloc: every Python object from malloc, so memcheck sees them all
#     (pymalloc's arenas would otherwise hide both leaks and overruns);
#   * tools/valgrind-python.supp: what CPython, NumPy and ld.so report on their own;
#   * full leak checking, "definitely lost" counted as errors.
# tools/valgrind_report.py then reads the XML log and fails on any error or definite
# leak whose stack passes through fastnn's extension or csrc/.
#
# valgrind emulates no AVX-512: the CPU check then picks the AVX2 kernels, so this
# covers the AVX2 and portable paths (tools/sanitize.sh covers AVX-512).
# Takes about a minute; needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python}
# The interpreter itself: memcheck must start it, not a wrapper script (pyenv's shims).
PYTHON_BINARY=$("$PYTHON" -c 'import sys; print(sys.executable)')
command -v valgrind > /dev/null || { echo "valgrind is not installed" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastnn-valgrind.XXXXXX")
trap 'status=$?; [ $status -eq 0 ] && rm -rf "$WORK" || echo "kept $WORK"; exit $status' EXIT

echo "== copying the tree to $WORK/src"
mkdir -p "$WORK/src"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
        [ -f "$file" ] && cp --parents "$file" "$WORK/src"  # a deleted file is skipped
    done)
cd "$WORK/src"

echo "== building the extension"
"$PYTHON" setup.py build_ext --inplace -q > "$WORK/build.log" 2>&1 ||
    { tail -40 "$WORK/build.log"; exit 1; }

echo "== memcheck: tools/valgrind_workload.py"
PYTHONMALLOC=malloc PYTHONPATH="$WORK/src" valgrind --tool=memcheck \
    --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --track-origins=yes --num-callers=40 \
    --suppressions=tools/valgrind-python.supp \
    --xml=yes --xml-file="$WORK/memcheck.xml" --log-file="$WORK/memcheck.log" \
    "$PYTHON_BINARY" tools/valgrind_workload.py

"$PYTHON" tools/valgrind_report.py "$WORK/memcheck.xml"
