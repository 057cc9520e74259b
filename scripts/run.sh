#!/usr/bin/env bash
# One command for a new user: set up, ingest the bundled corpus, open the chat at http://127.0.0.1:7860
# Arguments go to `assay chat` (e.g. scripts/run.sh --share, scripts/run.sh --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh run
echo "[run] indexing corpus/ (unchanged files are skipped)"
.venv/bin/assay ingest corpus/ --prune
echo "[run] starting the chat"
exec .venv/bin/assay chat "$@"
