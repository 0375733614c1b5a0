#!/usr/bin/env bash
# Time the course notebooks as a class runs them: each one alone, headless, top to bottom, with the
# exercise stubs in place (pytest --nbmake), in the mode of $FACELANDMARKS_FAST (unset: full mode).
# Prints one line per notebook (wall seconds, the 1-minute load average before it starts) and the
# machine; keeps the executed copies (with their outputs: the numbers students see) in OUT.
#
#   FACELANDMARKS_DATA=/path/to/data bash labs/time_labs.sh [OUT] [NOTEBOOK ...]
#
# OUT defaults to a new temporary folder; the notebooks default to all of notebooks/*.ipynb.
# The repository's notebooks are never written: the run uses copies in OUT.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$ROOT/.venv/bin}"
: "${FACELANDMARKS_DATA:?set FACELANDMARKS_DATA to the data folder (holding 300w/ and human/)}"
OUT="${1:-$(mktemp -d)}"
shift || true
mkdir -p "$OUT"
if [ "$#" -eq 0 ]; then set -- "$ROOT"/notebooks/*.ipynb; fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "$(free -g | awk '/Mem:/ {print $2}') GB; mode: FACELANDMARKS_FAST=${FACELANDMARKS_FAST:-0};" \
     "OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}; $(date -u +%FT%TZ)"
total=0
for nb in "$@"; do
    cp "$nb" "$OUT/"
    copy="$OUT/$(basename "$nb")"
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    status=ok
    "$BIN/pytest" --nbmake --overwrite -q -p no:cacheprovider "$copy" >"$copy.log" 2>&1 || status=FAILED
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    total=$(echo "$total + $secs" | bc)
    printf '%-40s %6.1f s  load %s  %s\n' "$(basename "$nb")" "$secs" "$load" "$status"
done
printf '%-40s %6.1f s\n' "all" "$total"
echo "executed copies and logs: $OUT"
