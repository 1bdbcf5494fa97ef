// Package postgres is the production store: a reporter.Store on PostgreSQL
// through jackc/pgx/v5's pool. Several instances may share one database:
// migrations run under an advisory lock, ingest dedups in the database
// (COPY into a staging table, then one INSERT ... ON CONFLICT DO NOTHING),
// and the planner's writes take their rows in one order and report a lost
// race as reporter.ErrConflict. It passes the same conformance suite
// (reporter/store/storetest) as the embedded SQLite store.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/autoreporter/autoreporter/reporter"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxConns caps the pool's connections; 0 keeps pgxpool's default (the
	// larger of 4 and the number of CPUs).
	MaxConns int32
	// Logger receives the migrations applied at Open; nil discards.
	Logger *slog.Logger
	// Now stamps rejected rows when they are stored; nil is time.Now.
	Now func() time.Time
}

func (o *Options) validate() error {
	if o.MaxConns < 0 {
		return fmt.Errorf("max conns %d: must not be negative", o.MaxConns)
	}
	return nil
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Store is a reporter.Store on PostgreSQL. Its methods are safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time
}

var _ reporter.Store = (*Store)(nil)

// MaxConns is the size of the store's connection pool.
func (s *Store) MaxConns() int { return int(s.pool.Config().MaxConns) }

// errNotFound is returned when a report to mark does not exist.
var errNotFound = errors.New("not found")

// Open connects to the database named by dsn, applies pending migrations
// and returns a Store. dsn is anything pgx reads: a URL
// (postgres://user@host:5432/db?sslmode=verify-full&search_path=ar) or
// keyword=value pairs (host=/run/postgresql dbname=ar); what it leaves out
// comes from the PG* environment variables and ~/.pgpass, as with libpq.
// Tables go in the first schema of search_path.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if err := opt.validate(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	opt.defaults()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse error shows the DSN with its password masked.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	if cfg.MaxConns < 2 {
		// A job's lock (TryLock) holds a connection while the job works on
		// others: with one, the job would wait for itself forever.
		return nil, fmt.Errorf("postgres: a pool of %d connection (pool_max_conns or store.max_conns): at least 2 are needed, one held by a job's lock", cfg.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, log: opt.Logger, now: opt.Now}
	err = pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		applied, err := migrate(ctx, c.Conn())
		for _, name := range applied {
			s.log.Info("migration applied", "migration", name)
		}
		return err
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

// Close closes the pool's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Migrate applies the pending migrations to the database named by dsn
// (see Open) and returns the names of those it applied, none when the
// schema is up to date. Open does the same; this is for a command that
// migrates without running the daemon.
func Migrate(ctx context.Context, dsn string) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	applied, err := migrate(ctx, conn)
	if err != nil {
		return applied, fmt.Errorf("postgres %s/%s: %w", conn.Config().Host, conn.Config().Database, err)
	}
	return applied, nil
}

// migrate applies each pending migration in its own transaction. Each
// transaction first takes an advisory lock named for the schema, then
// looks whether the migration is still pending: two instances starting at
// once take turns, and the second finds the work done.
func migrate(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return applied, fmt.Errorf("migration %s: name must start with a number", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return applied, err
		}
		done, err := migrateOne(ctx, conn, version, string(body))
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", base, err)
		}
		if done {
			applied = append(applied, base)
		}
	}
	return applied, nil
}

// migrateOne applies one migration unless it was applied, and reports
// whether it applied it.
func migrateOne(ctx context.Context, conn *pgx.Conn, version int, body string) (bool, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer rollback(ctx, tx)
	// The lock is the transaction's: it goes with the commit or rollback.
	// current_schema() is where the tables go; databases with one schema
	// per instance (the tests) do not wait on each other.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('autoreporter migrations ' || current_schema(), 0))`); err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer     PRIMARY KEY,
		applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return false, fmt.Errorf("migrations table: %w", err)
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
		return false, err
	}
	if done {
		return false, nil
	}
	// No arguments: pgx sends the file with the simple protocol, which
	// runs every statement in it.
	if _, err := tx.Exec(ctx, body); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// conflict marks a transaction PostgreSQL aborted to break a deadlock or a
// serialization failure as reporter.ErrConflict: nothing of it was kept,
// and the planner plans again.
func conflict(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") {
		return fmt.Errorf("%w: %w", reporter.ErrConflict, err)
	}
	return err
}

// rollback ends a transaction that may already be over; its error is of no
// interest once the transaction's outcome is known.
func rollback(ctx context.Context, tx pgx.Tx) {
	_ = tx.Rollback(context.WithoutCancel(ctx))
}
