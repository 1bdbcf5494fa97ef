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
	tests := []struct {
		name string
		q    reporter.HistoryQuery
		want []string // in the plan
	}{
		{"newest", reporter.HistoryQuery{Limit: 100}, []string{"SCAN r", "report_events_order"}},
		{"page", reporter.HistoryQuery{Limit: 100, Before: reporter.HistoryCursor{Report: 5, Seq: 3}}, []string{"SEARCH r USING INTEGER PRIMARY KEY", "report_events_order"}},
		{"ip", reporter.HistoryQuery{IP: netip.MustParseAddr("192.0.2.1"), Limit: 100}, []string{"events_ip", "report_events_event"}},
		{"cidr", reporter.HistoryQuery{CIDR: netip.MustParsePrefix("192.0.2.0/24"), Limit: 100}, []string{"events_ip", "report_events_event"}},
		{"asn", reporter.HistoryQuery{ASN: 64500, Limit: 100}, []string{"events_asn", "report_events_event"}},
		{"ref", reporter.HistoryQuery{Ref: "CERT#20261120-0001", Limit: 100}, []string{"sqlite_autoindex_reports", "report_events_order"}},
		{"window", reporter.HistoryQuery{Since: t0, Until: t0.Add(24 * time.Hour), Limit: 100}, []string{"SCAN r", "report_events_order"}},
		{"contact", reporter.HistoryQuery{Contact: "abuse@isp.example", Limit: 100}, []string{"SCAN r", "report_events_order"}},
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
			// every year. (A filter on an address or AS starts small and
			// may sort what it found.)
			small := tt.q.IP.IsValid() || tt.q.CIDR.IsValid() || tt.q.ASN != 0
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN e") || strings.HasPrefix(line, "SCAN re") ||
					(!small && strings.Contains(line, "TEMP B-TREE")) {
					t.Errorf("plan has %q:\n%s", line, got)
				}
			}
		})
	}
}
