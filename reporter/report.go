package reporter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mailer renders one report and sends it, in as many parts as its size
// needs. Rendering must be a function of the report and its events only,
// so that a resend after a crash produces the same mails with the same
// Message-IDs. Parts up to rep.PartsSent went out before and are skipped;
// sent is called after each part that leaves, so that a crash between
// parts resumes at the next one.
type Mailer interface {
	Send(ctx context.Context, rep Report, events EventReader, sent func(part, parts int) error) (Sent, error)
}

// Sent is what a delivery did.
type Sent struct {
	Subject string
	// Refused are the recipients the relay refused for good, with its
	// answer, when the others took the mail: recorded on the report.
	Refused []string
}

// Permanent is an error that trying again will not mend (a 5xx to the
// whole mail): the report is marked failed at once.
type Permanent interface{ Permanent() bool }

// Unreachable is an error of the way to the relay (it does not answer,
// it dropped the connection): the pass stops sending, since the next
// mails would fare no better, and costs only this report an attempt.
type Unreachable interface{ Unreachable() bool }

// EventReader reads a report's events in report order, a page at a time:
// a report of 100,000 events is never held whole. It may be read more than
// once. yield's error stops the reading and is returned.
type EventReader func(yield func(page []Event) error) error

// Events reads a slice, for a report already in memory.
func Events(events []Event) EventReader {
	return func(yield func([]Event) error) error {
		if len(events) == 0 {
			return nil
		}
		return yield(events)
	}
}

// pageSize is how many events of a report are read at a time.
const pageSize = 2000

// ContactFinder says where an owner's events go, asked at report time so
// that an override set after ingest (an inhibit, a corrected address)
// applies to every event not yet reported. since is when the oldest of the
// events in question was ingested, for deciding how long they may wait for
// an RDAP answer. A Contact still Pending makes the events wait.
type ContactFinder interface {
	Find(ctx context.Context, ip netip.Addr, asn uint32, since time.Time) (Contact, error)
}

// Reporter turns new events into reports and delivers them.
type Reporter struct {
	Plans      PlanStore
	Deliveries DeliverStore
	Contacts   ContactFinder
	Mailer     Mailer
	Log        *slog.Logger
	Now        func() time.Time
	// Prefix starts every report ref: "CERT-XX" gives "CERT-XX#20261123-0001".
	Prefix string
	// MessageIDDomain is the right-hand side of generated Message-IDs.
	MessageIDDomain string
	// Policy gives a feed's repeat window and max age.
	Policy func(feed string) Policy
	// Classify says what a feed's report type means now (a schema may
	// have learnt a type since its events were stored); nil, or ok false,
	// leaves Unclassified events waiting.
	Classify func(feed, reportType string) (classification, identifier string, ok bool)
	// MaxAttempts is how many failed deliveries make a report failed.
	MaxAttempts int
	// Backoff is the wait after the first failure; it doubles per attempt.
	Backoff time.Duration
	// BatchSize is how many new events planning reads at a time; memory
	// grows with it, not with the backlog.
	BatchSize int
	// Owner names this instance in the claims on reports it sends; Lease
	// is how long a claim holds (default 5m, renewed by every part sent)
	// before another instance may
	// take the report over.
	Owner string
	Lease time.Duration
	// Concurrency is how many reports are sent at once (default 1); the
	// Mailer must take that many (mail.Pool).
	Concurrency int
	// Preview, when set, is given each event a dry run would send, with
	// its contact: report --preview builds the mail from them.
	Preview func(Contact, Event)
}

// PlanResult is what one planning pass decided.
type PlanResult struct {
	// Groups are the recipients and how many events each gets (on a dry
	// run, would get).
	Groups []ReportGroup
	// Reasons counts the events not sent, by reason; held ones stay new.
	Reasons map[Reason]int
	Reports []Report // empty on a dry run
	Read    int      // new events read
}

// Held is how many events wait for a later pass.
func (p PlanResult) Held() int {
	n := 0
	for r, c := range p.Reasons {
		if r.Held() {
			n += c
		}
	}
	return n
}

// Closed is how many events were closed without being sent.
func (p PlanResult) Closed() int {
	n := 0
	for r, c := range p.Reasons {
		if !r.Held() {
			n += c
		}
	}
	return n
}

