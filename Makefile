# crowd: the two commands a newcomer needs are `make run` and `make test`.

GO ?= go
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test lint vet fmt-check unit bench deps

build:
	$(GO) build -o bin/crowd ./cmd/crowd

# A coordinator on :9173 with its state in ./crowd-data.
run:
	$(GO) run ./cmd/crowd server

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

# The coordinator's hot loop next to a bare fasthttp handler, in one run.
bench:
	$(GO) test -run '^$$' -bench 'PutWorkLoop|BareFasthttp' -benchtime 200000x ./transport
