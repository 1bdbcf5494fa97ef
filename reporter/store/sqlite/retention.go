package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

// PurgePause is how long a purge should wait between two batches on this
// store (reporter.PurgeOptions.Pause): SQLite has one writer, and another
// process waiting for the write lock polls it every 100 ms at most
// (SQLite's busy handler); a purge that took the lock again at once could
// keep that writer out until the purge ended.
const PurgePause = 100 * time.Millisecond

// purgePhase removes up to limit rows of one kind older than cut (Unix
// microseconds) in tx.
type purgePhase func(ctx context.Context, tx *sql.Tx, cut int64, limit int) (reporter.PurgeStats, error)

// PurgeBatch implements reporter.PurgeStore. Each phase (sent reports with
// their events, closed events, rejects, fetched files, expired RDAP
// answers) runs in its own IMMEDIATE transaction, and the batch ends with
// the first phase that removed anything: the write lock is held for one
// batch, never for the whole purge, so ingest in another process waits at
// most a batch (busy_timeout is 10 s).
func (s *Store) PurgeBatch(ctx context.Context, before time.Time, limit int) (reporter.PurgeStats, error) {
	if limit <= 0 {
		return reporter.PurgeStats{}, fmt.Errorf("purge: batch size %d: must be positive", limit)
	}
	cut := us(before)
	for _, phase := range []purgePhase{purgeReports, purgeClosed, purgeRejects, purgeFetched, purgeRDAP} {
		st, err := s.purgeIn(ctx, phase, cut, limit)
		if err != nil || !st.Zero() {
			return st, err
		}
	}
	// Nothing left: the day counters of days before the cut serve no ref
	// any more (refs are made for today).
	if _, err := s.db.ExecContext(ctx, `DELETE FROM report_seq WHERE day < $1`, before.UTC().Format("20060102")); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: day counters: %w", err)
	}
	return reporter.PurgeStats{}, nil
}

func (s *Store) purgeIn(ctx context.Context, phase purgePhase, cut int64, limit int) (reporter.PurgeStats, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: %w", err)
	}
	defer tx.Rollback()
	st, err := phase(ctx, tx, cut, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: %w", err)
	}
	if st.Zero() {
		return st, nil
	}
	if err := tx.Commit(); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: %w", err)
	}
	return st, nil
}

// purgeReports removes the oldest sent reports (reports_purge) whose events
// add up to at most limit, with their events (events_report) and
// report_events rows; a report with more events than that loses limit of
// them, is marked purging so that it can no longer be resent, and goes
// with its last event. Pending, claimed and failed reports are never
// touched: they are not 'sent'. The transaction is IMMEDIATE, so no
// Requeue comes between the read and the delete.
func purgeReports(ctx context.Context, tx *sql.Tx, cut int64, limit int) (reporter.PurgeStats, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, event_count FROM reports
		WHERE state IN ('sent', 'purging') AND sent < $1 ORDER BY sent, id LIMIT $2`, cut, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("old reports: %w", err)
	}
	var ids []int64
	var big int64
	total := 0
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return reporter.PurgeStats{}, fmt.Errorf("old reports: %w", err)
		}
		if total+n > limit {
			if len(ids) == 0 {
				big = id
			}
			break
		}
		ids = append(ids, id)
		total += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("old reports: %w", err)
	}
	if big != 0 {
		return purgeBigReport(ctx, tx, big, limit)
	}
	if len(ids) == 0 {
		return reporter.PurgeStats{}, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return reporter.PurgeStats{}, err
	}
	// One parameter for the whole list, read by json_each: no statement
	// per report and no limit on the number of parameters.
	const in = `(SELECT value FROM json_each($1))`
	if _, err := tx.ExecContext(ctx, `DELETE FROM report_events WHERE report_id IN `+in, string(list)); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("report events: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE report_id IN `+in, string(list))
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("reported events: %w", err)
	}
	events, err := res.RowsAffected()
	if err != nil {
		return reporter.PurgeStats{}, err
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM reports WHERE id IN `+in+` AND state IN ('sent', 'purging')`, string(list))
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("reports: %w", err)
	}
	reports, err := res.RowsAffected()
	if err != nil {
		return reporter.PurgeStats{}, err
	}
	return reporter.PurgeStats{Reports: int(reports), Events: int(events)}, nil
}

// purgeBigReport removes limit events of one report too large for a batch,
// and the report with its last one.
func purgeBigReport(ctx context.Context, tx *sql.Tx, id int64, limit int) (reporter.PurgeStats, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE reports SET state = 'purging' WHERE id = $1 AND state = 'sent'`, id); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("report %d: %w", id, err)
	}
	// The same limit events twice, in id order: report_events first, for
	// the foreign key.
	const some = `(SELECT id FROM events WHERE report_id = $1 ORDER BY id LIMIT $2)`
	if _, err := tx.ExecContext(ctx, `DELETE FROM report_events WHERE report_id = $1 AND event_id IN `+some, id, limit); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("report %d: events: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id IN `+some, id, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("report %d: events: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return reporter.PurgeStats{}, err
	}
	st := reporter.PurgeStats{Events: int(n)}
	var left bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE report_id = $1)`, id).Scan(&left); err != nil {
		return st, fmt.Errorf("report %d: %w", id, err)
	}
	if !left {
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_events WHERE report_id = $1`, id); err != nil {
			return st, fmt.Errorf("report %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM reports WHERE id = $1`, id); err != nil {
			return st, fmt.Errorf("report %d: %w", id, err)
		}
		st.Reports = 1
	}
	return st, nil
}

