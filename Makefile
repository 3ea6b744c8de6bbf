# ddbsync: every target installs what it needs (Go modules, DynamoDB Local,
# the Lambda Runtime Interface Emulator) into .local-aws/ on first use.

GO        ?= go
PKGS      ?= ./...
# Tools the Makefile installs (golangci-lint), like the test harnesses' downloads.
TOOLS_BIN ?= $(CURDIR)/.local-aws/bin
GOLANGCI_LINT_VERSION = v2.15.0
# GORELEASER is the release tool; keep its version equal to go.mod's (internal/release checks).
GORELEASER = github.com/goreleaser/goreleaser/v2@v2.15.1
GOLANGCI_LINT = $(TOOLS_BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# ARCH: the function's architecture, as Lambda (arm64, x86_64) or Go (arm64,
# amd64) names it. Default arm64, template.yaml's default Architecture.
ARCH      ?= arm64
goarch     = $(or $(goarch_$(strip $(1))),$(error ARCH=$(1) is not a Lambda architecture: use arm64 or x86_64))
goarch_arm64  = arm64
goarch_x86_64 = amd64
goarch_amd64  = amd64

VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
goflags_build = -trimpath -tags lambda.norpc -buildvcs=false -ldflags "-s -w -buildid= -X main.Version=$(1)"

.PHONY: all build build-ReplicatorFunction build-PublisherFunction build-ApplyFunction build-ExportWorkerFunction test bench demo lint clean deps fuzz

all: build

## build: the Lambda bootstrap for $(ARCH) in bin/bootstrap
build:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(call goarch,$(ARCH)) $(GO) build $(call goflags_build,$(VERSION)) -o bin/bootstrap ./cmd/replicator

## build-ReplicatorFunction: what `sam build` calls (BuildMethod: makefile); the
## other two are the functions of template-queue.yaml, the same binary.
##
## SAM's makefile builder passes ARTIFACTS_DIR and nothing else: not the
## function's Architecture. It writes that to .aws-sam/build.toml (the build
## graph, one definition per function with its resolved `architecture`)
## before it builds, two levels above ARTIFACTS_DIR (.aws-sam/build/<Id> or
## .aws-sam/cache/<uuid>). The build reads it there, so `sam build
## --parameter-overrides Architecture=x86_64` builds amd64 with no ARCH; an
## ARCH that contradicts it stops the build. Without a build graph (make run
## by hand, ddbsync code-status), ARCH decides.
##
## VERSION defaults to dev here, whatever the checkout: samconfig.toml builds
## in the source tree (build_in_source, so nothing is copied, .local-aws/
## included), and a plain `sam build` must stamp what code-status expects.
SAM_BUILD_GRAPH ?= $(abspath $(ARTIFACTS_DIR)/../../build.toml)
# sam_arch: the architecture build.toml gives the function $(1), or nothing.
sam_arch = $(if $(wildcard $(SAM_BUILD_GRAPH)),$(shell awk -v fn='"$(1)"' ' \
	/^\[/ { if (found && arch != "") exit; arch = ""; found = 0 }; \
	/^architecture *=/ { v = $$0; sub(/^[^=]*= *"/, "", v); sub(/".*/, "", v); arch = v }; \
	/^functions *=/ && index($$0, fn) { found = 1 }; \
	END { if (found && arch != "") print arch }' '$(SAM_BUILD_GRAPH)'))
sam_goarch = $(strip \
	$(if $(filter command line environment environment override,$(origin ARCH)), \
		$(if $(2),$(if $(filter $(call goarch,$(ARCH)),$(call goarch,$(2))),,$(error ARCH=$(ARCH) contradicts Architecture $(2) that sam build gives $(1) in $(SAM_BUILD_GRAPH): drop ARCH or make them agree))) \
		$(call goarch,$(ARCH)), \
		$(call goarch,$(or $(2),$(ARCH)))))
SAM_VERSION = $(if $(filter command line environment environment override,$(origin VERSION)),$(VERSION),dev)

build-ReplicatorFunction build-PublisherFunction build-ApplyFunction:
	$(if $(strip $(ARTIFACTS_DIR)),,$(error ARTIFACTS_DIR is empty: sam build sets it; by hand, run make $@ ARTIFACTS_DIR=<dir> (or make build for bin/bootstrap)))
	CGO_ENABLED=0 GOOS=linux GOARCH=$(call sam_goarch,$(patsubst build-%,%,$@),$(call sam_arch,$(patsubst build-%,%,$@))) $(GO) build $(call goflags_build,$(SAM_VERSION)) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/replicator

## build-ExportWorkerFunction: the export loader worker of template-backfill.yaml (cmd/exportworker)
build-ExportWorkerFunction:
	$(if $(strip $(ARTIFACTS_DIR)),,$(error ARTIFACTS_DIR is empty: sam build sets it; by hand, run make $@ ARTIFACTS_DIR=<dir>))
	CGO_ENABLED=0 GOOS=linux GOARCH=$(call sam_goarch,$(patsubst build-%,%,$@),$(call sam_arch,$(patsubst build-%,%,$@))) $(GO) build $(call goflags_build,$(SAM_VERSION)) -o $(ARTIFACTS_DIR)/bootstrap ./cmd/exportworker

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

## bench: the speed figures (raw vs typed write path vs one-write-per-record baseline at 5 ms, with a rule set vs none, CPU per batch
## on one core, the bootstrap's batch time, peak RSS and cold start under the emulator; backfill and verify)
bench: deps
	$(GO) test -run '^$$' -bench 'Handler_Batch10k|Paths_Batch10k|Rules_Batch10k|Baseline|PeakHeap' -benchmem -benchtime 3x -count 3 ./internal/lambdahandler/
	$(GO) test -run '^$$' -bench 'DecodePlan|NoIO|HandlerCPU' -benchmem -cpu 1 -count 3 ./internal/lambdahandler/
	$(GO) test -run '^$$' -bench 'Bootstrap_6MB' -benchtime 5x -count 3 ./internal/lambdahandler/
	$(GO) test -run '^$$' -bench 'Bootstrap_ColdStart' -benchtime 10x -count 3 ./internal/lambdahandler/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/tablesync/
	$(GO) test -run '^$$' -bench . -benchtime 3x ./internal/queue/

## demo: start DynamoDB Local, replicate a realistic workload with `ddbsync run`, compare the tables
demo: deps
	$(GO) run ./cmd/ddbsync demo

## lint: formatting, vet and golangci-lint (.golangci.yml), installed pinned on first use
lint: $(GOLANGCI_LINT)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	mkdir -p $(TOOLS_BIN)
	tmp=$$(mktemp -d) && GOBIN=$$tmp $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) && mv $$tmp/golangci-lint $@ && rmdir $$tmp

## release-check: the pinned goreleaser's full `check` of .goreleaser.yaml (builds goreleaser on first use)
release-check:
	$(GO) run $(GORELEASER) check

clean:
	rm -rf bin .aws-sam

## fuzz: run each fuzz target for 20 s (their seed corpora also run in `make test`)
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeEvent$$' -fuzztime $(FUZZTIME) ./internal/lambdahandler/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeImage$$' -fuzztime $(FUZZTIME) ./internal/replicate/
	$(GO) test -run '^$$' -fuzz '^FuzzForward$$' -fuzztime $(FUZZTIME) ./internal/replicate/

## ddblocal: start DynamoDB Local (the pinned jar) on a loopback port (PORT=N for a fixed one) and print its endpoint; Ctrl-C stops it
.PHONY: ddblocal man release-check
PORT ?= 0
ddblocal: deps
	-$(GO) run ./cmd/ddbsync local ddb --port $(PORT)

## man: the man pages of ddbsync and its commands, in bin/man
man:
	$(GO) run -ldflags "-X main.Version=$(VERSION)" ./cmd/ddbsync man --dir bin/man
