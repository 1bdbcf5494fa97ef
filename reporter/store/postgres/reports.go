package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/jackc/pgx/v5"
)

// reportColumns are the columns scanned by reportRow, of reports as r.
const reportColumns = `r.id, r.ref, r.contact, r.contact_language, r.contact_source, r.created, r.message_id, r.subject,
	r.state, r.attempts, r.last_error, r.next_try, r.sent, r.event_count, r.contact_format, r.fallback, r.parts, r.parts_sent`

// reportRow holds one row of reportColumns while it is scanned.
type reportRow struct{ r reporter.Report }

func (x *reportRow) dest() []any {
	r := &x.r
	c := &r.Contact
	return []any{&r.ID, &r.Ref, &c.To, &c.Language, &c.Source, at(&r.Created), &r.MessageID, &r.Subject, &r.State,
		&r.Attempts, &r.LastError, at(&r.NextTry), at(&r.Sent), &r.EventCount, &c.Format, &c.Fallback, &r.Parts, &r.PartsSent}
}

func (x *reportRow) report() reporter.Report {
	r := x.r
	r.Contact.To = addrs(r.Contact.To)
	if r.Contact.Fallback {
		r.Contact.Rule = fallbackRule
	}
	return r
}

// PendingReports implements reporter.DeliverStore. Uses reports_pending.
func (s *Store) PendingReports(ctx context.Context, now time.Time) ([]reporter.Report, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+reportColumns+` FROM reports r
		WHERE r.state = 'pending' AND r.next_try <= $1 ORDER BY r.id`, now)
	if err != nil {
		return nil, fmt.Errorf("pending reports: %w", err)
	}
	defer rows.Close()
	var out []reporter.Report
	for rows.Next() {
		var x reportRow
		if err := rows.Scan(x.dest()...); err != nil {
			return nil, fmt.Errorf("pending reports: %w", err)
		}
		out = append(out, x.report())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending reports: %w", err)
	}
	return out, nil
}

// ReportEvents implements reporter.DeliverStore. Uses report_events' primary
// key (report_id, event_id).
func (s *Store) ReportEvents(ctx context.Context, reportID int64) ([]reporter.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM report_events re JOIN events e ON e.id = re.event_id
		WHERE re.report_id = $1`, reportID)
	if err != nil {
		return nil, fmt.Errorf("events of report %d: %w", reportID, err)
	}
	defer rows.Close()
	var out []reporter.Event
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("events of report %d: %w", reportID, err)
		}
		e, err := r.event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of report %d: %w", reportID, err)
	}
	reporter.SortEvents(out)
	return out, nil
}

// ReportEventsPage implements reporter.DeliverStore. Uses
// report_events_order.
func (s *Store) ReportEventsPage(ctx context.Context, reportID int64, after, limit int) ([]reporter.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM report_events re JOIN events e ON e.id = re.event_id
		WHERE re.report_id = $1 AND re.seq > $2 ORDER BY re.seq LIMIT $3`, reportID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("events of report %d: %w", reportID, err)
	}
	defer rows.Close()
	out := make([]reporter.Event, 0, max(limit, 0))
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("events of report %d: %w", reportID, err)
		}
		e, err := r.event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of report %d: %w", reportID, err)
	}
	return out, nil
}

// EventsByID implements reporter.Store.
func (s *Store) EventsByID(ctx context.Context, ids []int64) ([]reporter.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = ANY($1) ORDER BY e.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("events by id: %w", err)
	}
	defer rows.Close()
	out := make([]reporter.Event, 0, len(ids))
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("events by id: %w", err)
		}
		e, err := r.event()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events by id: %w", err)
	}
	return out, nil
}

// ClaimReports implements reporter.DeliverStore: FOR UPDATE SKIP LOCKED,
// so that two instances claiming at once take different reports. Uses
// reports_pending.
func (s *Store) ClaimReports(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]reporter.Report, error) {
	rows, err := s.pool.Query(ctx, `
		WITH claimable AS (
			SELECT id FROM reports WHERE state = 'pending' AND next_try <= $1 AND (claimed_by = '' OR claimed_until < $1)
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
		)
		UPDATE reports r SET claimed_by = $3, claimed_until = $4 FROM claimable c WHERE r.id = c.id
		RETURNING `+reportColumns, now, limit, text(owner), now.Add(lease))
	if err != nil {
		return nil, fmt.Errorf("claim reports: %w", err)
	}
	defer rows.Close()
	var out []reporter.Report
	for rows.Next() {
		var x reportRow
		if err := rows.Scan(x.dest()...); err != nil {
			return nil, fmt.Errorf("claim reports: %w", err)
		}
		out = append(out, x.report())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim reports: %w", conflict(err))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// claimed reads the result of an update of a report that owner must have
// claimed: ErrConflict when another claims it now, errNotFound when there
// is no such report.
func (s *Store) claimed(ctx context.Context, affected int64, reportID int64) error {
	if affected == 1 {
		return nil
	}
	var by string
	if err := s.pool.QueryRow(ctx, `SELECT claimed_by FROM reports WHERE id = $1`, reportID).Scan(&by); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("report %d: %w", reportID, errNotFound)
		}
		return fmt.Errorf("report %d: %w", reportID, err)
	}
	return fmt.Errorf("report %d is claimed by %q: %w", reportID, by, reporter.ErrConflict)
}

