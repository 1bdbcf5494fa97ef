package reporter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakePlans is a PlanStore in memory: what the planner needs and no more.
type fakePlans struct {
	events  []*fakeEvent
	told    map[string][]Told
	reports []Report
	batches []int // the size of every Candidates answer
}

type fakeEvent struct {
	c      Candidate
	state  string // new, planned, skipped, reported
	reason Reason
	to     Contact
	report int64
}

func (f *fakePlans) add(e Event) {
	e.ID = int64(len(f.events) + 1)
	f.events = append(f.events, &fakeEvent{c: Candidate{Event: e, Key: e.Key()}, state: "new"})
}

func (f *fakePlans) ResetPlanned(ctx context.Context) (int, error) {
	n := 0
	for _, e := range f.events {
		if e.state == "planned" {
			e.state, n = "new", n+1
		}
	}
	return n, nil
}

func after(c Candidate, cur PlanCursor) bool {
	if c.Key != cur.Key {
		return c.Key > cur.Key
	}
	if !c.Time.Equal(cur.Time) {
		return c.Time.After(cur.Time)
	}
	return c.ID > cur.ID
}

func (f *fakePlans) Candidates(ctx context.Context, cur PlanCursor, limit int) ([]Candidate, error) {
	var out []Candidate
	for _, e := range f.events {
		if e.state == "new" && after(e.c, cur) {
			out = append(out, e.c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return after(out[j], PlanCursor{out[i].Key, out[i].Time, out[i].ID}) })
	if len(out) > limit {
		out = out[:limit]
	}
	f.batches = append(f.batches, len(out))
	return out, nil
}

func (f *fakePlans) UnclassifiedTypes(ctx context.Context) ([]FeedType, error) {
	n := map[FeedType]int{}
	for _, e := range f.events {
		if e.state == "new" && e.c.Unclassified {
			n[FeedType{Feed: e.c.Feed, ReportType: e.c.ReportType}]++
		}
	}
	var out []FeedType
	for t, c := range n {
		t.Events = c
		out = append(out, t)
	}
	return out, nil
}

func (f *fakePlans) Reclassify(ctx context.Context, feed, reportType, class, ident string) (int, error) {
	n := 0
	for _, e := range f.events {
		if e.state == "new" && e.c.Unclassified && e.c.Feed == feed && e.c.ReportType == reportType {
			e.c.Unclassified, e.c.Classification = false, class
			if ident != "" {
				e.c.Identifier = ident
			}
			e.c.Key = e.c.Event.Key()
			n++
		}
	}
	return n, nil
}

func (f *fakePlans) Told(ctx context.Context, keys []string) (map[string][]Told, error) {
	out := map[string][]Told{}
	for _, k := range keys {
		if t, ok := f.told[k]; ok {
			out[k] = t
		}
	}
	return out, nil
}

func (f *fakePlans) Decide(ctx context.Context, vs []Verdict) error {
	for _, v := range vs {
		e := f.events[v.ID-1]
		e.reason, e.to = v.Reason, v.Contact
		switch {
		case v.Reason == Send:
			e.state = "planned"
		case v.Reason.Held():
		default:
			e.state = "skipped"
		}
	}
	return nil
}

func (f *fakePlans) PlannedGroups(ctx context.Context) ([]ReportGroup, error) {
	m := map[string]*ReportGroup{}
	var keys []string
	for _, e := range f.events {
		if e.state != "planned" {
			continue
		}
		g := ReportGroup{Contact: e.to}
		if m[g.Key()] == nil {
			m[g.Key()] = &g
			keys = append(keys, g.Key())
		}
		m[g.Key()].Events++
	}
	sort.Strings(keys)
	var out []ReportGroup
	for _, k := range keys {
		out = append(out, *m[k])
	}
	return out, nil
}

func (f *fakePlans) CreateReport(ctx context.Context, prefix string, now time.Time, g ReportGroup, mid string) (Report, error) {
	rep := Report{ID: int64(len(f.reports) + 1), Ref: fmt.Sprintf("%s#%d", prefix, len(f.reports)+1), Contact: g.Contact, MessageID: mid}
	for _, e := range f.events {
		if e.state == "planned" && (ReportGroup{Contact: e.to}).Key() == g.Key() {
			e.state, e.report = "reported", rep.ID
			rep.EventCount++
		}
	}
	if rep.EventCount == 0 {
		return rep, ErrConflict
	}
	f.reports = append(f.reports, rep)
	return rep, nil
}

// finder answers from a map by address; the map may change between passes,
// as an operator's `contacts set` does.
type finder map[string]Contact

func (f finder) Find(ctx context.Context, ip netip.Addr, asn uint32, since time.Time) (Contact, error) {
	return f[ip.String()], nil
}

func obs(ip string, port int, age time.Duration) Event {
	return Event{Time: t0.Add(-age), Feed: "ss", Classification: VulnerableSystem, Identifier: "rdp",
		IP: netip.MustParseAddr(ip), Port: port, Ingested: t0}
}

func newReporter(f *fakePlans, c ContactFinder) *Reporter {
	return &Reporter{Plans: f, Contacts: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return t0 }, Prefix: "T",
		Policy: func(string) Policy { return Policy{Repeat: 24 * time.Hour, MaxAge: 7 * 24 * time.Hour} }}
}

