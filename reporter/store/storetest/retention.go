package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

// purgeWorld is a store with something of everything on both sides of a
// cut at t0: reports in every state, events in every state, old and young.
type purgeWorld struct {
	refs map[string]reporter.Report // by contact: "sent-old@x.example" ...
	keys map[string]string          // dedup key by address
}

var (
	old   = t0.Add(-48 * time.Hour)
	young = t0.Add(time.Hour)
)

func makePurgeWorld(t *testing.T, s reporter.Store) purgeWorld {
	t.Helper()
	ev := func(ip string, ingested time.Time) reporter.Event {
		e := event(ip, 3389, ingested)
		e.Ingested = ingested
		return e
	}
	// .1 and .2 go in one report, sent before the cut: the only report
	// to go. Every other report stays, whatever its age.
	to := map[string]string{
		"192.0.2.1": "sent-old", "192.0.2.2": "sent-old",
		"192.0.2.3": "failed-old",
		"192.0.2.4": "pending-old",
		"192.0.2.5": "claimed-old",
		"192.0.2.6": "resent-old", // sent before the cut, then resent: pending
		"192.0.2.7": "sent-young", // created before the cut, sent after it
	}
	var in []reporter.Event
	for i := 1; i <= 12; i++ {
		at := old
		if i == 12 {
			at = young
		}
		in = append(in, ev(fmt.Sprintf("192.0.2.%d", i), at))
	}
	cands := mustInsert(t, s, in...)
	w := purgeWorld{refs: map[string]reporter.Report{}, keys: map[string]string{}}
	var sends []reporter.Verdict
	for _, c := range cands {
		w.keys[c.IP.String()] = c.Key
		if name, ok := to[c.IP.String()]; ok {
			sends = append(sends, send(c, contact(name+"@x.example")))
		}
	}
	for _, r := range plan(t, s, old, sends...) {
		w.refs[r.Contact.To[0]] = r
	}
	if len(w.refs) != 6 {
		t.Fatalf("%d reports, want 6: %+v", len(w.refs), w.refs)
	}
	id := func(name string) int64 { return w.refs[name+"@x.example"].ID }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.MarkSent(ctx, id("sent-old"), "", "s", "", old))
	must(s.MarkSent(ctx, id("resent-old"), "", "s", "", old))
	must(s.MarkSent(ctx, id("sent-young"), "", "s", "", young))
	must(s.MarkAttempt(ctx, id("failed-old"), "", "550 no", old, time.Time{}))
	claimed, err := s.ClaimReports(ctx, "other-instance", old, 1000*time.Hour, 10)
	must(err)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d reports, want pending-old and claimed-old", len(claimed))
	}
	must(s.Unclaim(ctx, id("pending-old"), "other-instance"))
	if refs, err := s.Requeue(ctx, w.refs["resent-old@x.example"].Ref, time.Time{}); err != nil || len(refs) != 1 {
		t.Fatalf("requeue: %v %v", refs, err)
	}
	// .8 stays new; .9 waits for its contact; .10 is planned (a pass
	// that crashed before its report); .11 and .12 are closed, before and
	// after the cut.
	c := func(ip string) reporter.Candidate { return byIP(t, cands, ip) }
	must(s.Decide(ctx, []reporter.Verdict{
		{ID: c("192.0.2.9").ID, Reason: reporter.WaitingContact},
		{ID: c("192.0.2.10").ID, Reason: reporter.Send, Contact: contact("planned@x.example")},
		{ID: c("192.0.2.11").ID, Reason: reporter.RepeatWindow, Contact: contact("sent-old@x.example")},
		{ID: c("192.0.2.12").ID, Reason: reporter.RepeatWindow, Contact: contact("sent-old@x.example")},
	}))
	return w
}