// Planned is how many events go (or would go) into reports.
func (p PlanResult) Planned() int {
	n := 0
	for _, g := range p.Groups {
		n += g.Events
	}
	return n
}

const defaultBatch = 5000

// Plan reads every new event, in batches, decides each one and creates one
// report per recipient. With dryRun it only decides, and writes nothing.
// Memory stays flat in the backlog: a batch is decided and written before
// the next is read, and a key's observations are never split across
// batches, so "the newest observation is the one sent" holds for the pass.
func (r *Reporter) Plan(ctx context.Context, dryRun bool) (PlanResult, error) {
	res := PlanResult{Reasons: map[Reason]int{}}
	now := r.Now().UTC()
	if !dryRun {
		n, err := r.Plans.ResetPlanned(ctx)
		if err != nil {
			return res, fmt.Errorf("reset planned events: %w", err)
		}
		if n > 0 {
			r.Log.Warn("events left planned by an interrupted pass are planned again", "events", n)
		}
		if err := r.reclassify(ctx); err != nil {
			return res, err
		}
	}
	size := r.BatchSize
	if size <= 0 {
		size = defaultBatch
	}
	dry := map[string]*ReportGroup{}
	var order []string
	var cur PlanCursor
	limit := size
	for {
		batch, err := r.Plans.Candidates(ctx, cur, limit)
		if err != nil {
			return res, fmt.Errorf("read new events: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		if len(batch) == limit {
			// The last key's observations may go on in the next batch:
			// leave them all to it.
			i := len(batch) - 1
			for i > 0 && batch[i-1].Key == batch[len(batch)-1].Key {
				i--
			}
			if i == 0 {
				limit *= 2 // one key fills the batch: read more of it
				continue
			}
			batch = batch[:i]
		}
		limit = size
		last := batch[len(batch)-1]
		cur = PlanCursor{Key: last.Key, Time: last.Time, ID: last.ID}
		verdicts, err := r.decide(ctx, batch, now)
		if err != nil {
			return res, err
		}
		res.Read += len(batch)
		var byID map[int64]*Event
		if dryRun && r.Preview != nil {
			byID = make(map[int64]*Event, len(batch))
			for i := range batch {
				byID[batch[i].ID] = &batch[i].Event
			}
		}
		for _, v := range verdicts {
			if v.Reason != Send {
				res.Reasons[v.Reason]++
				continue
			}
			if byID != nil {
				if e := byID[v.ID]; e != nil {
					r.Preview(v.Contact, *e)
				}
			}
			if dryRun {
				g := ReportGroup{Contact: v.Contact}
				k := g.Key()
				if dry[k] == nil {
					dry[k] = &g
					order = append(order, k)
				}
				dry[k].Events++
			}
		}
		if !dryRun {
			if err := r.Plans.Decide(ctx, verdicts); err != nil {
				return res, fmt.Errorf("record decisions: %w", err)
			}
		}
	}
	if dryRun {
		sort.Strings(order)
		for _, k := range order {
			res.Groups = append(res.Groups, *dry[k])
		}
		return res, nil
	}
	groups, err := r.Plans.PlannedGroups(ctx)
	if err != nil {
		return res, fmt.Errorf("planned reports: %w", err)
	}
	for _, g := range groups {
		rep, err := r.Plans.CreateReport(ctx, r.Prefix, now, g, r.messageID(now))
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("create report for %s: %w", g.Contact.Key(), err)
		}
		res.Groups = append(res.Groups, g)
		res.Reports = append(res.Reports, rep)
		r.Log.Info("report created", "report", rep.Ref, "contact", rep.Contact.Key(), "events", rep.EventCount)
	}
	return res, nil
}

// reclassify classifies the waiting events of report types that are known
// now.
func (r *Reporter) reclassify(ctx context.Context) error {
	if r.Classify == nil {
		return nil
	}
	types, err := r.Plans.UnclassifiedTypes(ctx)
	if err != nil {
		return fmt.Errorf("unclassified events: %w", err)
	}
	for _, t := range types {
		class, ident, ok := r.Classify(t.Feed, t.ReportType)
		if !ok {
			continue
		}
		n, err := r.Plans.Reclassify(ctx, t.Feed, t.ReportType, class, ident)
		if err != nil {
			return fmt.Errorf("classify %s events of %s: %w", t.ReportType, t.Feed, err)
		}
		r.Log.Info("report type known now: its waiting events are classified", "feed", t.Feed, "report_type", t.ReportType,
			"classification", class, "events", n)
	}
	return nil
}