func reasonsOf(f *fakePlans) map[int64]Reason {
	out := map[int64]Reason{}
	for _, e := range f.events {
		out[e.c.ID] = e.reason
	}
	return out
}

func TestPlanDecidesEveryEventInOnePass(t *testing.T) {
	a := Contact{To: []string{"a@isp.example"}, Rule: "asn 64500"}
	b := Contact{To: []string{"b@isp.example"}, Rule: "cidr 198.51.100.0/24"}
	f := &fakePlans{told: map[string][]Told{}}
	f.add(obs("192.0.2.1", 3389, 2*time.Hour))  // 1: older observation of 2's key
	f.add(obs("192.0.2.1", 3389, time.Hour))    // 2: sent
	f.add(obs("192.0.2.2", 3389, time.Hour))    // 3: told an hour ago by the same rule, to an address since corrected
	f.add(obs("192.0.2.3", 3389, time.Hour))    // 4: told 30 hours ago: sent again
	f.add(obs("198.51.100.1", 3389, time.Hour)) // 5: b
	f.add(obs("203.0.113.1", 3389, time.Hour))  // 6: inhibited
	f.add(obs("203.0.113.2", 3389, time.Hour))  // 7: waits for RDAP
	f.add(obs("203.0.113.3", 3389, 30*24*time.Hour))
	f.add(obs("203.0.113.4", 3389, time.Hour)) // 9: no address
	unknown := obs("192.0.2.9", 0, time.Hour)
	unknown.Unclassified, unknown.Classification = true, Undetermined
	f.add(unknown) // 10
	for i := 0; i < 20; i++ {
		f.add(obs("192.0.2.50", 1000+i, time.Minute)) // 11-30: a's, in one report with 2 and 4
	}
	f.told[f.events[2].c.Key] = []Told{{Rule: "asn 64500", Contact: "typo@isp.example", At: t0.Add(-time.Hour)}}
	f.told[f.events[3].c.Key] = []Told{{Rule: "asn 64500", Contact: "a@isp.example", At: t0.Add(-30 * time.Hour)}}
	fd := finder{"192.0.2.1": a, "192.0.2.2": a, "192.0.2.3": a, "192.0.2.50": a, "198.51.100.1": b,
		"203.0.113.1": {To: []string{"c@isp.example"}, Inhibit: "inhibited by override asn 64502"},
		"203.0.113.2": {Pending: true}, "203.0.113.3": a, "203.0.113.4": {}}
	r := newReporter(f, fd)
	r.BatchSize = 4 // keys cross batch boundaries
	res, err := r.Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Read != 30 {
		t.Errorf("read %d events in the pass, want all 30", res.Read)
	}
	for _, n := range f.batches {
		if n > 8 {
			t.Errorf("a batch of %d events: memory must not grow with the backlog", n)
		}
	}
	want := map[int64]Reason{1: DuplicateInRun, 2: Send, 3: RepeatWindow, 4: Send, 5: Send, 6: Inhibited,
		7: WaitingContact, 8: TooOld, 9: Unroutable, 10: Unclassified}
	got := reasonsOf(f)
	for id, r := range want {
		if got[id] != r {
			t.Errorf("event %d: %v, want %v", id, got[id], r)
		}
	}
	if len(res.Reports) != 2 {
		t.Fatalf("%d reports, want 2 (one per recipient): %+v", len(res.Reports), res.Reports)
	}
	if c := res.Reports[0]; c.Contact.Key() != "a@isp.example" || c.EventCount != 22 {
		t.Errorf("report 0: %s with %d events, want a@isp.example with 22", c.Contact.Key(), c.EventCount)
	}
	if res.Held() != 2 || res.Closed() != 5 || res.Planned() != 23 {
		t.Errorf("held %d closed %d planned %d, want 2 5 23", res.Held(), res.Closed(), res.Planned())
	}
	// The held ones are still new: the next pass decides them again.
	if f.events[6].state != "new" || f.events[9].state != "new" {
		t.Errorf("held events closed: %s, %s", f.events[6].state, f.events[9].state)
	}
}