// purgeClosed removes closed events (skipped: they are in no report) that
// came in before the cut. Uses events_closed.
func purgeClosed(ctx context.Context, tx *sql.Tx, cut int64, limit int) (reporter.PurgeStats, error) {
	n, err := purgeRows(ctx, tx, `DELETE FROM events WHERE id IN (
		SELECT id FROM events WHERE state = 'skipped' AND ingested < $1 ORDER BY ingested LIMIT $2)`, cut, limit)
	return reporter.PurgeStats{Events: n}, err
}

// purgeRejects uses rejects_at.
func purgeRejects(ctx context.Context, tx *sql.Tx, cut int64, limit int) (reporter.PurgeStats, error) {
	n, err := purgeRows(ctx, tx, `DELETE FROM rejects WHERE id IN (
		SELECT id FROM rejects WHERE at < $1 ORDER BY at LIMIT $2)`, cut, limit)
	return reporter.PurgeStats{Rejects: n}, err
}

// purgeFetched scans fetched_files, a few rows a day per API feed.
func purgeFetched(ctx context.Context, tx *sql.Tx, cut int64, limit int) (reporter.PurgeStats, error) {
	n, err := purgeRows(ctx, tx, `DELETE FROM fetched_files WHERE rowid IN (
		SELECT rowid FROM fetched_files WHERE fetched < $1 LIMIT $2)`, cut, limit)
	return reporter.PurgeStats{FetchedFiles: n}, err
}

// purgeRDAP removes answers that expired before the cut: too old to serve
// even as a stale answer. Uses rdap_cache_expires.
func purgeRDAP(ctx context.Context, tx *sql.Tx, cut int64, limit int) (reporter.PurgeStats, error) {
	n, err := purgeRows(ctx, tx, `DELETE FROM rdap_cache WHERE rowid IN (
		SELECT rowid FROM rdap_cache WHERE expires < $1 ORDER BY expires LIMIT $2)`, cut, limit)
	return reporter.PurgeStats{RDAPAnswers: n}, err
}

func purgeRows(ctx context.Context, tx *sql.Tx, query string, args ...any) (int, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Purgeable implements reporter.PurgeStore.
func (s *Store) Purgeable(ctx context.Context, before time.Time) (reporter.PurgeStats, error) {
	cut := us(before)
	var st reporter.PurgeStats
	var closed int
	for _, q := range []struct {
		dst   *int
		query string
	}{
		{&st.Reports, `SELECT count(*) FROM reports WHERE state IN ('sent', 'purging') AND sent < $1`},
		{&st.Events, `SELECT count(*) FROM reports r JOIN events e ON e.report_id = r.id
			WHERE r.state IN ('sent', 'purging') AND r.sent < $1`},
		{&closed, `SELECT count(*) FROM events WHERE state = 'skipped' AND ingested < $1`},
		{&st.Rejects, `SELECT count(*) FROM rejects WHERE at < $1`},
		{&st.FetchedFiles, `SELECT count(*) FROM fetched_files WHERE fetched < $1`},
		{&st.RDAPAnswers, `SELECT count(*) FROM rdap_cache WHERE expires < $1`},
	} {
		if err := s.db.QueryRowContext(ctx, q.query, cut).Scan(q.dst); err != nil {
			return st, fmt.Errorf("purgeable: %w", err)
		}
	}
	st.Events += closed
	return st, nil
}

// ReserveRDAP implements abuse.RDAPShared: one upsert, which the
// IMMEDIATE transaction of the statement makes atomic between processes.
func (s *Store) ReserveRDAP(ctx context.Context, server string, now time.Time, n int, interval time.Duration) (abuse.RDAPSlots, error) {
	span := int64(n) * interval.Microseconds()
	var next, paused int64
	var res abuse.RDAPSlots
	err := s.db.QueryRowContext(ctx, `INSERT INTO rdap_state (server, next_slot) VALUES ($1, $2 + $3)
		ON CONFLICT (server) DO UPDATE SET next_slot =
			CASE WHEN paused_until > $2 THEN next_slot ELSE max(next_slot, $2) + $3 END
		RETURNING next_slot, paused_until, pause_cause`, server, us(now), span).Scan(&next, &paused, &res.Cause)
	if err != nil {
		return res, fmt.Errorf("rdap state %s: %w", server, err)
	}
	res.PausedUntil = fromUS(paused)
	if !res.Paused(now) {
		res.First = fromUS(next - span)
	}
	return res, nil
}

// PauseRDAP implements abuse.RDAPShared.
func (s *Store) PauseRDAP(ctx context.Context, server string, until time.Time, cause string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO rdap_state (server, paused_until, pause_cause) VALUES ($1, $2, $3)
		ON CONFLICT (server) DO UPDATE SET paused_until = max(paused_until, excluded.paused_until),
			pause_cause = CASE WHEN excluded.paused_until > paused_until THEN excluded.pause_cause ELSE pause_cause END`,
		server, us(until), cause)
	if err != nil {
		return fmt.Errorf("rdap state %s: pause: %w", server, err)
	}
	return nil
}
