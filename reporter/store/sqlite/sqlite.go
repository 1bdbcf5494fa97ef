// Package sqlite is the embedded store: one file, no server, pure Go
// (modernc.org/sqlite). It is the default for a first run and small teams
// and passes the same conformance suite as the PostgreSQL store.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/store/internal/fieldjson"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a reporter.Store on an SQLite file.
type Store struct {
	db  *sql.DB
	now func() time.Time
	// insert holds the prepared INSERTs of insertSizes rows, on the one
	// connection.
	insert [len(insertSizes)]*sql.Stmt
}

var _ reporter.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite %s: %w", path, err)
		}
	}
	// Transactions begin IMMEDIATE: a transaction that reads and then
	// writes would otherwise fail with SQLITE_BUSY when another process
	// wrote in between, instead of waiting for it.
	//
	// For ingest, where a batch of events lands on random leaves of the
	// dedup and planning indexes: a 16 MiB page cache (the default 2 MiB
	// re-read those leaves from the file on every batch; 64 MiB cost
	// 120 MB more peak RSS on a 100,000-event day, as the C allocator
	// keeps what the cache once held, for no gain measurable there); statement
	// journals in memory (a multi-row INSERT journals the pages it
	// touches, to a temporary file by default); and a checkpoint every
	// 16,384 WAL pages (64 MiB) instead of 1,000, so that a leaf written by
	// many batches is copied into the database once per checkpoint rather
	// than once per batch.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)" +
		"&_pragma=wal_autocheckpoint(16384)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// SQLite has one writer; one connection makes that explicit and keeps
	// transactions from waiting on each other.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	for i, size := range insertSizes {
		if s.insert[i], err = db.PrepareContext(ctx, insertStatement(size)); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite %s: prepare insert: %w", path, err)
		}
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	var errs []error
	for _, st := range s.insert {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(append(errs, s.db.Close())...)
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES ($1, $2)`, v, time.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func ipBytes(a netip.Addr) []byte {
	b := a.Unmap().As16()
	if a.Unmap().Is4() {
		b = netip.AddrFrom4(a.Unmap().As4()).As16()
	}
	return b[:]
}

// insertColumns are the columns InsertEvents fills, the contact columns
// last: they are left empty, the planner fills them.
const insertColumns = `feed, dedup_key, time, classification, identifier, ip, ip_bytes, port, protocol,
	asn, as_org, country, hostname, extra, source, ingested, report_type, unclassified,
	contact, contact_language, contact_source`

// insertParams is how many parameters a row binds: insertColumns less the
// contact ones.
const insertParams = 18

// insertSizes are the row counts of the prepared multi-row INSERTs, largest
// first: a batch goes out in statements of 100 rows, its rest in tens and
// ones. 100 rows bind 1,800 parameters, well under SQLite's 32,766.
var insertSizes = [...]int{100, 10, 1}

// insertStatement is a multi-row INSERT of rows events. ON CONFLICT DO
// NOTHING on the unique (feed, dedup_key, time) keeps a file ingested again
// from storing anything twice, and the statement's change count is the
// number of rows that were new. The parameters are anonymous (?, not ?NNN
// nor $N): the driver asks SQLite each parameter's name as it binds it, and
// that lookup walks the statement's list of named parameters, which makes
// numbered ones quadratic in the row count.
func insertStatement(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO events (" + insertColumns + ") VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range insertParams {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteString(",'','','')")
	}
	b.WriteString(" ON CONFLICT (feed, dedup_key, time) DO NOTHING")
	return b.String()
}

// keyed is an event with its dedup key, computed once.
type keyed struct {
	e   *reporter.Event
	key string
}

// InsertEvents implements reporter.Store: one transaction per call, rows in
// dedup key order (the unique and planning indexes lead with the key, so
// that consecutive rows descend to neighbouring leaves), 100 to a
// statement.
func (s *Store) InsertEvents(ctx context.Context, events []reporter.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	rows := make([]keyed, len(events))
	for i := range events {
		rows[i] = keyed{e: &events[i], key: events[i].Key()}
	}
	slices.SortFunc(rows, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("insert events: %w", err)
	}
	defer tx.Rollback()
	args := make([]any, 0, insertSizes[0]*insertParams)
	ends := make([]int, 0, insertSizes[0])
	var extra []byte
	n := 0
	for i, size := range insertSizes {
		if len(rows) < size {
			continue
		}
		stmt := tx.StmtContext(ctx, s.insert[i])
		for len(rows) >= size {
			part := rows[:size]
			rows = rows[size:]
			// The extra columns of a statement's rows are cut from one
			// string: one allocation, not one per event.
			extra, ends = extra[:0], ends[:0]
			for _, r := range part {
				extra = fieldjson.Append(extra, r.e.Extra, fieldjson.KeepNUL)
				ends = append(ends, len(extra))
			}
			all := string(extra)
			args = args[:0]
			from := 0
			for j, r := range part {
				e := r.e
				ip := e.IP.Unmap()
				args = append(args, e.Feed, r.key, us(e.Time), e.Classification, e.Identifier,
					ip.String(), ipBytes(ip), e.Port, e.Protocol, int64(e.ASN), e.ASOrg, e.Country, e.Hostname,
					all[from:ends[j]], e.Source, us(e.Ingested), e.ReportType, e.Unclassified)
				from = ends[j]
			}
			res, err := stmt.ExecContext(ctx, args...)
			if err != nil {
				return 0, fmt.Errorf("insert events from %s: %w", part[0].e.Source, err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return 0, fmt.Errorf("insert events from %s: %w", part[0].e.Source, err)
			}
			n += int(k)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("insert events: %w", err)
	}
	return n, nil
}

const eventColumns = `e.id, e.feed, e.time, e.classification, e.identifier, e.ip, e.port, e.protocol, e.asn,
	e.as_org, e.country, e.hostname, e.extra, e.contact, e.contact_language, e.contact_source, e.source, e.ingested,
	e.contact_format, e.contact_inhibit, e.contact_rule, e.report_type, e.unclassified`

type scanner interface{ Scan(...any) error }

// eventRow holds one row of eventColumns while it is scanned, so that a
// query can scan events alone or after other columns in one Scan.
type eventRow struct {
	e               reporter.Event
	tm, ingested    int64
	ip, extra       string
	cks, lang, csrc string
	cfmt, cinhibit  string
	crule           string
	asn             int64
}

func (r *eventRow) dest() []any {
	e := &r.e
	return []any{&e.ID, &e.Feed, &r.tm, &e.Classification, &e.Identifier, &r.ip, &e.Port, &e.Protocol, &r.asn,
		&e.ASOrg, &e.Country, &e.Hostname, &r.extra, &r.cks, &r.lang, &r.csrc, &e.Source, &r.ingested,
		&r.cfmt, &r.cinhibit, &r.crule, &e.ReportType, &e.Unclassified}
}

func (r *eventRow) event() (reporter.Event, error) {
	e := r.e
	e.Time, e.Ingested = fromUS(r.tm), fromUS(r.ingested)
	e.ASN = uint32(r.asn)
	var err error
	if e.IP, err = netip.ParseAddr(r.ip); err != nil {
		return e, fmt.Errorf("event %d: address %q: %w", e.ID, r.ip, err)
	}
	if err := json.Unmarshal([]byte(r.extra), &e.Extra); err != nil {
		return e, fmt.Errorf("event %d: extra: %w", e.ID, err)
	}
	e.Contact = contactFrom(r.cks, r.lang, r.csrc)
	e.Contact.Format, e.Contact.Inhibit, e.Contact.Rule = r.cfmt, r.cinhibit, r.crule
	e.Contact.Fallback = r.crule == fallbackRule
	return e, nil
}

func scanEvent(row scanner) (reporter.Event, error) {
	var r eventRow
	if err := row.Scan(r.dest()...); err != nil {
		return reporter.Event{}, err
	}
	return r.event()
}

func contactFrom(key, lang, src string) reporter.Contact {
	c := reporter.Contact{Language: lang, Source: src}
	if key != "" {
		c.To = strings.Split(key, ",")
	}
	return c
}

// fallbackRule is the rule of the CERT's own mailbox (abuse.Resolver).
const fallbackRule = "fallback"

// ResetPlanned implements reporter.PlanStore. Uses events_planned.
func (s *Store) ResetPlanned(ctx context.Context) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE events SET state = 'new' WHERE state = 'planned'`)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Candidates implements reporter.PlanStore. Uses the partial index
// events_new (dedup_key, time, id): the row-value comparison is a range
// scan that starts where the last batch ended.
func (s *Store) Candidates(ctx context.Context, after reporter.PlanCursor, limit int) ([]reporter.Candidate, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, feed, dedup_key, time, classification, identifier, ip, port, asn, ingested, report_type, unclassified
		FROM events WHERE state = 'new' AND (dedup_key, time, id) > ($1, $2, $3)
		ORDER BY dedup_key, time, id LIMIT $4`, after.Key, us(after.Time), after.ID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]reporter.Candidate, 0, limit)
	for rows.Next() {
		var (
			c            reporter.Candidate
			tm, ing, asn int64
			ip           string
		)
		if err := rows.Scan(&c.ID, &c.Feed, &c.Key, &tm, &c.Classification, &c.Identifier, &ip, &c.Port, &asn, &ing,
			&c.ReportType, &c.Unclassified); err != nil {
			return nil, err
		}
		if c.IP, err = netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("event %d: address %q: %w", c.ID, ip, err)
		}
		c.Time, c.Ingested, c.ASN = fromUS(tm), fromUS(ing), uint32(asn)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Told implements reporter.PlanStore. Uses report_events_key; a report that
// failed told nobody.
func (s *Store) Told(ctx context.Context, keys []string) (map[string][]reporter.Told, error) {
	out := map[string][]reporter.Told{}
	const chunk = 500
	for len(keys) > 0 {
		part := keys[:min(chunk, len(keys))]
		keys = keys[len(part):]
		args := make([]any, len(part))
		ph := make([]string, len(part))
		for i, k := range part {
			args[i] = k
			ph[i] = "$" + strconv.Itoa(i+1)
		}
		rows, err := s.db.QueryContext(ctx, `
			SELECT re.dedup_key, re.rule, re.contact, max(re.reported)
			FROM report_events re JOIN reports r ON r.id = re.report_id
			WHERE re.dedup_key IN (`+strings.Join(ph, ",")+`) AND r.state <> 'failed'
			GROUP BY re.dedup_key, re.rule, re.contact`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			var t reporter.Told
			var at int64
			if err := rows.Scan(&k, &t.Rule, &t.Contact, &at); err != nil {
				rows.Close()
				return nil, err
			}
			t.At = fromUS(at)
			out[k] = append(out[k], t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// verdictState is where a verdict leaves an event: planned for a report,
// still new when held, or closed.
func verdictState(r reporter.Reason) (state, skip, hold string) {
	switch {
	case r == reporter.Send:
		return "planned", "", ""
	case r.Held():
		return "new", "", r.String()
	}
	return "skipped", r.String(), ""
}

// Decide implements reporter.PlanStore: one transaction per batch.
func (s *Store) Decide(ctx context.Context, verdicts []reporter.Verdict) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `
		UPDATE events SET state = $1, skip_reason = $2, hold_reason = $3, contact = $4, contact_language = $5,
		       contact_source = $6, contact_format = $7, contact_inhibit = $8, contact_rule = $9
		WHERE id = $10 AND state = 'new'`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, v := range verdicts {
		state, skip, hold := verdictState(v.Reason)
		c := v.Contact
		res, err := stmt.ExecContext(ctx, state, skip, hold, c.Key(), c.Language, c.Source, c.Format, c.Inhibit, c.Rule, v.ID)
		if err != nil {
			return fmt.Errorf("event %d: %w", v.ID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("event %d: %w", v.ID, reporter.ErrConflict)
		}
	}
	return tx.Commit()
}

// PlannedGroups implements reporter.PlanStore. Uses events_planned.
func (s *Store) PlannedGroups(ctx context.Context) ([]reporter.ReportGroup, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT contact, contact_language, contact_format, contact_rule = 'fallback', count(*), group_concat(DISTINCT contact_rule)
		FROM events WHERE state = 'planned'
		GROUP BY contact, contact_language, contact_format, contact_rule = 'fallback'
		ORDER BY contact, contact_language, contact_format`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.ReportGroup
	for rows.Next() {
		var g reporter.ReportGroup
		var key, rules string
		if err := rows.Scan(&key, &g.Contact.Language, &g.Contact.Format, &g.Contact.Fallback, &g.Events, &rules); err != nil {
			return nil, err
		}
		g.Contact.To = contactFrom(key, "", "").To
		g.Contact.Source = groupSource(rules)
		if g.Contact.Fallback {
			g.Contact.Rule = fallbackRule
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// groupSource names the rules that routed a report's events, for history.
func groupSource(rules string) string {
	list := strings.Split(rules, ",")
	sort.Strings(list)
	if len(list) > 5 {
		list = append(list[:5], fmt.Sprintf("and %d more", len(list)-5))
	}
	return strings.Join(list, ", ")
}

// CreateReport implements reporter.PlanStore, in one transaction: a ref
// from the day's counter, the report, its events linked and closed.
func (s *Store) CreateReport(ctx context.Context, prefix string, now time.Time, g reporter.ReportGroup, messageID string) (reporter.Report, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return reporter.Report{}, err
	}
	defer tx.Rollback()
	now = now.UTC()
	day := now.Format("20060102")
	var seq int
	if err := tx.QueryRowContext(ctx, `INSERT INTO report_seq (day, seq) VALUES ($1, 1)
		ON CONFLICT (day) DO UPDATE SET seq = report_seq.seq + 1 RETURNING seq`, day).Scan(&seq); err != nil {
		return reporter.Report{}, fmt.Errorf("report ref: %w", err)
	}
	rep := reporter.Report{
		Ref:       fmt.Sprintf("%s#%s-%04d", prefix, day, seq),
		Contact:   g.Contact,
		Created:   now,
		MessageID: messageID,
		State:     reporter.ReportPending,
		NextTry:   now,
	}
	err = tx.QueryRowContext(ctx, `
		INSERT INTO reports (ref, day, seq, contact, contact_language, contact_source, created, message_id, state, next_try,
		                     event_count, contact_format, fallback)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12) RETURNING id`,
		rep.Ref, day, seq, rep.Contact.Key(), rep.Contact.Language, rep.Contact.Source, us(now), rep.MessageID,
		rep.State, us(now), rep.Contact.Format, rep.Contact.Fallback).Scan(&rep.ID)
	if err != nil {
		return reporter.Report{}, fmt.Errorf("insert report %s: %w", rep.Ref, err)
	}
	const group = `state = 'planned' AND contact = $2 AND contact_language = $3 AND contact_format = $4 AND (contact_rule = 'fallback') = $5`
	args := []any{rep.ID, rep.Contact.Key(), rep.Contact.Language, rep.Contact.Format, rep.Contact.Fallback}
	// seq numbers the events in report order, for reading them a page at
	// a time.
	if _, err := tx.ExecContext(ctx, `INSERT INTO report_events (report_id, event_id, contact, rule, dedup_key, reported, seq)
		SELECT $1, id, contact, contact_rule, dedup_key, $6,
		       row_number() OVER (ORDER BY classification, time, ip_bytes, port, id)
		FROM events WHERE `+group, append(args, us(now))...); err != nil {
		return reporter.Report{}, fmt.Errorf("link events to %s: %w", rep.Ref, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE events SET state = 'reported', report_id = $1 WHERE `+group, args...)
	if err != nil {
		return reporter.Report{}, fmt.Errorf("close events of %s: %w", rep.Ref, err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return reporter.Report{}, fmt.Errorf("report for %s: no planned events: %w", rep.Contact.Key(), reporter.ErrConflict)
	}
	rep.EventCount = int(n)
	if _, err := tx.ExecContext(ctx, `UPDATE reports SET event_count = $1 WHERE id = $2`, n, rep.ID); err != nil {
		return reporter.Report{}, err
	}
	if err := tx.Commit(); err != nil {
		return reporter.Report{}, err
	}
	return rep, nil
}

const reportColumns = `r.id, r.ref, r.contact, r.contact_language, r.contact_source, r.created, r.message_id, r.subject,
	r.state, r.attempts, r.last_error, r.next_try, r.sent, r.event_count, r.contact_format, r.fallback, r.parts, r.parts_sent`

// reportRow holds one row of reportColumns while it is scanned.
type reportRow struct {
	r                        reporter.Report
	ck, lang, src, format    string
	created, nextTry, sentAt int64
	fallback                 bool
}

func (x *reportRow) dest() []any {
	r := &x.r
	return []any{&r.ID, &r.Ref, &x.ck, &x.lang, &x.src, &x.created, &r.MessageID, &r.Subject, &r.State, &r.Attempts,
		&r.LastError, &x.nextTry, &x.sentAt, &r.EventCount, &x.format, &x.fallback, &r.Parts, &r.PartsSent}
}

func (x *reportRow) report() reporter.Report {
	r := x.r
	r.Contact = contactFrom(x.ck, x.lang, x.src)
	r.Contact.Format, r.Contact.Fallback = x.format, x.fallback
	if x.fallback {
		r.Contact.Rule = fallbackRule
	}
	r.Created, r.NextTry, r.Sent = fromUS(x.created), fromUS(x.nextTry), fromUS(x.sentAt)
	return r
}

func scanReport(row scanner) (reporter.Report, error) {
	var x reportRow
	if err := row.Scan(x.dest()...); err != nil {
		return reporter.Report{}, err
	}
	return x.report(), nil
}

// PendingReports implements reporter.Store. Uses reports_pending.
func (s *Store) PendingReports(ctx context.Context, now time.Time) ([]reporter.Report, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+reportColumns+` FROM reports r WHERE r.state = 'pending' AND r.next_try <= $1 ORDER BY r.id`, us(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReportEvents implements reporter.Store.
func (s *Store) ReportEvents(ctx context.Context, reportID int64) ([]reporter.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM report_events re JOIN events e ON e.id = re.event_id WHERE re.report_id = $1`, reportID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	reporter.SortEvents(out)
	return out, nil
}

// ReportEventsPage implements reporter.DeliverStore. Uses
// report_events_order.
func (s *Store) ReportEventsPage(ctx context.Context, reportID int64, after, limit int) ([]reporter.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM report_events re JOIN events e ON e.id = re.event_id
		WHERE re.report_id = $1 AND re.seq > $2 ORDER BY re.seq LIMIT $3`, reportID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]reporter.Event, 0, limit)
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClaimReports implements reporter.DeliverStore. Uses reports_pending.
// The transaction begins IMMEDIATE, so two instances claim one after the
// other.
func (s *Store) ClaimReports(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]reporter.Report, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT r.id FROM reports r WHERE r.state = 'pending' AND r.next_try <= $1
		AND (r.claimed_by = '' OR r.claimed_until < $1) ORDER BY r.id LIMIT $2`, us(now), limit)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []reporter.Report
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `UPDATE reports SET claimed_by = $1, claimed_until = $2 WHERE id = $3`,
			owner, us(now.Add(lease)), id); err != nil {
			return nil, err
		}
		r, err := scanReport(tx.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM reports r WHERE r.id = $1`, id))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, tx.Commit()
}

// claimed reads the result of an update of a report that owner must have
// claimed: ErrConflict when another claims it now, errNotFound when there
// is no such report.
func (s *Store) claimed(ctx context.Context, res sql.Result, reportID int64) error {
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var by string
	if err := s.db.QueryRowContext(ctx, `SELECT claimed_by FROM reports WHERE id = $1`, reportID).Scan(&by); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("report %d: %w", reportID, errNotFound)
		}
		return err
	}
	return fmt.Errorf("report %d is claimed by %q: %w", reportID, by, reporter.ErrConflict)
}

// Unclaim implements reporter.DeliverStore.
func (s *Store) Unclaim(ctx context.Context, reportID int64, owner string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE reports SET claimed_by = '', claimed_until = 0 WHERE id = $1 AND claimed_by = $2`, reportID, owner)
	if err != nil {
		return err
	}
	return s.claimed(ctx, res, reportID)
}

// MarkPartSent implements reporter.DeliverStore.
func (s *Store) MarkPartSent(ctx context.Context, reportID int64, owner string, part, parts int, until time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE reports SET parts = $1, parts_sent = max(parts_sent, $2), claimed_until = $3
		WHERE id = $4 AND claimed_by = $5`, parts, part, us(until), reportID, owner)
	if err != nil {
		return err
	}
	return s.claimed(ctx, res, reportID)
}

// MarkSent implements reporter.Store.
func (s *Store) MarkSent(ctx context.Context, reportID int64, owner, subject, note string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE reports SET state = 'sent', subject = $1, sent = $2, last_attempt = $2,
		attempts = attempts + 1, last_error = $3, claimed_by = '', claimed_until = 0 WHERE id = $4 AND claimed_by = $5`,
		subject, us(at), note, reportID, owner)
	if err != nil {
		return err
	}
	return s.claimed(ctx, res, reportID)
}

var errNotFound = errors.New("not found")

// MarkAttempt implements reporter.Store.
func (s *Store) MarkAttempt(ctx context.Context, reportID int64, owner, cause string, at, next time.Time) error {
	state := reporter.ReportPending
	if next.IsZero() {
		state = reporter.ReportFailed
	}
	res, err := s.db.ExecContext(ctx, `UPDATE reports SET attempts = attempts + 1, last_error = $1, next_try = $2, state = $3,
		last_attempt = $4, claimed_by = '', claimed_until = 0 WHERE id = $5 AND claimed_by = $6`,
		cause, us(next), state, us(at), reportID, owner)
	if err != nil {
		return err
	}
	return s.claimed(ctx, res, reportID)
}

// Requeue implements reporter.Store. A report that was sent may be sent
// again by its ref (the ISP lost it): with the same Message-ID and bytes.
func (s *Store) Requeue(ctx context.Context, ref string, since time.Time) ([]string, error) {
	// next_try 0: due at once, whatever the caller's clock says.
	var rows *sql.Rows
	var err error
	if ref != "" {
		// Asked for by its ref, a report goes out whole again (the ISP
		// lost it); a failed one resumes after its parts that left.
		rows, err = s.db.QueryContext(ctx, `UPDATE reports SET state = 'pending', attempts = 0, next_try = 0,
			parts_sent = CASE WHEN state = 'sent' THEN 0 ELSE parts_sent END, claimed_by = '', claimed_until = 0
			WHERE ref = $1 AND state IN ('failed', 'sent') RETURNING ref`, ref)
	} else {
		rows, err = s.db.QueryContext(ctx, `UPDATE reports SET state = 'pending', attempts = 0, next_try = 0,
			claimed_by = '', claimed_until = 0
			WHERE state = 'failed' AND last_attempt >= $1 RETURNING ref`, us(since))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Strings(out)
	return out, rows.Err()
}

// AddRejects implements reporter.Store.
func (s *Store) AddRejects(ctx context.Context, rejects []reporter.Reject) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	at := us(s.now())
	for _, r := range rejects {
		class := r.Class
		if class == "" {
			class = reporter.RejectClass(r.Reason)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rejects (feed, file, line, reason, class, raw, at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (feed, file, line, reason) DO NOTHING`,
			r.Feed, r.File, r.Line, r.Reason, class, r.Raw, at); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// rejectWhere builds the filter shared by Rejects and RejectSummary.
func rejectWhere(q reporter.RejectQuery) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if q.Feed != "" {
		add("feed = $%d", q.Feed)
	}
	if q.File != "" {
		add("file = $%d", q.File)
	}
	if !q.Since.IsZero() {
		add("at >= $%d", us(q.Since))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Rejects lists kept rows, newest first.
func (s *Store) Rejects(ctx context.Context, q reporter.RejectQuery) ([]reporter.Reject, error) {
	where, args := rejectWhere(q)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `SELECT feed, file, line, reason, class, raw, at FROM rejects`+where+
		fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.Reject
	for rows.Next() {
		var r reporter.Reject
		var at int64
		if err := rows.Scan(&r.Feed, &r.File, &r.Line, &r.Reason, &r.Class, &r.Raw, &at); err != nil {
			return nil, err
		}
		r.At = fromUS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RejectSummary counts kept rows by feed and reason class.
func (s *Store) RejectSummary(ctx context.Context, q reporter.RejectQuery) ([]reporter.ReasonCount, error) {
	where, args := rejectWhere(q)
	rows, err := s.db.QueryContext(ctx, `SELECT feed, class, count(*), max(at) FROM rejects`+where+
		` GROUP BY feed, class ORDER BY count(*) DESC, feed, class`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.ReasonCount
	for rows.Next() {
		var c reporter.ReasonCount
		var at int64
		if err := rows.Scan(&c.Feed, &c.Class, &c.Count, &at); err != nil {
			return nil, err
		}
		c.Last = fromUS(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Fetched returns which of the given ids of a feed were already fetched.
func (s *Store) Fetched(ctx context.Context, feed string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM fetched_files WHERE feed = $1 AND id = $2`, feed, id).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			out[id] = true
		}
	}
	return out, nil
}

// MarkFetched records a fetched file.
func (s *Store) MarkFetched(ctx context.Context, f reporter.FetchedFile) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO fetched_files (feed, id, file, fetched, rows, rejected) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (feed, id) DO UPDATE SET file = excluded.file, fetched = excluded.fetched,
			rows = excluded.rows, rejected = excluded.rejected`,
		f.Feed, f.ID, f.File, us(f.Fetched), f.Rows, f.Rejected)
	return err
}

func (s *Store) History(ctx context.Context, q reporter.HistoryQuery) ([]reporter.HistoryRow, error) {
	sqlText, args := historySQL(q)
	rows, err := s.db.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.HistoryRow
	for rows.Next() {
		// The event columns follow the report columns in one row.
		var rr reportRow
		var er eventRow
		var seq int
		if err := rows.Scan(append(append([]any{&seq}, rr.dest()...), er.dest()...)...); err != nil {
			return nil, err
		}
		e, err := er.event()
		if err != nil {
			return nil, err
		}
		rep := rr.report()
		out = append(out, reporter.HistoryRow{Cursor: reporter.HistoryCursor{Report: rep.ID, Seq: seq}, Report: rep, Event: e})
	}
	return out, rows.Err()
}

// EventsByID implements reporter.Store, a few hundred ids a statement.
func (s *Store) EventsByID(ctx context.Context, ids []int64) ([]reporter.Event, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]reporter.Event, 0, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			args[i], marks[i] = id, "$"+strconv.Itoa(i+1)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id IN (`+strings.Join(marks, ",")+`) ORDER BY e.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("events by id: %w", err)
		}
		for rows.Next() {
			var r eventRow
			if err := rows.Scan(r.dest()...); err != nil {
				rows.Close()
				return nil, fmt.Errorf("events by id: %w", err)
			}
			e, err := r.event()
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("events by id: %w", err)
		}
	}
	return out, nil
}

// historySQL is the query for q, apart so a test can ask SQLite for its plan.
func historySQL(q reporter.HistoryQuery) (string, []any) {
	// Every event of a report is reported; saying so lets SQLite use the
	// partial indexes events_ip and events_asn_report.
	where := []string{"e.state = 'reported'"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.IP.IsValid() {
		where = append(where, "e.ip_bytes = "+arg(ipBytes(q.IP)))
	}
	if q.CIDR.IsValid() {
		lo, hi := prefixBounds(q.CIDR)
		where = append(where, "e.ip_bytes BETWEEN "+arg(lo)+" AND "+arg(hi))
	}
	if q.ASN != 0 {
		where = append(where, "e.asn = "+arg(int64(q.ASN)))
	}
	if q.Contact != "" {
		where = append(where, "instr(',' || r.contact || ',', ',' || "+arg(strings.ToLower(q.Contact))+" || ',') > 0")
	}
	if q.Feed != "" {
		where = append(where, "e.feed = "+arg(q.Feed))
	}
	if !q.Since.IsZero() {
		where = append(where, "r.created >= "+arg(us(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "r.created < "+arg(us(q.Until)))
	}
	if q.Ref != "" {
		where = append(where, "r.ref = "+arg(q.Ref))
	}
	// An address or AS starts at the event: events_ip, or
	// events_asn_report, whose entries for one AS run in report order.
	// Anything else walks the reports newest first (ids grow with
	// creation), and CROSS JOIN keeps it so: left to itself, SQLite
	// without statistics (the store never runs ANALYZE) starts a deep
	// page at report_events and sorts every row below the cursor.
	fromEvents := q.IP.IsValid() || q.CIDR.IsValid() || q.ASN != 0
	// Rows come newest report first, each report in report order: keyset
	// paging on (report id, re.seq). An event is in one report, the one
	// events.report_id names; from the events, the order and the cursor
	// are written on e.report_id, so that an AS's rows come in order from
	// events_asn_report and only each report's rows are sorted (SQLite
	// does not carry an order across r.id = e.report_id), and the cursor
	// bounds that index's range.
	id := "r.id"
	from := `reports r CROSS JOIN report_events re ON re.report_id = r.id
		JOIN events e ON e.id = re.event_id`
	if fromEvents {
		id = "e.report_id"
		from = `events e CROSS JOIN report_events re ON re.report_id = e.report_id AND re.event_id = e.id
		CROSS JOIN reports r ON r.id = e.report_id`
	}
	if q.Before.Report != 0 {
		where = append(where, fmt.Sprintf("%s <= %s AND (%[1]s < %[2]s OR re.seq > %s)", id, arg(q.Before.Report), arg(q.Before.Seq)))
	}
	sqlText := `SELECT re.seq, ` + reportColumns + `, ` + eventColumns + ` FROM ` + from
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += " ORDER BY " + id + " DESC, re.seq"
	if q.Limit > 0 {
		sqlText += " LIMIT " + arg(q.Limit)
	}
	return sqlText, args
}

func prefixBounds(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	lo = ipBytes(p.Addr())
	hi = append([]byte(nil), lo...)
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		hi[i/8] |= 1 << (7 - uint(i%8))
	}
	return lo, hi
}

// FeedState implements reporter.Store.
func (s *Store) FeedState(ctx context.Context, feed string) (reporter.FeedState, error) {
	st := reporter.FeedState{Feed: feed}
	var attempt, success, errAt int64
	err := s.db.QueryRowContext(ctx, `SELECT etag, last_modified, last_attempt, last_success, last_error, last_error_at, rows, rejected,
		files, total_rows, total_rejected
		FROM feed_state WHERE feed = $1`, feed).Scan(&st.ETag, &st.LastModified, &attempt, &success, &st.LastError, &errAt,
		&st.Rows, &st.Rejected, &st.Files, &st.TotalRows, &st.TotalRejected)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.LastAttempt, st.LastSuccess, st.LastErrorAt = fromUS(attempt), fromUS(success), fromUS(errAt)
	return st, nil
}

// SaveFeedState implements reporter.Store.
func (s *Store) SaveFeedState(ctx context.Context, st reporter.FeedState) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO feed_state (feed, etag, last_modified, last_attempt, last_success, last_error, rows, rejected,
		                        last_error_at, files, total_rows, total_rejected)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (feed) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
			last_attempt = excluded.last_attempt, last_success = excluded.last_success, last_error = excluded.last_error,
			rows = excluded.rows, rejected = excluded.rejected, last_error_at = excluded.last_error_at,
			files = excluded.files, total_rows = excluded.total_rows, total_rejected = excluded.total_rejected`,
		st.Feed, st.ETag, st.LastModified, us(st.LastAttempt), us(st.LastSuccess), st.LastError, st.Rows, st.Rejected,
		us(st.LastErrorAt), st.Files, st.TotalRows, st.TotalRejected)
	return err
}
