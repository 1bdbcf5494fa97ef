// Package storetest is the conformance suite every reporter.Store backend
// must pass: the embedded store and PostgreSQL. A backend's test calls Run
// with a function that makes a fresh, empty database.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

var msgSeq atomic.Int64

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// Open makes a fresh, empty database and returns a handle on it and a
// function that opens another handle on the same database, as a second
// instance of the daemon would. The suite closes every handle.
type Open func(t *testing.T) (reporter.Store, Reopen)

// Reopen opens another handle on the database Open made.
type Reopen func(t *testing.T) reporter.Store

// Run runs the suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s reporter.Store)
	}{
		{"InsertIsIdempotent", testInsertIdempotent},
		{"Candidates", testCandidates},
		{"EventRoundTrip", testRoundTrip},
		{"HostileBytes", testHostileBytes},
		{"CreateReports", testCreateReports},
		{"HeldEventsStayNew", testHeld},
		{"ResetPlanned", testResetPlanned},
		{"Conflict", testConflict},
		{"RefsCountPerDay", testRefs},
		{"Fallback", testFallback},
		{"Reclassify", testReclassify},
		{"ReportPages", testReportPages},
		{"Claims", testClaims},
		{"DeliveryStates", testDelivery},
		{"History", testHistory},
		{"Rejects", testRejects},
		{"FeedState", testFeedState},
		{"Fetched", testFetched},
		{"Overrides", testOverrides},
		{"RDAPCache", testRDAPCache},
		{"Purge", testPurge},
		{"PurgeBigReport", testPurgeBigReport},
		{"PurgeBookkeeping", testPurgeBookkeeping},
		{"RDAPShared", testRDAPShared},
		{"EventsByID", testEventsByID},
		{"JobLog", testJobLog},
		{"Watchlists", testWatchlists},
		{"HistoryWindow", testHistoryWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t)
			closeAtEnd(t, s)
			tt.fn(t, s)
		})
	}
	// Two handles on one database: two instances, or a CLI command run
	// beside the daemon.
	concurrent := []struct {
		name string
		fn   func(t *testing.T, a, b reporter.Store)
	}{
		{"Concurrent/InsertSameEvents", testConcurrentInsert},
		{"Concurrent/CreateReportSameGroup", testConcurrentCreateReport},
		{"Concurrent/RefsDoNotCollide", testConcurrentRefs},
		{"Concurrent/DecideSameEvent", testConcurrentDecide},
		{"Concurrent/ClaimReports", testConcurrentClaims},
		{"Concurrent/PurgeInBatches", testConcurrentPurge},
		{"Concurrent/RDAPSlots", testConcurrentRDAPSlots},
		{"Concurrent/RDAPRate", testConcurrentRDAPRate},
		{"Concurrent/JobLog", testConcurrentJobLog},
	}
	for _, tt := range concurrent {
		t.Run(tt.name, func(t *testing.T) {
			a, reopen := open(t)
			closeAtEnd(t, a)
			b := reopen(t)
			closeAtEnd(t, b)
			tt.fn(t, a, b)
		})
	}
	// A handle, and handles opened later: an instance that restarts.
	reopened := []struct {
		name string
		fn   func(t *testing.T, s reporter.Store, reopen Reopen)
	}{
		{"Reopen/RDAPPauseShared", testRDAPPauseShared},
	}
	for _, tt := range reopened {
		t.Run(tt.name, func(t *testing.T) {
			s, reopen := open(t)
			closeAtEnd(t, s)
			tt.fn(t, s, reopen)
		})
	}
}

