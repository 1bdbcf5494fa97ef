package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"

	"github.com/autoreporter/autoreporter/reporter"
)

// UnclassifiedTypes implements reporter.PlanStore. Uses events_unclassified.
func (s *Store) UnclassifiedTypes(ctx context.Context) ([]reporter.FeedType, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT feed, report_type, count(*) FROM events
		WHERE state = 'new' AND unclassified = 1 GROUP BY feed, report_type ORDER BY feed, report_type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.FeedType
	for rows.Next() {
		var t reporter.FeedType
		if err := rows.Scan(&t.Feed, &t.ReportType, &t.Events); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Reclassify implements reporter.PlanStore, in one transaction. The new
// key is computed here, as InsertEvents computes it.
func (s *Store) Reclassify(ctx context.Context, feed, reportType, classification, identifier string) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	type row struct {
		id         int64
		identifier string
		ip         string
		port       int
		time       int64
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, identifier, ip, port, time FROM events
		WHERE state = 'new' AND unclassified = 1 AND feed = $1 AND report_type = $2`, feed, reportType)
	if err != nil {
		return 0, err
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.identifier, &r.ip, &r.port, &r.time); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range todo {
		ip, err := netip.ParseAddr(r.ip)
		if err != nil {
			return n, fmt.Errorf("event %d: address %q: %w", r.id, r.ip, err)
		}
		ident := r.identifier
		if identifier != "" {
			ident = identifier
		}
		key := reporter.DedupKey(classification, ident, ip, r.port)
		var other int64
		err = tx.QueryRowContext(ctx, `SELECT id FROM events WHERE feed = $1 AND dedup_key = $2 AND time = $3`, feed, key, r.time).Scan(&other)
		switch {
		case err == nil:
			// The same observation is stored with its class already.
			_, err = tx.ExecContext(ctx, `UPDATE events SET state = 'skipped', skip_reason = $1, hold_reason = '', unclassified = 0
				WHERE id = $2`, reporter.DuplicateInRun.String(), r.id)
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `UPDATE events SET classification = $1, identifier = $2, dedup_key = $3, unclassified = 0,
				hold_reason = '' WHERE id = $4`, classification, ident, key, r.id)
			n++
		}
		if err != nil {
			return n, fmt.Errorf("event %d: %w", r.id, err)
		}
	}
	return n, tx.Commit()
}
