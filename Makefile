# Two commands do all the set-up on a fresh machine:
#   make demo   -> creates .venv on first use, detects + predicts the astronaut's face, saves out/astronaut.png
#   make test   -> creates .venv on first use, runs the test suite, the notebooks and the book build
#
# TORCH is the torch requirement pip installs first. The default is this project's CPU build
# (torch==2.13.0); elsewhere use e.g. `make test TORCH=torch` (pip's default build, CUDA on Linux)
# or install torch yourself from pytorch.org first and run `make test TORCH=`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
# The data root (folder holding 300w/ and human/). Library code reads only $FACELANDMARKS_DATA.
FACELANDMARKS_DATA ?= $(abspath ../shared/data)
export FACELANDMARKS_DATA

.PHONY: venv demo test test-fast book results results-and-book show-data benchmark weights clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH) -e ".[dev,book,dlib,onnx]"
	touch $@

demo: venv
	$(BIN)/facelandmarks demo --out out/astronaut.png

test: venv
	$(BIN)/pytest -q -p no:cacheprovider tests
	bash book/build.sh

test-fast: venv
	$(BIN)/pytest -q -p no:cacheprovider -m "not browser and not slow" tests

book: venv
	bash book/build.sh

# Every number of docs/results.md, measured with the shipped weights (tools/fill_results.py pastes
# the runs' outputs into tools/results_template.md). book/build.sh then checks that the notebooks
# print the same numbers (tools/check_book_numbers.py): after new weights, `make results-and-book`.
results: venv
	mkdir -p out
	$(BIN)/python benchmarks/ablation.py --out docs/results $(if $(wildcard runs/recipe/level1/level1.pt),--recipe runs/recipe)
	$(BIN)/python benchmarks/vs_dlib.py --out docs/results --flip $(if $(wildcard runs/recipe/level2_sim/level2.pt),\
	    --weights runs/recipe/level1/level1.pt runs/recipe/level2_sim/level2.pt \
	    --label "paper's training: first level-1 cycle + level 2 on simulated errors") > out/vs_dlib.log
	$(BIN)/facelandmarks benchmark --repeats 9 > out/benchmark.log
	$(BIN)/python tools/fill_results.py docs/results/ablation.md out/vs_dlib.log out/benchmark.log

results-and-book: results book

show-data: venv
	$(BIN)/facelandmarks show-data --out out/faces.png

# Rebuild the shipped weights from scratch (facelandmarks/weights/README.md): resumable, logs its wall-clock.
weights: venv
	$(BIN)/facelandmarks recipe --out runs/recipe --install
	$(BIN)/facelandmarks quantize --level3 k3 --faces 128 --seed 0
	$(BIN)/python benchmarks/confidence.py --write
	$(BIN)/python tools/weights_manifest.py

benchmark: venv
	$(BIN)/facelandmarks benchmark

clean:
	rm -rf out book/_build .pytest_cache