// closeAtEnd closes a handle when the test ends, and fails it when the
// handle cannot be closed.
func closeAtEnd(t *testing.T, s reporter.Store) {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

var ctx = context.Background()

func contact(addr string) reporter.Contact {
	return reporter.Contact{To: []string{addr}, Language: "fi", Source: "override asn 64500", Rule: "asn 64500"}
}

func event(ip string, port int, at time.Time) reporter.Event {
	return reporter.Event{
		Time: at, Feed: "shadowserver", Classification: reporter.VulnerableSystem, Identifier: "rdp",
		IP: netip.MustParseAddr(ip), Port: port, Protocol: "tcp", ASN: 64500, ASOrg: "ISP One", Country: "FI",
		Hostname: "h.example", Extra: []reporter.Field{{Key: "tag", Value: "rdp"}, {Key: "a", Value: "=1+1"}},
		Source: "f.csv:2", Ingested: t0, ReportType: "scan_rdp",
	}
}

// candidates reads every new event the way the planner does, a few at a
// time, and checks the order.
func candidates(t *testing.T, s reporter.Store) []reporter.Candidate {
	t.Helper()
	var out []reporter.Candidate
	var cur reporter.PlanCursor
	for {
		b, err := s.Candidates(ctx, cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			return out
		}
		for _, c := range b {
			if c.Key < cur.Key || (c.Key == cur.Key && c.Time.Before(cur.Time)) {
				t.Fatalf("candidates out of order: %s %v after %s %v", c.Key, c.Time, cur.Key, cur.Time)
			}
			cur = reporter.PlanCursor{Key: c.Key, Time: c.Time, ID: c.ID}
		}
		out = append(out, b...)
	}
}

func mustInsert(t *testing.T, s reporter.Store, ev ...reporter.Event) []reporter.Candidate {
	t.Helper()
	if _, err := s.InsertEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return candidates(t, s)
}

// byIP finds the candidate of an address.
func byIP(t *testing.T, cs []reporter.Candidate, ip string) reporter.Candidate {
	t.Helper()
	for _, c := range cs {
		if c.IP.String() == ip {
			return c
		}
	}
	t.Fatalf("no new event for %s", ip)
	return reporter.Candidate{}
}

func send(c reporter.Candidate, to reporter.Contact) reporter.Verdict {
	return reporter.Verdict{ID: c.ID, Reason: reporter.Send, Contact: to}
}

// plan records the verdicts and creates a report per planned group, as
// the planner does.
func plan(t *testing.T, s reporter.Store, at time.Time, verdicts ...reporter.Verdict) []reporter.Report {
	t.Helper()
	if err := s.Decide(ctx, verdicts); err != nil {
		t.Fatal(err)
	}
	groups, err := s.PlannedGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []reporter.Report
	for _, g := range groups {
		rep, err := s.CreateReport(ctx, "C", at, g, fmt.Sprintf("<%d@test>", msgSeq.Add(1)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rep)
	}
	return out
}

func testInsertIdempotent(t *testing.T, s reporter.Store) {
	evs := []reporter.Event{event("192.0.2.1", 3389, t0), event("192.0.2.2", 3389, t0)}
	n, err := s.InsertEvents(ctx, evs)
	if err != nil || n != 2 {
		t.Fatalf("first insert: %d, %v", n, err)
	}
	n, err = s.InsertEvents(ctx, evs)
	if err != nil || n != 0 {
		t.Fatalf("second insert of the same events: %d, %v", n, err)
	}
	// Same key, later observation: a new event.
	n, err = s.InsertEvents(ctx, []reporter.Event{event("192.0.2.1", 3389, t0.Add(time.Hour))})
	if err != nil || n != 1 {
		t.Fatalf("later observation: %d, %v", n, err)
	}
	if got := candidates(t, s); len(got) != 3 {
		t.Errorf("%d new events, want 3", len(got))
	}
}

func testCandidates(t *testing.T, s reporter.Store) {
	var in []reporter.Event
	for i := 0; i < 7; i++ {
		in = append(in, event(fmt.Sprintf("192.0.2.%d", i%3+1), 3389, t0.Add(time.Duration(i)*time.Minute)))
	}
	unknown := event("192.0.2.9", 0, t0)
	unknown.Unclassified, unknown.Classification = true, reporter.Undetermined
	got := mustInsert(t, s, append(in, unknown)...)
	if len(got) != 8 {
		t.Fatalf("%d candidates, want 8", len(got))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.Key > b.Key || (a.Key == b.Key && a.Time.After(b.Time)) {
			t.Errorf("candidate %d out of (key, time) order", i)
		}
		if a.Key == b.Key && a.IP != b.IP {
			t.Errorf("one key, two addresses")
		}
	}
	u := byIP(t, got, "192.0.2.9")
	if !u.Unclassified || u.ReportType != "scan_rdp" || u.Key != unknown.Key() || u.ASN != 64500 || !u.Ingested.Equal(t0) {
		t.Errorf("candidate fields: %+v", u)
	}
}

func testRoundTrip(t *testing.T, s reporter.Store) {
	in := event("2001:db8:1::5", 443, t0.Add(1500*time.Microsecond))
	got := mustInsert(t, s, in)
	if len(got) != 1 {
		t.Fatalf("%d new events", len(got))
	}
	to := contact("a@x.example")
	to.Format = abuse.FormatInline
	reps := plan(t, s, t0, send(got[0], to))
	evs, err := s.ReportEvents(ctx, reps[0].ID)
	if err != nil || len(evs) != 1 {
		t.Fatalf("report events: %v %d", err, len(evs))
	}
	e := evs[0]
	if e.ID == 0 || e.IP != in.IP || e.Port != 443 || !e.Time.Equal(in.Time) || e.ASN != 64500 || e.ASOrg != "ISP One" ||
		e.Country != "FI" || e.Hostname != "h.example" || e.Classification != in.Classification || e.Identifier != "rdp" ||
		e.Feed != "shadowserver" || e.Protocol != "tcp" || e.Source != "f.csv:2" || !e.Ingested.Equal(t0) || e.ReportType != "scan_rdp" {
		t.Errorf("round trip:\n got %+v\nwant %+v", e, in)
	}
	if fmt.Sprint(e.Extra) != fmt.Sprint(in.Extra) {
		t.Errorf("extra %v, want %v (order kept)", e.Extra, in.Extra)
	}
	if e.Contact.Key() != "a@x.example" || e.Contact.Language != "fi" || e.Contact.Source != to.Source ||
		e.Contact.Rule != "asn 64500" || e.Contact.Format != abuse.FormatInline {
		t.Errorf("contact %+v", e.Contact)
	}
	if r := reps[0]; r.Contact.Format != abuse.FormatInline || r.Contact.Language != "fi" || r.Contact.Fallback {
		t.Errorf("report contact %+v", r.Contact)
	}
}

func testCreateReports(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s,
		event("192.0.2.1", 3389, t0), event("192.0.2.2", 3389, t0),
		event("198.51.100.1", 3389, t0), event("198.51.100.2", 3389, t0))
	a, b := contact("a@x.example"), contact("b@y.example")
	b.Rule = "cidr 198.51.100.0/24"
	reps := plan(t, s, t0,
		send(byIP(t, evs, "192.0.2.1"), a), send(byIP(t, evs, "192.0.2.2"), a), send(byIP(t, evs, "198.51.100.1"), b),
		reporter.Verdict{ID: byIP(t, evs, "198.51.100.2").ID, Reason: reporter.RepeatWindow, Contact: b})
	if len(reps) != 2 || reps[0].Ref != "C#20261123-0001" || reps[1].Ref != "C#20261123-0002" {
		t.Fatalf("reports: %+v", reps)
	}
	if reps[0].State != reporter.ReportPending || reps[0].EventCount != 2 || reps[0].ID == 0 || reps[0].Contact.Key() != "a@x.example" {
		t.Errorf("report: %+v", reps[0])
	}
	if left := candidates(t, s); len(left) != 0 {
		t.Errorf("%d events still new", len(left))
	}
	got, err := s.ReportEvents(ctx, reps[0].ID)
	if err != nil || len(got) != 2 || got[0].IP.String() != "192.0.2.1" {
		t.Errorf("report events: %v %+v", err, got)
	}
	k1, k3 := byIP(t, evs, "192.0.2.1").Key, byIP(t, evs, "198.51.100.1").Key
	told, err := s.Told(ctx, []string{k1, k3, byIP(t, evs, "198.51.100.2").Key, "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if len(told) != 2 || len(told[k1]) != 1 || told[k1][0] != (reporter.Told{Rule: "asn 64500", Contact: "a@x.example", At: t0}) ||
		told[k3][0].Rule != "cidr 198.51.100.0/24" {
		t.Errorf("Told = %+v", told)
	}
	pend, err := s.PendingReports(ctx, t0)
	if err != nil || len(pend) != 2 || pend[0].MessageID == "" || pend[0].Contact.Key() != "a@x.example" {
		t.Errorf("pending: %v %+v", err, pend)
	}
}

func testHeld(t *testing.T, s reporter.Store) {
	a := event("198.51.100.7", 3389, t0)
	b := event("198.51.100.7", 445, t0.Add(time.Minute))
	b.Ingested = t0.Add(time.Hour)
	c := event("2001:db8::9", 3389, t0)
	c.ASN, c.Ingested = 64501, t0.Add(2*time.Hour)
	u := event("192.0.2.5", 0, t0)
	u.Unclassified = true
	evs := mustInsert(t, s, a, b, c, u)
	wait := reporter.Contact{Pending: true, Source: "rdap pending"}
	var vs []reporter.Verdict
	for _, e := range evs {
		r := reporter.WaitingContact
		if e.Unclassified {
			r = reporter.Unclassified
		}
		vs = append(vs, reporter.Verdict{ID: e.ID, Reason: r, Contact: wait})
	}
	if reps := plan(t, s, t0, vs...); len(reps) != 0 {
		t.Fatalf("held events made reports: %+v", reps)
	}
	if left := candidates(t, s); len(left) != 4 {
		t.Errorf("%d new events after holding 4; held events stay new", len(left))
	}
	p, err := s.PendingContacts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 2 || p[0].IP.String() != "198.51.100.7" || p[0].Events != 2 || !p[0].Since.Equal(t0) || p[0].ASN != 64500 ||
		p[1].IP.String() != "2001:db8::9" || p[1].ASN != 64501 || p[1].Events != 1 {
		t.Fatalf("pending: %+v", p)
	}
	if p, err := s.PendingContacts(ctx, 1); err != nil || len(p) != 1 {
		t.Errorf("limit ignored: %d %v", len(p), err)
	}
	h, err := s.Held(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0] != (reporter.HeldCount{Feed: "shadowserver", Reason: "unknown-report-type", Events: 1, Oldest: t0}) ||
		h[1] != (reporter.HeldCount{Feed: "shadowserver", Reason: "waiting-for-contact", Events: 3, Oldest: t0}) {
		t.Errorf("held: %+v", h)
	}
	// The next pass decides them again: the contact came.
	to := contact("abuse@isp.example")
	var again []reporter.Verdict
	for _, e := range candidates(t, s) {
		if !e.Unclassified {
			again = append(again, send(e, to))
		}
	}
	reps := plan(t, s, t0, again...)
	if len(reps) != 1 || reps[0].EventCount != 3 {
		t.Errorf("after the contact came: %+v", reps)
	}
	if p, err := s.PendingContacts(ctx, 10); err != nil || len(p) != 0 {
		t.Errorf("still pending: %+v (%v)", p, err)
	}
}

func testResetPlanned(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s, event("192.0.2.1", 3389, t0), event("192.0.2.2", 3389, t0))
	if err := s.Decide(ctx, []reporter.Verdict{send(evs[0], contact("a@x.example")), send(evs[1], contact("a@x.example"))}); err != nil {
		t.Fatal(err)
	}
	if left := candidates(t, s); len(left) != 0 {
		t.Fatalf("planned events are still candidates: %d", len(left))
	}
	// A crash before the report was created: the next pass starts over.
	n, err := s.ResetPlanned(ctx)
	if err != nil || n != 2 {
		t.Fatalf("reset: %d %v", n, err)
	}
	if left := candidates(t, s); len(left) != 2 {
		t.Errorf("%d new after reset, want 2", len(left))
	}
	if g, err := s.PlannedGroups(ctx); err != nil || len(g) != 0 {
		t.Errorf("groups after reset: %v %+v", err, g)
	}
}

func testConflict(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s, event("192.0.2.1", 3389, t0), event("192.0.2.2", 3389, t0))
	a := contact("a@x.example")
	if err := s.Decide(ctx, []reporter.Verdict{send(evs[0], a)}); err != nil {
		t.Fatal(err)
	}
	// Deciding an event that is no longer new is a conflict, and the
	// batch changes nothing.
	err := s.Decide(ctx, []reporter.Verdict{send(evs[1], a), send(evs[0], a)})
	if !errors.Is(err, reporter.ErrConflict) {
		t.Fatalf("deciding a planned event again: want ErrConflict, got %v", err)
	}
	if left := candidates(t, s); len(left) != 1 {
		t.Errorf("%d new events after a conflict, want 1 (the batch rolled back)", len(left))
	}
	groups, err := s.PlannedGroups(ctx)
	if err != nil || len(groups) != 1 || groups[0].Events != 1 {
		t.Fatalf("groups: %v %+v", err, groups)
	}
	if _, err := s.CreateReport(ctx, "C", t0, groups[0], "<c1@test>"); err != nil {
		t.Fatal(err)
	}
	// The same group again: nothing planned is left for it.
	if _, err := s.CreateReport(ctx, "C", t0, groups[0], "<c2@test>"); !errors.Is(err, reporter.ErrConflict) {
		t.Fatalf("an empty group: want ErrConflict, got %v", err)
	}
	if pend, err := s.PendingReports(ctx, t0); err != nil || len(pend) != 1 {
		t.Errorf("%d pending reports after a conflict, want 1 (%v)", len(pend), err)
	}
}

func testRefs(t *testing.T, s reporter.Store) {
	for i, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(24 * time.Hour)} {
		evs := mustInsert(t, s, event(fmt.Sprintf("192.0.2.%d", i+1), 1, at))
		reps := plan(t, s, at, send(evs[0], contact("a@x.example")))
		want := []string{"C#20261123-0001", "C#20261123-0002", "C#20261124-0001"}[i]
		if len(reps) != 1 || reps[0].Ref != want {
			t.Errorf("refs %+v, want %s", reps, want)
		}
	}
}

