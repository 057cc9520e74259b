.PHONY: run test test-fast bench
run:        ## set up, ingest corpus/, open the chat
	scripts/run.sh
test:       ## set up and run all tests (what CI runs)
	scripts/test.sh
test-fast:  ## the default fast suite
	.venv/bin/python -m pytest -q
bench:      ## performance numbers -> bench-results/
	.venv/bin/assay bench