// decide gives every event of a batch its verdict. The batch holds whole
// keys in (key, time, id) order, so the last observation of a key is its
// newest: that one is decided, and the older ones follow it (Older).
func (r *Reporter) decide(ctx context.Context, batch []Candidate, now time.Time) ([]Verdict, error) {
	keys := make([]string, 0, len(batch))
	for i := range batch {
		if i == 0 || batch[i].Key != batch[i-1].Key {
			keys = append(keys, batch[i].Key)
		}
	}
	told, err := r.Plans.Told(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("repeat window: %w", err)
	}
	out := make([]Verdict, 0, len(batch))
	for start := 0; start < len(batch); {
		end := start + 1
		since := batch[start].Ingested
		for end < len(batch) && batch[end].Key == batch[start].Key {
			if batch[end].Ingested.Before(since) {
				since = batch[end].Ingested
			}
			end++
		}
		newest := &batch[end-1]
		var c Contact
		if !newest.Unclassified {
			if c, err = r.Contacts.Find(ctx, newest.IP, newest.ASN, since); err != nil {
				return nil, fmt.Errorf("contact for %s: %w", newest.IP, err)
			}
		}
		reason := Decide(&newest.Event, c, LastTold(told[newest.Key], c), r.policy(newest.Feed), now)
		for i := start; i < end-1; i++ {
			out = append(out, Verdict{ID: batch[i].ID, Reason: Older(reason), Contact: c})
		}
		out = append(out, Verdict{ID: newest.ID, Reason: reason, Contact: c})
		start = end
	}
	return out, nil
}

func (r *Reporter) policy(feed string) Policy {
	if r.Policy == nil {
		return Policy{}
	}
	return r.Policy(feed)
}

func (r *Reporter) messageID(now time.Time) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	domain := r.MessageIDDomain
	if domain == "" {
		domain = "autoreporter.invalid"
	}
	return fmt.Sprintf("<%s.%s@%s>", now.Format("20060102T150405Z"), hex.EncodeToString(b[:]), domain)
}

// DeliverStats counts one delivery pass.
type DeliverStats struct {
	Sent, Failed, GaveUp int
}

// Deliver sends every pending report that is due, the ones a crash left
// behind included, claiming each before it sends it (another instance may
// be sending too). A failure is recorded and retried with backoff on a
// later pass; after MaxAttempts the report is marked failed, never
// dropped.
func (r *Reporter) Deliver(ctx context.Context) (DeliverStats, error) {
	return r.DeliverProgress(ctx, nil)
}

// DeliverProgress is Deliver that tells progress, when set, the counts so
// far after each report it sent or failed to send. Concurrency reports go
// out at once, each claimed by itself; the pass ends when none is left to
// claim, at the first error of the store, or when the relay is down.
func (r *Reporter) DeliverProgress(ctx context.Context, progress func(DeliverStats)) (DeliverStats, error) {
	if progress == nil {
		progress = func(DeliverStats) {}
	}
	lease := r.Lease
	if lease <= 0 {
		lease = 5 * time.Minute
	}
	var (
		mu       sync.Mutex
		st       DeliverStats
		errs     []error
		stop     = make(chan struct{})
		stopOnce sync.Once
		wg       sync.WaitGroup
	)
	end := func() { stopOnce.Do(func() { close(stop) }) }
	worker := func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := ctx.Err(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				end()
				return
			}
			res, err := r.deliverOne(ctx, lease)
			mu.Lock()
			switch {
			case res.sent:
				st.Sent++
			case res.failed:
				st.Failed++
			}
			if res.gaveUp {
				st.GaveUp++
			}
			if res.sent || res.failed {
				progress(st)
			}
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
			if err != nil || !res.claimed || res.unreachable {
				end()
				return
			}
		}
	}
	for range max(r.Concurrency, 1) {
		wg.Add(1)
		go worker()
	}
	wg.Wait()
	// Workers that stopped because the pass was cancelled say so once.
	var out []error
	bare := false
	for _, err := range errs {
		if err == ctx.Err() {
			if bare {
				continue
			}
			bare = true
		}
		out = append(out, err)
	}
	if len(out) == 1 {
		return st, out[0]
	}
	return st, errors.Join(out...)
}

