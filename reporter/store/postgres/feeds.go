package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/autoreporter/autoreporter/reporter"
)

// AddRejects implements reporter.EventWriter: one statement for the batch,
// rows in the order given (ids, and so "newest first", follow it). Rows
// already kept (rejects_once) are skipped.
func (s *Store) AddRejects(ctx context.Context, rejects []reporter.Reject) error {
	if len(rejects) == 0 {
		return nil
	}
	n := len(rejects)
	feed, file, reason, class, raw := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	line := make([]int32, n)
	for i, r := range rejects {
		c := r.Class
		if c == "" {
			c = reporter.RejectClass(r.Reason)
		}
		feed[i], file[i], line[i], reason[i], class[i], raw[i] = text(r.Feed), text(r.File), int32(r.Line), text(r.Reason), text(c), text(r.Raw)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO rejects (feed, file, line, reason, class, raw, at)
		SELECT feed, file, line, reason, class, raw, $7
		FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::text[], $6::text[])
			WITH ORDINALITY AS r (feed, file, line, reason, class, raw, n)
		ORDER BY n
		ON CONFLICT (feed, file, line, md5(reason)) DO NOTHING`,
		feed, file, line, reason, class, raw, s.now().UTC())
	if err != nil {
		return fmt.Errorf("keep %d rejected rows of %s: %w", n, rejects[0].File, err)
	}
	return nil
}

// rejectWhere builds the filter shared by Rejects and RejectSummary.
// Uses rejects_feed when the feed is given.
func rejectWhere(q reporter.RejectQuery) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, cond+" $"+strconv.Itoa(len(args)))
	}
	if q.Feed != "" {
		add("feed =", text(q.Feed))
	}
	if q.File != "" {
		add("file =", text(q.File))
	}
	if !q.Since.IsZero() {
		add("at >=", q.Since)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Rejects implements reporter.Store: kept rows, newest first.
func (s *Store) Rejects(ctx context.Context, q reporter.RejectQuery) ([]reporter.Reject, error) {
	where, args := rejectWhere(q)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, `SELECT feed, file, line, reason, class, raw, at FROM rejects`+where+
		` ORDER BY at DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("rejected rows: %w", err)
	}
	defer rows.Close()
	var out []reporter.Reject
	for rows.Next() {
		var r reporter.Reject
		if err := rows.Scan(&r.Feed, &r.File, &r.Line, &r.Reason, &r.Class, &r.Raw, at(&r.At)); err != nil {
			return nil, fmt.Errorf("rejected rows: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rejected rows: %w", err)
	}
	return out, nil
}

// RejectSummary implements reporter.Store: kept rows counted by feed and
// reason class, largest count first.
func (s *Store) RejectSummary(ctx context.Context, q reporter.RejectQuery) ([]reporter.ReasonCount, error) {
	where, args := rejectWhere(q)
	rows, err := s.pool.Query(ctx, `SELECT feed, class, count(*), max(at) FROM rejects`+where+
		` GROUP BY feed, class ORDER BY count(*) DESC, feed COLLATE "C", class COLLATE "C"`, args...)
	if err != nil {
		return nil, fmt.Errorf("rejected rows by reason: %w", err)
	}
	defer rows.Close()
	var out []reporter.ReasonCount
	for rows.Next() {
		var c reporter.ReasonCount
		if err := rows.Scan(&c.Feed, &c.Class, &c.Count, at(&c.Last)); err != nil {
			return nil, fmt.Errorf("rejected rows by reason: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rejected rows by reason: %w", err)
	}
	return out, nil
}

// Fetched implements reporter.Store, in one query. Uses fetched_files'
// primary key (feed, id).
func (s *Store) Fetched(ctx context.Context, feed string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM fetched_files WHERE feed = $1 AND id = ANY ($2)`, text(feed), texts(ids))
	if err != nil {
		return nil, fmt.Errorf("fetched files of %s: %w", feed, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("fetched files of %s: %w", feed, err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fetched files of %s: %w", feed, err)
	}
	return out, nil
}

// MarkFetched implements reporter.Store.
func (s *Store) MarkFetched(ctx context.Context, f reporter.FetchedFile) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO fetched_files (feed, id, file, fetched, rows, rejected) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (feed, id) DO UPDATE SET file = excluded.file, fetched = excluded.fetched,
			rows = excluded.rows, rejected = excluded.rejected`,
		text(f.Feed), text(f.ID), text(f.File), maybe(f.Fetched), f.Rows, f.Rejected)
	if err != nil {
		return fmt.Errorf("mark %s fetched for %s: %w", f.ID, f.Feed, err)
	}
	return nil
}

// FeedState implements reporter.Store.
func (s *Store) FeedState(ctx context.Context, feed string) (reporter.FeedState, error) {
	st := reporter.FeedState{Feed: feed}
	err := s.pool.QueryRow(ctx, `SELECT etag, last_modified, last_attempt, last_success, last_error, last_error_at,
		rows, rejected, files, total_rows, total_rejected FROM feed_state WHERE feed = $1`, text(feed)).Scan(
		&st.ETag, &st.LastModified, at(&st.LastAttempt), at(&st.LastSuccess), &st.LastError, at(&st.LastErrorAt),
		&st.Rows, &st.Rejected, &st.Files, &st.TotalRows, &st.TotalRejected)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("state of feed %s: %w", feed, err)
	}
	return st, nil
}

// SaveFeedState implements reporter.Store.
func (s *Store) SaveFeedState(ctx context.Context, st reporter.FeedState) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO feed_state (feed, etag, last_modified, last_attempt, last_success, last_error, last_error_at,
			rows, rejected, files, total_rows, total_rejected)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (feed) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
			last_attempt = excluded.last_attempt, last_success = excluded.last_success, last_error = excluded.last_error,
			last_error_at = excluded.last_error_at, rows = excluded.rows, rejected = excluded.rejected,
			files = excluded.files, total_rows = excluded.total_rows, total_rejected = excluded.total_rejected`,
		text(st.Feed), text(st.ETag), text(st.LastModified), maybe(st.LastAttempt), maybe(st.LastSuccess), text(st.LastError),
		maybe(st.LastErrorAt), st.Rows, st.Rejected, st.Files, st.TotalRows, st.TotalRejected)
	if err != nil {
		return fmt.Errorf("save state of feed %s: %w", st.Feed, err)
	}
	return nil
}