func TestPlanAppliesAContactChangedAfterIngest(t *testing.T) {
	f := &fakePlans{told: map[string][]Told{}}
	f.add(obs("192.0.2.1", 3389, time.Hour))
	fd := finder{"192.0.2.1": {To: []string{"a@isp.example"}, Rule: "asn 64500"}}
	// The operator inhibits the owner after ingest, before the report pass.
	fd["192.0.2.1"] = Contact{To: []string{"a@isp.example"}, Rule: "asn 64500", Inhibit: "inhibited by override asn 64500"}
	res, err := newReporter(f, fd).Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != 0 || f.events[0].reason != Inhibited {
		t.Errorf("reports %v, reason %v: an inhibit set after ingest must stop the mail", res.Reports, f.events[0].reason)
	}
}

func TestPlanOneKeyLargerThanTheBatch(t *testing.T) {
	f := &fakePlans{told: map[string][]Told{}}
	for i := 0; i < 9; i++ {
		f.add(obs("192.0.2.1", 3389, time.Duration(9-i)*time.Minute))
	}
	f.add(obs("192.0.2.2", 3389, time.Hour))
	r := newReporter(f, finder{"192.0.2.1": {To: []string{"a@x.example"}}, "192.0.2.2": {To: []string{"a@x.example"}}})
	r.BatchSize = 2
	res, err := r.Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	got := reasonsOf(f)
	if got[9] != Send || got[10] != Send {
		t.Errorf("newest observation %v, other key %v: both must be sent", got[9], got[10])
	}
	for id := int64(1); id < 9; id++ {
		if got[id] != DuplicateInRun {
			t.Errorf("event %d: %v, want duplicate-in-run", id, got[id])
		}
	}
	if len(res.Reports) != 1 || res.Reports[0].EventCount != 2 {
		t.Errorf("reports %+v", res.Reports)
	}
}

func TestPlanDryRunWritesNothing(t *testing.T) {
	f := &fakePlans{told: map[string][]Told{}}
	f.add(obs("192.0.2.1", 3389, time.Hour))
	f.add(obs("192.0.2.2", 3389, time.Hour))
	res, err := newReporter(f, finder{"192.0.2.1": {To: []string{"a@x.example"}}, "192.0.2.2": {To: []string{"b@x.example"}}}).Plan(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 2 || len(res.Reports) != 0 {
		t.Errorf("groups %v reports %v", res.Groups, res.Reports)
	}
	for _, e := range f.events {
		if e.state != "new" {
			t.Errorf("event %d is %s after a dry run", e.c.ID, e.state)
		}
	}
}

// A report type the schema learnt since its events were stored: the next
// pass classifies them and they go out; a type still unknown waits.
func TestPlanClassifiesWhatTheSchemaKnowsNow(t *testing.T) {
	f := &fakePlans{told: map[string][]Told{}}
	for _, typ := range []string{"event4_new_sinkhole", "event4_still_unknown"} {
		e := obs("192.0.2.1", 0, time.Hour)
		e.Unclassified, e.Classification, e.Identifier, e.ReportType = true, Undetermined, "mirai", typ
		f.add(e)
	}
	r := newReporter(f, finder{"192.0.2.1": {To: []string{"a@isp.example"}}})
	r.Classify = func(feed, typ string) (string, string, bool) {
		return InfectedSystem, "", typ == "event4_new_sinkhole"
	}
	res, err := r.Plan(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reports) != 1 || res.Reports[0].EventCount != 1 || res.Reasons[Unclassified] != 1 {
		t.Fatalf("reports %+v, reasons %v", res.Reports, res.Reasons)
	}
	if e := f.events[0].c; e.Classification != InfectedSystem || e.Identifier != "mirai" || e.Key != DedupKey(InfectedSystem, "mirai", e.IP, 0) {
		t.Errorf("classified event: %+v", e)
	}
}

type deliveries struct {
	mu      sync.Mutex // workers deliver at once
	pending []Report
	sent    []int64
}

func (d *deliveries) PendingReports(ctx context.Context, now time.Time) ([]Report, error) {
	return d.pending, ctx.Err()
}
func (d *deliveries) ClaimReports(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]Report, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) == 0 {
		return nil, ctx.Err()
	}
	r := d.pending[0]
	d.pending = d.pending[1:]
	return []Report{r}, ctx.Err()
}
func (d *deliveries) Unclaim(ctx context.Context, id int64, owner string) error { return nil }
func (d *deliveries) ReportEvents(ctx context.Context, id int64) ([]Event, error) {
	return nil, ctx.Err()
}
func (d *deliveries) ReportEventsPage(ctx context.Context, id int64, after, limit int) ([]Event, error) {
	return nil, ctx.Err()
}
func (d *deliveries) MarkPartSent(ctx context.Context, id int64, owner string, part, parts int, until time.Time) error {
	return ctx.Err()
}
func (d *deliveries) MarkSent(ctx context.Context, id int64, owner, subject, note string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, id)
	return nil
}
func (d *deliveries) MarkAttempt(ctx context.Context, id int64, owner, cause string, at, next time.Time) error {
	return ctx.Err()
}

