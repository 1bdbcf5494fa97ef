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
	// ReportPurging is a sent report older than store.retention whose
	// events are being removed a batch at a time: it can no longer be
	// resent (half its events are gone), and it goes when its last one does.
	ReportPurging = "purging"
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
	// Parts is how many mails the report took (0 before it was sent);
	// PartsSent how many of them left, so a resend skips them.
	Parts, PartsSent int
}

// Candidate is a new event as the planner reads it: without its extra
// columns, with the dedup key the store keeps for it.
type Candidate struct {
	Event
	Key string
}

// PlanCursor is where a planning pass is in the new events, which it reads
// in (dedup key, time, id) order so that the observations of one key come
// together and a pass never holds more than a batch.
type PlanCursor struct {
	Key  string
	Time time.Time
	ID   int64
}

// Verdict is the planner's decision on one event: Send plans it for its
// contact, a held reason keeps it new with the reason, any other closes it.
type Verdict struct {
	ID      int64
	Reason  Reason
	Contact Contact
}

// FeedType is a feed's report type whose new events wait for a
// classification (Unclassified).
type FeedType struct {
	Feed, ReportType string
	Events           int
}

// ReportGroup is the planned events of one recipient: one mail.
type ReportGroup struct {
	Contact Contact // To, Language, Format and Fallback decide the group
	Events  int
}

