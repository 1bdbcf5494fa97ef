package reporter

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
)

// ErrConflict is returned when the store's state moved under a write, for
// example when another instance already reported an event this one planned.
// The caller plans again.
var ErrConflict = errors.New("store changed concurrently")

// Report states.
const (
	ReportPending = "pending" // created; its mail may or may not have left
	ReportSent    = "sent"
	ReportFailed  = "failed" // gave up after too many attempts; stays in history
)

// Report is one mail to one contact.
type Report struct {
	ID         int64
	Ref        string // "CERT-XX#20261123-0001", shown in the subject
	Contact    Contact
	Created    time.Time
	MessageID  string // fixed at creation so that a resend after a crash keeps it
	Subject    string
	State      string
	Attempts   int
	LastError  string
	NextTry    time.Time
	Sent       time.Time
	EventCount int
}

// NewReport is a planned report before the store gives it an id and a ref.
type NewReport struct {
	Batch     Batch
	MessageID string
}

// Reject is a row that could not be read, kept so that staff can see it.
type Reject struct {
	Feed   string
	File   string
	Line   int
	Reason string // the whole message, with the offending value
	Class  string // the message without values, to count by (RejectClass)
	Raw    string
	At     time.Time // when it was stored; set by the store
}

// RejectQuery filters rejected rows. Zero fields do not filter.
type RejectQuery struct {
	Feed  string
	File  string
	Since time.Time
	Limit int
}

// ReasonCount is how many rows of a feed were rejected for one reason.
type ReasonCount struct {
	Feed  string
	Class string
	Count int
	Last  time.Time
}

// FetchedFile is a listed file of an API source (the Shadowserver Reports
// API) that was downloaded and ingested, so that it is not fetched again.
type FetchedFile struct {
	Feed     string
	ID       string
	File     string
	Fetched  time.Time
	Rows     int
	Rejected int
}

// PendingContact is an address whose new events wait for their contact
// (RDAP has not answered yet).
type PendingContact struct {
	IP     netip.Addr
	ASN    uint32
	Events int
	Since  time.Time // when the oldest of them was ingested
}

// HistoryQuery filters history. Zero fields do not filter.
type HistoryQuery struct {
	IP      netip.Addr
	CIDR    netip.Prefix
	ASN     uint32
	Contact string // an address, matched within the contact's list
	Feed    string
	Since   time.Time
	Limit   int
}

// HistoryRow is one event as reported in one report.
type HistoryRow struct {
	Report Report
	Event  Event
}

// FeedState is what is remembered of a feed between runs.
type FeedState struct {
	Feed         string
	ETag         string
	LastModified string
	LastAttempt  time.Time
	LastSuccess  time.Time
	LastError    string
	Rows         int // rows of the last successful fetch
	Rejected     int
}

// Store is the contract every store backend meets; the shared conformance
// suite in reporter/store/storetest holds each backend to it.
type Store interface {
	// InsertEvents stores events, ignoring ones already stored (same feed,
	// dedup key and time), and returns how many were new.
	InsertEvents(ctx context.Context, events []Event) (int, error)
	// NewEvents returns up to limit events not yet reported or suppressed.
	NewEvents(ctx context.Context, limit int) ([]Event, error)
	// LastReported returns, for each given dedup key, when it was last
	// reported to the contact.
	LastReported(ctx context.Context, contactKey string, keys []string) (map[string]time.Time, error)
	// CreateReports, in one transaction, allocates refs, inserts the
	// reports as pending, links their events and closes the skipped ones. If
	// any of the events is no longer new it changes nothing and returns
	// ErrConflict.
	CreateReports(ctx context.Context, prefix string, now time.Time, reports []NewReport, skipped []Decision) ([]Report, error)
	// PendingReports returns reports not yet sent whose next try is due.
	PendingReports(ctx context.Context, now time.Time) ([]Report, error)
	// ReportEvents returns the events of a report in report order.
	ReportEvents(ctx context.Context, reportID int64) ([]Event, error)
	// MarkSent records a delivery.
	MarkSent(ctx context.Context, reportID int64, subject string, at time.Time) error
	// MarkAttempt records a failed delivery attempt and when to try again;
	// a zero next gives up and marks the report failed.
	MarkAttempt(ctx context.Context, reportID int64, cause string, at, next time.Time) error
	// AddRejects keeps rows that could not be read.
	AddRejects(ctx context.Context, rejects []Reject) error
	// Rejects lists kept rows, newest first.
	Rejects(ctx context.Context, q RejectQuery) ([]Reject, error)
	// RejectSummary counts kept rows by feed and reason class, largest
	// count first. Limit is ignored.
	RejectSummary(ctx context.Context, q RejectQuery) ([]ReasonCount, error)
	// Fetched returns which of the given ids of a feed were already fetched.
	Fetched(ctx context.Context, feed string, ids []string) (map[string]bool, error)
	// MarkFetched records a fetched file; recording it again updates it.
	MarkFetched(ctx context.Context, f FetchedFile) error
	// FeedState returns what is remembered of a feed; a feed never seen
	// has a zero state.
	FeedState(ctx context.Context, feed string) (FeedState, error)
	// SaveFeedState replaces it.
	SaveFeedState(ctx context.Context, st FeedState) error
	// PendingContacts lists addresses with new events whose contact is
	// pending, oldest first.
	PendingContacts(ctx context.Context, limit int) ([]PendingContact, error)
	// SetContact gives the new, pending events of an address their
	// contact, and returns how many it changed.
	SetContact(ctx context.Context, ip netip.Addr, c Contact) (int, error)
	// Overrides lists the contact overrides set at run time.
	Overrides(ctx context.Context) ([]abuse.Override, error)
	// SetOverride adds or replaces the override for its rule (Override.Key).
	SetOverride(ctx context.Context, o abuse.Override) error
	// UnsetOverride removes the override for a rule and reports whether
	// there was one.
	UnsetOverride(ctx context.Context, rule string) (bool, error)
	// RDAPCache returns every cached RDAP answer, expired ones included
	// (they serve when the server cannot be asked).
	RDAPCache(ctx context.Context) ([]abuse.RDAPEntry, error)
	// PutRDAP adds or replaces the answer for its network.
	PutRDAP(ctx context.Context, e abuse.RDAPEntry) error
	// History returns reported events, newest report first.
	History(ctx context.Context, q HistoryQuery) ([]HistoryRow, error)
	Close() error
}
