package reporter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Mailer renders one report and sends it. Rendering must be a function of
// the report and its events only, so that a resend after a crash produces
// the same mail with the same Message-ID.
type Mailer interface {
	Send(ctx context.Context, rep Report, events []Event) (subject string, err error)
}

// Reporter turns new events into reports and delivers them.
type Reporter struct {
	Store  Store
	Mailer Mailer
	Log    *slog.Logger
	Now    func() time.Time
	// Prefix starts every report ref: "CERT-XX" gives "CERT-XX#20261123-0001".
	Prefix string
	// MessageIDDomain is the right-hand side of generated Message-IDs.
	MessageIDDomain string
	// RepeatWindow gives a feed's repeat window.
	RepeatWindow func(feed string) time.Duration
	// MaxAttempts is how many failed deliveries make a report failed.
	MaxAttempts int
	// Backoff is the wait after the first failure; it doubles per attempt.
	Backoff time.Duration
	// BatchLimit caps how many new events one planning pass reads.
	BatchLimit int
}

// PlanResult is what one planning pass decided.
type PlanResult struct {
	Batches []Batch
	Skipped []Decision
	Reports []Report // empty on a dry run
}

// Plan groups the new events into reports. With dryRun it only decides and
// writes nothing.
func (r *Reporter) Plan(ctx context.Context, dryRun bool) (PlanResult, error) {
	limit := r.BatchLimit
	if limit <= 0 {
		limit = 100000
	}
	events, err := r.Store.NewEvents(ctx, limit)
	if err != nil {
		return PlanResult{}, fmt.Errorf("read new events: %w", err)
	}
	// One query per contact for the repeat window.
	keys := map[string][]string{}
	for i := range events {
		ck := events[i].Contact.Key()
		keys[ck] = append(keys[ck], events[i].Key())
	}
	last := map[string]map[string]time.Time{}
	for ck, ks := range keys {
		if ck == "" {
			continue
		}
		m, err := r.Store.LastReported(ctx, ck, ks)
		if err != nil {
			return PlanResult{}, fmt.Errorf("repeat window for %s: %w", ck, err)
		}
		last[ck] = m
	}
	now := r.Now().UTC()
	batches, skipped := Plan(events,
		func(ck, k string) time.Time { return last[ck][k] },
		r.RepeatWindow, now)
	res := PlanResult{Batches: batches, Skipped: skipped}
	if dryRun || (len(batches) == 0 && len(skipped) == 0) {
		return res, nil
	}
	newReports := make([]NewReport, len(batches))
	for i, b := range batches {
		newReports[i] = NewReport{Batch: b, MessageID: r.messageID(now)}
	}
	res.Reports, err = r.Store.CreateReports(ctx, r.Prefix, now, newReports, skipped)
	if err != nil {
		return res, fmt.Errorf("create reports: %w", err)
	}
	for _, rep := range res.Reports {
		r.Log.Info("report created", "report", rep.Ref, "contact", rep.Contact.Key(), "events", rep.EventCount)
	}
	return res, nil
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
// behind included. A failure is recorded and retried with backoff on a later
// pass; after MaxAttempts the report is marked failed, never dropped.
func (r *Reporter) Deliver(ctx context.Context) (DeliverStats, error) {
	var st DeliverStats
	reps, err := r.Store.PendingReports(ctx, r.Now().UTC())
	if err != nil {
		return st, fmt.Errorf("read pending reports: %w", err)
	}
	for _, rep := range reps {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		events, err := r.Store.ReportEvents(ctx, rep.ID)
		if err != nil {
			return st, fmt.Errorf("report %s: read events: %w", rep.Ref, err)
		}
		subject, sendErr := r.Mailer.Send(ctx, rep, events)
		now := r.Now().UTC()
		if sendErr == nil {
			if err := r.Store.MarkSent(ctx, rep.ID, subject, now); err != nil {
				return st, fmt.Errorf("report %s: sent, but not marked: %w", rep.Ref, err)
			}
			st.Sent++
			r.Log.Info("report sent", "report", rep.Ref, "to", rep.Contact.Key(), "events", len(events))
			continue
		}
		if errors.Is(sendErr, context.Canceled) {
			return st, sendErr
		}
		attempts := rep.Attempts + 1
		next := now.Add(r.backoff(attempts))
		if r.MaxAttempts > 0 && attempts >= r.MaxAttempts {
			next = time.Time{}
			st.GaveUp++
		}
		st.Failed++
		r.Log.Error("report not sent", "report", rep.Ref, "to", rep.Contact.Key(), "attempt", attempts, slog.Any("err", sendErr))
		if err := r.Store.MarkAttempt(ctx, rep.ID, sendErr.Error(), now, next); err != nil {
			return st, fmt.Errorf("report %s: record failed attempt: %w", rep.Ref, err)
		}
	}
	return st, nil
}

func (r *Reporter) backoff(attempt int) time.Duration {
	d := r.Backoff
	if d <= 0 {
		d = time.Minute
	}
	for i := 1; i < attempt && d < 24*time.Hour; i++ {
		d *= 2
	}
	return min(d, 24*time.Hour)
}
