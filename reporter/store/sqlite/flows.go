package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// ReplaceWatchlist implements reporter.WatchStore.
func (s *Store) ReplaceWatchlist(ctx context.Context, w reporter.Watchlist) error {
	b, err := reporter.EncodeWatchEntries(w.Entries)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO watchlists (feed, updated, entries) VALUES ($1, $2, $3)
		ON CONFLICT (feed) DO UPDATE SET updated = excluded.updated, entries = excluded.entries`,
		w.Feed, us(w.Updated), b)
	if err != nil {
		return fmt.Errorf("replace watchlist of feed %s: %w", w.Feed, err)
	}
	return nil
}

// feedArgs makes "$1, $2, ..." and its arguments for an IN list.
func feedArgs(feeds []string) (string, []any) {
	ph := make([]string, len(feeds))
	args := make([]any, len(feeds))
	for i, f := range feeds {
		ph[i] = fmt.Sprintf("$%d", i+1)
		args[i] = f
	}
	return strings.Join(ph, ", "), args
}

// Watchlists implements reporter.WatchStore.
func (s *Store) Watchlists(ctx context.Context, feeds []string) ([]reporter.Watchlist, error) {
	if len(feeds) == 0 {
		return nil, nil
	}
	in, args := feedArgs(feeds)
	rows, err := s.db.QueryContext(ctx, `SELECT feed, updated, entries FROM watchlists WHERE feed IN (`+in+`) ORDER BY feed`, args...)
	if err != nil {
		return nil, fmt.Errorf("watchlists: %w", err)
	}
	defer rows.Close()
	var out []reporter.Watchlist
	for rows.Next() {
		var w reporter.Watchlist
		var updated int64
		var b []byte
		if err := rows.Scan(&w.Feed, &updated, &b); err != nil {
			return nil, fmt.Errorf("watchlists: %w", err)
		}
		w.Updated = fromUS(updated)
		if w.Entries, err = reporter.DecodeWatchEntries(b); err != nil {
			return nil, fmt.Errorf("watchlist of feed %s: %w", w.Feed, err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("watchlists: %w", err)
	}
	return out, nil
}

// WatchlistsUpdated implements reporter.WatchStore.
func (s *Store) WatchlistsUpdated(ctx context.Context, feeds []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(feeds) == 0 {
		return out, nil
	}
	in, args := feedArgs(feeds)
	rows, err := s.db.QueryContext(ctx, `SELECT feed, updated FROM watchlists WHERE feed IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("watchlists: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var feed string
		var updated int64
		if err := rows.Scan(&feed, &updated); err != nil {
			return nil, fmt.Errorf("watchlists: %w", err)
		}
		out[feed] = fromUS(updated)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("watchlists: %w", err)
	}
	return out, nil
}

// SaveFlowState implements reporter.WatchStore.
func (s *Store) SaveFlowState(ctx context.Context, flow string, state []byte) error {
	if state == nil {
		state = []byte{}
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO flow_state (flow, saved, state) VALUES ($1, $2, $3)
		ON CONFLICT (flow) DO UPDATE SET saved = excluded.saved, state = excluded.state`,
		flow, us(s.now()), state)
	if err != nil {
		return fmt.Errorf("save state of flow %s: %w", flow, err)
	}
	return nil
}

// FlowState implements reporter.WatchStore.
func (s *Store) FlowState(ctx context.Context, flow string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT state FROM flow_state WHERE flow = $1`, flow).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state of flow %s: %w", flow, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
