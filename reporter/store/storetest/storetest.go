// Package storetest is the conformance suite every reporter.Store backend
// must pass: the embedded store now, PostgreSQL next. A backend's test calls
// Run with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

var msgSeq atomic.Int64

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// Run runs the suite.
func Run(t *testing.T, open func(t *testing.T) reporter.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s reporter.Store)
	}{
		{"InsertIsIdempotent", testInsertIdempotent},
		{"EventRoundTrip", testRoundTrip},
		{"CreateReports", testCreateReports},
		{"CreateReportsConflict", testConflict},
		{"RefsCountPerDay", testRefs},
		{"DeliveryStates", testDelivery},
		{"History", testHistory},
		{"Rejects", testRejects},
		{"FeedState", testFeedState},
		{"Fetched", testFetched},
		{"PendingContacts", testPendingContacts},
		{"Overrides", testOverrides},
		{"RDAPCache", testRDAPCache},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			tt.fn(t, s)
		})
	}
}

var ctx = context.Background()

func contact(addr string) reporter.Contact {
	return reporter.Contact{To: []string{addr}, Language: "fi", Source: "override asn 64500"}
}

func event(ip string, port int, c string, at time.Time) reporter.Event {
	return reporter.Event{
		Time: at, Feed: "shadowserver", Classification: reporter.VulnerableSystem, Identifier: "rdp",
		IP: netip.MustParseAddr(ip), Port: port, Protocol: "tcp", ASN: 64500, ASOrg: "ISP One", Country: "FI",
		Hostname: "h.example", Extra: []reporter.Field{{Key: "tag", Value: "rdp"}, {Key: "a", Value: "=1+1"}},
		Contact: contact(c), Source: "f.csv:2", Ingested: t0,
	}
}