// cancelling sends, then the shutdown cancels the pass's context.
type cancelling struct{ cancel context.CancelFunc }

func (c cancelling) Send(ctx context.Context, rep Report, events EventReader, sent func(int, int) error) (Sent, error) {
	c.cancel()
	return Sent{Subject: "subject"}, nil
}

// A mail that left is recorded as sent even when shutdown cancelled the
// pass while it was on the wire.
func TestDeliverRecordsASendAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &deliveries{pending: []Report{{ID: 7, Ref: "T#1", Contact: Contact{To: []string{"a@x.example"}}}, {ID: 8, Ref: "T#2"}}}
	r := &Reporter{Deliveries: d, Mailer: cancelling{cancel}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	st, err := r.Deliver(ctx)
	if fmt.Sprint(d.sent) != "[7]" || st.Sent != 1 {
		t.Errorf("sent %v (%+v, %v): the mail that left must be recorded", d.sent, st, err)
	}
	if err == nil {
		t.Error("the pass went on after shutdown")
	}
}

// gate is a mailer that holds each send until n are in flight at once
// (the first time), and counts the most it ever saw.
type gate struct {
	n              int
	mu             sync.Mutex
	inflight, most int
	full           chan struct{}
	fullOnce       sync.Once
}

func (g *gate) Send(ctx context.Context, rep Report, events EventReader, sent func(int, int) error) (Sent, error) {
	g.mu.Lock()
	g.inflight++
	g.most = max(g.most, g.inflight)
	if g.inflight == g.n {
		g.fullOnce.Do(func() { close(g.full) })
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inflight--
		g.mu.Unlock()
	}()
	select {
	case <-g.full:
		return Sent{Subject: rep.Ref}, nil
	case <-time.After(10 * time.Second):
		return Sent{}, fmt.Errorf("never %d sends at once", g.n)
	}
}

// With Concurrency 4, four reports are on the wire at once and never
// more, and every report is sent once.
func TestDeliverConcurrently(t *testing.T) {
	d := &deliveries{}
	for i := 1; i <= 40; i++ {
		d.pending = append(d.pending, Report{ID: int64(i), Ref: fmt.Sprintf("T#%d", i), Contact: Contact{To: []string{"a@x.example"}}})
	}
	g := &gate{n: 4, full: make(chan struct{})}
	r := &Reporter{Deliveries: d, Mailer: g, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Concurrency: 4}
	st, err := r.Deliver(context.Background())
	if err != nil || st.Sent != 40 || st.Failed != 0 {
		t.Fatalf("%+v %v", st, err)
	}
	if g.most != 4 {
		t.Errorf("at most %d sends at once, want 4", g.most)
	}
	seen := map[int64]bool{}
	for _, id := range d.sent {
		if seen[id] {
			t.Errorf("report %d sent twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 40 {
		t.Errorf("%d reports sent, want 40", len(seen))
	}
}
