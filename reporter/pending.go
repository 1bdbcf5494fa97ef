package reporter

import "time"

// ContactFate is what becomes of an owner whose contact is still pending
// after the report pass asked RDAP, or could not ask (the circuit open, the
// budget spent, a dry run).
type ContactFate int

const (
	// FateWait keeps its events new and held (WaitingContact) for a
	// later pass.
	FateWait ContactFate = iota
	// FateStale uses the expired answer cached for its network: an old
	// answer beats waiting, and the contact's source says "stale since".
	FateStale
	// FateFallback sends its events to the CERT's fallback mailbox, with
	// the reason in the contact's source: it waited rdap.max_wait, and
	// nothing may wait forever.
	FateFallback
)

var fateNames = map[ContactFate]string{FateWait: "wait", FateStale: "stale", FateFallback: "fallback"}

func (f ContactFate) String() string {
	if s, ok := fateNames[f]; ok {
		return s
	}
	return "unknown"
}

// PendingFate decides an owner RDAP has not answered for. haveStale says
// whether an expired answer covers its address; since is when its oldest
// waiting event was ingested. An expired answer wins at once, whatever the
// wait; without one the events wait until maxWait has passed since, and
// then go to the fallback. An unknown since (zero) has waited long enough,
// and a since ahead of now (another instance's clock) has not begun to
// wait. A maxWait of zero or less does not wait. Pure: the clock is an
// argument.
func PendingFate(haveStale bool, since time.Time, maxWait time.Duration, now time.Time) ContactFate {
	switch {
	case haveStale:
		return FateStale
	case maxWait <= 0, since.IsZero():
		return FateFallback
	case now.Sub(since) >= maxWait:
		return FateFallback
	}
	return FateWait
}
