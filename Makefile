# Plain targets that run the same commands the README shows.
GO ?= go
BIN := bin/autoreporter
GOTESTFLAGS ?=

.PHONY: build test bench bench-system bench-history lint demo fuzz clean

build:
	$(GO) build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o $(BIN) ./cmd/autoreporter

examples/geo/asn.mmdb examples/geo/country.mmdb: examples/geo/networks.txt
	$(GO) run ./examples/geo/mkmmdb -src examples/geo/networks.txt -asn examples/geo/asn.mmdb -country examples/geo/country.mmdb

# The demo: copy the demo feeds into the spool folders and run one full
# cycle. Run it twice: the second run sends nothing new. The Shadowserver
# demo reports are dated yesterday, as a real day's are, so that the
# feed's max_age (3d in config.example.yaml) keeps them.
DEMO_DAY := $(shell date -u -d yesterday +%F 2>/dev/null || date -u -v-1d +%F)
examples/keys/demo-signing.asc:
	$(GO) run ./examples/mkkey -out examples/keys/demo-signing.asc

demo: build examples/geo/asn.mmdb examples/keys/demo-signing.asc
	mkdir -p var/spool/shadowserver var/spool/c2
	for f in examples/feeds/shadowserver/*.csv; do \
		sed 's/2026-11-22/$(DEMO_DAY)/g' "$$f" > "var/spool/shadowserver/$$(basename "$$f" | sed 's/2026-11-22/$(DEMO_DAY)/')"; \
	done
	cp examples/feeds/c2/*.csv var/spool/c2/
	./$(BIN) run --once --config config.example.yaml

test:
	$(GO) test $(GOTESTFLAGS) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# One national day through the whole daemon: 5,000,000 rows, run --once,
# rows/s, events, mails, wall time and peak RSS. Set AUTOREPORTER_BENCH_PG
# to a PostgreSQL DSN to run it there too.
bench-system: build
	./examples/bench-system.sh

# History at a national CERT's scale (issue 10): a store of HISTORY_EVENTS
# events in HISTORY_REPORTS reports (examples/mkhistory), each history query
# shape run HISTORY_N times, p50/p99/max printed. At the default 10M/1M a
# store takes about 5 minutes to build on 2 cores and 7 GB (SQLite) or 9 GB
# (PostgreSQL) of disk; it is kept and reused. PostgreSQL runs when
# HISTORY_PG names a database of its own, e.g.
#   createdb -h 127.0.0.1 -U postgres arhistory
#   make bench-history HISTORY_PG=postgres://postgres@127.0.0.1/arhistory
# Figures and plans: docs/history-performance.md.
HISTORY_EVENTS ?= 10000000
HISTORY_REPORTS ?= 1000000
HISTORY_N ?= 1000
HISTORY_DB ?= var/history/history.db
HISTORY_PG ?=
bench-history:
	$(GO) build -o bin/mkhistory ./examples/mkhistory
	./bin/mkhistory build -reuse -sqlite $(HISTORY_DB) -events $(HISTORY_EVENTS) -reports $(HISTORY_REPORTS)
	./bin/mkhistory bench -sqlite $(HISTORY_DB) -n $(HISTORY_N)
	if [ -n "$(HISTORY_PG)" ]; then \
		./bin/mkhistory build -reuse -postgres "$(HISTORY_PG)" -events $(HISTORY_EVENTS) -reports $(HISTORY_REPORTS) && \
		./bin/mkhistory bench -postgres "$(HISTORY_PG)" -n $(HISTORY_N); \
	else echo "bench-history: set HISTORY_PG to a database's DSN for PostgreSQL"; fi

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzShadowserver$$' -fuzztime 300000x ./reporter/feed/shadowserver
	$(GO) test -run '^$$' -fuzz '^FuzzCSV$$' -fuzztime 300000x ./reporter/feed/csvfeed
	$(GO) test -run '^$$' -fuzz '^FuzzScannerMatchesCSV$$' -fuzztime 300000x ./reporter/feed
	$(GO) test -run '^$$' -fuzz '^FuzzStrayQuote$$' -fuzztime 300000x ./reporter/feed
	$(GO) test -run '^$$' -fuzz '^FuzzBlocklist$$' -fuzztime 300000x ./reporter/feed/blocklist
	$(GO) test -run '^$$' -fuzz '^FuzzJSON$$' -fuzztime 300000x ./reporter/feed/jsonfeed
	$(GO) test -run '^$$' -fuzz '^FuzzRDAPAnswer$$' -fuzztime 300000x ./abuse
	$(GO) test -run '^$$' -fuzz '^FuzzSign$$' -fuzztime 300000x ./reporter/mail/sign
	$(GO) test -run '^$$' -fuzz '^FuzzAppend$$' -fuzztime 300000x ./reporter/store/internal/fieldjson
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 300000x ./reporter/flow

lint:
	command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)
	$(GO) vet ./...
	staticcheck ./...

clean:
	rm -rf bin var examples/geo/*.mmdb examples/keys
