package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/autoreporter/autoreporter/reporter/store/postgres"
)

// pgConstraint is a constraint or index of the history's tables as the
// migrations made it, to drop while the tables are filled and make again
// after, from PostgreSQL's own definition of it.
type pgConstraint struct {
	table, name, def string
	kind             byte // p(rimary key), u(nique), f(oreign key), i(ndex)
}

// buildPostgres makes the schema with the store's own Open (every
// migration), then fills it by binary COPY: the three tables at once, on
// three connections, with their keys, foreign keys and indexes dropped
// (each row would otherwise cost a B-tree insert per index and a lookup
// per foreign key) and made again after, which PostgreSQL does by sorting,
// and for the foreign keys by one join. Then ANALYZE, as autovacuum would
// soon do.
func buildPostgres(ctx context.Context, dsn string, w *world, progress func(string, ...any)) error {
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.RuntimeParams["maintenance_work_mem"] = "1GB"
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pool.Close()
	var n int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM reports) + (SELECT count(*) FROM events)`).Scan(&n); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("postgres: %w", errBuilt)
	}
	cons, err := pgConstraints(ctx, pool)
	if err != nil {
		return err
	}
	// Foreign keys first: they depend on the keys.
	for _, kinds := range []string{"f", "pu", "i"} {
		for _, c := range cons {
			if !containsByte(kinds, c.kind) {
				continue
			}
			sql := `ALTER TABLE ` + pgx.Identifier{c.table}.Sanitize() + ` DROP CONSTRAINT ` + pgx.Identifier{c.name}.Sanitize()
			if c.kind == 'i' {
				sql = `DROP INDEX ` + pgx.Identifier{c.name}.Sanitize()
			}
			if _, err := pool.Exec(ctx, sql); err != nil {
				return fmt.Errorf("drop %s: %w", c.name, err)
			}
		}
	}

	started := time.Now()
	reports := make(chan []any, 1024)
	events := make(chan []any, 4096)
	links := make(chan []any, 4096)
	eg, gctx := newGroup(ctx, 4)
	copyInto := func(table string, columns []string, rows chan []any) {
		eg.Go(func() error {
			// An error cancels gctx, which stops the generator and the
			// other copies.
			if _, err := pool.CopyFrom(gctx, pgx.Identifier{table}, columns, &chanSource{rows: rows, ctx: gctx}); err != nil {
				return fmt.Errorf("copy into %s: %w", table, err)
			}
			return nil
		})
	}
	copyInto("reports", []string{"id", "ref", "day", "seq", "contact", "contact_language", "contact_source", "contact_format",
		"fallback", "created", "message_id", "subject", "state", "attempts", "last_error", "last_attempt", "next_try", "sent",
		"event_count", "parts", "parts_sent"}, reports)
	copyInto("events", []string{"id", "feed", "dedup_key", "time", "classification", "identifier", "ip", "port", "protocol",
		"asn", "as_org", "country", "hostname", "extra", "report_type", "unclassified", "source", "ingested", "state",
		"contact", "contact_language", "contact_source", "contact_rule", "report_id"}, events)
	copyInto("report_events", []string{"report_id", "event_id", "contact", "rule", "dedup_key", "reported", "seq"}, links)
	days := map[time.Time]int{}
	eg.Go(func() error {
		defer close(reports)
		defer close(events)
		defer close(links)
		g := w.generator()
		for n := range w.runs {
			reps := g.run(n)
			for _, r := range reps {
				p := r.isp
				to := []string{p.contact}
				next, attempt := pgtype.Timestamptz{Time: r.created, Valid: true}, r.sent
				if r.state != "sent" {
					next = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
					attempt = r.created.Add(time.Hour)
				}
				days[r.day] = r.seq
				if !send(gctx, reports, []any{r.id, r.ref, r.day, int32(r.seq), to, "en", p.source, "", false, r.created,
					r.messageID, r.subject, r.state, int32(1), r.lastError(), attempt, next, maybeTime(r.sent),
					int32(len(r.events)), int32(1), int32(boolInt(r.state == "sent"))}) {
					return gctx.Err()
				}
				for _, e := range r.events {
					if !send(gctx, events, []any{e.id, e.kind.feed, e.key, e.time, e.kind.class, e.kind.ident, e.ip,
						int32(e.kind.port), e.kind.proto, int64(p.asn), p.org, "FI", "", e.extra(), e.kind.reportType, false,
						e.source, e.ingested, "reported", to, "en", p.source, p.rule, r.id}) {
						return gctx.Err()
					}
					if !send(gctx, links, []any{r.id, e.id, to, p.rule, e.key, r.created, int32(e.seq)}) {
						return gctx.Err()
					}
				}
			}
			if n%(w.runs/20+1) == 0 && n > 0 {
				progress("postgres: %d of %d runs, %d reports, %d events, %s", n, w.runs, g.nextReport-1, g.nextEvent-1, time.Since(started).Round(time.Second))
			}
		}
		return nil
	})
	if err := eg.Wait(); err != nil {
		return err
	}
	progress("postgres: rows in, %s; the day counters, keys and indexes", time.Since(started).Round(time.Second))
	var b pgx.Batch
	for day, seq := range days {
		b.Queue(`INSERT INTO report_seq (day, seq) VALUES ($1, $2)`, day, seq)
	}
	if err := pool.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("report_seq: %w", err)
	}
	// The identities go on after the ids given.
	for _, t := range []string{"events", "reports"} {
		if _, err := pool.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT max(id) FROM `+t+`))`, t); err != nil {
			return fmt.Errorf("%s identity: %w", t, err)
		}
	}
	// Keys first (the foreign keys need them), then the indexes two at
	// a time (one per core), then the foreign keys.
	for _, kinds := range []string{"pu", "i", "f"} {
		eg, gctx := newGroup(ctx, 2)
		for _, c := range cons {
			if !containsByte(kinds, c.kind) {
				continue
			}
			eg.Go(func() error {
				t := time.Now()
				sql := `ALTER TABLE ` + pgx.Identifier{c.table}.Sanitize() + ` ADD CONSTRAINT ` + pgx.Identifier{c.name}.Sanitize() + ` ` + c.def
				if c.kind == 'i' {
					sql = c.def
				}
				if _, err := pool.Exec(gctx, sql); err != nil {
					return fmt.Errorf("make %s again: %w", c.name, err)
				}
				progress("postgres: %s, %s", c.name, time.Since(t).Round(time.Millisecond))
				return nil
			})
		}
		if err := eg.Wait(); err != nil {
			return err
		}
	}
	t := time.Now()
	if _, err := pool.Exec(ctx, `ANALYZE events, reports, report_events, report_seq`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	progress("postgres: analyze, %s", time.Since(t).Round(time.Millisecond))
	return nil
}

