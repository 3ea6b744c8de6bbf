# ddbsync: every target installs what it needs (Go modules, DynamoDB Local,
# the Lambda Runtime Interface Emulator) into .local-aws/ on first use.

GO        ?= go
ARCH      ?= arm64
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD = -trimpath -tags lambda.norpc -buildvcs=false -ldflags "-s -w -buildid= -X main.Version=$(VERSION)"
PKGS      ?= ./...

.PHONY: all build build-ReplicatorFunction build-PublisherFunction build-ApplyFunction test bench demo lint clean deps fuzz

all: build

## build: the Lambda bootstrap for $(ARCH) in bin/bootstrap
build:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o bin/bootstrap ./cmd/replicator

## build-ReplicatorFunction: what `sam build` calls (BuildMethod: makefile); the
## other two are the functions of template-queue.yaml, the same binary
build-ReplicatorFunction build-PublisherFunction build-ApplyFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build $(GOFLAGS_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/replicator

## package: bin/replicator.zip, a deterministic zip of bin/bootstrap (fixed time, mode 0755), with its CodeSha256
.PHONY: package verify-build
package: build
	$(GO) run ./cmd/lambdazip -o bin/replicator.zip bin/bootstrap

## verify-build: build bootstrap and zip twice, the second time with an empty Go build cache, and compare sha256
verify-build:
	@set -e; tmp=$$(mktemp -d); trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT; \
	$(MAKE) -s build-ReplicatorFunction ARTIFACTS_DIR="$$tmp/a"; \
	GOCACHE="$$tmp/gocache" $(MAKE) -s build-ReplicatorFunction ARTIFACTS_DIR="$$tmp/b"; \
	for d in a b; do $(GO) run ./cmd/lambdazip -o "$$tmp/$$d/replicator.zip" "$$tmp/$$d/bootstrap" >/dev/null; done; \
	(cd "$$tmp" && sha256sum a/bootstrap b/bootstrap a/replicator.zip b/replicator.zip); \
	cmp "$$tmp/a/bootstrap" "$$tmp/b/bootstrap"; cmp "$$tmp/a/replicator.zip" "$$tmp/b/replicator.zip"; \
	echo "verify-build: bootstrap and zip are reproducible"

## deps: the system tools the local stand-ins need (Java for DynamoDB Local, npm to fetch it)
deps:
	@missing=""; \
	command -v java  >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v javac >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	command -v npm   >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi
	$(GO) mod download

## test: every test, including DynamoDB Local and emulator integration tests
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

## bench: the speed figures (raw vs typed write path vs one-write-per-record baseline at 5 ms, CPU per batch
## on one core, the bootstrap's batch time and peak RSS under the emulator; backfill and verify)
bench: deps
	$(GO) test -run '^$$' -bench 'Handler_Batch10k|Paths_Batch10k|Baseline|PeakHeap' -benchmem -benchtime 3x -count 3 ./internal/lambdahandler/
	$(GO) test -run '^$$' -bench 'DecodePlan|NoIO|HandlerCPU' -benchmem -cpu 1 -count 3 ./internal/lambdahandler/
	$(GO) test -run '^$$' -bench 'Bootstrap_6MB' -benchtime 5x -count 3 ./internal/lambdahandler/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/tablesync/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/fanout/

## demo: start DynamoDB Local, replicate a realistic workload with `ddbsync run`, compare the tables
demo: deps
	$(GO) run ./cmd/ddbsync demo

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin .aws-sam

## fuzz: run each fuzz target for 20 s (their seed corpora also run in `make test`)
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEvent$$' -fuzztime $(FUZZTIME) ./internal/lambdahandler/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeImage$$' -fuzztime $(FUZZTIME) ./internal/replicate/
	$(GO) test -run '^$$' -fuzz '^FuzzForward$$' -fuzztime $(FUZZTIME) ./internal/replicate/

## ddblocal: start DynamoDB Local (the pinned jar) on a loopback port and print its endpoint; Ctrl-C stops it
.PHONY: ddblocal man
ddblocal: deps
	-$(GO) run ./cmd/ddbsync local ddb

## man: the man pages of ddbsync and its commands, in bin/man
man:
	$(GO) run -ldflags "-X main.Version=$(VERSION)" ./cmd/ddbsync man --dir bin/man
