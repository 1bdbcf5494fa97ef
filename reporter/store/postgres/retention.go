package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

// purgePhase removes up to limit rows of one kind older than cut in tx.
type purgePhase func(ctx context.Context, tx pgx.Tx, cut time.Time, limit int) (reporter.PurgeStats, error)

// PurgeBatch implements reporter.PurgeStore. Each phase (sent reports with
// their events, closed events, rejects, fetched files, expired RDAP
// answers) runs in its own transaction, and the batch ends with the first
// phase that removed anything. Deletes take row locks only, on rows no
// other writer wants (a purged report is sent and unclaimed, a closed
// event is in no report), so ingest and planning go on beside a purge.
func (s *Store) PurgeBatch(ctx context.Context, before time.Time, limit int) (reporter.PurgeStats, error) {
	if limit <= 0 {
		return reporter.PurgeStats{}, fmt.Errorf("purge: batch size %d: must be positive", limit)
	}
	for _, phase := range []purgePhase{purgeReports, purgeClosed, purgeRejects, purgeFetched, purgeRDAP} {
		st, err := s.purgeIn(ctx, phase, before, limit)
		if err != nil || !st.Zero() {
			return st, err
		}
	}
	// Nothing left: the day counters of days before the cut serve no ref
	// any more (refs are made for today).
	if _, err := s.pool.Exec(ctx, `DELETE FROM report_seq WHERE day < $1::date`, before.UTC().Format(time.DateOnly)); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: day counters: %w", err)
	}
	return reporter.PurgeStats{}, nil
}

func (s *Store) purgeIn(ctx context.Context, phase purgePhase, cut time.Time, limit int) (reporter.PurgeStats, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: %w", err)
	}
	defer rollback(ctx, tx)
	st, err := phase(ctx, tx, cut, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: %w", conflict(err))
	}
	if st.Zero() {
		return st, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("purge: %w", conflict(err))
	}
	return st, nil
}

// purgeReports removes the oldest sent reports (reports_purge) whose events
// add up to at most limit, with their events (events_report) and
// report_events rows; a report with more events than that loses limit of
// them, is marked purging so that it can no longer be resent, and goes
// with its last event. The reports are locked first (SKIP LOCKED: one
// another purge or a Requeue holds is left for the next batch), so a
// report requeued meanwhile is either requeued before (and no longer
// 'sent') or waits and finds it gone.
func purgeReports(ctx context.Context, tx pgx.Tx, cut time.Time, limit int) (reporter.PurgeStats, error) {
	rows, err := tx.Query(ctx, `SELECT id, event_count FROM reports
		WHERE state IN ('sent', 'purging') AND sent < $1 ORDER BY sent, id LIMIT $2 FOR UPDATE SKIP LOCKED`, cut, limit)
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
	if _, err := tx.Exec(ctx, `DELETE FROM report_events WHERE report_id = ANY($1)`, ids); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("report events: %w", err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM events WHERE report_id = ANY($1)`, ids)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("reported events: %w", err)
	}
	events := tag.RowsAffected()
	tag, err = tx.Exec(ctx, `DELETE FROM reports WHERE id = ANY($1)`, ids)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("reports: %w", err)
	}
	return reporter.PurgeStats{Reports: int(tag.RowsAffected()), Events: int(events)}, nil
}

// purgeBigReport removes limit events of one report too large for a batch
// (locked by the caller), and the report with its last one.
func purgeBigReport(ctx context.Context, tx pgx.Tx, id int64, limit int) (reporter.PurgeStats, error) {
	if _, err := tx.Exec(ctx, `UPDATE reports SET state = 'purging' WHERE id = $1 AND state = 'sent'`, id); err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("report %d: %w", id, err)
	}
	// The events are picked once (MATERIALIZED) and leave report_events
	// and events in one statement: the foreign key is checked at its end.
	tag, err := tx.Exec(ctx, `WITH chunk AS MATERIALIZED (SELECT id FROM events WHERE report_id = $1 LIMIT $2),
		re AS (DELETE FROM report_events WHERE report_id = $1 AND event_id IN (SELECT id FROM chunk))
		DELETE FROM events WHERE id IN (SELECT id FROM chunk)`, id, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("report %d: events: %w", id, err)
	}
	st := reporter.PurgeStats{Events: int(tag.RowsAffected())}
	var left bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE report_id = $1)`, id).Scan(&left); err != nil {
		return st, fmt.Errorf("report %d: %w", id, err)
	}
	if !left {
		if _, err := tx.Exec(ctx, `DELETE FROM report_events WHERE report_id = $1`, id); err != nil {
			return st, fmt.Errorf("report %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM reports WHERE id = $1`, id); err != nil {
			return st, fmt.Errorf("report %d: %w", id, err)
		}
		st.Reports = 1
	}
	return st, nil
}

// purgeClosed removes closed events (skipped: they are in no report) that
// came in before the cut. Uses events_closed.
func purgeClosed(ctx context.Context, tx pgx.Tx, cut time.Time, limit int) (reporter.PurgeStats, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM events WHERE id IN (
		SELECT id FROM events WHERE state = 'skipped' AND ingested < $1 ORDER BY ingested LIMIT $2 FOR UPDATE SKIP LOCKED)`, cut, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("closed events: %w", err)
	}
	return reporter.PurgeStats{Events: int(tag.RowsAffected())}, nil
}

// purgeRejects uses rejects_at.
func purgeRejects(ctx context.Context, tx pgx.Tx, cut time.Time, limit int) (reporter.PurgeStats, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM rejects WHERE id IN (
		SELECT id FROM rejects WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)`, cut, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("rejects: %w", err)
	}
	return reporter.PurgeStats{Rejects: int(tag.RowsAffected())}, nil
}