// Unclaim implements reporter.DeliverStore.
func (s *Store) Unclaim(ctx context.Context, reportID int64, owner string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE reports SET claimed_by = '', claimed_until = '-infinity' WHERE id = $1 AND claimed_by = $2`,
		reportID, text(owner))
	if err != nil {
		return fmt.Errorf("unclaim report %d: %w", reportID, err)
	}
	return s.claimed(ctx, tag.RowsAffected(), reportID)
}

// MarkPartSent implements reporter.DeliverStore.
func (s *Store) MarkPartSent(ctx context.Context, reportID int64, owner string, part, parts int, until time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE reports SET parts = $1, parts_sent = greatest(parts_sent, $2), claimed_until = $3
		WHERE id = $4 AND claimed_by = $5`, parts, part, until, reportID, text(owner))
	if err != nil {
		return fmt.Errorf("mark part %d of report %d sent: %w", part, reportID, err)
	}
	return s.claimed(ctx, tag.RowsAffected(), reportID)
}

// MarkSent implements reporter.DeliverStore.
func (s *Store) MarkSent(ctx context.Context, reportID int64, owner, subject, note string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE reports SET state = 'sent', subject = $1, sent = $2, last_attempt = $2,
		attempts = attempts + 1, last_error = $3, claimed_by = '', claimed_until = '-infinity' WHERE id = $4 AND claimed_by = $5`,
		text(subject), at, text(note), reportID, text(owner))
	if err != nil {
		return fmt.Errorf("mark report %d sent: %w", reportID, err)
	}
	return s.claimed(ctx, tag.RowsAffected(), reportID)
}

// MarkAttempt implements reporter.DeliverStore. A zero next gives up: the
// report is failed, and stays in history.
func (s *Store) MarkAttempt(ctx context.Context, reportID int64, owner, cause string, at, next time.Time) error {
	state := reporter.ReportPending
	if next.IsZero() {
		state = reporter.ReportFailed
	}
	tag, err := s.pool.Exec(ctx, `UPDATE reports SET attempts = attempts + 1, last_error = $1, next_try = $2, state = $3,
		last_attempt = $4, claimed_by = '', claimed_until = '-infinity' WHERE id = $5 AND claimed_by = $6`,
		text(cause), due(next), state, at, reportID, text(owner))
	if err != nil {
		return fmt.Errorf("record attempt on report %d: %w", reportID, err)
	}
	return s.claimed(ctx, tag.RowsAffected(), reportID)
}

// Requeue implements reporter.Store. A report that was sent may be sent
// again by its ref (the ISP lost it): with the same Message-ID and bytes.
// Its next try is -infinity: due at once, whatever the caller's clock says.
// Uses the unique index on ref, or reports_failed.
func (s *Store) Requeue(ctx context.Context, ref string, since time.Time) ([]string, error) {
	var (
		sql  string
		args []any
	)
	if ref != "" {
		// Asked for by its ref, a report goes out whole again (the ISP
		// lost it); a failed one resumes after its parts that left.
		sql = `UPDATE reports SET state = 'pending', attempts = 0, next_try = '-infinity',
			parts_sent = CASE WHEN state = 'sent' THEN 0 ELSE parts_sent END, claimed_by = '', claimed_until = '-infinity'
			WHERE ref = $1 AND state IN ('failed', 'sent') RETURNING ref`
		args = []any{ref}
	} else {
		sql = `UPDATE reports SET state = 'pending', attempts = 0, next_try = '-infinity', claimed_by = '', claimed_until = '-infinity'
			WHERE state = 'failed' AND last_attempt >= $1 RETURNING ref`
		args = []any{since}
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("requeue: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("requeue: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("requeue: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// History implements reporter.Store, newest report first, each report's
// events in report order. See historySQL for the indexes it uses.
func (s *Store) History(ctx context.Context, q reporter.HistoryQuery) ([]reporter.HistoryRow, error) {
	from, err := s.windowStart(ctx, q.Since)
	if err != nil || from < 0 {
		return nil, err
	}
	sql, args := historySQL(q, from)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	var out []reporter.HistoryRow
	for rows.Next() {
		// The event columns follow the report columns in one row.
		var rr reportRow
		var er eventRow
		var seq int
		if err := rows.Scan(append(append([]any{&seq}, rr.dest()...), er.dest()...)...); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		e, err := er.event()
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		rep := rr.report()
		out = append(out, reporter.HistoryRow{Cursor: reporter.HistoryCursor{Report: rep.ID, Seq: seq}, Report: rep, Event: e})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

// windowStart is a lower bound on the ids of the reports created since
// since: the first report created an hour before it (ids grow with
// creation; the hour allows for instances whose clocks differ; the
// reports of one pass share their creation time, so the least id of the
// first), 0 for no
// bound, -1 when no report was created since. With it as a value in the
// query, the planner sees that walking an AS's events newest report first
// reaches a 30-day window at once, and reads only the window instead of
// every event of the AS (asn over 30 days at 10 M events: p99 148 ms
// without). One row from reports_created.
func (s *Store) windowStart(ctx context.Context, since time.Time) (int64, error) {
	if since.IsZero() {
		return 0, nil
	}
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM reports WHERE created >= $1 ORDER BY created, id LIMIT 1`, since.Add(-time.Hour)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("history: the window's first report: %w", err)
	}
	return id, nil
}

