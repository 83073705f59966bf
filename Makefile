# Two commands do everything (see README):
#   make         install the learner set into .venv, then execute every notebook and export every plot
#   make test    install the development set into .venv, then run the tests
#   make run ARGS="--lang zh"   the Chinese edition: notebooks/zh -> exports/zh (README.zh.md)
#   make bench   the training-loop benchmark (book loop vs utils.train)
#   make lab     JupyterLab on notebooks/ (as root too: containers, WSL root shells)
#   make student the student edition (dist/student/, dist/student/zh/) and the autograders (dist/grader/)
#   make grade SUBMISSION=<notebook or folder>   grade submissions offline (docs/instructors.md)
#   make lock    re-pin requirements/*.txt from requirements/*.in (ARGS=--upgrade to move pins)
# Without PYTHON, utils/setup/install.py uses python3 if it is 3.8-3.13, else finds one (and says which);
# `make PYTHON=python3.9` uses that interpreter. It installs with uv (from PATH, else from PyPI
# into the venv), or pip if that fails; INSTALLER=pip forces pip.
PYTHON ?=
VENV   ?= .venv
BIN    := $(VENV)/bin
PINNED_UV := $(abspath $(BIN))/uv
UV     ?= $(PINNED_UV)
INSTALLER ?= auto
INSTALL = $(or $(PYTHON),python3) utils/setup/install.py --venv $(VENV) $(if $(PYTHON),--python $(PYTHON)) \
          --installer $(INSTALLER)
# JupyterLab refuses to start as root without --allow-root
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
LOCK    = cd requirements && $(UV) pip compile --quiet --universal --python-version 3.8 \
          --custom-compile-command "make lock" --override overrides.txt $(ARGS)

.PHONY: all run test check bench lab lock clean student grade
all: run

$(BIN)/.installed: requirements/learner.txt utils/setup/mxnet_numpy_compat.py pyproject.toml
	@$(INSTALL)
	touch $@

$(BIN)/.installed-dev: requirements/dev.txt requirements/learner.txt pyproject.toml
	@$(INSTALL) --dev
	touch $(BIN)/.installed $@

check: $(BIN)/.installed
	$(BIN)/python -m utils.check

run: $(BIN)/.installed
	$(BIN)/python -m utils run $(ARGS)

test: $(BIN)/.installed-dev
	$(BIN)/python -m pytest $(ARGS)

lab: $(BIN)/.installed
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/ $(ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m utils.course.bench kfold $(ARGS)

# The instructor's commands: otter-grader comes with the development set (Python >= 3.10)
student: $(BIN)/.installed-dev
	$(BIN)/python -m utils.course.student

grade: $(BIN)/.installed-dev
	@test -n "$(SUBMISSION)" || { echo "make grade SUBMISSION=<notebook or folder>"; exit 2; }
	$(BIN)/python -m utils.course.grade $(SUBMISSION) $(ARGS)

# The development set brings the pinned uv; `make lock UV=uv` uses another one.
lock: $(if $(filter $(PINNED_UV),$(UV)),$(BIN)/.installed-dev)
	$(LOCK) learner.in -o learner.txt
	$(LOCK) dev.in -c learner.txt -o dev.txt

clean:
	rm -rf $(VENV) exports dist .pytest_cache
