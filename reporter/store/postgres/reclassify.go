package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autoreporter/autoreporter/reporter"
)

// UnclassifiedTypes implements reporter.PlanStore. Uses events_unclassified.
func (s *Store) UnclassifiedTypes(ctx context.Context) ([]reporter.FeedType, error) {
	rows, err := s.pool.Query(ctx, `SELECT feed, report_type, count(*) FROM events
		WHERE state = 'new' AND unclassified GROUP BY feed, report_type ORDER BY feed, report_type`)
	if err != nil {
		return nil, fmt.Errorf("unclassified types: %w", err)
	}
	defer rows.Close()
	var out []reporter.FeedType
	for rows.Next() {
		var t reporter.FeedType
		if err := rows.Scan(&t.Feed, &t.ReportType, &t.Events); err != nil {
			return nil, fmt.Errorf("unclassified types: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Reclassify implements reporter.PlanStore, in one transaction. The new
// key is computed here, as InsertEvents computes it; an event whose new key
// is stored already at its time is closed as a duplicate.
func (s *Store) Reclassify(ctx context.Context, feed, reportType, classification, identifier string) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("reclassify: %w", err)
	}
	defer rollback(ctx, tx)
	type row struct {
		id         int64
		identifier string
		ip         netip.Addr
		port       int
		time       time.Time
	}
	rows, err := tx.Query(ctx, `SELECT id, identifier, ip, port, time FROM events
		WHERE state = 'new' AND unclassified AND feed = $1 AND report_type = $2 ORDER BY id FOR UPDATE`, feed, reportType)
	if err != nil {
		return 0, fmt.Errorf("reclassify: %w", err)
	}
	todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		var ip netip.Prefix
		err := r.Scan(&x.id, &x.identifier, &ip, &x.port, &x.time)
		x.ip = ip.Addr()
		return x, err
	})
	if err != nil {
		return 0, fmt.Errorf("reclassify: %w", err)
	}
	n := 0
	for _, r := range todo {
		ident := r.identifier
		if identifier != "" {
			ident = identifier
		}
		key := reporter.DedupKey(classification, ident, r.ip, r.port)
		var dup bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE feed = $1 AND time = $2 AND dedup_key = $3)`,
			feed, r.time, key).Scan(&dup); err != nil {
			return n, fmt.Errorf("event %d: %w", r.id, err)
		}
		if dup {
			// The same observation is stored with its class already.
			_, err = tx.Exec(ctx, `UPDATE events SET state = 'skipped', skip_reason = $1, hold_reason = '', unclassified = false
				WHERE id = $2`, reporter.DuplicateInRun.String(), r.id)
		} else {
			_, err = tx.Exec(ctx, `UPDATE events SET classification = $1, identifier = $2, dedup_key = $3, unclassified = false,
				hold_reason = '' WHERE id = $4`, text(classification), text(ident), key, r.id)
			n++
		}
		if err != nil {
			return n, fmt.Errorf("event %d: %w", r.id, conflict(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return n, fmt.Errorf("reclassify: %w", conflict(err))
	}
	return n, nil
}
