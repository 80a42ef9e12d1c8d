# trivy v0.67+ imports encoding/json/v2, which Go 1.26 builds only with this.
export GOEXPERIMENT := jsonv2
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

# Packages whose concurrency matters run under the race detector; the rest
# (which link the scanning engines and take long to build with -race) run plain.
RACE_PKGS := ./app/queue/... ./app/store/... ./app/webhook/... ./app/ghclient/... ./app/server/...

.PHONY: build serve test test-race test-all bench lint demo

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/gatehouse ./cmd/gatehouse

## serve: build and run gatehouse serve on the embedded SQLite default ($$GATEHOUSE_DATA_DIR, else ~/.local/share/gatehouse)
serve: build
	./bin/gatehouse serve

## test: everything CI runs
test: test-race test-all

test-race:
	$(GO) test -race -count=1 $(RACE_PKGS)

test-all:
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v -E '/app/(queue|store|webhook|ghclient|server)(/|$$)')

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	gofmt -l $$(git ls-files '*.go')
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

## demo: a pull request through the real binary and the fake GitHub, then
## the server stays up GATEHOUSE_DEMO_SECONDS (default 300) for curl.
demo:
	GATEHOUSE_DEMO_SECONDS=$${GATEHOUSE_DEMO_SECONDS:-300} $(GO) test -count=1 -run TestDemoSession -v -timeout 30m ./e2e/
