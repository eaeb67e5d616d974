# fmops: `make test` sets everything up and runs every check; `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SCAN_VENV := .venv-scan
SCAN_INSTALLED := $(SCAN_VENV)/.installed
# The machine default; the dev venv runs the tools and the tests (the runtime must also run on 3.11).
PYTHON_VERSION := 3.11
PIP_VERSION := 26.3
STAGE ?= dev
STAGES := dev preprod prod

# SAM CLI and boto3 need a region even for offline work; an exported AWS_DEFAULT_REGION wins.
# Deploys take their region from samconfig.toml.
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Bin directory of a working python$(1): from PATH first, else the newest pyenv $(1).x.
# (A pyenv shim on PATH may exist without working, hence the trial run.)
python_bin = $(shell \
	if python$(1) -c '' >/dev/null 2>&1; then \
		dirname "$$(python$(1) -c 'import sys; print(sys.executable)')"; \
	elif command -v pyenv >/dev/null 2>&1; then \
		v=$$(pyenv versions --bare | grep -E '^$(subst .,\.,$(1))\.[0-9]+$$' | sort -V | tail -n 1); \
		if [ -n "$$v" ]; then echo "$$(pyenv prefix "$$v")/bin"; fi; \
	fi)

# `sam build` (BuildMethod python3.12) runs the python3.12 it finds on PATH.
PY312_BIN = $(eval PY312_BIN := $(call python_bin,3.12))$(PY312_BIN)
need_py312 = @test -n "$(PY312_BIN)" || { echo "error: sam build needs Python 3.12: put python3.12 on PATH (or install it with pyenv)." >&2; exit 1; }
with_py312 = PATH="$(PY312_BIN):$$PATH"

# Bold headings on a terminal, plain text in CI logs.
section = @if [ -t 1 ]; then printf '\n\033[1m==> %s\033[0m\n' $(1); else printf '\n==> %s\n' $(1); fi

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z -]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z -]+):.*## /  make \1\t/' | expand -t 28

# ------------------------------------------------------------------------------ environment
$(BIN)/python:
	@PY_BIN="$(call python_bin,$(PYTHON_VERSION))"; \
	if [ -z "$$PY_BIN" ]; then echo "error: Python $(PYTHON_VERSION) not found: put python$(PYTHON_VERSION) on PATH (or install it with pyenv)." >&2; exit 1; fi; \
	echo "Creating $(VENV) with $$PY_BIN/python$(PYTHON_VERSION)"; \
	"$$PY_BIN/python$(PYTHON_VERSION)" -m venv $(VENV)

# Re-runs whenever a requirement or project file changes. The lock is installed as is (--no-deps
# for the editable projects), then `pip check` proves it satisfies what the projects declare.
$(INSTALLED): $(BIN)/python requirements/dev.txt pyproject.toml layers/fmops/pyproject.toml layers/fmops/requirements.txt
	$(call section,"install ($(VENV))")
	@$(BIN)/python -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(0 if v == "$(PYTHON_VERSION)" else f"error: $(VENV) runs Python {v}, not $(PYTHON_VERSION): run make clean-all")'
	$(BIN)/python -m pip install -qq pip==$(PIP_VERSION)
	$(BIN)/python -m pip install -qq -r requirements/dev.txt
	$(BIN)/python -m pip install -qq --no-deps -e layers/fmops -e .
	$(BIN)/python -m pip check
	@touch $@

.PHONY: venv install
venv install: $(INSTALLED) ## Create .venv (Python 3.11) and install the locked dev requirements and both projects

