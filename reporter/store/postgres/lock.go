package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TryLock takes a session advisory lock named name, if no other session
// holds it, on a connection of its own kept until release: several
// instances of the daemon on one database do each job (a feed's ingest,
// the report pass) one at a time. PostgreSQL releases the lock when the
// session ends, however the instance died.
func (s *Store) TryLock(ctx context.Context, name string) (release func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	// hashtextextended gives a 64-bit key; the schema is part of it, so two
	// deployments in one database do not lock each other.
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '/' || $1, 0))`, name).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	return func() { s.unlock(conn, name) }, true, nil
}

func (s *Store) unlock(conn *pgxpool.Conn, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended(current_schema() || '/' || $1, 0))`, name); err != nil {
		// The lock dies with the session: drop this connection.
		conn.Conn().Close(ctx)
	}
	conn.Release()
}

// Wait takes the named lock, waiting while another session holds it.
func (s *Store) Wait(ctx context.Context, name string) (func(), error) {
	for {
		release, ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return release, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
