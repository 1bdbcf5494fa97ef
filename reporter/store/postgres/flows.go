package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autoreporter/autoreporter/reporter"
)

// ReplaceWatchlist implements reporter.WatchStore.
func (s *Store) ReplaceWatchlist(ctx context.Context, w reporter.Watchlist) error {
	b, err := reporter.EncodeWatchEntries(w.Entries)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO watchlists (feed, updated, entries) VALUES ($1, $2, $3)
		ON CONFLICT (feed) DO UPDATE SET updated = excluded.updated, entries = excluded.entries`,
		text(w.Feed), w.Updated, b)
	if err != nil {
		return fmt.Errorf("replace watchlist of feed %s: %w", w.Feed, err)
	}
	return nil
}

// Watchlists implements reporter.WatchStore.
func (s *Store) Watchlists(ctx context.Context, feeds []string) ([]reporter.Watchlist, error) {
	if len(feeds) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT feed, updated, entries FROM watchlists WHERE feed = ANY($1) ORDER BY feed`, texts(feeds))
	if err != nil {
		return nil, fmt.Errorf("watchlists: %w", err)
	}
	defer rows.Close()
	var out []reporter.Watchlist
	for rows.Next() {
		var w reporter.Watchlist
		var b []byte
		if err := rows.Scan(&w.Feed, at(&w.Updated), &b); err != nil {
			return nil, fmt.Errorf("watchlists: %w", err)
		}
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
	rows, err := s.pool.Query(ctx, `SELECT feed, updated FROM watchlists WHERE feed = ANY($1)`, texts(feeds))
	if err != nil {
		return nil, fmt.Errorf("watchlists: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var feed string
		var updated time.Time
		if err := rows.Scan(&feed, at(&updated)); err != nil {
			return nil, fmt.Errorf("watchlists: %w", err)
		}
		out[feed] = updated
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
	_, err := s.pool.Exec(ctx, `
		INSERT INTO flow_state (flow, saved, state) VALUES ($1, $2, $3)
		ON CONFLICT (flow) DO UPDATE SET saved = excluded.saved, state = excluded.state`,
		text(flow), s.now(), state)
	if err != nil {
		return fmt.Errorf("save state of flow %s: %w", flow, err)
	}
	return nil
}

// FlowState implements reporter.WatchStore.
func (s *Store) FlowState(ctx context.Context, flow string) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT state FROM flow_state WHERE flow = $1`, text(flow)).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
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
