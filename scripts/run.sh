#!/usr/bin/env bash
# One command for a new user: set up, ingest the bundled corpus, open the chat at http://127.0.0.1:7860
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
.venv/bin/assay ingest corpus/ --prune
exec .venv/bin/assay chat "$@"
