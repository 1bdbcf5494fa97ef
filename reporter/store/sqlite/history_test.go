package sqlite

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// TestHistoryPlans asks SQLite how it runs each shape of history query, so
// an index dropped or a query rewritten does not quietly turn an address
// lookup into a scan of years of reports. ANALYZE is not run: the plans
// are the ones a fresh database gets.
func TestHistoryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	end := t0.AddDate(1, 0, 0)
	deep := reporter.HistoryCursor{Report: 5, Seq: 3}
	const pk = "sqlite_autoindex_report_events_1" // report_events' (report_id, event_id)
	tests := []struct {
		name string
		q    reporter.HistoryQuery
		want []string // in the plan
		// sorts says the plan may sort all it found: an address or a /24
		// has few events. Any other sort must be of the last term of the
		// order (re.seq, within one report).
		sorts bool
	}{
		{"newest", reporter.HistoryQuery{Limit: 100}, []string{"SCAN r", "report_events_order"}, false},
		{"page", reporter.HistoryQuery{Limit: 100, Before: deep}, []string{"SEARCH r USING INTEGER PRIMARY KEY", "report_events_order"}, false},
		{"ip", reporter.HistoryQuery{IP: netip.MustParseAddr("192.0.2.1"), Limit: 100}, []string{"events_ip", pk}, true},
		{"cidr", reporter.HistoryQuery{CIDR: netip.MustParsePrefix("192.0.2.0/24"), Limit: 100}, []string{"events_ip", pk}, true},
		// An AS's events come newest report first from events_asn_report;
		// a cursor or a window bounds or filters that walk.
		{"asn", reporter.HistoryQuery{ASN: 64500, Limit: 100}, []string{"events_asn_report (asn=?)", pk, "LAST TERM OF ORDER BY"}, false},
		{"asn-30d", reporter.HistoryQuery{ASN: 64500, Since: end.AddDate(0, 0, -30), Limit: 100}, []string{"events_asn_report (asn=?)", pk, "LAST TERM OF ORDER BY"}, false},
		{"asn-page", reporter.HistoryQuery{ASN: 64500, Limit: 100, Before: deep}, []string{"events_asn_report (asn=? AND report_id<?)", pk, "LAST TERM OF ORDER BY"}, false},
		{"ref", reporter.HistoryQuery{Ref: "CERT#20261120-0001", Limit: 100}, []string{"sqlite_autoindex_reports", "report_events_order"}, false},
		{"window", reporter.HistoryQuery{Since: t0, Until: t0.Add(24 * time.Hour), Limit: 100}, []string{"SCAN r", "report_events_order"}, false},
		{"contact", reporter.HistoryQuery{Contact: "abuse@isp.example", Limit: 100}, []string{"SCAN r", "report_events_order"}, false},
		{"feed", reporter.HistoryQuery{Feed: "shadowserver", Limit: 100}, []string{"SCAN r", "report_events_order"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sqlText, args := historySQL(tt.q)
			rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sqlText, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			got := strings.Join(plan, "\n")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("plan lacks %q:\n%s", w, got)
				}
			}
			// A scan of the events or of all of report_events, or a sort
			// of them, is what must never happen: they hold every row of
			// every year.
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN e") || strings.HasPrefix(line, "SCAN re") ||
					(!tt.sorts && strings.Contains(line, "TEMP B-TREE") && !strings.Contains(line, "LAST TERM OF ORDER BY")) {
					t.Errorf("plan has %q:\n%s", line, got)
				}
			}
		})
	}
}
