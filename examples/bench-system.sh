#!/usr/bin/env bash
# bench-system: one national day through the whole of autoreporter, as
# `make bench-system` runs it. examples/mkday writes the day (20
# Shadowserver reports of 5,000,000 rows in all, 1% of them in a
# constituency of 50 ASNs with 50 contacts, and abuse.ch's Feodo Tracker
# and ThreatFox exports), then `autoreporter run --once` ingests, reports
# and writes the mails to an outbox, under /usr/bin/time -v, on the
# embedded store and, when AUTOREPORTER_BENCH_PG names a PostgreSQL server
# (a DSN; the day goes in a schema of its own, emptied first), on it too.
#
# Sizes can be changed: BENCH_ROWS, BENCH_ABUSECH_ROWS, BENCH_DIR.
set -euo pipefail

BIN=${BIN:-bin/autoreporter}
DIR=${BENCH_DIR:-var/bench-system}
ROWS=${BENCH_ROWS:-5000000}
ABUSECH=${BENCH_ABUSECH_ROWS:-100000}
PG=${AUTOREPORTER_BENCH_PG:-}

if [ ! -x /usr/bin/time ]; then
	echo "bench-system: /usr/bin/time is needed for the peak RSS (apt-get install time)" >&2
	exit 1
fi
rm -rf "$DIR"
gen=(go run ./examples/mkday -dir "$DIR" -rows "$ROWS" -reports 20 -kept 0.01 -isps 50 -abusech-rows "$ABUSECH")
if [ -n "$PG" ]; then
	gen+=(-pg "$PG")
fi
start=$(date +%s.%N)
"${gen[@]}"
echo "bench-system: day generated in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f s", e - s }'); $(du -sh "$DIR/spool" | cut -f1) of feeds"

# run STORE CONFIG: one run --once, and its figures on one line.
run() {
	local store=$1 config=$2 out="$DIR/$1.out" log="$DIR/$1.log" tm="$DIR/$1.time" code=0
	/usr/bin/time -v -o "$tm" "$BIN" run --once --config "$config" >"$out" 2>"$log" || code=$?
	if [ "$code" -ne 0 ]; then
		echo "bench-system: run --once on $store exited $code; see $out and $log" >&2
		cat "$out" >&2
		exit 1
	fi
	awk -v store="$store" '
		FILENAME ~ /\.out$/ && /^rows:/    { rows = $2; kept = $4 }
		FILENAME ~ /\.out$/ && /^events:/  { events = $2 }
		FILENAME ~ /\.out$/ && /^reports:/ { reports = $2 }
		FILENAME ~ /\.out$/ && /^mails:/   { mails = $2 }
		FILENAME ~ /\.time$/ && /Elapsed \(wall clock\)/ {
			n = split($NF, t, ":"); wall = 0
			for (i = 1; i <= n; i++) wall = wall * 60 + t[i]
		}
		FILENAME ~ /\.time$/ && /Maximum resident set size/ { rss = $NF / 1024 }
		FILENAME ~ /\.time$/ && /User time/   { user = $NF }
		FILENAME ~ /\.time$/ && /System time/ { sys = $NF }
		END {
			printf "%-8s %10d %9.0f %8d %8d %6d %8.1f s %7.1f s %7.0f MB\n", store, rows, rows / wall, kept, events, mails, wall, user + sys, rss
		}' "$out" "$tm"
}

printf "%-8s %10s %9s %8s %8s %6s %10s %9s %10s\n" store rows rows/s kept events mails wall cpu "peak RSS"
run sqlite "$DIR/config.yaml"
if [ -n "$PG" ]; then
	run postgres "$DIR/config-pg.yaml"
fi
