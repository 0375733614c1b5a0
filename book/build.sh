#!/usr/bin/env bash
# Build the book: copy the notebooks, execute each ONCE (fails on any cell error), render with
# Jupyter Book 1 (Sphinx), offline. FACELANDMARKS_FAST defaults to 1: tiny training runs; every
# evaluation uses the whole test splits in both modes, so the book shows the results page's numbers.
set -euo pipefail
cd "$(dirname "$0")"
BIN=../.venv/bin
export FACELANDMARKS_FAST="${FACELANDMARKS_FAST:-1}"
: "${FACELANDMARKS_DATA:?set FACELANDMARKS_DATA to the data folder}"
rm -rf _build notebooks
mkdir -p notebooks _static
cp ../notebooks/*.ipynb notebooks/
cp ../docs/results.md results.md
mkdir -p figures && cp ../docs/results/*.png figures/ 2>/dev/null || true
sed -i 's#(results/#(figures/#g' results.md
# MathJax from the npm registry (the default loads it from a CDN, which is unreachable offline)
if [ ! -f _static/mathjax/tex-chtml.js ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent mathjax@3 >/dev/null && tar xzf mathjax-*.tgz)
    mkdir -p _static/mathjax
    cp -r "$tmp"/package/es5/* _static/mathjax/
    rm -rf "$tmp"
fi
echo "executing the notebooks (FACELANDMARKS_FAST=$FACELANDMARKS_FAST)"
$BIN/pytest --nbmake --overwrite -q -p no:cacheprovider --durations=0 notebooks
# every test-set number the notebooks print must equal its twin on the results page; the book
# is rendered either way (to look at it), and the build fails afterwards if one differs
agree=0
$BIN/python ../tools/check_book_numbers.py notebooks ../docs/results.md || agree=$?
$BIN/jupyter-book build . --builder html
echo "book: $(pwd)/_build/html/index.html"
if [ "$agree" != 0 ]; then
    echo "the notebooks and docs/results.md disagree (above): make results, then build again" >&2
    exit "$agree"
fi