// testPurge: a purge removes the sent report before the cut with its
// events, and the closed event before it; nothing a decision or a resend
// may still need. The counts it returns say so.
func testPurge(t *testing.T, s reporter.Store) {
	w := makePurgeWorld(t, s)
	want := reporter.PurgeStats{Reports: 1, Events: 3}
	if got, err := s.Purgeable(ctx, t0); err != nil || got != want {
		t.Fatalf("purgeable: %+v (%v), want %+v", got, err, want)
	}
	batches := 0
	got, done, err := reporter.Purge(ctx, s, t0, reporter.PurgeOptions{Batch: 1, After: func(reporter.PurgeStats) { batches++ }})
	if err != nil || !done || got != want {
		t.Fatalf("purge: %+v done=%v (%v), want %+v", got, done, err, want)
	}
	if batches < 2 {
		t.Errorf("batch size 1 took %d batches for a report of 2 events and a closed event", batches)
	}
	if got, err := s.Purgeable(ctx, t0); err != nil || !got.Zero() {
		t.Errorf("after the purge, still purgeable: %+v (%v)", got, err)
	}
	if got, done, err := reporter.Purge(ctx, s, t0, reporter.PurgeOptions{Batch: 1}); err != nil || !done || !got.Zero() {
		t.Errorf("a second purge: %+v done=%v (%v)", got, done, err)
	}

	// History: every report but sent-old, each with its events.
	h, err := s.History(ctx, reporter.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]string{}
	for _, r := range h {
		left[r.Report.Contact.To[0]] = r.Report.State
	}
	wantLeft := map[string]string{"failed-old@x.example": "failed", "pending-old@x.example": "pending",
		"claimed-old@x.example": "pending", "resent-old@x.example": "pending", "sent-young@x.example": "sent"}
	if fmt.Sprint(left) != fmt.Sprint(wantLeft) || len(h) != 5 {
		t.Errorf("history after purge: %v (%d rows), want %v", left, len(h), wantLeft)
	}
	// The failed report can still be resent, and the claimed one sent.
	if refs, err := s.Requeue(ctx, w.refs["failed-old@x.example"].Ref, time.Time{}); err != nil || len(refs) != 1 {
		t.Errorf("the failed report cannot be resent after a purge: %v %v", refs, err)
	}
	for _, name := range []string{"failed-old", "claimed-old", "pending-old", "resent-old"} {
		r := w.refs[name+"@x.example"]
		if evs, err := s.ReportEvents(ctx, r.ID); err != nil || len(evs) != 1 {
			t.Errorf("%s lost its events: %d (%v)", name, len(evs), err)
		}
	}
	// New, held and planned events are all there.
	var kept []string
	for _, c := range candidates(t, s) {
		kept = append(kept, c.IP.String())
	}
	slices.Sort(kept)
	if fmt.Sprint(kept) != "[192.0.2.8 192.0.2.9]" {
		t.Errorf("new events after the purge: %v, want .8 and .9 (held)", kept)
	}
	if g, err := s.PlannedGroups(ctx); err != nil || len(g) != 1 || g[0].Events != 1 {
		t.Errorf("planned events after the purge: %+v (%v)", g, err)
	}
	// Told: the purged report no longer counts (it is older than any
	// repeat window the config allows with this retention); every report
	// that stays does.
	told, err := s.Told(ctx, []string{w.keys["192.0.2.1"], w.keys["192.0.2.6"], w.keys["192.0.2.7"]})
	if err != nil {
		t.Fatal(err)
	}
	if len(told[w.keys["192.0.2.1"]]) != 0 || len(told[w.keys["192.0.2.6"]]) != 1 || len(told[w.keys["192.0.2.7"]]) != 1 {
		t.Errorf("told after the purge: %+v", told)
	}
	// The closed event after the cut stays: a second purge with a later
	// cut takes it.
	if got, err := s.Purgeable(ctx, young.Add(time.Second)); err != nil || got.Events != 2 || got.Reports != 1 {
		t.Errorf("purgeable after young: %+v (%v), want sent-young's event and the closed one", got, err)
	}
}

// testPurgeBigReport: a report with more events than a batch loses them a
// batch at a time; meanwhile it is purging and cannot be resent, and it
// goes with its last event.
func testPurgeBigReport(t *testing.T, s reporter.Store) {
	var in []reporter.Event
	for i := range 7 {
		in = append(in, event(fmt.Sprintf("192.0.2.%d", i+1), 3389, old))
	}
	var vs []reporter.Verdict
	for _, c := range mustInsert(t, s, in...) {
		vs = append(vs, send(c, contact("big@x.example")))
	}
	reps := plan(t, s, old, vs...)
	if len(reps) != 1 {
		t.Fatalf("%d reports", len(reps))
	}
	rep := reps[0]
	if err := s.MarkSent(ctx, rep.ID, "", "s", "", old); err != nil {
		t.Fatal(err)
	}
	var steps []reporter.PurgeStats
	for {
		st, err := s.PurgeBatch(ctx, t0, 3)
		if err != nil {
			t.Fatal(err)
		}
		if st.Zero() {
			break
		}
		steps = append(steps, st)
		if len(steps) == 1 {
			h, err := s.History(ctx, reporter.HistoryQuery{Ref: rep.Ref})
			if err != nil || len(h) != 4 || h[0].Report.State != reporter.ReportPurging {
				t.Fatalf("after the first batch: %d rows (%v), want 4 in state purging: %+v", len(h), err, h)
			}
			if refs, err := s.Requeue(ctx, rep.Ref, time.Time{}); err != nil || len(refs) != 0 {
				t.Errorf("a report being purged was requeued: %v (%v)", refs, err)
			}
		}
		if len(steps) > 10 {
			t.Fatal("the purge does not end")
		}
	}
	want := []reporter.PurgeStats{{Events: 3}, {Events: 3}, {Events: 1, Reports: 1}}
	if fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Errorf("batches %+v, want %+v", steps, want)
	}
	if h, err := s.History(ctx, reporter.HistoryQuery{Ref: rep.Ref}); err != nil || len(h) != 0 {
		t.Errorf("the purged report is still in history: %d rows (%v)", len(h), err)
	}
}

