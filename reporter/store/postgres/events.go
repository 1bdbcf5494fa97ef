package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/store/internal/fieldjson"
)

// fallbackRule is the rule of the CERT's own mailbox (abuse.Resolver).
const fallbackRule = "fallback"

// stagingColumns are the columns of events that ingest fills, in the
// order of eventSource's rows.
var stagingColumns = []string{"feed", "dedup_key", "time", "classification", "identifier", "ip", "port", "protocol",
	"asn", "as_org", "country", "hostname", "extra", "report_type", "unclassified", "source", "ingested"}

// createStaging makes the transaction's staging table. It is created in
// each transaction rather than once per connection so that nothing
// depends on a session outliving a transaction (a pooler in transaction
// mode hands out another one).
const createStaging = `CREATE TEMP TABLE events_in (
	feed           text        NOT NULL,
	dedup_key      text        COLLATE "C" NOT NULL,
	time           timestamptz NOT NULL,
	classification text        NOT NULL,
	identifier     text        NOT NULL,
	ip             inet        NOT NULL,
	port           integer     NOT NULL,
	protocol       text        NOT NULL,
	asn            bigint      NOT NULL,
	as_org         text        NOT NULL,
	country        text        NOT NULL,
	hostname       text        NOT NULL,
	extra          jsonb       NOT NULL,
	report_type    text        NOT NULL,
	unclassified   boolean     NOT NULL,
	source         text        NOT NULL,
	ingested       timestamptz NOT NULL
) ON COMMIT DROP`