func testFallback(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s, event("192.0.2.1", 3389, t0), event("192.0.2.2", 3389, t0))
	fb := reporter.Contact{To: []string{"soc@cert.example"}, Source: "fallback (no RDAP answer in 24h0m)", Rule: "fallback", Fallback: true}
	// An ISP whose address is the CERT's own mailbox still gets its own mail.
	isp := reporter.Contact{To: []string{"soc@cert.example"}, Source: "override asn 64500", Rule: "asn 64500"}
	reps := plan(t, s, t0, send(evs[0], fb), send(evs[1], isp))
	if len(reps) != 2 {
		t.Fatalf("reports: %+v", reps)
	}
	var found bool
	for _, r := range reps {
		got, err := s.PendingReports(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range got {
			if p.ID == r.ID && p.Contact.Fallback != r.Contact.Fallback {
				t.Errorf("report %s: fallback %v read back as %v", r.Ref, r.Contact.Fallback, p.Contact.Fallback)
			}
		}
		if r.Contact.Fallback {
			found = true
			evs, err := s.ReportEvents(ctx, r.ID)
			if err != nil || len(evs) != 1 || !evs[0].Contact.Fallback || evs[0].Contact.Source != fb.Source {
				t.Errorf("fallback events: %v %+v", err, evs)
			}
		}
	}
	if !found {
		t.Error("no fallback report")
	}
}