# Regenerates the locks from requirements/*.in in throwaway venvs (uses the package index).
.PHONY: lock
lock: ## Re-resolve requirements/dev.txt and scan.txt from their .in files
	@set -e; for name in dev scan; do \
		tmp=$$(mktemp -d); \
		"$(call python_bin,$(PYTHON_VERSION))/python$(PYTHON_VERSION)" -m venv "$$tmp"; \
		"$$tmp/bin/python" -m pip install -qq pip==$(PIP_VERSION); \
		"$$tmp/bin/python" -m pip install -qq -r requirements/$$name.in; \
		{ echo "# Lock of requirements/$$name.in for Python $(PYTHON_VERSION), made by \`make lock\` (pip install + pip freeze); pip itself is pinned in the Makefile."; \
		  echo "# Do not edit by hand."; \
		  "$$tmp/bin/python" -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > requirements/$$name.txt; \
		rm -rf "$$tmp"; echo "wrote requirements/$$name.txt"; \
	done

# ------------------------------------------------------------------------------ checks
.PHONY: test
test: install scan-install ## Install, then lint, typecheck and run every test (template and security checks, sam build included)
	@failed=""; \
	for step in lint typecheck pytest; do \
		$(MAKE) $$step || failed="$$failed $$step"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test failed:$$failed" >&2; exit 1; fi

.PHONY: lint
lint: install ## ruff check + ruff format --check
	$(call section,"lint (ruff)")
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

.PHONY: format
format: install ## Fix what ruff can fix and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: typecheck
typecheck: install ## mypy on the runtime, the functions and the developer tools
	$(call section,"typecheck (mypy)")
	$(BIN)/mypy layers/fmops/fmops functions src

# All of tests/: the template checks in tests/template (cfn-lint with the serverless rules, sam validate,
# sam build) and the security checks in tests/security (checkov and detect-secrets from .venv-scan).
.PHONY: pytest
pytest: install scan-install ## pytest only; pass options in ARGS, e.g. make pytest ARGS="tests/unit -k intake"
	$(call section,"tests (pytest)")
	$(need_py312)
	$(with_py312) $(BIN)/pytest $(ARGS)

.PHONY: template-check
template-check: install ## cfn-lint with serverless rules, sam validate --lint, sam build
	$(call section,"cfn-lint + serverless rules")
	$(BIN)/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	$(call section,"sam validate --lint")
	$(BIN)/sam validate --lint --template template.yaml
	$(call section,"sam build")
	$(need_py312)
	$(with_py312) $(BIN)/sam build --template template.yaml --build-dir .aws-sam/check-build

# ------------------------------------------------------------------------------ build, deploy, run
.PHONY: build
build: install ## sam build (arm64, Python 3.12) into .aws-sam/build
	$(need_py312)
	$(with_py312) $(BIN)/sam build --cached --parallel

.PHONY: deploy
deploy: build ## sam deploy --config-env STAGE, with STAGE=dev|preprod|prod (needs AWS credentials)
	@case " $(STAGES) " in *" $(STAGE) "*) ;; *) echo "error: STAGE must be one of: $(STAGES)" >&2; exit 1;; esac
	$(BIN)/sam deploy --config-env $(STAGE)

.PHONY: demo
demo: install ## Run the demo on the local cloud
	$(BIN)/python -m fmops_cli.demo

.PHONY: bench
bench: install ## Benchmarks (not part of make test): bench/results.json and bench/results.md
	$(need_py312)
	$(with_py312) $(BIN)/python -m benchmarks.run

# ------------------------------------------------------------------------------ security scan
# The same checks as tests/security (which `make test` runs), as one report: checkov on the template as
# written and as expanded by the SAM translator, the IAM/environment/API checks, the secrets scan.
.PHONY: scan
scan: install scan-install ## Security report: checkov (raw + expanded), IAM and API checks, secrets scan
	$(call section,"security scan")
	$(BIN)/python -m fmops_security

# After a reviewed false positive (or a moved one): rescan into .secrets.baseline, then mark each new
# entry in the audit ("n" = not a secret). tests/security fails on entries nobody has marked.
.PHONY: secrets-baseline
secrets-baseline: scan-install ## Refresh .secrets.baseline and audit its new entries (interactive)
	git ls-files -z --cached --others --exclude-standard | grep -zvx '.secrets.baseline' \
		| xargs -0 $(SCAN_VENV)/bin/detect-secrets scan --baseline .secrets.baseline
	$(SCAN_VENV)/bin/detect-secrets audit .secrets.baseline

$(SCAN_INSTALLED): requirements/scan.txt
	$(call section,"install ($(SCAN_VENV))")
	@test -x $(SCAN_VENV)/bin/python || "$(call python_bin,$(PYTHON_VERSION))/python$(PYTHON_VERSION)" -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install -qq pip==$(PIP_VERSION)
	$(SCAN_VENV)/bin/python -m pip install -qq -r requirements/scan.txt
	$(SCAN_VENV)/bin/python -m pip check
	@touch $@

.PHONY: scan-install
scan-install: $(SCAN_INSTALLED) ## Create .venv-scan with checkov and detect-secrets (they cannot share .venv with aws-sam-cli)

# ------------------------------------------------------------------------------ cleaning
.PHONY: clean
clean: ## Remove build outputs and tool caches (keeps the venvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -path ./$(SCAN_VENV) -prune -o \
		\( -name __pycache__ -o -name '*.egg-info' \) -type d -prune -exec rm -rf {} +

.PHONY: clean-all
clean-all: clean ## clean, and remove the venvs too
	rm -rf $(VENV) $(SCAN_VENV)
