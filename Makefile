# Two entry points: `make run` (index VIDEOS on the embedded default) and `make test`.
# Both install what they need: ffmpeg and fpcalc from apt when missing, a virtualenv with the project.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
VIDEOS ?= data/videos
# The CPU build of torch; GPU machines install CUDA torch and `.[gpu]` instead (see README).
TORCH ?= torch==2.13.0
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DATA_DIR ?= data

.PHONY: run cluster stop test setup system-deps bench clean k8s

# Index VIDEOS (on a running local Ray cluster, or on one of its own), then serve them on
# http://127.0.0.1:8000 until Ctrl-C, which stops the cluster `vidsearch serve` started.
run: setup
	@mkdir -p "$(VIDEOS)" "$(DATA_DIR)"
	@[ -n "$$(ls -A "$(VIDEOS)")" ] || echo "note: $(VIDEOS) is empty; put videos there or run make run VIDEOS=/path/to/videos"
	$(BIN)/vidsearch index "$(VIDEOS)" --data-dir "$(DATA_DIR)" || [ $$? -eq 3 ]
	$(BIN)/vidsearch serve --data-dir "$(DATA_DIR)"

# A local Ray cluster for `ray job submit` (README: Jobs on a local cluster).
cluster: setup
	$(BIN)/vidsearch cluster start

stop:
	$(BIN)/ray stop

test: setup
	$(BIN)/python -m pytest

setup: system-deps $(VENV)/.installed

# Chromium and its driver run the web page's browser tests; espeak-ng says the speech tests' sentences.
system-deps:
	@if ! command -v ffmpeg >/dev/null || ! command -v fpcalc >/dev/null || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! command -v espeak-ng >/dev/null; then \
	  echo "installing ffmpeg, libchromaprint-tools, chromium, chromium-driver and espeak-ng"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg libchromaprint-tools chromium chromium-driver espeak-ng >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[cpu,offline-speech,test]"
	@touch $@

bench: setup
	$(BIN)/python bench/index_bench.py $(VIDEOS)

clean:
	rm -rf $(VENV) .pytest_cache

# Regenerate the RayService's Serve configs (k8s/overlays/*/serve-config.yaml) from configs/.
k8s:
	$(BIN)/python -m k8s.render
