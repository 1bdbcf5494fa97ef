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
	TooOld                // older than the feed's max_age: stale news is not news
	// The reasons below hold an event back: it stays new and is decided
	// again on the next pass.
	WaitingContact // RDAP has not answered for the owner yet
	Unclassified   // the parser did not know the report type; never mailed as "undetermined"
)

var reasonNames = map[Reason]string{
	Send:           "send",
	RepeatWindow:   "reported-recently",
	DuplicateInRun: "duplicate-in-run",
	Unroutable:     "no-contact",
	Inhibited:      "inhibited",
	TooOld:         "too-old",
	WaitingContact: "waiting-for-contact",
	Unclassified:   "unknown-report-type",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return "unknown"
}

// ParseReason is the inverse of String.
func ParseReason(s string) (Reason, bool) {
	for r, n := range reasonNames {
		if n == s {
			return r, true
		}
	}
	return 0, false
}

// Held reports whether the reason keeps the event new, to be decided again
// on the next pass, rather than closing it.
func (r Reason) Held() bool { return r == WaitingContact || r == Unclassified }

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

// Told is one earlier report of a dedup key: the rule that routed it, the
// addresses it went to, and when.
type Told struct {
	Rule    string
	Contact string // Contact.Key()
	At      time.Time
}

// LastTold is when the contact was last told about a key: by the same rule
// (so that an address corrected since does not count as a new recipient),
// or at the same addresses (so that a rule replaced by another that mails
// the same desk does not either).
func LastTold(told []Told, c Contact) time.Time {
	var last time.Time
	ck := c.Key()
	for _, t := range told {
		if (c.Rule != "" && t.Rule == c.Rule) || (ck != "" && t.Contact == ck) {
			if t.At.After(last) {
				last = t.At
			}
		}
	}
	return last
}

// Policy is what a feed asks of its events at report time.
type Policy struct {
	Repeat time.Duration // not told again inside this window
	MaxAge time.Duration // older events are stale; 0 keeps all
}

// Decide is the fate of the newest new event of one dedup key at now: e is
// the event, c its contact as resolved now, last when the contact was last
// told about the key (zero when never). Pure: every input is an argument.
// The checks run from what the event is to where it would go: an event
// nobody can classify waits for the schema whoever owns it, a stale one is
// closed whether or not its owner is known, and only then does the contact
// matter.
func Decide(e *Event, c Contact, last time.Time, p Policy, now time.Time) Reason {
	switch {
	case e.Unclassified:
		return Unclassified
	case p.MaxAge > 0 && now.Sub(e.Time) > p.MaxAge:
		return TooOld
	case c.Pending:
		return WaitingContact
	case c.Inhibit != "":
		return Inhibited
	case len(c.To) == 0:
		return Unroutable
	}
	return Repeat(last, p.Repeat, now)
}

// Older is the fate of an older observation of a key whose newest
// observation was decided newest: the newest is the one sent, so the others
// are duplicates; when the newest is held or closed for what it is, so are
// they.
func Older(newest Reason) Reason {
	if newest == Send || newest == RepeatWindow {
		return DuplicateInRun
	}
	return newest
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