func mustInsert(t *testing.T, s reporter.Store, ev ...reporter.Event) []reporter.Event {
	t.Helper()
	if _, err := s.InsertEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	out, err := s.NewEvents(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testInsertIdempotent(t *testing.T, s reporter.Store) {
	evs := []reporter.Event{event("192.0.2.1", 3389, "a@x.example", t0), event("192.0.2.2", 3389, "a@x.example", t0)}
	n, err := s.InsertEvents(ctx, evs)
	if err != nil || n != 2 {
		t.Fatalf("first insert: %d, %v", n, err)
	}
	n, err = s.InsertEvents(ctx, evs)
	if err != nil || n != 0 {
		t.Fatalf("second insert of the same events: %d, %v", n, err)
	}
	// Same key, later observation: a new event.
	n, err = s.InsertEvents(ctx, []reporter.Event{event("192.0.2.1", 3389, "a@x.example", t0.Add(time.Hour))})
	if err != nil || n != 1 {
		t.Fatalf("later observation: %d, %v", n, err)
	}
}

func testRoundTrip(t *testing.T, s reporter.Store) {
	in := event("2001:db8:1::5", 443, "a@x.example", t0.Add(1500*time.Microsecond))
	got := mustInsert(t, s, in)
	if len(got) != 1 {
		t.Fatalf("%d new events", len(got))
	}
	e := got[0]
	if e.ID == 0 || e.IP != in.IP || e.Port != 443 || !e.Time.Equal(in.Time) || e.ASN != 64500 || e.ASOrg != "ISP One" ||
		e.Country != "FI" || e.Hostname != "h.example" || e.Classification != in.Classification || e.Identifier != "rdp" ||
		e.Feed != "shadowserver" || e.Protocol != "tcp" || e.Source != "f.csv:2" || !e.Ingested.Equal(t0) {
		t.Errorf("round trip:\n got %+v\nwant %+v", e, in)
	}
	if fmt.Sprint(e.Extra) != fmt.Sprint(in.Extra) {
		t.Errorf("extra %v, want %v (order kept)", e.Extra, in.Extra)
	}
	if e.Contact.Key() != "a@x.example" || e.Contact.Language != "fi" || e.Contact.Source != in.Contact.Source {
		t.Errorf("contact %+v", e.Contact)
	}
}

func plan(evs []reporter.Event) []reporter.NewReport {
	byContact := map[string]*reporter.NewReport{}
	var out []reporter.NewReport
	var order []string
	for _, e := range evs {
		k := e.Contact.Key()
		if byContact[k] == nil {
			byContact[k] = &reporter.NewReport{Batch: reporter.Batch{Contact: e.Contact}, MessageID: fmt.Sprintf("<%d@test>", msgSeq.Add(1))}
			order = append(order, k)
		}
		byContact[k].Batch.Events = append(byContact[k].Batch.Events, e)
	}
	for _, k := range order {
		out = append(out, *byContact[k])
	}
	return out
}

func testCreateReports(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s,
		event("192.0.2.1", 3389, "a@x.example", t0), event("192.0.2.2", 3389, "a@x.example", t0),
		event("198.51.100.1", 3389, "b@y.example", t0), event("198.51.100.2", 3389, "b@y.example", t0))
	skipped := []reporter.Decision{{Event: evs[3], Reason: reporter.RepeatWindow}}
	reps, err := s.CreateReports(ctx, "CERT-T", t0, plan(evs[:3]), skipped)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 || reps[0].Ref != "CERT-T#20261123-0001" || reps[1].Ref != "CERT-T#20261123-0002" {
		t.Fatalf("reports: %+v", reps)
	}
	if reps[0].State != reporter.ReportPending || reps[0].EventCount != 2 || reps[0].ID == 0 {
		t.Errorf("report: %+v", reps[0])
	}
	if left, _ := s.NewEvents(ctx, 100); len(left) != 0 {
		t.Errorf("%d events still new", len(left))
	}
	got, err := s.ReportEvents(ctx, reps[0].ID)
	if err != nil || len(got) != 2 || got[0].IP.String() != "192.0.2.1" {
		t.Errorf("report events: %v %+v", err, got)
	}
	last, err := s.LastReported(ctx, "a@x.example", []string{evs[0].Key(), evs[2].Key(), "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if !last[evs[0].Key()].Equal(t0) || len(last) != 1 {
		t.Errorf("LastReported = %v", last)
	}
	pend, err := s.PendingReports(ctx, t0)
	if err != nil || len(pend) != 2 || pend[0].MessageID == "" || pend[0].Contact.Key() != "a@x.example" {
		t.Errorf("pending: %v %+v", err, pend)
	}
}

func testConflict(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s, event("192.0.2.1", 3389, "a@x.example", t0), event("192.0.2.2", 3389, "a@x.example", t0))
	if _, err := s.CreateReports(ctx, "CERT-T", t0, plan(evs[:1]), nil); err != nil {
		t.Fatal(err)
	}
	// A second planner that read both events before the first one wrote.
	_, err := s.CreateReports(ctx, "CERT-T", t0, plan(evs), nil)
	if !errors.Is(err, reporter.ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
	// Nothing of the failed attempt stuck.
	if left, _ := s.NewEvents(ctx, 10); len(left) != 1 {
		t.Errorf("%d new events after a conflict, want 1", len(left))
	}
	if pend, _ := s.PendingReports(ctx, t0); len(pend) != 1 {
		t.Errorf("%d pending reports after a conflict, want 1", len(pend))
	}
}

func testRefs(t *testing.T, s reporter.Store) {
	for i, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(24 * time.Hour)} {
		evs := mustInsert(t, s, event(fmt.Sprintf("192.0.2.%d", i+1), 1, "a@x.example", at))
		reps, err := s.CreateReports(ctx, "C", at, plan(evs), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"C#20261123-0001", "C#20261123-0002", "C#20261124-0001"}[i]
		if reps[0].Ref != want {
			t.Errorf("ref %s, want %s", reps[0].Ref, want)
		}
	}
}

func testDelivery(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s, event("192.0.2.1", 3389, "a@x.example", t0))
	reps, err := s.CreateReports(ctx, "C", t0, plan(evs), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := reps[0].ID
	if err := s.MarkAttempt(ctx, id, "421 try later", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingReports(ctx, t0.Add(time.Minute)); len(p) != 0 {
		t.Error("report due before its next try")
	}
	p, _ := s.PendingReports(ctx, t0.Add(time.Hour))
	if len(p) != 1 || p[0].Attempts != 1 || p[0].LastError != "421 try later" {
		t.Fatalf("after one failure: %+v", p)
	}
	if err := s.MarkSent(ctx, id, "[C#1] subject", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingReports(ctx, t0.Add(48*time.Hour)); len(p) != 0 {
		t.Error("sent report still pending")
	}
	h, err := s.History(ctx, reporter.HistoryQuery{})
	if err != nil || len(h) != 1 || h[0].Report.State != reporter.ReportSent || h[0].Report.Subject != "[C#1] subject" || !h[0].Report.Sent.Equal(t0.Add(time.Hour)) {
		t.Errorf("history after send: %v %+v", err, h)
	}
	// Giving up marks it failed, and it stays in history.
	evs = mustInsert(t, s, event("192.0.2.9", 3389, "a@x.example", t0))
	reps, err = s.CreateReports(ctx, "C", t0, plan(evs), nil)
	if err != nil || len(reps) != 1 {
		t.Fatalf("second report: %v", err)
	}
	if err := s.MarkAttempt(ctx, reps[0].ID, "550 no such user", t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingReports(ctx, t0.Add(1000*time.Hour)); len(p) != 0 {
		t.Error("failed report still pending")
	}
	h, _ = s.History(ctx, reporter.HistoryQuery{IP: netip.MustParseAddr("192.0.2.9")})
	if len(h) != 1 || h[0].Report.State != reporter.ReportFailed {
		t.Errorf("failed report in history: %+v", h)
	}
}

func testHistory(t *testing.T, s reporter.Store) {
	a := event("192.0.2.1", 3389, "a@x.example", t0)
	b := event("192.0.2.200", 23, "a@x.example", t0)
	b.ASN = 64501
	c := event("2001:db8:1::1", 443, "b@y.example", t0)
	c.Feed = "other"
	d := event("198.51.100.1", 443, "b@y.example", t0) // never reported
	evs := mustInsert(t, s, a, b, c, d)
	if _, err := s.CreateReports(ctx, "C", t0, plan(evs[:3]), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    reporter.HistoryQuery
		want int
	}{
		{"all", reporter.HistoryQuery{}, 3},
		{"ip", reporter.HistoryQuery{IP: netip.MustParseAddr("192.0.2.1")}, 1},
		{"v4 cidr", reporter.HistoryQuery{CIDR: netip.MustParsePrefix("192.0.2.0/25")}, 1},
		{"v4 cidr wide", reporter.HistoryQuery{CIDR: netip.MustParsePrefix("192.0.0.0/16")}, 2},
		{"v6 cidr", reporter.HistoryQuery{CIDR: netip.MustParsePrefix("2001:db8::/32")}, 1},
		{"asn", reporter.HistoryQuery{ASN: 64501}, 1},
		{"contact", reporter.HistoryQuery{Contact: "A@X.example"}, 2},
		{"contact is not a substring match", reporter.HistoryQuery{Contact: "x.example"}, 0},
		{"feed", reporter.HistoryQuery{Feed: "other"}, 1},
		{"since later", reporter.HistoryQuery{Since: t0.Add(time.Minute)}, 0},
		{"since before", reporter.HistoryQuery{Since: t0.Add(-time.Minute)}, 3},
		{"limit", reporter.HistoryQuery{Limit: 2}, 2},
		{"hostile input is data", reporter.HistoryQuery{Contact: "' OR 1=1 --"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := s.History(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != tt.want {
				t.Errorf("%d rows, want %d", len(h), tt.want)
			}
		})
	}
}

func testRejects(t *testing.T, s reporter.Store) {
	in := []reporter.Reject{
		{Feed: "f", File: "a.csv", Line: 3, Reason: `ip: not an IP address: "x"`, Raw: "x,y"},
		{Feed: "f", File: "a.csv", Line: 4, Reason: `ip: not an IP address: "y"`, Raw: "y,z"},
		{Feed: "f", File: "b.csv", Line: 9, Reason: `timestamp: timestamp "q" is in no known format`, Class: "timestamp: bad", Raw: "q"},
		{Feed: "g", File: "c.txt", Line: 1, Reason: "record longer than 4 MiB"},
	}
	if err := s.AddRejects(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.Rejects(ctx, reporter.RejectQuery{Feed: "f", File: "a.csv"})
	if err != nil || len(got) != 2 {
		t.Fatalf("rejects of f/a.csv: %v %+v", err, got)
	}
	// Newest first: same instant, so the later insert first.
	if got[0].Line != 4 || got[0].Raw != "y,z" || got[0].Reason != in[1].Reason || got[0].Class != "ip: not an IP address" || got[0].At.IsZero() {
		t.Errorf("first reject: %+v", got[0])
	}
	if got, _ := s.Rejects(ctx, reporter.RejectQuery{Limit: 1}); len(got) != 1 {
		t.Errorf("limit 1 gave %d", len(got))
	}
	if got, _ := s.Rejects(ctx, reporter.RejectQuery{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("since the future gave %d", len(got))
	}
	sum, err := s.RejectSummary(ctx, reporter.RejectQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []reporter.ReasonCount{
		{Feed: "f", Class: "ip: not an IP address", Count: 2},
		{Feed: "f", Class: "timestamp: bad", Count: 1},
		{Feed: "g", Class: "record longer than 4 MiB", Count: 1},
	}
	if len(sum) != len(want) {
		t.Fatalf("summary: %+v", sum)
	}
	for i := range want {
		if sum[i].Feed != want[i].Feed || sum[i].Class != want[i].Class || sum[i].Count != want[i].Count || sum[i].Last.IsZero() {
			t.Errorf("summary[%d] = %+v, want %+v", i, sum[i], want[i])
		}
	}
}

func testFetched(t *testing.T, s reporter.Store) {
	got, err := s.Fetched(ctx, "ss", []string{"a", "b"})
	if err != nil || len(got) != 0 {
		t.Fatalf("nothing fetched yet: %v %v", err, got)
	}
	f := reporter.FetchedFile{Feed: "ss", ID: "a", File: "2026-11-22-scan_rdp-fi.csv", Fetched: t0, Rows: 5}
	if err := s.MarkFetched(ctx, f); err != nil {
		t.Fatal(err)
	}
	f.Rows = 6
	if err := s.MarkFetched(ctx, f); err != nil {
		t.Fatalf("marking again: %v", err)
	}
	got, err = s.Fetched(ctx, "ss", []string{"a", "b"})
	if err != nil || !got["a"] || got["b"] {
		t.Errorf("after a: %v %v", err, got)
	}
	if got, _ := s.Fetched(ctx, "other", []string{"a"}); got["a"] {
		t.Error("a fetched id belongs to its feed only")
	}
}

func testFeedState(t *testing.T, s reporter.Store) {
	st, err := s.FeedState(ctx, "abusech")
	if err != nil || st.Feed != "abusech" || st.ETag != "" || !st.LastSuccess.IsZero() {
		t.Fatalf("unknown feed: %v %+v", err, st)
	}
	want := reporter.FeedState{Feed: "abusech", ETag: `"v1"`, LastModified: "Fri, 20 Nov 2026 10:00:00 GMT",
		LastAttempt: t0, LastSuccess: t0, Rows: 10, Rejected: 1}
	if err := s.SaveFeedState(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.LastError, want.LastAttempt = "HTTP 503", t0.Add(time.Hour)
	if err := s.SaveFeedState(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.FeedState(ctx, "abusech")
	if err != nil || got != want {
		t.Errorf("got %+v, want %+v (%v)", got, want, err)
	}
}

func testPendingContacts(t *testing.T, s reporter.Store) {
	pending := reporter.Contact{Pending: true, Source: "rdap pending"}
	a := event("198.51.100.7", 3389, "", t0)
	a.Contact = pending
	b := event("198.51.100.7", 445, "", t0.Add(time.Minute))
	b.Contact, b.Ingested = pending, t0.Add(time.Hour)
	c := event("2001:db8::9", 3389, "", t0)
	c.Contact, c.ASN, c.Ingested = pending, 64501, t0.Add(2*time.Hour)
	inhibited := event("192.0.2.5", 3389, "", t0)
	inhibited.Contact = reporter.Contact{Inhibit: "inhibited by override cidr 192.0.2.0/24", Format: abuse.FormatInline, Source: "override cidr 192.0.2.0/24"}
	known := event("192.0.2.1", 3389, "a@x.example", t0)
	got := mustInsert(t, s, a, b, c, inhibited, known)
	if len(got) != 2 {
		t.Fatalf("NewEvents returned %d events; pending ones must wait", len(got))
	}
	for _, e := range got {
		if e.IP.String() == "192.0.2.5" && (e.Contact.Inhibit == "" || e.Contact.Format != abuse.FormatInline) {
			t.Errorf("inhibit and format not kept: %+v", e.Contact)
		}
	}
	p, err := s.PendingContacts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2 || p[0].IP.String() != "198.51.100.7" || p[0].Events != 2 || !p[0].Since.Equal(t0) || p[0].ASN != 64500 ||
		p[1].IP.String() != "2001:db8::9" || p[1].ASN != 64501 || p[1].Events != 1 {
		t.Fatalf("pending: %+v", p)
	}
	if p, _ := s.PendingContacts(ctx, 1); len(p) != 1 {
		t.Errorf("limit ignored: %d", len(p))
	}
	resolved := reporter.Contact{To: []string{"abuse@isp.example"}, Language: "en", Source: "rdap NET-1"}
	n, err := s.SetContact(ctx, netip.MustParseAddr("198.51.100.7"), resolved)
	if err != nil || n != 2 {
		t.Fatalf("set contact: %d %v", n, err)
	}
	if n, _ := s.SetContact(ctx, netip.MustParseAddr("198.51.100.7"), resolved); n != 0 {
		t.Errorf("set again changed %d events; only pending ones change", n)
	}
	evs, err := s.NewEvents(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range evs {
		if e.IP.String() == "198.51.100.7" {
			found++
			if e.Contact.Key() != "abuse@isp.example" || e.Contact.Pending || e.Contact.Source != "rdap NET-1" {
				t.Errorf("resolved event: %+v", e.Contact)
			}
		}
	}
	if found != 2 || len(evs) != 4 {
		t.Errorf("after resolving: %d new events, %d of the address", len(evs), found)
	}
	if p, _ := s.PendingContacts(ctx, 10); len(p) != 1 || p[0].IP.String() != "2001:db8::9" {
		t.Errorf("still pending: %+v", p)
	}
}

func testOverrides(t *testing.T, s reporter.Store) {
	if got, err := s.Overrides(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v %v", got, err)
	}
	o := abuse.Override{CIDR: netip.MustParsePrefix("192.0.2.0/24"), To: []string{"a@x.example", "b@x.example"}, Language: "sv",
		Format: abuse.FormatInline, Note: "ticket 42", By: "alice", Set: t0}
	asn := abuse.Override{ASN: 64500, Inhibit: true, Until: t0.Add(24 * time.Hour), By: "bob", Set: t0}
	for _, x := range []abuse.Override{o, asn} {
		if err := s.SetOverride(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	o.To = []string{"c@x.example"}
	if err := s.SetOverride(ctx, o); err != nil {
		t.Fatalf("replace: %v", err)
	}
	got, err := s.Overrides(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("overrides: %v %+v", err, got)
	}
	g := got[1] // ordered by rule: "asn 64500" < "cidr 192.0.2.0/24"
	if g.CIDR != o.CIDR || fmt.Sprint(g.To) != "[c@x.example]" || g.Language != "sv" || g.Format != abuse.FormatInline ||
		g.Note != "ticket 42" || g.By != "alice" || !g.Set.Equal(t0) || g.Origin != "store" || g.Inhibit || !g.Until.IsZero() {
		t.Errorf("cidr override: %+v", g)
	}
	if g := got[0]; g.ASN != 64500 || !g.Inhibit || !g.Until.Equal(t0.Add(24*time.Hour)) || len(g.To) != 0 {
		t.Errorf("asn override: %+v", g)
	}
	if ok, err := s.UnsetOverride(ctx, "asn 64500"); !ok || err != nil {
		t.Errorf("unset: %v %v", ok, err)
	}
	if ok, _ := s.UnsetOverride(ctx, "asn 64500"); ok {
		t.Error("unset twice")
	}
	if got, _ := s.Overrides(ctx); len(got) != 1 {
		t.Errorf("after unset: %+v", got)
	}
}

func testRDAPCache(t *testing.T, s reporter.Store) {
	e1 := abuse.RDAPEntry{First: netip.MustParseAddr("192.0.2.0"), Last: netip.MustParseAddr("192.0.2.255"), Handle: "NET-1",
		Entity: "AR1", To: []string{"abuse@isp.example"}, Server: "https://rdap.example", Fetched: t0, Expires: t0.Add(time.Hour)}
	e2 := abuse.RDAPEntry{First: netip.MustParseAddr("2001:db8::"), Last: netip.MustParseAddr("2001:db8::ffff"), Handle: "NET-6",
		Server: "https://rdap.example", Fetched: t0, Expires: t0.Add(time.Minute)}
	for _, e := range []abuse.RDAPEntry{e1, e2} {
		if err := s.PutRDAP(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	e1.To, e1.Fetched = []string{"new@isp.example"}, t0.Add(time.Hour)
	if err := s.PutRDAP(ctx, e1); err != nil {
		t.Fatalf("replace: %v", err)
	}
	got, err := s.RDAPCache(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("cache: %v %+v", err, got)
	}
	if g := got[0]; g.First != e1.First || g.Last != e1.Last || fmt.Sprint(g.To) != "[new@isp.example]" || g.Handle != "NET-1" ||
		g.Entity != "AR1" || g.Server != e1.Server || !g.Fetched.Equal(e1.Fetched) || !g.Expires.Equal(e1.Expires) {
		t.Errorf("v4 entry: %+v", g)
	}
	if g := got[1]; g.First != e2.First || g.Last != e2.Last || len(g.To) != 0 {
		t.Errorf("v6 negative entry: %+v", g)
	}
}