// purgeFetched scans fetched_files, a few rows a day per API feed.
func purgeFetched(ctx context.Context, tx pgx.Tx, cut time.Time, limit int) (reporter.PurgeStats, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM fetched_files WHERE (feed, id) IN (
		SELECT feed, id FROM fetched_files WHERE fetched < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, cut, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("fetched files: %w", err)
	}
	return reporter.PurgeStats{FetchedFiles: int(tag.RowsAffected())}, nil
}

// purgeRDAP removes answers that expired before the cut: too old to serve
// even as a stale answer. Uses rdap_cache_expires.
func purgeRDAP(ctx context.Context, tx pgx.Tx, cut time.Time, limit int) (reporter.PurgeStats, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM rdap_cache WHERE (first_ip, last_ip) IN (
		SELECT first_ip, last_ip FROM rdap_cache WHERE expires < $1 ORDER BY expires LIMIT $2 FOR UPDATE SKIP LOCKED)`, cut, limit)
	if err != nil {
		return reporter.PurgeStats{}, fmt.Errorf("rdap answers: %w", err)
	}
	return reporter.PurgeStats{RDAPAnswers: int(tag.RowsAffected())}, nil
}

// Purgeable implements reporter.PurgeStore.
func (s *Store) Purgeable(ctx context.Context, before time.Time) (reporter.PurgeStats, error) {
	var st reporter.PurgeStats
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM reports WHERE state IN ('sent', 'purging') AND sent < $1),
		(SELECT count(*) FROM reports r JOIN events e ON e.report_id = r.id WHERE r.state IN ('sent', 'purging') AND r.sent < $1)
			+ (SELECT count(*) FROM events WHERE state = 'skipped' AND ingested < $1),
		(SELECT count(*) FROM rejects WHERE at < $1),
		(SELECT count(*) FROM fetched_files WHERE fetched < $1),
		(SELECT count(*) FROM rdap_cache WHERE expires < $1)`, before).
		Scan(&st.Reports, &st.Events, &st.Rejects, &st.FetchedFiles, &st.RDAPAnswers)
	if err != nil {
		return st, fmt.Errorf("purgeable: %w", err)
	}
	return st, nil
}

// ReserveRDAP implements abuse.RDAPShared in one upsert: the row lock
// orders two instances reserving at once.
func (s *Store) ReserveRDAP(ctx context.Context, server string, now time.Time, n int, interval time.Duration) (abuse.RDAPSlots, error) {
	span := int64(n) * interval.Microseconds()
	var next time.Time
	var res abuse.RDAPSlots
	err := s.pool.QueryRow(ctx, `INSERT INTO rdap_state AS s (server, next_slot) VALUES ($1, $2::timestamptz + $3 * interval '1 microsecond')
		ON CONFLICT (server) DO UPDATE SET next_slot =
			CASE WHEN s.paused_until > $2 THEN s.next_slot ELSE greatest(s.next_slot, $2) + $3 * interval '1 microsecond' END
		RETURNING next_slot, paused_until, pause_cause`, text(server), now, span).Scan(at(&next), at(&res.PausedUntil), &res.Cause)
	if err != nil {
		return res, fmt.Errorf("rdap state %s: %w", server, err)
	}
	if !res.Paused(now) {
		res.First = next.Add(-time.Duration(span) * time.Microsecond)
	}
	return res, nil
}

// PauseRDAP implements abuse.RDAPShared.
func (s *Store) PauseRDAP(ctx context.Context, server string, until time.Time, cause string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO rdap_state AS s (server, paused_until, pause_cause) VALUES ($1, $2, $3)
		ON CONFLICT (server) DO UPDATE SET paused_until = greatest(s.paused_until, excluded.paused_until),
			pause_cause = CASE WHEN excluded.paused_until > s.paused_until THEN excluded.pause_cause ELSE s.pause_cause END`,
		text(server), until, text(cause))
	if err != nil {
		return fmt.Errorf("rdap state %s: pause: %w", server, err)
	}
	return nil
}