// pgConstraints lists the keys, foreign keys and indexes of the history's
// tables in the first schema of the search path, with their definitions.
// CHECK constraints stay: they cost little per row.
func pgConstraints(ctx context.Context, pool *pgxpool.Pool) ([]pgConstraint, error) {
	rows, err := pool.Query(ctx, `
		SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype::text
		FROM pg_constraint c
		WHERE c.connamespace = current_schema()::regnamespace AND c.contype IN ('p', 'u', 'f')
			AND c.conrelid::regclass::text = ANY ($1)
		UNION ALL
		SELECT i.tablename, i.indexname, i.indexdef, 'i'
		FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = ANY ($1)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)
		ORDER BY 1, 2`, historyTables)
	if err != nil {
		return nil, fmt.Errorf("list constraints: %w", err)
	}
	defer rows.Close()
	var out []pgConstraint
	for rows.Next() {
		var c pgConstraint
		var kind string
		if err := rows.Scan(&c.table, &c.name, &c.def, &kind); err != nil {
			return nil, fmt.Errorf("list constraints: %w", err)
		}
		c.kind = kind[0]
		out = append(out, c)
	}
	return out, rows.Err()
}

func containsByte(s string, b byte) bool {
	for i := range len(s) {
		if s[i] == b {
			return true
		}
	}
	return false
}

func maybeTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func send(ctx context.Context, ch chan<- []any, row []any) bool {
	select {
	case ch <- row:
		return true
	case <-ctx.Done():
		return false
	}
}

// chanSource is a pgx.CopyFromSource over a channel of rows.
type chanSource struct {
	ctx  context.Context
	rows <-chan []any
	row  []any
}

func (s *chanSource) Next() bool {
	select {
	case r, ok := <-s.rows:
		s.row = r
		return ok
	case <-s.ctx.Done():
		return false
	}
}

func (s *chanSource) Values() ([]any, error) { return s.row, nil }

func (s *chanSource) Err() error { return s.ctx.Err() }

// group runs functions on at most limit goroutines; the first error
// cancels the others' context and is what Wait returns.
type group struct {
	wg     sync.WaitGroup
	sem    chan struct{}
	once   sync.Once
	err    error
	cancel context.CancelFunc
}

func newGroup(ctx context.Context, limit int) (*group, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	return &group{sem: make(chan struct{}, limit), cancel: cancel}, ctx
}

func (g *group) Go(f func() error) {
	g.sem <- struct{}{}
	g.wg.Go(func() {
		defer func() { <-g.sem }()
		if err := f(); err != nil {
			g.once.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	})
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