// historySQL is History's query for q, from the report id from on (0: from
// the first), apart so that a test can ask
// PostgreSQL for its plan (TestHistoryPlans).
//
// Rows come newest report first (ids grow with creation), each report's
// in report order: keyset paging on (report id, re.seq). An address or AS
// starts at the events; anything else walks the reports newest first
// (reports_pkey, or reports_ref_key, reports_contact, reports_created) and
// each one's events in order (report_events_order).
//
// An event is in one report, the one events.report_id names. From the
// events, order and cursor are written on e.report_id, not r.id, so that
// an AS's events come newest report first from events_asn_report (the AS,
// then report_id) and the scan stops at the limit, sorting only within a
// report (Incremental Sort) instead of every event the AS ever had. The
// planner does not carry an order across r.id = re.report_id and
// re.event_id = e.id; joining on e.report_id = re.report_id as well would
// let it, but it then takes the two join clauses as independent and
// expects a handful of rows, which makes it sort everything.
//
// Every event of a report is in state reported; the filter says so for
// the planner, as the address and AS indexes (events_ip, GiST with
// inet_ops, and events_asn_report) hold reported events alone. A contact
// is an exact address within the report's list (reports_contact, GIN).
// A cursor is also written as bounds (id <= $n) that index scans can
// start from; the OR beside them cannot.
func historySQL(q reporter.HistoryQuery, from int64) (string, []any) {
	where := []string{"e.state = 'reported'"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.IP.IsValid() {
		where = append(where, "e.ip = "+arg(q.IP.Unmap()))
	}
	if q.CIDR.IsValid() {
		where = append(where, "e.ip <<= "+arg(unmapPrefix(q.CIDR)))
	}
	if q.ASN != 0 {
		where = append(where, "e.asn = "+arg(int64(q.ASN)))
	}
	if q.Contact != "" {
		where = append(where, "r.contact @> ARRAY["+arg(text(strings.ToLower(q.Contact)))+"::text]")
	}
	if q.Feed != "" {
		where = append(where, "e.feed = "+arg(text(q.Feed)))
	}
	if !q.Since.IsZero() {
		where = append(where, "r.created >= "+arg(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "r.created < "+arg(q.Until))
	}
	if q.Ref != "" {
		where = append(where, "r.ref = "+arg(text(q.Ref)))
	}
	id := "r.id"
	if q.IP.IsValid() || q.CIDR.IsValid() || q.ASN != 0 {
		id = "e.report_id"
	}
	if from > 0 {
		// On every table that holds the report id, as for the cursor
		// below: the planner does not carry it across the joins. (An
		// event is reported once: e.report_id is re.report_id.)
		f := arg(from)
		where = append(where, "r.id >= "+f, "re.report_id >= "+f)
		if id != "r.id" {
			where = append(where, id+" >= "+f)
		}
	}
	if q.Before.Report != 0 {
		b := arg(q.Before.Report)
		where = append(where, fmt.Sprintf("%s <= %s AND (%[1]s < %[2]s OR re.seq > %s)", id, b, arg(q.Before.Seq)))
		if id == "r.id" {
			// The planner does not carry an inequality across
			// r.id = re.report_id: without this bound a deep page
			// merge-joins report_events_order from its newest end and
			// skips millions of rows to reach the cursor.
			where = append(where, "re.report_id <= "+b)
		}
	}
	sql := `SELECT re.seq, ` + reportColumns + `, ` + eventColumns + ` FROM report_events re
		JOIN reports r ON r.id = re.report_id JOIN events e ON e.id = re.event_id
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY ` + id + ` DESC, re.seq`
	if q.Limit > 0 {
		sql += " LIMIT " + arg(q.Limit)
	}
	return sql, args
}

// unmapPrefix is a prefix as the events' addresses are kept: an IPv6
// prefix of IPv4-mapped addresses (::ffff:192.0.2.0/120) is the IPv4
// prefix it means (192.0.2.0/24). Host bits are cleared: cidr refuses them.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}