func testDelivery(t *testing.T, s reporter.Store) {
	evs := mustInsert(t, s, event("192.0.2.1", 3389, t0))
	reps := plan(t, s, t0, send(evs[0], contact("a@x.example")))
	id, sentRef := reps[0].ID, reps[0].Ref
	if err := s.MarkAttempt(ctx, id, "", "421 try later", t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, err := s.PendingReports(ctx, t0.Add(time.Minute)); err != nil || len(p) != 0 {
		t.Errorf("report due before its next try (%v)", err)
	}
	p, err := s.PendingReports(ctx, t0.Add(time.Hour))
	if err != nil || len(p) != 1 || p[0].Attempts != 1 || p[0].LastError != "421 try later" {
		t.Fatalf("after one failure: %v %+v", err, p)
	}
	if err := s.MarkSent(ctx, id, "", "[C#1] subject", "", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, err := s.PendingReports(ctx, t0.Add(48*time.Hour)); err != nil || len(p) != 0 {
		t.Errorf("sent report still pending (%v)", err)
	}
	h, err := s.History(ctx, reporter.HistoryQuery{})
	if err != nil || len(h) != 1 || h[0].Report.State != reporter.ReportSent || h[0].Report.Subject != "[C#1] subject" || !h[0].Report.Sent.Equal(t0.Add(time.Hour)) {
		t.Errorf("history after send: %v %+v", err, h)
	}
	// Giving up marks it failed, and it stays in history.
	evs = mustInsert(t, s, event("192.0.2.9", 3389, t0))
	reps = plan(t, s, t0, send(evs[0], contact("a@x.example")))
	if len(reps) != 1 {
		t.Fatalf("second report: %+v", reps)
	}
	if err := s.MarkAttempt(ctx, reps[0].ID, "", "550 no such user", t0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.PendingReports(ctx, t0.Add(1000*time.Hour)); err != nil || len(p) != 0 {
		t.Errorf("failed report still pending (%v)", err)
	}
	h, err = s.History(ctx, reporter.HistoryQuery{IP: netip.MustParseAddr("192.0.2.9")})
	if err != nil || len(h) != 1 || h[0].Report.State != reporter.ReportFailed {
		t.Errorf("failed report in history: %v %+v", err, h)
	}
	// A failed report told nobody: it does not hold back the key.
	told, err := s.Told(ctx, []string{evs[0].Key})
	if err != nil || len(told) != 0 {
		t.Errorf("a failed report counts as told: %v %+v", err, told)
	}
	// Requeued, it is pending again with its attempts reset.
	refs, err := s.Requeue(ctx, "", t0.Add(-time.Hour))
	if err != nil || len(refs) != 1 || refs[0] != reps[0].Ref {
		t.Fatalf("requeue failed since: %v %v", refs, err)
	}
	p, err = s.PendingReports(ctx, t0.Add(-time.Hour)) // due at once, whatever the clock
	if err != nil || len(p) != 1 || p[0].ID != reps[0].ID || p[0].Attempts != 0 || p[0].MessageID != reps[0].MessageID {
		t.Errorf("requeued: %v %+v", err, p)
	}
	if refs, err := s.Requeue(ctx, "", t0.Add(-time.Hour)); err != nil || len(refs) != 0 {
		t.Errorf("requeue twice: %v %v", refs, err)
	}
	if refs, err := s.Requeue(ctx, "C#nope", time.Time{}); err != nil || len(refs) != 0 {
		t.Errorf("requeue an unknown ref: %v %v", refs, err)
	}
	// A sent report may be sent again by its ref.
	if refs, err := s.Requeue(ctx, sentRef, time.Time{}); err != nil || len(refs) != 1 {
		t.Errorf("requeue a sent report by ref: %v %v", refs, err)
	}
}

func testHistory(t *testing.T, s reporter.Store) {
	a := event("192.0.2.1", 3389, t0)
	b := event("192.0.2.200", 23, t0)
	b.ASN = 64501
	c := event("2001:db8:1::1", 443, t0)
	c.Feed = "other"
	d := event("198.51.100.1", 443, t0) // never reported
	evs := mustInsert(t, s, a, b, c, d)
	plan(t, s, t0, send(byIP(t, evs, "192.0.2.1"), contact("a@x.example")), send(byIP(t, evs, "192.0.2.200"), contact("a@x.example")),
		send(byIP(t, evs, "2001:db8:1::1"), contact("b@y.example")))
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

	all, err := s.History(ctx, reporter.HistoryQuery{})
	if err != nil || len(all) != 3 {
		t.Fatalf("history: %v %d rows", err, len(all))
	}
	// Newest report first; within a report, in report order.
	for i := 1; i < len(all); i++ {
		p, c := all[i-1].Cursor, all[i].Cursor
		if p.Report < c.Report || (p.Report == c.Report && p.Seq >= c.Seq) {
			t.Errorf("row %d %+v after %+v: not newest report first, in report order", i, c, p)
		}
	}
	// Paging one row at a time walks the same rows, each once.
	var paged []reporter.HistoryRow
	q := reporter.HistoryQuery{Limit: 1}
	for range 10 {
		h, err := s.History(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) == 0 {
			break
		}
		paged = append(paged, h...)
		q.Before = h[len(h)-1].Cursor
	}
	if len(paged) != len(all) {
		t.Fatalf("paging gave %d rows, want %d", len(paged), len(all))
	}
	for i := range all {
		if paged[i].Cursor != all[i].Cursor || paged[i].Event.IP != all[i].Event.IP {
			t.Errorf("page %d: %+v %v, want %+v %v", i, paged[i].Cursor, paged[i].Event.IP, all[i].Cursor, all[i].Event.IP)
		}
	}
	// One report by its ref; a window that ends before the reports.
	ref := all[0].Report.Ref
	if h, err := s.History(ctx, reporter.HistoryQuery{Ref: ref}); err != nil || len(h) != 1 || h[0].Report.Ref != ref {
		t.Errorf("history of %s: %v %+v", ref, err, h)
	}
	if h, err := s.History(ctx, reporter.HistoryQuery{Ref: "no-such-ref"}); err != nil || len(h) != 0 {
		t.Errorf("history of an unknown ref: %v %d rows", err, len(h))
	}
	created := all[0].Report.Created
	if h, err := s.History(ctx, reporter.HistoryQuery{Until: created}); err != nil || len(h) != 0 {
		t.Errorf("history until the reports' creation: %v %d rows, want 0", err, len(h))
	}
	if h, err := s.History(ctx, reporter.HistoryQuery{Until: created.Add(time.Second)}); err != nil || len(h) != 3 {
		t.Errorf("history until after the reports: %v %d rows, want 3", err, len(h))
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
	// The same file ingested again: its rows are kept once.
	if err := s.AddRejects(ctx, in[:2]); err != nil {
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
	if got, err := s.Rejects(ctx, reporter.RejectQuery{Limit: 1}); err != nil || len(got) != 1 {
		t.Errorf("limit 1 gave %d (%v)", len(got), err)
	}
	if got, err := s.Rejects(ctx, reporter.RejectQuery{Since: time.Now().Add(time.Hour)}); err != nil || len(got) != 0 {
		t.Errorf("since the future gave %d (%v)", len(got), err)
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
	if got, err := s.Fetched(ctx, "other", []string{"a"}); err != nil || got["a"] {
		t.Errorf("a fetched id belongs to its feed only: %v (%v)", got, err)
	}
}

func testFeedState(t *testing.T, s reporter.Store) {
	st, err := s.FeedState(ctx, "abusech")
	if err != nil || st.Feed != "abusech" || st.ETag != "" || !st.LastSuccess.IsZero() {
		t.Fatalf("unknown feed: %v %+v", err, st)
	}
	want := reporter.FeedState{Feed: "abusech", ETag: `"v1"`, LastModified: "Fri, 20 Nov 2026 10:00:00 GMT",
		LastAttempt: t0, LastSuccess: t0, Rows: 10, Rejected: 1, Files: 3, TotalRows: 30, TotalRejected: 2}
	if err := s.SaveFeedState(ctx, want); err != nil {
		t.Fatal(err)
	}
	want.LastError, want.LastAttempt, want.LastErrorAt = "HTTP 503", t0.Add(time.Hour), t0.Add(time.Hour)
	if err := s.SaveFeedState(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.FeedState(ctx, "abusech")
	if err != nil || got != want {
		t.Errorf("got %+v, want %+v (%v)", got, want, err)
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
	o.Names = map[string]string{"c@x.example": "Abuse \"Desk\" Ö"}
	o.MaxEvents, o.Sign = 5000, "pgp-inline"
	if err := s.SetOverride(ctx, o); err != nil {
		t.Fatalf("replace: %v", err)
	}
	got, err := s.Overrides(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("overrides: %v %+v", err, got)
	}
	g := got[1] // ordered by rule: "asn 64500" < "cidr 192.0.2.0/24"
	if g.CIDR != o.CIDR || fmt.Sprint(g.To) != "[c@x.example]" || g.Language != "sv" || g.Format != abuse.FormatInline ||
		g.Note != "ticket 42" || g.By != "alice" || !g.Set.Equal(t0) || g.Origin != "store" || g.Inhibit || !g.Until.IsZero() ||
		g.Names["c@x.example"] != "Abuse \"Desk\" Ö" || len(g.Names) != 1 || g.MaxEvents != 5000 || g.Sign != "pgp-inline" {
		t.Errorf("cidr override: %+v", g)
	}
	if g := got[0]; g.ASN != 64500 || !g.Inhibit || !g.Until.Equal(t0.Add(24*time.Hour)) || len(g.To) != 0 ||
		g.Names != nil || g.MaxEvents != 0 || g.Sign != "" {
		t.Errorf("asn override: %+v", g)
	}
	if ok, err := s.UnsetOverride(ctx, "asn 64500"); !ok || err != nil {
		t.Errorf("unset: %v %v", ok, err)
	}
	if ok, err := s.UnsetOverride(ctx, "asn 64500"); err != nil || ok {
		t.Errorf("unset twice: %v %v", ok, err)
	}
	if got, err := s.Overrides(ctx); err != nil || len(got) != 1 {
		t.Errorf("after unset: %+v (%v)", got, err)
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

func testReclassify(t *testing.T, s reporter.Store) {
	u := func(ip string, at time.Time) reporter.Event {
		e := event(ip, 5555, at)
		e.Classification, e.Identifier, e.ReportType, e.Unclassified = reporter.Undetermined, "newbot", "event4_newthing", true
		return e
	}
	// The same observation stored twice: unclassified, and classified from
	// the file ingested again with a schema that knew the type.
	known := u("192.0.2.2", t0)
	known.Classification, known.Unclassified = reporter.InfectedSystem, false
	mustInsert(t, s, u("192.0.2.1", t0), u("192.0.2.2", t0), known, event("192.0.2.3", 3389, t0))
	types, err := s.UnclassifiedTypes(ctx)
	if err != nil || len(types) != 1 || types[0] != (reporter.FeedType{Feed: "shadowserver", ReportType: "event4_newthing", Events: 2}) {
		t.Fatalf("unclassified types: %v %+v", err, types)
	}
	n, err := s.Reclassify(ctx, "shadowserver", "event4_newthing", reporter.InfectedSystem, "")
	if err != nil || n != 1 {
		t.Fatalf("reclassify: %d %v", n, err)
	}
	if types, err := s.UnclassifiedTypes(ctx); err != nil || len(types) != 0 {
		t.Errorf("after: %v %+v", err, types)
	}
	left := candidates(t, s)
	if len(left) != 3 {
		t.Fatalf("%d new events, want 3 (the duplicate closed)", len(left))
	}
	c := byIP(t, left, "192.0.2.1")
	if c.Unclassified || c.Classification != reporter.InfectedSystem || c.Identifier != "newbot" ||
		c.Key != reporter.DedupKey(reporter.InfectedSystem, "newbot", c.IP, 5555) {
		t.Errorf("classified: %+v", c)
	}
}

func testReportPages(t *testing.T, s reporter.Store) {
	var in []reporter.Event
	for i := 0; i < 25; i++ {
		in = append(in, event(fmt.Sprintf("192.0.2.%d", 100-i), 3389, t0.Add(time.Duration(i%5)*time.Minute)))
	}
	evs := mustInsert(t, s, in...)
	var vs []reporter.Verdict
	for _, e := range evs {
		vs = append(vs, send(e, contact("a@x.example")))
	}
	reps := plan(t, s, t0, vs...)
	whole, err := s.ReportEvents(ctx, reps[0].ID)
	if err != nil || len(whole) != 25 {
		t.Fatalf("report events: %v %d", err, len(whole))
	}
	var paged []reporter.Event
	for after := 0; ; {
		page, err := s.ReportEventsPage(ctx, reps[0].ID, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after += len(page)
	}
	if len(paged) != 25 {
		t.Fatalf("%d events in pages, want 25", len(paged))
	}
	for i := range whole {
		if paged[i].ID != whole[i].ID {
			t.Fatalf("page order differs from report order at %d", i)
		}
	}
	for i := 1; i < len(paged); i++ {
		if paged[i].Time.Before(paged[i-1].Time) {
			t.Fatalf("pages out of time order at %d", i)
		}
	}
	if err := s.MarkPartSent(ctx, reps[0].ID, "", 1, 3, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p, err := s.PendingReports(ctx, t0)
	if err != nil || len(p) != 1 || p[0].Parts != 3 || p[0].PartsSent != 1 {
		t.Errorf("parts: %v %+v", err, p)
	}
}

// keptOrReplaced reports whether got is want, perhaps with each byte that is
// not UTF-8 and each NUL replaced by U+FFFD: what a store that cannot keep
// them (PostgreSQL text, JSON) keeps instead.
func keptOrReplaced(got, want string) bool {
	for len(want) > 0 {
		r, n := utf8.DecodeRuneInString(want)
		switch {
		case strings.HasPrefix(got, want[:n]):
			got = got[n:]
		case (r == 0 || r == utf8.RuneError && n == 1) && strings.HasPrefix(got, "\uFFFD"):
			got = got[len("\uFFFD"):]
		default:
			return false
		}
		want = want[n:]
	}
	return got == ""
}

// testHostileBytes: feeds carry whatever bytes their sources sent (a Latin-1
// banner, a NUL in a hostname). No backend may refuse an event or a reject
// for its bytes; a backend keeps them as they are or replaces what it
// cannot store (keptOrReplaced).
func testHostileBytes(t *testing.T, s reporter.Store) {
	in := event("192.0.2.77", 80, t0)
	in.Hostname, in.ASOrg = "h\x00st.example", "Caf\xe9 ISP"
	in.Extra = []reporter.Field{{Key: "banner", Value: "\xff\xfeSSH\x00"}, {Key: "k\xe9y", Value: "ok"}, {Key: "quote", Value: `"\/<>&` + "\u2028\t\n"}}
	n, err := s.InsertEvents(ctx, []reporter.Event{in})
	if err != nil || n != 1 {
		t.Fatalf("insert: %d %v", n, err)
	}
	if n, err := s.InsertEvents(ctx, []reporter.Event{in}); err != nil || n != 0 {
		t.Fatalf("insert again: %d %v", n, err)
	}
	got := candidates(t, s)
	if len(got) != 1 {
		t.Fatalf("%d new events", len(got))
	}
	reps := plan(t, s, t0, send(got[0], contact("a@x.example")))
	evs, err := s.ReportEvents(ctx, reps[0].ID)
	if err != nil || len(evs) != 1 {
		t.Fatalf("report events: %v %d", err, len(evs))
	}
	e := evs[0]
	same := func(what, got, want string) {
		if !keptOrReplaced(got, want) {
			t.Errorf("%s: %q, want %q, with at most its NULs and bytes that are not UTF-8 replaced", what, got, want)
		}
	}
	same("hostname", e.Hostname, in.Hostname)
	same("as org", e.ASOrg, in.ASOrg)
	if len(e.Extra) != len(in.Extra) {
		t.Fatalf("extra %q, want %q", e.Extra, in.Extra)
	}
	for i := range in.Extra {
		same("extra key", e.Extra[i].Key, in.Extra[i].Key)
		same("extra value", e.Extra[i].Value, in.Extra[i].Value)
	}
	r := reporter.Reject{Feed: "f", File: "latin1.csv", Line: 2, Reason: "ip: not an IP address: \"\xe9\"", Raw: "\xe9t\xe9,\x00"}
	if err := s.AddRejects(ctx, []reporter.Reject{r}); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Rejects(ctx, reporter.RejectQuery{Feed: "f"})
	if err != nil || len(rs) != 1 {
		t.Fatalf("rejects: %v %+v", err, rs)
	}
	same("reject raw", rs[0].Raw, r.Raw)
	same("reject reason", rs[0].Reason, r.Reason)
}

// together runs fns at once and returns their errors in order.
func together(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins checks that exactly one of two racing writes succeeded and the
// other saw ErrConflict.
func oneWins(t *testing.T, what string, errs []error) (winner int) {
	t.Helper()
	switch {
	case errs[0] == nil && errors.Is(errs[1], reporter.ErrConflict):
		return 0
	case errs[1] == nil && errors.Is(errs[0], reporter.ErrConflict):
		return 1
	}
	t.Fatalf("%s from two handles: want one success and one ErrConflict, got %v and %v", what, errs[0], errs[1])
	return -1
}

// testConcurrentInsert: two instances ingest the same file at once, in
// opposite orders. Neither fails and nothing is stored twice.
func testConcurrentInsert(t *testing.T, a, b reporter.Store) {
	total := 0
	for round := range 3 {
		var evs, rev []reporter.Event
		for i := range 1500 {
			evs = append(evs, event(fmt.Sprintf("10.%d.%d.%d", round, i/250, i%250), 3389, t0))
		}
		for i := len(evs) - 1; i >= 0; i-- {
			rev = append(rev, evs[i])
		}
		var na, nb int
		errs := together(
			func() (err error) { na, err = a.InsertEvents(ctx, evs); return err },
			func() (err error) { nb, err = b.InsertEvents(ctx, rev); return err },
		)
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v, %v", round, errs[0], errs[1])
		}
		if na+nb != len(evs) {
			t.Errorf("round %d: %d + %d new, want %d in all", round, na, nb, len(evs))
		}
		total += len(evs)
	}
	if got := candidates(t, a); len(got) != total {
		t.Errorf("%d events stored, want %d", len(got), total)
	}
	if got := candidates(t, b); len(got) != total {
		t.Errorf("the other handle sees %d events, want %d", len(got), total)
	}
}

// testConcurrentCreateReport: two planners create the report of one group
// at once. One report is made, holding every event; the other planner is
// told ErrConflict.
func testConcurrentCreateReport(t *testing.T, a, b reporter.Store) {
	for round := range 3 {
		var in []reporter.Event
		for i := range 50 {
			in = append(in, event(fmt.Sprintf("192.0.2.%d", i), 1000+round, t0))
		}
		evs := mustInsert(t, a, in...)
		var vs []reporter.Verdict
		for _, e := range evs {
			vs = append(vs, send(e, contact("a@x.example")))
		}
		if err := a.Decide(ctx, vs); err != nil {
			t.Fatal(err)
		}
		groups, err := b.PlannedGroups(ctx)
		if err != nil || len(groups) != 1 || groups[0].Events != len(evs) {
			t.Fatalf("groups: %v %+v", err, groups)
		}
		var reps [2]reporter.Report
		errs := together(
			func() (err error) {
				reps[0], err = a.CreateReport(ctx, "C", t0, groups[0], fmt.Sprintf("<a%d@test>", round))
				return err
			},
			func() (err error) {
				reps[1], err = b.CreateReport(ctx, "C", t0, groups[0], fmt.Sprintf("<b%d@test>", round))
				return err
			},
		)
		w := oneWins(t, "CreateReport", errs)
		if reps[w].EventCount != len(evs) {
			t.Errorf("round %d: the report holds %d events, want %d", round, reps[w].EventCount, len(evs))
		}
		if want := fmt.Sprintf("C#20261123-%04d", round+1); reps[w].Ref != want {
			t.Errorf("round %d: ref %s, want %s (the loser's number is not used up)", round, reps[w].Ref, want)
		}
		got, err := a.ReportEvents(ctx, reps[w].ID)
		if err != nil || len(got) != len(evs) {
			t.Errorf("round %d: report events %d (%v)", round, len(got), err)
		}
	}
	pend, err := a.PendingReports(ctx, t0)
	if err != nil || len(pend) != 3 {
		t.Errorf("%d pending reports, want 3 (%v)", len(pend), err)
	}
	if g, err := a.PlannedGroups(ctx); err != nil || len(g) != 0 {
		t.Errorf("groups left: %+v (%v)", g, err)
	}
}

// testConcurrentRefs: two planners create reports for different groups on
// the same day at once; every ref is taken once, and none is skipped.
func testConcurrentRefs(t *testing.T, a, b reporter.Store) {
	const n = 40
	var in []reporter.Event
	for i := range n {
		in = append(in, event(fmt.Sprintf("198.51.100.%d", i), 25, t0))
	}
	evs := mustInsert(t, a, in...)
	var vs []reporter.Verdict
	for i, e := range evs {
		vs = append(vs, send(e, contact(fmt.Sprintf("abuse%02d@isp.example", i))))
	}
	if err := a.Decide(ctx, vs); err != nil {
		t.Fatal(err)
	}
	groups, err := a.PlannedGroups(ctx)
	if err != nil || len(groups) != n {
		t.Fatalf("groups: %v %d", err, len(groups))
	}
	var refs [2][]string
	create := func(s reporter.Store, gs []reporter.ReportGroup, out *[]string, tag string) func() error {
		return func() error {
			for i, g := range gs {
				rep, err := s.CreateReport(ctx, "C", t0.Add(time.Minute), g, fmt.Sprintf("<%s%d@test>", tag, i))
				if err != nil {
					return fmt.Errorf("group %s: %w", g.Key(), err)
				}
				*out = append(*out, rep.Ref)
			}
			return nil
		}
	}
	var ga, gb []reporter.ReportGroup
	for i, g := range groups {
		if i%2 == 0 {
			ga = append(ga, g)
		} else {
			gb = append(gb, g)
		}
	}
	errs := together(create(a, ga, &refs[0], "a"), create(b, gb, &refs[1], "b"))
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("create reports: %v, %v", errs[0], errs[1])
	}
	seen := map[string]bool{}
	for _, r := range append(refs[0], refs[1]...) {
		if seen[r] {
			t.Errorf("ref %s taken twice", r)
		}
		seen[r] = true
	}
	for i := 1; i <= n; i++ {
		if r := fmt.Sprintf("C#20261123-%04d", i); !seen[r] {
			t.Errorf("ref %s missing: %v", r, refs)
		}
	}
}

// testConcurrentDecide: two planners decide the same events at once, in
// opposite orders. One batch wins whole; the other is told ErrConflict and
// changes nothing.
func testConcurrentDecide(t *testing.T, a, b reporter.Store) {
	for round := range 5 {
		var in []reporter.Event
		for i := range 100 {
			in = append(in, event(fmt.Sprintf("192.0.2.%d", i), 2000+round, t0))
		}
		evs := mustInsert(t, a, in...)
		ca, cb := contact("a@x.example"), contact("b@y.example")
		var va, vb []reporter.Verdict
		for i := range evs {
			va = append(va, send(evs[i], ca))
			vb = append(vb, send(evs[len(evs)-1-i], cb))
		}
		errs := together(
			func() error { return a.Decide(ctx, va) },
			func() error { return b.Decide(ctx, vb) },
		)
		w := oneWins(t, "Decide", errs)
		groups, err := a.PlannedGroups(ctx)
		if err != nil || len(groups) != 1 || groups[0].Events != len(evs) {
			t.Fatalf("round %d: groups %+v (%v)", round, groups, err)
		}
		if want := []string{"a@x.example", "b@y.example"}[w]; groups[0].Contact.Key() != want {
			t.Errorf("round %d: planned for %s, want the winner's %s", round, groups[0].Contact.Key(), want)
		}
		if _, err := a.CreateReport(ctx, "C", t0, groups[0], fmt.Sprintf("<d%d@test>", round)); err != nil {
			t.Fatal(err)
		}
	}
	// One event, decided by both.
	evs := mustInsert(t, a, event("192.0.2.3", 1, t0))
	errs := together(
		func() error { return a.Decide(ctx, []reporter.Verdict{send(evs[0], contact("a@x.example"))}) },
		func() error { return b.Decide(ctx, []reporter.Verdict{send(evs[0], contact("a@x.example"))}) },
	)
	oneWins(t, "Decide", errs)
}

// reportsFor makes n pending reports, one per recipient.
func reportsFor(t *testing.T, s reporter.Store, n int) []reporter.Report {
	t.Helper()
	var in []reporter.Event
	for i := 0; i < n; i++ {
		in = append(in, event(fmt.Sprintf("192.0.2.%d", i+1), 3389, t0))
	}
	evs := mustInsert(t, s, in...)
	var vs []reporter.Verdict
	for i, e := range evs {
		vs = append(vs, send(e, contact(fmt.Sprintf("r%d@x.example", i))))
	}
	return plan(t, s, t0, vs...)
}

func testClaims(t *testing.T, s reporter.Store) {
	reportsFor(t, s, 3)
	a, err := s.ClaimReports(ctx, "a", t0, time.Minute, 1)
	if err != nil || len(a) != 1 {
		t.Fatalf("claim: %v %+v", err, a)
	}
	b, err := s.ClaimReports(ctx, "b", t0, time.Minute, 10)
	if err != nil || len(b) != 2 {
		t.Fatalf("the others: %v %+v", err, b)
	}
	for _, r := range b {
		if r.ID == a[0].ID {
			t.Errorf("report %s claimed twice", r.Ref)
		}
	}
	// Only the owner records the result.
	if err := s.MarkSent(ctx, a[0].ID, "b", "s", "", t0); !errors.Is(err, reporter.ErrConflict) {
		t.Errorf("another instance marked a claimed report: %v", err)
	}
	if err := s.MarkAttempt(ctx, a[0].ID, "b", "451", t0, t0.Add(time.Hour)); !errors.Is(err, reporter.ErrConflict) {
		t.Errorf("another instance recorded an attempt: %v", err)
	}
	if err := s.MarkSent(ctx, a[0].ID, "a", "s", "", t0); err != nil {
		t.Fatalf("the owner: %v", err)
	}
	// b dies: its claims expire and a takes the reports over.
	if got, err := s.ClaimReports(ctx, "a", t0.Add(30*time.Second), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("claims still held: %v %+v", err, got)
	}
	got, err := s.ClaimReports(ctx, "a", t0.Add(2*time.Minute), time.Minute, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("after the lease: %v %+v", err, got)
	}
	if err := s.MarkSent(ctx, got[0].ID, "b", "s", "", t0); !errors.Is(err, reporter.ErrConflict) {
		t.Errorf("the dead instance's late result was taken: %v", err)
	}
	// Let go, a report can be claimed at once.
	if err := s.Unclaim(ctx, got[1].ID, "a"); err != nil {
		t.Fatal(err)
	}
	if again, err := s.ClaimReports(ctx, "c", t0.Add(2*time.Minute), time.Minute, 10); err != nil || len(again) != 1 || again[0].ID != got[1].ID {
		t.Errorf("after unclaim: %v %+v", err, again)
	}

}

// Two instances claiming at once share the reports: none twice.
func testConcurrentClaims(t *testing.T, a, b reporter.Store) {
	reportsFor(t, a, 20)
	var got [2][]reporter.Report
	errs := together(
		func() (err error) {
			for {
				r, err := a.ClaimReports(ctx, "a", t0, time.Minute, 1)
				if err != nil || len(r) == 0 {
					return err
				}
				got[0] = append(got[0], r...)
			}
		},
		func() (err error) {
			for {
				r, err := b.ClaimReports(ctx, "b", t0, time.Minute, 1)
				if err != nil || len(r) == 0 {
					return err
				}
				got[1] = append(got[1], r...)
			}
		},
	)
	for _, err := range errs {
		if err != nil && !errors.Is(err, reporter.ErrConflict) {
			t.Fatal(err)
		}
	}
	seen := map[int64]bool{}
	for _, list := range got {
		for _, r := range list {
			if seen[r.ID] {
				t.Errorf("report %s claimed by both", r.Ref)
			}
			seen[r.ID] = true
		}
	}
	if len(seen) != 20 {
		t.Errorf("%d reports claimed, want 20", len(seen))
	}
}

func testEventsByID(t *testing.T, s reporter.Store) {
	a := event("192.0.2.1", 3389, t0)
	a.ASOrg, a.Country, a.Hostname = "ISP Oy", "FI", "host.example"
	a.Extra = []reporter.Field{{Key: "tag", Value: "rdp"}}
	var evs []reporter.Event
	evs = append(evs, a)
	for i := 2; i < 1203; i++ {
		evs = append(evs, event(fmt.Sprintf("198.51.%d.%d", i/250, i%250), 80, t0))
	}
	cs := mustInsert(t, s, evs...)
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	ids = append(ids, 1<<40, ids[0]) // one not stored, one twice
	got, err := s.EventsByID(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("%d events, want %d", len(got), len(evs))
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].ID >= got[i].ID {
			t.Fatalf("not in id order at %d", i)
		}
	}
	g := byIPEvent(got, "192.0.2.1")
	if g == nil || g.ASOrg != "ISP Oy" || g.Country != "FI" || g.Hostname != "host.example" || len(g.Extra) != 1 || g.Extra[0].Value != "rdp" {
		t.Errorf("the event is not whole: %+v", g)
	}
	if got, err := s.EventsByID(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v %d", err, len(got))
	}
}

func byIPEvent(evs []reporter.Event, ip string) *reporter.Event {
	for i := range evs {
		if evs[i].IP.String() == ip {
			return &evs[i]
		}
	}
	return nil
}

// A window (Since, Until) holds exactly the reports created in it, however
// many share a creation time (the reports of one pass do), whatever the
// store does to find the window fast.
func testHistoryWindow(t *testing.T, s reporter.Store) {
	passes := []time.Time{t0, t0.Add(2 * time.Hour), t0.Add(26 * time.Hour), t0.Add(50 * time.Hour)}
	n := 0
	for _, at := range passes {
		var evs []reporter.Event
		for range 5 {
			evs = append(evs, event(fmt.Sprintf("192.0.%d.%d", n/200, n%200+1), 80, at))
			n++
		}
		cs := mustInsert(t, s, evs...)
		var vs []reporter.Verdict
		for i, c := range cs {
			vs = append(vs, send(c, contact(fmt.Sprintf("abuse%d@isp.example", i))))
		}
		if reps := plan(t, s, at, vs...); len(reps) != 5 {
			t.Fatalf("pass at %s: %d reports", at, len(reps))
		}
	}
	for _, tt := range []struct {
		name         string
		since, until time.Time
		want         int
	}{
		{"all", time.Time{}, time.Time{}, 20},
		{"from the second pass, to the minute", passes[1], time.Time{}, 15},
		{"just after the second pass", passes[1].Add(time.Microsecond), time.Time{}, 10},
		{"half an hour before the second pass", passes[1].Add(-30 * time.Minute), time.Time{}, 15},
		{"the second pass alone", passes[1], passes[2], 5},
		{"the last pass", passes[3], time.Time{}, 5},
		{"after every pass", passes[3].Add(time.Second), time.Time{}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := s.History(ctx, reporter.HistoryQuery{Since: tt.since, Until: tt.until, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != tt.want {
				t.Errorf("%d events, want %d", len(h), tt.want)
			}
			for _, r := range h {
				if r.Report.Created.Before(tt.since) || (!tt.until.IsZero() && !r.Report.Created.Before(tt.until)) {
					t.Errorf("report %s created %s, outside the window", r.Report.Ref, r.Report.Created)
				}
			}
		})
	}
}
