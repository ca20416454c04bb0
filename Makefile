# Bayagent build, test and release targets. See README.md.
#   make demo   the whole system on one machine, no hardware
#   make test   the whole test suite (what CI runs)

GO       ?= go
VERSION  ?= $(shell ./scripts/version.sh)
LDFLAGS  := -s -w -X main.version=$(VERSION)
GOFLAGS_STATIC := CGO_ENABLED=0
BIN      := bin
FUZZTIME ?= 10s
BENCHTIME ?= 1x

# -race needs cgo and a 64-bit host; it is dropped elsewhere.
HOSTARCH := $(shell $(GO) env GOARCH)
RACE     := $(if $(filter amd64 arm64,$(HOSTARCH)),-race,)

.PHONY: all build test test-host test-arm test-cross test-brokers fuzz bench soak cross dist demo vet tools clean

all: build

build:
	$(GOFLAGS_STATIC) $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=7 $(GO) vet ./...

tools:
	./scripts/install-test-tools.sh

# The whole suite on this machine (with -race), then again for 32-bit ARM
# under qemu-user, where alignment and int-size mistakes show.
test: tools vet test-host test-arm

test-host:
	$(GO) test $(RACE) -count=1 -timeout 15m ./...

test-arm:
	./scripts/test-arch.sh arm ./...

# The whole suite for both ARM targets under qemu-user.
test-cross: tools
	./scripts/test-arch.sh arm ./...
	./scripts/test-arch.sh arm64 ./...

# The broker matrix: a box against Mosquitto, the embedded broker and
# RabbitMQ's MQTT plugin (records over TLS, retained status, last will,
# commands, a receiver). Not part of make test: RabbitMQ is a large install
# and takes tens of seconds to start; Mosquitto and the embedded broker run
# in make test too.
test-brokers:
	./scripts/install-test-tools.sh mosquitto rabbitmq
	BAYAGENT_TEST_RABBITMQ=1 CI=true $(GO) test -count=1 -v -run TestBrokers ./agent/internal/brokermatrix

cross:
	mkdir -p $(BIN)
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/bayagent-linux-armv7 ./cmd/bayagent
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/bayagent-linux-arm64 ./cmd/bayagent
	@ls -l $(BIN)/bayagent-linux-armv7 $(BIN)/bayagent-linux-arm64

# Release tarballs for the boxes (binary, firmware-config, install script,
# systemd unit, SHA256SUMS) in dist/.
dist:
	./scripts/dist.sh $(VERSION) dist

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# The SIGKILL and power-cut tests for SOAK_CYCLES kill cycles each (outside
# make test, which runs a short round of them); each prints a "SOAK" line
# with its totals. See RELIABILITY.md.
SOAK_CYCLES ?= 1000
SOAK_TESTS  := ^(TestCrashSafety|TestPowerLossOutbox|TestAgentCrash|TestPowerLossAgent)$$
soak:
	./scripts/install-test-tools.sh mosquitto fuse
	bash -o pipefail -c "BAYAGENT_SOAK_CYCLES=$(SOAK_CYCLES) $(GO) test -count=1 -timeout 0 -run '$(SOAK_TESTS)' -v ./agent/outbox ./agent | grep --line-buffered -E '^(SOAK|ok|FAIL|--- FAIL|panic)'"

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# The whole bay on this machine: embedded broker, simulated car and
# analyzer, the agent, an emission-repair job; see README.md.
# DEMOFLAGS=--keep-running leaves broker, simulators, agent and bay screen up.
demo:
	$(GO) run ./cmd/bayagent demo $(DEMOFLAGS)

clean:
	rm -rf $(BIN) dist
