# crowd: the two commands a newcomer needs are `make run` and `make test`.

GO ?= go
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test test-long lint vet fmt-check unit bench bench-micro deps

build:
	$(GO) build -o bin/crowd ./cmd/crowd

# A coordinator on :9173 with its write-ahead log in ./crowd-data, and
# four worker slots in the same process.
run: build
	bin/crowd server --workers 4

# Everything CI runs: install what the tests need, lint, then every test
# with the race detector.
test: deps lint unit

deps:
	scripts/deps.sh

lint: vet fmt-check
	$(STATICCHECK) ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The tests that need tools (gm, poppler, versitygw, Chromium) fail rather
# than skip here, since deps installed them.
unit:
	CROWD_REQUIRE_TOOLS=1 CROWD_REQUIRE_S3=1 CROWD_REQUIRE_BROWSER=1 $(GO) test -race -count=1 ./...

# The long versions: 25 rounds of kill -9, compaction over 1,000,000 units,
# 20 rounds of a cluster's leader killed under load.
test-long:
	CROWD_LONG=1 $(GO) test -count=1 -run 'CrashRecovery|Compaction|ClusterKillsUnderLoad' ./cmd/crowd ./actors

# crowd next to its peers and the bare fasthttp ceiling, quick version
# (bin/crowd bench --full for the issue's sizes; bench/README.md).
bench: build
	bin/crowd bench

# The coordinator's hot loops (PUT and POST /work, in memory and on the
# log) next to a bare fasthttp handler, in one process, with their
# allocations; the restart with 1,000,000 units.
bench-micro:
	$(GO) test -run '^$$' -bench 'PutWorkLoop|PostWorkLoop|BareFasthttp' -benchtime 200000x -benchmem ./transport
	$(GO) test -run '^$$' -bench Restart1M -benchtime 1x ./actors
	$(GO) test -run '^$$' -bench WorkerNoOp -benchtime 1x ./worker
