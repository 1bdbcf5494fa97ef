package reporter

import (
	"sort"
	"time"
)

// Reason says why an event is or is not in a report. It is stored with the
// event so that history can answer "why was this not sent".
type Reason int

const (
	Send           Reason = iota
	RepeatWindow          // already reported to this contact inside the feed's repeat window
	DuplicateInRun        // the same key appears more than once in this run; the newest is sent
	Unroutable            // no address to send to
	Inhibited             // an override says not to report this owner
)

func (r Reason) String() string {
	switch r {
	case Send:
		return "send"
	case RepeatWindow:
		return "reported-recently"
	case DuplicateInRun:
		return "duplicate-in-run"
	case Unroutable:
		return "no-contact"
	case Inhibited:
		return "inhibited"
	}
	return "unknown"
}

// Repeat decides whether an event whose key was last reported to the same
// contact at last (zero when never) may be reported again at now. Pure: the
// clock is an argument.
func Repeat(last time.Time, window time.Duration, now time.Time) Reason {
	if last.IsZero() || window <= 0 {
		return Send
	}
	if now.Sub(last) < window {
		return RepeatWindow
	}
	return Send
}

// Decision is the fate of one new event at report time.
type Decision struct {
	Event  Event
	Reason Reason
}

// Batch is the events one contact will receive in one report.
type Batch struct {
	Contact Contact
	Events  []Event // sorted by classification, then time, then address
}

// Plan groups new events by contact and decides each one. last maps a
// contact key and dedup key to when that key was last reported to that
// contact; repeat gives a feed's repeat window. Suppressed events come back
// in skipped with their reason so that the store can close them too.
func Plan(events []Event, last func(contactKey, dedupKey string) time.Time, repeat func(feed string) time.Duration, now time.Time) (batches []Batch, skipped []Decision) {
	// Newest first, so that of several observations with one key the newest
	// is the one sent.
	sorted := make([]Event, len(events))
	copy(sorted, events)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.After(sorted[j].Time) })

	byContact := map[string]*Batch{}
	var order []string
	seen := map[[2]string]bool{}
	for _, e := range sorted {
		ck := e.Contact.Key()
		if e.Contact.Inhibit != "" {
			skipped = append(skipped, Decision{e, Inhibited})
			continue
		}
		if ck == "" {
			skipped = append(skipped, Decision{e, Unroutable})
			continue
		}
		k := e.Key()
		if seen[[2]string{ck, k}] {
			skipped = append(skipped, Decision{e, DuplicateInRun})
			continue
		}
		seen[[2]string{ck, k}] = true
		if r := Repeat(last(ck, k), repeat(e.Feed), now); r != Send {
			skipped = append(skipped, Decision{e, r})
			continue
		}
		b, ok := byContact[ck]
		if !ok {
			b = &Batch{Contact: e.Contact}
			byContact[ck] = b
			order = append(order, ck)
		}
		b.Events = append(b.Events, e)
	}
	sort.Strings(order)
	for _, ck := range order {
		b := byContact[ck]
		SortEvents(b.Events)
		batches = append(batches, *b)
	}
	return batches, skipped
}

// SortEvents puts events in the order a report lists them.
func SortEvents(ev []Event) {
	sort.SliceStable(ev, func(i, j int) bool {
		a, b := ev[i], ev[j]
		if a.Classification != b.Classification {
			return a.Classification < b.Classification
		}
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.IP != b.IP {
			return a.IP.Less(b.IP)
		}
		return a.Port < b.Port
	})
}