// testPurgeBookkeeping: rejected rows, fetched-file records and RDAP
// answers that expired go when older than the cut.
func testPurgeBookkeeping(t *testing.T, s reporter.Store) {
	// Rejects are stamped with the store's clock: the real one.
	if err := s.AddRejects(ctx, []reporter.Reject{{Feed: "f", File: "a.csv", Line: 3, Reason: "bad"}, {Feed: "f", File: "a.csv", Line: 4, Reason: "bad"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []reporter.FetchedFile{{Feed: "ss", ID: "a", Fetched: old}, {Feed: "ss", ID: "b", Fetched: young}} {
		if err := s.MarkFetched(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for i, exp := range []time.Time{old, young} {
		e := abuse.RDAPEntry{First: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Last: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
			Server: "https://rdap.example", Fetched: exp.Add(-time.Hour), Expires: exp}
		if err := s.PutRDAP(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, done, err := reporter.Purge(ctx, s, t0, reporter.PurgeOptions{Batch: 1})
	if want := (reporter.PurgeStats{FetchedFiles: 1, RDAPAnswers: 1}); err != nil || !done || got != want {
		t.Fatalf("purge before t0: %+v (%v), want %+v", got, err, want)
	}
	if f, err := s.Fetched(ctx, "ss", []string{"a", "b"}); err != nil || f["a"] || !f["b"] {
		t.Errorf("fetched after the purge: %v (%v), want b alone", f, err)
	}
	if c, err := s.RDAPCache(ctx); err != nil || len(c) != 1 || !c[0].Expires.Equal(young) {
		t.Errorf("rdap cache after the purge: %+v (%v)", c, err)
	}
	if r, err := s.Rejects(ctx, reporter.RejectQuery{}); err != nil || len(r) != 2 {
		t.Errorf("rejects kept now went with a cut before now: %d (%v)", len(r), err)
	}
	// An hour from now, the rejects kept now are older than the cut.
	got, _, err = reporter.Purge(ctx, s, time.Now().Add(time.Hour), reporter.PurgeOptions{Batch: 1})
	if err != nil || got.Rejects != 2 {
		t.Errorf("purge before an hour from now: %+v (%v), want the 2 rejects", got, err)
	}
	if r, err := s.Rejects(ctx, reporter.RejectQuery{}); err != nil || len(r) != 0 {
		t.Errorf("rejects after the purge: %d (%v)", len(r), err)
	}
}

// testConcurrentPurge: a purge runs in batches, each committed on its own:
// between two batches another instance sees the rows gone and ingests
// without waiting for the purge to end. A purge in one transaction (or
// one that held the SQLite write lock throughout) fails here: the other
// handle would see nothing gone, and its insert would wait out the busy
// timeout.
func testConcurrentPurge(t *testing.T, a, b reporter.Store) {
	var in []reporter.Event
	for i := range 10 {
		in = append(in, event(fmt.Sprintf("192.0.2.%d", i+1), 3389, old))
	}
	var vs []reporter.Verdict
	for i, c := range mustInsert(t, a, in...) {
		vs = append(vs, send(c, contact(fmt.Sprintf("r%d@x.example", i))))
	}
	for _, r := range plan(t, a, old, vs...) {
		if err := a.MarkSent(ctx, r.ID, "", "s", "", old); err != nil {
			t.Fatal(err)
		}
	}
	total, err := b.Purgeable(ctx, t0)
	if err != nil || total.Reports != 10 || total.Events != 10 {
		t.Fatalf("purgeable: %+v (%v)", total, err)
	}
	batches, inserted := 0, 0
	removed := reporter.PurgeStats{}
	_, done, err := reporter.Purge(ctx, a, t0, reporter.PurgeOptions{Batch: 4, After: func(st reporter.PurgeStats) {
		batches++
		removed.Add(st)
		// Between batches: the other instance sees this batch gone...
		left, err := b.Purgeable(ctx, t0)
		if err != nil {
			t.Errorf("purgeable from the other handle: %v", err)
			return
		}
		if left.Reports != total.Reports-removed.Reports {
			t.Errorf("after batch %d the other handle sees %d reports left to purge, want %d: the batch is not committed",
				batches, left.Reports, total.Reports-removed.Reports)
		}
		// ...and ingests while the purge is under way. The deadline only
		// keeps a broken store from hanging the suite.
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		n, err := b.InsertEvents(ictx, []reporter.Event{event(fmt.Sprintf("198.51.100.%d", batches), 3389, t0)})
		if err != nil || n != 1 {
			t.Errorf("ingest from the other handle during the purge: %d (%v)", n, err)
			return
		}
		inserted++
	}})
	if err != nil || !done {
		t.Fatalf("purge: done=%v %v", done, err)
	}
	// Four reports of one event each a batch: 10 reports take 3 batches.
	if batches != 3 || removed.Reports != 10 || removed.Events != 10 {
		t.Errorf("%d batches removed %+v, want 3 batches and 10 reports", batches, removed)
	}
	if got := len(candidates(t, a)); got != inserted || inserted != batches {
		t.Errorf("%d new events after the purge, %d inserted in %d batches", got, inserted, batches)
	}
}

// testRDAPShared: the reservation rule, the pause and its cause.
func testRDAPShared(t *testing.T, s reporter.Store) {
	const srv = "https://rdap.example"
	reserve := func(now time.Time, n int) abuse.RDAPSlots {
		t.Helper()
		r, err := s.ReserveRDAP(ctx, srv, now, n, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := reserve(t0, 3); !r.First.Equal(t0) || r.Paused(t0) {
		t.Errorf("first reservation: %+v, want from t0", r)
	}
	if r := reserve(t0, 3); !r.First.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("second reservation at t0: %+v, want from t0+3s (after the first three slots)", r)
	}
	if r := reserve(t0.Add(time.Minute), 1); !r.First.Equal(t0.Add(time.Minute)) {
		t.Errorf("a reservation after the others passed: %+v, want from now", r)
	}
	if r, err := s.ReserveRDAP(ctx, "https://other.example", t0, 1, time.Second); err != nil || !r.First.Equal(t0) {
		t.Errorf("another server has its own slots: %+v (%v)", r, err)
	}
	until := t0.Add(time.Hour)
	if err := s.PauseRDAP(ctx, srv, until, "HTTP 429: rate limited"); err != nil {
		t.Fatal(err)
	}
	if err := s.PauseRDAP(ctx, srv, t0.Add(time.Minute), "three failures"); err != nil {
		t.Fatal(err)
	}
	r := reserve(t0.Add(2*time.Minute), 1)
	if !r.Paused(t0.Add(2*time.Minute)) || !r.PausedUntil.Equal(until) || r.Cause != "HTTP 429: rate limited" || !r.First.IsZero() {
		t.Errorf("while paused: %+v, want the longer pause and its cause, no slot", r)
	}
	if r := reserve(until, 1); r.Paused(until) || !r.First.Equal(until) {
		t.Errorf("when the pause ends: %+v", r)
	}
	if r := reserve(until, 0); !r.First.Equal(until.Add(time.Second)) {
		t.Errorf("reading without reserving: %+v, want the next slot", r)
	}
}

// testConcurrentRDAPSlots: two instances reserving at once never get
// overlapping slots.
func testConcurrentRDAPSlots(t *testing.T, a, b reporter.Store) {
	const n, per = 2, 100 * time.Millisecond
	var firsts [2][]time.Time
	errs := together(func() error {
		for range 40 {
			r, err := a.ReserveRDAP(ctx, "https://rdap.example", t0, n, per)
			if err != nil {
				return err
			}
			firsts[0] = append(firsts[0], r.First)
		}
		return nil
	}, func() error {
		for range 40 {
			r, err := b.ReserveRDAP(ctx, "https://rdap.example", t0, n, per)
			if err != nil {
				return err
			}
			firsts[1] = append(firsts[1], r.First)
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	all := append(firsts[0], firsts[1]...)
	slices.SortFunc(all, func(x, y time.Time) int { return x.Compare(y) })
	for i := 1; i < len(all); i++ {
		if d := all[i].Sub(all[i-1]); d < n*per {
			t.Fatalf("reservations %d and %d overlap: %v and %v", i-1, i, all[i-1], all[i])
		}
	}
	if !all[0].Equal(t0) || !all[len(all)-1].Equal(t0.Add(79*n*per)) {
		t.Errorf("80 reservations span %v to %v, want t0 to t0+%v with no gap", all[0], all[len(all)-1], 79*n*per)
	}
}
