# Two commands do everything (see README):
#   make         install into .venv, then execute every notebook and export every plot
#   make test    install into .venv if needed, then run the tests
#   make bench   the training-loop benchmark (book loop vs utils.train)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: all run test check bench clean
all: run

$(BIN)/.installed: requirements.txt
	@$(PYTHON) utils/check.py --python-only
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m utils.check
	touch $@

check: $(BIN)/.installed
	$(BIN)/python -m utils.check

run: $(BIN)/.installed
	$(BIN)/python -m utils run $(ARGS)

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(ARGS)

bench: $(BIN)/.installed
	$(BIN)/python -m utils.bench kfold $(ARGS)

clean:
	rm -rf $(VENV) exports .pytest_cache