// InsertEvents implements reporter.Store: the batch is copied (binary
// COPY) into a staging table, then moved into events by one INSERT ...
// SELECT that skips what is stored already (events_once), all in one
// transaction. The rows go in the unique index's order: two instances
// ingesting the same file wait on each other's rows in one order, never
// in a cycle, and the one that comes second stores nothing.
func (s *Store) InsertEvents(ctx context.Context, events []reporter.Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("insert events: %w", err)
	}
	defer rollback(ctx, tx)
	if _, err := tx.Exec(ctx, createStaging); err != nil {
		return 0, fmt.Errorf("insert events: staging table: %w", err)
	}
	src := &eventSource{events: events, i: -1, row: make([]any, len(stagingColumns))}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events_in"}, stagingColumns, src); err != nil {
		return 0, fmt.Errorf("insert events: copy %d events from %s: %w", len(events), events[0].Source, err)
	}
	cols := strings.Join(stagingColumns, ", ")
	tag, err := tx.Exec(ctx, `INSERT INTO events (`+cols+`) SELECT `+cols+` FROM events_in
		ORDER BY feed, time, dedup_key ON CONFLICT (feed, dedup_key, time) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("insert events from %s: %w", events[0].Source, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("insert events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// eventSource feeds a batch of events to CopyFrom, one row at a time, in
// one reused slice (CopyFrom encodes each row before it asks for the
// next).
type eventSource struct {
	events []reporter.Event
	i      int
	row    []any
	extra  []byte
}

func (s *eventSource) Next() bool {
	s.i++
	return s.i < len(s.events)
}

func (s *eventSource) Values() ([]any, error) {
	e := &s.events[s.i]
	s.extra = fieldjson.Append(s.extra[:0], e.Extra, fieldjson.ReplaceNUL)
	r := s.row
	r[0], r[1], r[2], r[3], r[4] = text(e.Feed), e.Key(), e.Time, text(e.Classification), text(e.Identifier)
	r[5], r[6], r[7], r[8], r[9] = e.IP.Unmap(), int32(e.Port), text(e.Protocol), int64(e.ASN), text(e.ASOrg)
	r[10], r[11], r[12], r[13], r[14] = text(e.Country), text(e.Hostname), s.extra, text(e.ReportType), e.Unclassified
	r[15], r[16] = text(e.Source), e.Ingested
	return r, nil
}

func (s *eventSource) Err() error { return nil }

// eventColumns are the columns scanned by eventRow, of events as e.
const eventColumns = `e.id, e.feed, e.time, e.classification, e.identifier, e.ip, e.port, e.protocol, e.asn,
	e.as_org, e.country, e.hostname, e.extra, e.contact, e.contact_language, e.contact_source, e.source, e.ingested,
	e.contact_format, e.contact_inhibit, e.contact_rule, e.report_type, e.unclassified`

// eventRow holds one row of eventColumns while it is scanned, so that a
// query can scan events alone or after other columns in one Scan.
type eventRow struct {
	e     reporter.Event
	asn   int64
	extra []byte
}

func (r *eventRow) dest() []any {
	e := &r.e
	c := &e.Contact
	return []any{&e.ID, &e.Feed, at(&e.Time), &e.Classification, &e.Identifier, &e.IP, &e.Port, &e.Protocol, &r.asn,
		&e.ASOrg, &e.Country, &e.Hostname, &r.extra, &c.To, &c.Language, &c.Source, &e.Source, at(&e.Ingested),
		&c.Format, &c.Inhibit, &c.Rule, &e.ReportType, &e.Unclassified}
}

func (r *eventRow) event() (reporter.Event, error) {
	e := r.e
	e.ASN = uint32(r.asn)
	if err := json.Unmarshal(r.extra, &e.Extra); err != nil {
		return e, fmt.Errorf("event %d: extra: %w", e.ID, err)
	}
	e.Contact.To = addrs(e.Contact.To)
	e.Contact.Fallback = e.Contact.Rule == fallbackRule
	return e, nil
}

// ResetPlanned implements reporter.PlanStore. Uses events_planned.
func (s *Store) ResetPlanned(ctx context.Context) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE events SET state = 'new' WHERE state = 'planned'`)
	if err != nil {
		return 0, fmt.Errorf("reset planned events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Candidates implements reporter.PlanStore. Uses the partial index
// events_new (dedup_key, time, id): the row comparison is a range scan
// that starts where the last batch ended.
func (s *Store) Candidates(ctx context.Context, after reporter.PlanCursor, n int) ([]reporter.Candidate, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, feed, dedup_key, time, classification, identifier, ip, port, asn, ingested, report_type, unclassified
		FROM events WHERE state = 'new' AND (dedup_key, time, id) > ($1, $2, $3)
		ORDER BY dedup_key, time, id LIMIT $4`, after.Key, after.Time, after.ID, limit(n))
	if err != nil {
		return nil, fmt.Errorf("new events: %w", err)
	}
	defer rows.Close()
	out := make([]reporter.Candidate, 0, min(max(0, n), 1<<16))
	for rows.Next() {
		var c reporter.Candidate
		var asn int64
		if err := rows.Scan(&c.ID, &c.Feed, &c.Key, at(&c.Time), &c.Classification, &c.Identifier, &c.IP, &c.Port, &asn,
			at(&c.Ingested), &c.ReportType, &c.Unclassified); err != nil {
			return nil, fmt.Errorf("new events: %w", err)
		}
		c.ASN = uint32(asn)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("new events: %w", err)
	}
	return out, nil
}

// Told implements reporter.PlanStore: one query for the batch's keys.
// Uses report_events_key; a report that failed told nobody.
func (s *Store) Told(ctx context.Context, keys []string) (map[string][]reporter.Told, error) {
	out := map[string][]reporter.Told{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT re.dedup_key, re.rule, re.contact, max(re.reported)
		FROM report_events re JOIN reports r ON r.id = re.report_id
		WHERE re.dedup_key = ANY ($1) AND r.state <> 'failed'
		GROUP BY re.dedup_key, re.rule, re.contact`, keys)
	if err != nil {
		return nil, fmt.Errorf("told: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var to []string
		var t reporter.Told
		if err := rows.Scan(&k, &t.Rule, &to, at(&t.At)); err != nil {
			return nil, fmt.Errorf("told: %w", err)
		}
		t.Contact = strings.Join(to, ",")
		out[k] = append(out[k], t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("told: %w", err)
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

// Decide implements reporter.PlanStore: one transaction per batch, two
// statements in one round trip. The first locks the batch's rows in id
// order, so that two planners deciding overlapping batches wait on each
// other instead of deadlocking; the second updates them all from arrays.
// A row no longer new is not updated, and then the batch is a conflict
// and changes nothing.
func (s *Store) Decide(ctx context.Context, verdicts []reporter.Verdict) error {
	if len(verdicts) == 0 {
		return nil
	}
	n := len(verdicts)
	ids := make([]int64, n)
	cols := make([][]string, 9) // state, skip, hold, contact, language, source, format, inhibit, rule
	for i := range cols {
		cols[i] = make([]string, n)
	}
	for i, v := range verdicts {
		state, skip, hold := verdictState(v.Reason)
		c := v.Contact
		ids[i] = v.ID
		// The addresses travel joined, as Contact.Key joins them, and are
		// split into the array by the server: an array of arrays of
		// different lengths is no PostgreSQL type.
		cols[0][i], cols[1][i], cols[2][i], cols[3][i] = state, skip, hold, text(c.Key())
		cols[4][i], cols[5][i], cols[6][i], cols[7][i], cols[8][i] = text(c.Language), text(c.Source), text(c.Format), text(c.Inhibit), text(c.Rule)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	defer rollback(ctx, tx)
	var b pgx.Batch
	b.Queue(`SELECT id FROM events WHERE id = ANY ($1) ORDER BY id FOR UPDATE`, ids)
	b.Queue(`
		UPDATE events e SET state = v.state, skip_reason = v.skip, hold_reason = v.hold,
			contact = string_to_array(v.contact, ','), contact_language = v.language, contact_source = v.source,
			contact_format = v.format, contact_inhibit = v.inhibit, contact_rule = v.rule
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[]) AS v (id, state, skip, hold, contact, language, source, format, inhibit, rule)
		WHERE e.id = v.id AND e.state = 'new'`,
		ids, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8])
	res := tx.SendBatch(ctx, &b)
	if _, err := res.Exec(); err != nil {
		res.Close()
		return fmt.Errorf("decide %d events: lock: %w", n, conflict(err))
	}
	tag, err := res.Exec()
	if err != nil {
		res.Close()
		return fmt.Errorf("decide %d events: %w", n, conflict(err))
	}
	if err := res.Close(); err != nil {
		return fmt.Errorf("decide %d events: %w", n, conflict(err))
	}
	if got := int(tag.RowsAffected()); got != n {
		return fmt.Errorf("decide %d events: %d no longer new: %w", n, n-got, reporter.ErrConflict)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("decide %d events: %w", n, conflict(err))
	}
	return nil
}

// PlannedGroups implements reporter.PlanStore. Uses events_planned. Text is
// ordered in byte order ("C"), as the SQLite store orders it.
func (s *Store) PlannedGroups(ctx context.Context) ([]reporter.ReportGroup, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT contact, contact_language, contact_format, contact_rule = 'fallback', count(*), array_agg(DISTINCT contact_rule)
		FROM events WHERE state = 'planned'
		GROUP BY contact, contact_language, contact_format, contact_rule = 'fallback'
		ORDER BY contact, contact_language COLLATE "C", contact_format COLLATE "C", 4`)
	if err != nil {
		return nil, fmt.Errorf("planned groups: %w", err)
	}
	defer rows.Close()
	var out []reporter.ReportGroup
	for rows.Next() {
		var g reporter.ReportGroup
		var rules []string
		if err := rows.Scan(&g.Contact.To, &g.Contact.Language, &g.Contact.Format, &g.Contact.Fallback, &g.Events, &rules); err != nil {
			return nil, fmt.Errorf("planned groups: %w", err)
		}
		g.Contact.To = addrs(g.Contact.To)
		g.Contact.Source = groupSource(rules)
		if g.Contact.Fallback {
			g.Contact.Rule = fallbackRule
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("planned groups: %w", err)
	}
	return out, nil
}

// groupSource names the rules that routed a report's events, for history.
func groupSource(rules []string) string {
	list := append([]string(nil), rules...)
	sort.Strings(list)
	if len(list) > 5 {
		list = append(list[:5], fmt.Sprintf("and %d more", len(list)-5))
	}
	return strings.Join(list, ", ")
}

// CreateReport implements reporter.PlanStore, in one transaction: a ref
// from the day's counter, the report, its planned events closed and linked.
// The counter's upsert locks the day's row until the transaction ends, so
// that the reports of one day are created one after the other: a second
// planner on the same group then finds no planned events left (its
// statements see what the first committed) and gets ErrConflict, and its
// number goes back with its rollback.
func (s *Store) CreateReport(ctx context.Context, prefix string, now time.Time, g reporter.ReportGroup, messageID string) (reporter.Report, error) {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return reporter.Report{}, fmt.Errorf("create report: %w", err)
	}
	defer rollback(ctx, tx)
	var seq int
	// Uses report_seq's primary key.
	if err := tx.QueryRow(ctx, `INSERT INTO report_seq (day, seq) VALUES ($1, 1)
		ON CONFLICT (day) DO UPDATE SET seq = report_seq.seq + 1 RETURNING seq`, day).Scan(&seq); err != nil {
		return reporter.Report{}, fmt.Errorf("report ref: %w", conflict(err))
	}
	rep := reporter.Report{
		Ref:       fmt.Sprintf("%s#%s-%04d", prefix, day.Format("20060102"), seq),
		Contact:   g.Contact,
		Created:   now,
		MessageID: messageID,
		State:     reporter.ReportPending,
		NextTry:   now,
	}
	c := rep.Contact
	err = tx.QueryRow(ctx, `
		INSERT INTO reports (ref, day, seq, contact, contact_language, contact_source, contact_format, fallback, created,
			message_id, state, next_try, event_count)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0) RETURNING id`,
		text(rep.Ref), day, seq, texts(c.To), text(c.Language), text(c.Source), text(c.Format), c.Fallback, now,
		text(rep.MessageID), rep.State, now).Scan(&rep.ID)
	if err != nil {
		return reporter.Report{}, fmt.Errorf("insert report %s: %w", rep.Ref, conflict(err))
	}
	// Close first, link what was closed: an event another transaction
	// took meanwhile is neither closed nor linked here. Uses
	// events_planned.
	err = tx.QueryRow(ctx, `
		WITH closed AS (
			UPDATE events SET state = 'reported', report_id = $1
			WHERE state = 'planned' AND contact = $2 AND contact_language = $3 AND contact_format = $4
				AND (contact_rule = 'fallback') = $5
			RETURNING id, contact, contact_rule, dedup_key, classification, time, ip, port
		), linked AS (
			-- seq numbers the events in report order, for reading them a
			-- page at a time.
			INSERT INTO report_events (report_id, event_id, contact, rule, dedup_key, reported, seq)
			SELECT $1, c.id, c.contact, c.contact_rule, c.dedup_key, $6,
			       row_number() OVER (ORDER BY c.classification, c.time, c.ip, c.port, c.id)
			FROM closed c
			RETURNING 1
		)
		UPDATE reports SET event_count = (SELECT count(*) FROM linked) WHERE id = $1 RETURNING event_count`,
		rep.ID, texts(c.To), text(c.Language), text(c.Format), c.Fallback, now).Scan(&rep.EventCount)
	if err != nil {
		return reporter.Report{}, fmt.Errorf("close and link the events of %s: %w", rep.Ref, conflict(err))
	}
	if rep.EventCount == 0 {
		return reporter.Report{}, fmt.Errorf("report for %s: no planned events: %w", c.Key(), reporter.ErrConflict)
	}
	if err := tx.Commit(ctx); err != nil {
		return reporter.Report{}, fmt.Errorf("create report %s: %w", rep.Ref, conflict(err))
	}
	return rep, nil
}
