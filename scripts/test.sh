#!/usr/bin/env bash
# One command for a developer or CI: set up (incl. test extras and chromium) and run every test, slow ones too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export ANONYMIZED_TELEMETRY=False GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python -m pytest -m "slow or not slow" "$@"
