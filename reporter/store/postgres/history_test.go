package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/store/pgtest"
)

// planNode is a node of EXPLAIN (FORMAT JSON)'s plan tree.
type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}

func (n planNode) String() string {
	var b strings.Builder
	var show func(planNode, int)
	show = func(n planNode, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + n.NodeType)
		if n.Relation != "" {
			b.WriteString(" on " + n.Relation)
		}
		if n.Index != "" {
			b.WriteString(" using " + n.Index)
		}
		b.WriteByte('\n')
		for _, c := range n.Plans {
			show(c, depth+1)
		}
	}
	show(n, 0)
	return b.String()
}

// TestHistoryPlans asks PostgreSQL how it runs each shape of history query
// on a year of history after ANALYZE, so that an index dropped or a query
// rewritten does not quietly turn a lookup into a scan of years of events.
// The history is 20,000 reports of 10 events to 200 ISPs, half of them to
// the biggest, as a country's history is skewed: the plans that matter at
// scale are those for an ISP whose events outnumber a page many times.
// The plans at 10 million events, with timings, are in
// docs/history-performance.md.
func TestHistoryPlans(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := context.Background()
	t0 := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	// Report i goes 26 minutes after report i-1 (a year in 20,000) to
	// ISP 0 when i is even, else to ISP i % 200. ISP n is AS 64500+n,
	// abuse@ispN.example, and its events come from 10.0.n.0/24.
	const isp = `(CASE WHEN %[1]s %% 2 = 0 THEN 0 ELSE %[1]s %% 200 END)`
	for _, sql := range []string{
		fmt.Sprintf(`INSERT INTO reports (ref, day, seq, contact, contact_language, contact_source, contact_format, fallback,
			created, message_id, state, next_try, sent, event_count)
		SELECT 'CERT#' || i, ($1::timestamptz + i * interval '26 minutes')::date, i, ARRAY['abuse@isp' || `+isp+` || '.example'],
			'en', 'config', '', false, $1::timestamptz + i * interval '26 minutes', 'm' || i, 'sent', $1::timestamptz,
			$1::timestamptz + i * interval '26 minutes', 10
		FROM generate_series(1, 20000) i`, "i"),
		fmt.Sprintf(`INSERT INTO events (feed, dedup_key, time, classification, identifier, ip, port, protocol, asn, as_org,
			country, hostname, extra, report_type, unclassified, source, ingested, state, contact, contact_rule, report_id)
		SELECT 'feed' || j %% 5, md5(j::text), $1::timestamptz + j * interval '156 seconds', 'scanner', 'x',
			'10.0.0.0'::inet + (`+isp+` * 256 + j * 7 %% 254 + 1), 23, 'tcp', 64500 + `+isp+`, '', 'FI', '', '[]', '', false,
			'f.csv:' || j, $1::timestamptz + j * interval '156 seconds', 'reported', ARRAY['abuse@isp' || `+isp+` || '.example'], 'asn', r
		FROM generate_series(1, 200000) j, LATERAL (SELECT (j - 1) / 10 + 1 AS r) x`, "r"),
		`INSERT INTO report_events (report_id, event_id, contact, rule, dedup_key, reported, seq)
		SELECT report_id, id, contact, 'asn', dedup_key, $1::timestamptz, row_number() OVER (PARTITION BY report_id ORDER BY id)
		FROM events`,
	} {
		if _, err := s.pool.Exec(ctx, sql, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE reports, events, report_events`); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(20000 * 26 * time.Minute)
	deep := reporter.HistoryCursor{Report: 5000, Seq: 3}
	tests := []struct {
		name string
		q    reporter.HistoryQuery
		want []string // indexes in the plan; a|b: either
		// sorts says the plan may sort all it found: an address, a /24,
		// one report or one day's reports have few events. Any other sort
		// must be an Incremental Sort, within one report. (A small AS is
		// left out: on a table this small, PostgreSQL rightly hashes all
		// of report_events for it.)
		sorts bool
	}{
		{"newest", reporter.HistoryQuery{Limit: 1000}, []string{"reports_pkey", "report_events_order", "events_pkey"}, false},
		{"page", reporter.HistoryQuery{Limit: 1000, Before: deep}, []string{"reports_pkey", "report_events_order", "events_pkey"}, false},
		{"ip", reporter.HistoryQuery{IP: netip.MustParseAddr("10.0.7.8"), Limit: 1000}, []string{"events_ip", "report_events_event", "reports_pkey"}, true},
		{"cidr", reporter.HistoryQuery{CIDR: netip.MustParsePrefix("10.0.7.0/24"), Limit: 1000}, []string{"events_ip", "report_events_event", "reports_pkey"}, true},
		{"asn", reporter.HistoryQuery{ASN: 64500, Limit: 1000}, []string{"events_asn_report", "report_events_event", "reports_pkey"}, false},
		// A window bounds the report ids on every table (windowStart):
		// the window's reports are read, by their ids, and no other. At
		// this size PostgreSQL takes them from the reports' side and sorts
		// the window's few thousand rows; at 10 M events it walks the AS's
		// events newest first (docs/history-performance.md). Either way no
		// table is scanned.
		{"asn-30d", reporter.HistoryQuery{ASN: 64500, Since: end.AddDate(0, 0, -30), Limit: 1000}, []string{"events_asn_report|reports_pkey", "report_events_event|report_events_order", "reports_pkey|events_pkey"}, true},
		// Half the events are this AS's: from a cursor, walking all
		// reported events back by report (events_report) finds a page
		// as soon.
		{"asn-page", reporter.HistoryQuery{ASN: 64500, Limit: 1000, Before: deep}, []string{"events_asn_report|events_report", "report_events_event", "reports_pkey"}, false},
		{"ref", reporter.HistoryQuery{Ref: "CERT#4711", Limit: 1000}, []string{"reports_ref_key", "report_events_order", "events_pkey"}, true},
		{"contact", reporter.HistoryQuery{Contact: "abuse@isp0.example", Limit: 1000}, []string{"report_events_order", "events_pkey"}, false},
		{"day", reporter.HistoryQuery{Since: end.AddDate(0, 0, -100), Until: end.AddDate(0, 0, -99), Limit: 1000}, []string{"reports_created", "report_events_order", "events_pkey"}, true},
		{"feed", reporter.HistoryQuery{Feed: "feed3", Limit: 1000}, []string{"reports_pkey", "report_events_order", "events_pkey"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, err := s.windowStart(ctx, tt.q.Since)
			if err != nil || from < 0 {
				t.Fatalf("window: %d %v", from, err)
			}
			sql, args := historySQL(tt.q, from)
			var out []byte
			if err := s.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
				t.Fatal(err)
			}
			var plans []struct{ Plan planNode }
			if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
				t.Fatalf("plan %s: %v", out, err)
			}
			plan := plans[0].Plan
			used := map[string]bool{}
			plan.walk(func(n planNode) {
				used[n.Index] = true
				// Every year of history is in events and report_events:
				// no query reads them whole, or sorts all it reads.
				if n.NodeType == "Seq Scan" && n.Relation != "reports" || n.NodeType == "Sort" && !tt.sorts {
					t.Errorf("%s in the plan:\n%s", n.NodeType, plan)
				}
			})
			for _, w := range tt.want {
				if !slices.ContainsFunc(strings.Split(w, "|"), func(ix string) bool { return used[ix] }) {
					t.Errorf("plan does not use %s:\n%s", w, plan)
				}
			}
		})
	}
}