// Key identifies the group's recipient and the mail's shape.
func (g ReportGroup) Key() string {
	fb := ""
	if g.Contact.Fallback {
		fb = "|fallback"
	}
	return g.Contact.Key() + "|" + g.Contact.Language + "|" + g.Contact.Format + fb
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

// HeldCount is how many new events of a feed wait, and why.
type HeldCount struct {
	Feed   string
	Reason string
	Events int
	Oldest time.Time // ingested
}

// HistoryQuery filters history. Zero fields do not filter.
type HistoryQuery struct {
	IP           netip.Addr
	CIDR         netip.Prefix
	ASN          uint32
	Contact      string // an address, matched within the contact's list
	Feed         string
	Ref          string    // one report
	Since, Until time.Time // reports created in [Since, Until)
	Limit        int
	// Before continues a listing after its last row (HistoryRow.Cursor):
	// rows come newest report first, and within a report in report order.
	Before HistoryCursor
}

// HistoryCursor is where a history listing stopped: keyset paging, so a
// page deep in years of history costs what the first one does.
type HistoryCursor struct {
	Report int64 // 0: from the newest
	Seq    int   // the event's place in its report
}

// HistoryRow is one event as reported in one report.
type HistoryRow struct {
	// Cursor is this row's place, for the next page's Before.
	Cursor HistoryCursor
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
	LastErrorAt  time.Time
	Rows         int // rows of the last successful file or fetch
	Rejected     int
	// Over every file ingested since the feed was first seen.
	Files, TotalRows, TotalRejected int
}

// Succeeded records a file (or fetch) that went into the store.
func (s *FeedState) Succeeded(at time.Time, rows, rejected int) {
	s.LastAttempt, s.LastSuccess, s.LastError = at, at, ""
	s.Rows, s.Rejected = rows, rejected
	s.Files++
	s.TotalRows += rows
	s.TotalRejected += rejected
}

// Failed records an attempt that failed.
func (s *FeedState) Failed(at time.Time, cause string) {
	s.LastAttempt, s.LastErrorAt, s.LastError = at, at, cause
}

// EventWriter is what ingest writes.
type EventWriter interface {
	// InsertEvents stores events, ignoring ones already stored (same feed,
	// dedup key and time), and returns how many were new.
	InsertEvents(ctx context.Context, events []Event) (int, error)
	// AddRejects keeps rows that could not be read.
	AddRejects(ctx context.Context, rejects []Reject) error
}

// PlanStore is what the planner reads and writes. One planner runs at a
// time (the report pass holds a lock), so planned events are its own.
type PlanStore interface {
	// ResetPlanned returns the events a crashed pass left planned to new.
	ResetPlanned(ctx context.Context) (int, error)
	// Candidates returns up to limit new events after the cursor, in
	// (dedup key, time, id) order.
	Candidates(ctx context.Context, after PlanCursor, limit int) ([]Candidate, error)
	// UnclassifiedTypes lists the report types whose new events wait for
	// a classification.
	UnclassifiedTypes(ctx context.Context) ([]FeedType, error)
	// Reclassify gives the new, unclassified events of a feed's report
	// type a classification (and the identifier, when it is not empty) and
	// the dedup key that follows; an event whose new key is already stored
	// at its time (the file was ingested again with the new schema) is
	// closed as a duplicate. It returns how many events it classified.
	Reclassify(ctx context.Context, feed, reportType, classification, identifier string) (int, error)
	// Told returns the earlier reports of each key; reports that failed
	// are not counted, as nobody was told.
	Told(ctx context.Context, keys []string) (map[string][]Told, error)
	// Decide records verdicts (Verdict).
	Decide(ctx context.Context, verdicts []Verdict) error
	// PlannedGroups lists the recipients of planned events.
	PlannedGroups(ctx context.Context) ([]ReportGroup, error)
	// CreateReport turns the planned events of one group into a pending
	// report whose ref comes from the day's counter. A group with no
	// planned events left returns ErrConflict.
	CreateReport(ctx context.Context, prefix string, now time.Time, g ReportGroup, messageID string) (Report, error)
}

// DeliverStore is what delivery reads and writes.
type DeliverStore interface {
	// PendingReports returns reports not yet sent whose next try is due.
	PendingReports(ctx context.Context, now time.Time) ([]Report, error)
	// ClaimReports claims up to limit pending reports that are due and
	// not claimed by another instance (or whose claim expired), for owner
	// until now+lease: several instances share the sending, and one that
	// dies mid-send leaves a claim that expires, after which another sends
	// the report again (same Message-ID). Only the owner may record a
	// claimed report's result; the Mark methods return ErrConflict to any
	// other.
	ClaimReports(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Report, error)
	// ReportEvents returns the events of a report in report order.
	ReportEvents(ctx context.Context, reportID int64) ([]Event, error)
	// ReportEventsPage returns up to limit events of a report in report
	// order, after the first `after` of them.
	ReportEventsPage(ctx context.Context, reportID int64, after, limit int) ([]Event, error)
	// Unclaim lets a claimed report go, for another instance or the next
	// start to send (its sending was interrupted).
	Unclaim(ctx context.Context, reportID int64, owner string) error
	// MarkPartSent records that part of parts left, for a report sent in
	// parts; a resend starts after it. The claim is extended to until.
	MarkPartSent(ctx context.Context, reportID int64, owner string, part, parts int, until time.Time) error
	// MarkSent records a delivery; note says what went wrong in part
	// (recipients refused), or is empty.
	MarkSent(ctx context.Context, reportID int64, owner, subject, note string, at time.Time) error
	// MarkAttempt records a failed delivery attempt and when to try again;
	// a zero next gives up and marks the report failed.
	MarkAttempt(ctx context.Context, reportID int64, owner, cause string, at, next time.Time) error
}

// PurgeStats is what a purge removed, or on a dry run would remove.
type PurgeStats struct {
	Reports int // sent reports, with their events
	Events  int // events: those of the reports, and closed (skipped) ones
	Rejects int // rejected rows kept for staff
	// FetchedFiles are an API source's records of files it downloaded.
	FetchedFiles int
	RDAPAnswers  int // cached RDAP answers that expired before the cut
}

// Add adds o to p.
func (p *PurgeStats) Add(o PurgeStats) {
	p.Reports += o.Reports
	p.Events += o.Events
	p.Rejects += o.Rejects
	p.FetchedFiles += o.FetchedFiles
	p.RDAPAnswers += o.RDAPAnswers
}

// Zero reports whether nothing was removed.
func (p PurgeStats) Zero() bool { return p == PurgeStats{} }

// PurgeStore is what retention removes (store.retention). Only what no
// decision can need again goes: a sent report and its events, a closed
// event, bookkeeping. New, held and planned events, and pending, claimed
// and failed reports (a failed one can be resent) with their events, are
// never removed. report_events rows go with their report, so the repeat
// window keeps every report younger than the cut: the config refuses a
// retention shorter than the longest feeds[].repeat.
type PurgeStore interface {
	// PurgeBatch removes, in one short transaction, up to limit rows
	// older than before, oldest first, and returns what it removed; a zero
	// result means nothing is left to remove. It removes sent reports
	// (sent before `before`) with their events and their report_events
	// rows; a report of more than limit events loses them limit at a time
	// and is marked ReportPurging meanwhile. Then closed events ingested
	// before `before`, rejected rows kept before it, fetched-file records
	// fetched before it, and RDAP answers that expired before it.
	PurgeBatch(ctx context.Context, before time.Time, limit int) (PurgeStats, error)
	// Purgeable counts what purging before would remove.
	Purgeable(ctx context.Context, before time.Time) (PurgeStats, error)
}

// RDAPStore is the RDAP cache and the state every instance asking one
// RDAP server shares: the next query slot (the rate limit) and a pause (a
// 429's Retry-After, an open circuit), so that two instances do not each
// ask at the full rate, and a pause outlives a restart.
type RDAPStore interface {
	// RDAPCache returns every cached RDAP answer, expired ones included
	// (they serve when the server cannot be asked).
	RDAPCache(ctx context.Context) ([]abuse.RDAPEntry, error)
	// PutRDAP adds or replaces the answer for its network.
	PutRDAP(ctx context.Context, e abuse.RDAPEntry) error
	abuse.RDAPShared
}

// Store is the contract every store backend meets; the shared conformance
// suite in reporter/store/storetest holds each backend to it. Each
// consumer declares the part it uses (EventWriter, PlanStore, DeliverStore).
type Store interface {
	EventWriter
	PlanStore
	DeliverStore
	PurgeStore
	RDAPStore
	WatchStore
	// Requeue makes failed reports pending again, to be sent at once: the
	// report with ref, or when ref is empty every report that failed since
	// since. It returns the refs requeued.
	Requeue(ctx context.Context, ref string, since time.Time) ([]string, error)
	// Held counts the new events that wait, by feed and reason.
	Held(ctx context.Context) ([]HeldCount, error)
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
	// PendingContacts lists the addresses whose new events wait for their
	// contact (held with WaitingContact), oldest first.
	PendingContacts(ctx context.Context, limit int) ([]PendingContact, error)
	// Overrides lists the contact overrides set at run time.
	Overrides(ctx context.Context) ([]abuse.Override, error)
	// SetOverride adds or replaces the override for its rule (Override.Key).
	SetOverride(ctx context.Context, o abuse.Override) error
	// UnsetOverride removes the override for a rule and reports whether
	// there was one.
	UnsetOverride(ctx context.Context, rule string) (bool, error)
	// History returns reported events, newest report first.
	History(ctx context.Context, q HistoryQuery) ([]HistoryRow, error)
	// EventsByID returns the stored events with these ids, whole, in id
	// order; ids not stored are left out (report --preview).
	EventsByID(ctx context.Context, ids []int64) ([]Event, error)
	JobLog
	Close() error
}