// delivered is what deliverOne did.
type delivered struct {
	claimed, sent, failed, gaveUp, unreachable bool
}

// deliverOne claims one due report and sends it, recording the outcome.
// Nothing to claim is claimed false; an error is the store's, or the
// pass cut short.
func (r *Reporter) deliverOne(ctx context.Context, lease time.Duration) (delivered, error) {
	var res delivered
	// One at a time, so that instances (and workers) share the work
	// report by report.
	reps, err := r.Deliveries.ClaimReports(ctx, r.Owner, r.Now().UTC(), lease, 1)
	if err != nil {
		return res, fmt.Errorf("claim pending reports: %w", err)
	}
	if len(reps) == 0 {
		return res, nil
	}
	res.claimed = true
	rep := reps[0]
	events := func(yield func([]Event) error) error {
		for after := 0; ; {
			page, err := r.Deliveries.ReportEventsPage(ctx, rep.ID, after, pageSize)
			if err != nil {
				return fmt.Errorf("report %s: read events: %w", rep.Ref, err)
			}
			if len(page) == 0 {
				return nil
			}
			if err := yield(page); err != nil {
				return err
			}
			after += len(page)
		}
	}
	partSent := func(part, parts int) error {
		// Recorded even when shutdown cancelled ctx meanwhile.
		rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return r.Deliveries.MarkPartSent(rec, rep.ID, r.Owner, part, parts, r.Now().UTC().Add(lease))
	}
	sent, sendErr := r.Mailer.Send(ctx, rep, events, partSent)
	now := r.Now().UTC()
	// What happened is recorded even when shutdown cancelled ctx
	// meanwhile: a mail that left must never be sent again as if it had
	// not.
	rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if sendErr == nil {
		note := ""
		if len(sent.Refused) > 0 {
			note = "refused: " + strings.Join(sent.Refused, "; ")
			r.Log.Warn("report sent, some recipients refused it", "report", rep.Ref, "refused", note)
		}
		if err := r.Deliveries.MarkSent(rec, rep.ID, r.Owner, sent.Subject, note, now); err != nil {
			return res, fmt.Errorf("report %s: sent, but not marked: %w", rep.Ref, err)
		}
		res.sent = true
		r.Log.Info("report sent", "report", rep.Ref, "to", rep.Contact.Key(), "events", rep.EventCount)
		return res, nil
	}
	if ctx.Err() != nil {
		// Interrupted, not refused: no attempt is counted, and the
		// report, let go, is due at the next start, with its Message-ID.
		err := r.Deliveries.Unclaim(rec, rep.ID, r.Owner)
		return res, errors.Join(fmt.Errorf("report %s: %w", rep.Ref, ctx.Err()), err)
	}
	attempts := rep.Attempts + 1
	next := now.Add(r.backoff(attempts))
	var perm Permanent
	if (r.MaxAttempts > 0 && attempts >= r.MaxAttempts) || (errors.As(sendErr, &perm) && perm.Permanent()) {
		next = time.Time{}
		res.gaveUp = true
	}
	res.failed = true
	r.Log.Error("report not sent", "report", rep.Ref, "to", rep.Contact.Key(), "attempt", attempts, slog.Any("err", sendErr))
	if err := r.Deliveries.MarkAttempt(rec, rep.ID, r.Owner, sendErr.Error(), now, next); err != nil {
		return res, fmt.Errorf("report %s: record failed attempt: %w", rep.Ref, err)
	}
	var down Unreachable
	if errors.As(sendErr, &down) && down.Unreachable() {
		// The others wait for the next pass, without an attempt each.
		r.Log.Warn("relay unreachable: the pass stops sending")
		res.unreachable = true
	}
	return res, nil
}

// backoff is the wait after a failed attempt: doubling from Backoff, up to
// a day, with a tenth of jitter either way so that reports that failed
// together do not all come back at once.
func (r *Reporter) backoff(attempt int) time.Duration {
	d := r.baseBackoff(attempt)
	return d + time.Duration((mrand.Float64()*0.2-0.1)*float64(d))
}

func (r *Reporter) baseBackoff(attempt int) time.Duration {
	d := r.Backoff
	if d <= 0 {
		d = time.Minute
	}
	for i := 1; i < attempt && d < 24*time.Hour; i++ {
		d *= 2
	}
	return min(d, 24*time.Hour)
}
