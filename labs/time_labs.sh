#!/usr/bin/env bash
# Time the course notebooks as a class runs them: each one alone, headless, top to bottom, with the
# exercise stubs in place (pytest --nbmake), in the mode of $FACELANDMARKS_FAST (unset: full mode).
# Prints one line per notebook (wall seconds, the 1-minute load average before it starts) and the
# machine, and writes them to OUT/timings.tsv; keeps the executed copies (with their outputs: the
# numbers students see) and pytest's logs in OUT.
#
#   FACELANDMARKS_DATA=/path/to/data bash labs/time_labs.sh [OUT] [NOTEBOOK ...]
#
# OUT defaults to a new temporary folder; the notebooks default to all of notebooks/*.ipynb.
# The repository's notebooks are never written: the run uses copies in OUT. Exits 1 if one failed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$ROOT/.venv/bin}"
: "${FACELANDMARKS_DATA:?set FACELANDMARKS_DATA to the data folder (holding 300w/ and human/)}"
OUT="${1:-$(mktemp -d)}"
shift || true
mkdir -p "$OUT"
if [ "$#" -eq 0 ]; then set -- "$ROOT"/notebooks/*.ipynb; fi
echo "machine: $(nproc --all) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
     "$(free -g | awk '/Mem:/ {print $2}') GB; mode: FACELANDMARKS_FAST=${FACELANDMARKS_FAST:-0};" \
     "OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}; $(date -u +%FT%TZ)"
total=0
failed=0
printf 'notebook\tseconds\tload_before\tstatus\n' >"$OUT/timings.tsv"
for nb in "$@"; do
    cp "$nb" "$OUT/"
    copy="$OUT/$(basename "$nb")"
    load=$(cut -d' ' -f1 /proc/loadavg)
    start=$(date +%s.%N)
    status=ok
    "$BIN/pytest" --nbmake --overwrite -q -p no:cacheprovider "$copy" >"$copy.log" 2>&1 || status=FAILED failed=1
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    total=$(echo "$total + $secs" | bc)
    printf '%-40s %6.1f s  load %s  %s\n' "$(basename "$nb")" "$secs" "$load" "$status"
    printf '%s\t%.1f\t%s\t%s\n' "$(basename "$nb" .ipynb)" "$secs" "$load" "$status" >>"$OUT/timings.tsv"
done
printf '%-40s %6.1f s\n' "all" "$total"
echo "executed copies and logs: $OUT"
exit "$failed"  # 1 when a notebook failed (its .log in OUT says why)
