# proginstruct: two commands for a fresh clone (see README.md)
#   make all   set up .venv, then run the whole recipe (dvc repro)
#   make test  set up .venv, then lint and run the offline test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# stage commands run `python stages/...`: make them find the venv's python
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: all setup test lint repro collect-commit collect-aiprogrammer collect-submit dag metrics clean-checkpoints
.PHONY: push pull release card remote-s3

all: setup repro

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

repro: setup
	$(BIN)/dvc repro

test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .

# one source branch of the DAG (its prepare, collect and area stages)
collect-commit: setup
	$(BIN)/dvc repro area@commit

collect-aiprogrammer: setup
	$(BIN)/dvc repro area@aiprogrammer

collect-submit: setup
	$(BIN)/dvc repro area@submit

dag: setup
	$(BIN)/dvc dag

metrics: setup
	$(BIN)/dvc metrics show

clean-checkpoints:
	find data -name '*.partial' -o -name '*.partial.idx' | xargs -r rm -v

# sharing datasets (docs/datasets.md): the default remote is ../proginstruct-dvc-storage;
# REMOTE=name picks another one (e.g. s3 after `make remote-s3`)
push: setup
	$(BIN)/dvc push $(if $(REMOTE),--remote $(REMOTE))

pull: setup
	$(BIN)/dvc pull $(if $(REMOTE),--remote $(REMOTE))

# make release VERSION=x.y.z: clean tree + dvc.lock up to date -> push, dataset card, commit, tag vX.Y.Z
release: setup
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z [REMOTE=name]" >&2; exit 2; }
	$(BIN)/proginstruct release $(VERSION) $(if $(REMOTE),--remote $(REMOTE))

# the dataset card alone (data/final/README.md, marked unreleased)
card: setup
	$(BIN)/proginstruct card

# S3-compatible remote in .dvc/config.local from PROGINSTRUCT_S3_BUCKET [_PREFIX, _ENDPOINT_URL]
remote-s3: setup
	$(BIN)/proginstruct remote-s3
