# payops. Two commands set everything up: `make run` and `make test`.
# Nothing needs Docker: PostgreSQL and Redis come from the machine (scripts/services.sh).
SHELL   := /bin/bash
GO      ?= go
ENVFILE := .run/services.env
# Every recipe that talks to services reads the addresses services-up chose.
WITH_ENV := set -a; . ./$(ENVFILE); set +a;

.PHONY: run test test-only fuzz lint openapi migration services-up services-down browser bench demo build clean-testdbs

run: services-up build ## start sandbox + api + worker against local services
	@$(WITH_ENV) scripts/run.sh

test: services-up browser lint test-only fuzz ## lint + every test, with the race detector, then every fuzz target briefly

# Page tests save screenshots as artifacts under .run/test-output/_artifacts.
test-only:
	@rm -rf .run/test-output && mkdir -p .run/test-output
	@$(WITH_ENV) $(GO) test -race -count=1 -timeout 25m -artifacts -outputdir=$(CURDIR)/.run/test-output ./...

fuzz: services-up ## every fuzz target for FUZZTIME each (default 5s); a failing input is kept under testdata/fuzz
	@$(WITH_ENV) GO=$(GO) scripts/fuzz.sh

# Lint tools, pinned, built once per version from the Go module proxy into
# .run/tools/<tool>-<version>/ (a new version is a new path, so it is rebuilt;
# an existing one is reused between runs).
STATICCHECK_VERSION := v0.8.2
GOCYCLO_VERSION     := v0.6.0
STATICCHECK := $(CURDIR)/.run/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck
GOCYCLO     := $(CURDIR)/.run/tools/gocyclo-$(GOCYCLO_VERSION)/gocyclo
# No function above this cyclomatic complexity outside tests and generated code.
MAX_COMPLEXITY := 25
# The Go files lint reads: tracked and new, without deleted ones.
GO_FILES = $$( { git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'; } | while read -r f; do [ -f "$$f" ] && echo "$$f"; done)

$(STATICCHECK):
	GOBIN=$(@D) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(GOCYCLO):
	GOBIN=$(@D) $(GO) install github.com/fzipp/gocyclo/cmd/gocyclo@$(GOCYCLO_VERSION)

lint: $(STATICCHECK) $(GOCYCLO) ## gofmt, go vet, staticcheck, complexity
	@out=$$(gofmt -l $(GO_FILES)); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@# Complexity: tests, testdata and generated files are not counted. A function
	@# that must stay whole carries //gocyclo:ignore at the end of its doc
	@# comment, which says why; a directive without such a comment fails here.
	@files=$$(for f in $(GO_FILES); do case $$f in *_test.go|*/testdata/*) continue;; esac; \
	    grep -q '^// Code generated .* DO NOT EDIT\.$$' "$$f" || echo "$$f"; done); \
	  bare=$$(awk 'FNR == 1 || !/^\/\// { why = 0 } /^\/\/ [^ ]/ { why = 1 } /^\/\/gocyclo:ignore/ && !why { print FILENAME ":" FNR }' $$files); \
	  if [ -n "$$bare" ]; then echo "//gocyclo:ignore without a comment above it saying why:"; echo "$$bare"; exit 1; fi; \
	  $(GOCYCLO) -over $(MAX_COMPLEXITY) $$files || { echo "functions above complexity $(MAX_COMPLEXITY): split them into named phases"; exit 1; }

bench: services-up ## load figures of the shipped binaries and reconciliation; prints one table
	@mkdir -p .run && rm -f .run/bench.txt
	@$(WITH_ENV) BENCH_OUT=$(CURDIR)/.run/bench.txt RECON_BENCH_LINES=1000000 $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./e2e > .run/bench.log 2>&1 || { tail -40 .run/bench.log; exit 1; }
	@$(WITH_ENV) BENCH_OUT=$(CURDIR)/.run/bench.txt RECON_BENCH_LINES=1000000 $(GO) test -run '^$$' -bench ReconMillion -benchtime 1x -timeout 30m ./internal/recon >> .run/bench.log 2>&1 || { tail -40 .run/bench.log; exit 1; }
	@$(WITH_ENV) BENCH_OUT=$(CURDIR)/.run/bench.txt JOURNAL_BENCH_LINES=1000000 $(GO) test -run '^$$' -bench JournalMillion -benchtime 1x -timeout 30m ./internal/journal >> .run/bench.log 2>&1 || { tail -40 .run/bench.log; exit 1; }
	@$(WITH_ENV) BENCH_OUT=$(CURDIR)/.run/bench.txt $(GO) test -run '^$$' -bench StatementsYear -benchtime 1x -timeout 30m ./internal/bank >> .run/bench.log 2>&1 || { tail -40 .run/bench.log; exit 1; }
	@# The export runs in a process of its own so its peak RSS is its own.
	@$(WITH_ENV) BENCH_OUT=$(CURDIR)/.run/bench.txt $(GO) test -run '^$$' -bench Export100k -benchtime 1x ./internal/recon >> .run/bench.log 2>&1 || { tail -40 .run/bench.log; exit 1; }
	@echo; echo "payops bench on $$(nproc) cores, $$(date -u +%Y-%m-%dT%H:%MZ)"; \
	  printf '%-44s %-34s %-22s %s\n' "what" "figure" "target" "notes"; cat .run/bench.txt

demo: ## drive a realistic day against the stack `make run` started; prints a summary
	@$(GO) run ./cmd/demo
	@scripts/render-workbook.sh

build: ## binaries under .run/bin
	@mkdir -p .run/bin
	$(GO) build -o .run/bin/ ./cmd/api ./cmd/worker ./cmd/apo-sandbox

openapi: ## regenerate openapi/openapi.yaml from the code
	$(GO) run ./cmd/api openapi > openapi/openapi.yaml

migration: ## make migration name=add_refunds
	$(GO) run github.com/pressly/goose/v3/cmd/goose@v3.29.0 -dir migrations -s create $(name) sql

services-up: ## PostgreSQL + Redis: reuse reachable ones, else start private ones under .run/
	@scripts/services.sh up

browser: ## Debian's Chromium for the page tests (apt-get, once)
	@scripts/services.sh browser

services-down: ## stop what services-up started
	@scripts/services.sh down

clean-testdbs: services-up ## drop the template databases pgtestdb keeps between test runs
	@$(WITH_ENV) psql "$${DATABASE_URL%/*}/postgres" -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'testdb_%'" | \
	  while read -r d; do psql "$${DATABASE_URL%/*}/postgres" -qc "ALTER DATABASE \"$$d\" IS_TEMPLATE false" -c "DROP DATABASE \"$$d\""; done
