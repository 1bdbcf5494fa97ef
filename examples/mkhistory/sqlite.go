package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter/store/sqlite"
)

// historyTables are the tables a history fills; their secondary indexes are
// dropped while they are filled and made again after, from the very SQL
// the migrations created them with.
var historyTables = []string{"events", "reports", "report_events", "report_seq"}

// buildSQLite makes the schema with the store's own Open (every migration),
// then fills it on one connection in one transaction: the secondary
// indexes are built once at the end, from sorted data, instead of a random
// leaf written per row; rows go in through prepared multi-row INSERTs with
// anonymous parameters (see the store's insertStatement for why).
func buildSQLite(ctx context.Context, path string, w *world, progress func(string, ...any)) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists: %w", path, errBuilt)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	// No WAL and no sync while filling: a crash leaves a file to delete,
	// not one to recover. The store's Open turns WAL back on.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-1048576)&_pragma=temp_store(MEMORY)")
	if err != nil {
		return fmt.Errorf("sqlite %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite %s: %w", path, err)
	}
	defer conn.Close()
	indexes, err := sqliteIndexes(ctx, conn)
	if err != nil {
		return err
	}
	for _, ix := range indexes {
		if _, err := conn.ExecContext(ctx, `DROP INDEX `+ix.name); err != nil {
			return fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins := []*batchInsert{
		newBatchInsert("reports", `id, ref, day, seq, contact, contact_language, contact_source, created, message_id, subject,
			state, attempts, last_error, next_try, sent, event_count, contact_format, fallback, last_attempt, parts, parts_sent`, 40),
		newBatchInsert("events", `id, feed, dedup_key, time, classification, identifier, ip, ip_bytes, port, protocol, asn, as_org,
			country, hostname, extra, contact, contact_language, contact_source, source, ingested, state, report_id,
			contact_format, contact_rule, report_type`, 40),
		newBatchInsert("report_events", `report_id, event_id, contact, dedup_key, reported, rule, seq`, 100),
		newBatchInsert("report_seq", `day, seq`, 1),
	}
	reps, evs, links := ins[0], ins[1], ins[2]
	lastDay, lastSeq := "", 0
	started := time.Now()
	g := w.generator()
	for n := range w.runs {
		reports := g.run(n)
		var byID []*genEvent
		for _, r := range reports {
			day := r.day.Format("20060102")
			if day != lastDay && lastDay != "" {
				if err := ins[3].add(ctx, tx, lastDay, lastSeq); err != nil {
					return err
				}
			}
			lastDay, lastSeq = day, r.seq
			p := r.isp
			next, attempt := us(r.created), us(r.sent)
			if r.state != "sent" {
				next, attempt = 0, us(r.created.Add(time.Hour))
			}
			if err := reps.add(ctx, tx, r.id, r.ref, day, r.seq, p.contact, "en", p.source, us(r.created), r.messageID, r.subject,
				r.state, 1, r.lastError(), next, us(r.sent), len(r.events), "", false, attempt, 1, boolInt(r.state == "sent")); err != nil {
				return err
			}
			byID = append(byID, r.events...)
		}
		// Rows in id order append to each table's B-tree.
		sortEvents(byID)
		for _, e := range byID {
			p := e.report.isp
			if err := evs.add(ctx, tx, e.id, e.kind.feed, e.key, us(e.time), e.kind.class, e.kind.ident, e.ip.String(), ipBytes(e),
				e.kind.port, e.kind.proto, int64(p.asn), p.org, "FI", "", e.extra(), p.contact, "en", p.source, e.source,
				us(e.ingested), "reported", e.report.id, "", p.rule, e.kind.reportType); err != nil {
				return err
			}
		}
		for _, r := range reports {
			for _, e := range eventsByID(r.events) {
				if err := links.add(ctx, tx, r.id, e.id, r.isp.contact, e.key, us(r.created), r.isp.rule, e.seq); err != nil {
					return err
				}
			}
		}
		if n%(w.runs/20+1) == 0 && n > 0 {
			progress("sqlite: %d of %d runs, %d reports, %d events, %s", n, w.runs, g.nextReport-1, g.nextEvent-1, time.Since(started).Round(time.Second))
		}
	}
	if lastDay != "" {
		if err := ins[3].add(ctx, tx, lastDay, lastSeq); err != nil {
			return err
		}
	}
	for _, b := range ins {
		if err := b.flush(ctx, tx); err != nil {
			return err
		}
		b.close()
	}
	progress("sqlite: rows in, %s; building %d indexes", time.Since(started).Round(time.Second), len(indexes))
	for _, ix := range indexes {
		t := time.Now()
		if _, err := tx.ExecContext(ctx, ix.sql); err != nil {
			return fmt.Errorf("create index %s: %w", ix.name, err)
		}
		progress("sqlite: index %s, %s", ix.name, time.Since(t).Round(time.Millisecond))
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	// The store turns WAL on when it opens; a fresh file starts so.
	if _, err := conn.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		return err
	}
	return nil
}

type sqliteIndex struct{ name, sql string }

// sqliteIndexes are the secondary indexes of the history's tables as the
// migrations made them (sqlite_master keeps their CREATE statements). The
// indexes behind UNIQUE and PRIMARY KEY constraints have no SQL there and
// stay.
func sqliteIndexes(ctx context.Context, conn *sql.Conn) ([]sqliteIndex, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('`+strings.Join(historyTables, "','")+`') ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	defer rows.Close()
	var out []sqliteIndex
	for rows.Next() {
		var ix sqliteIndex
		if err := rows.Scan(&ix.name, &ix.sql); err != nil {
			return nil, fmt.Errorf("list indexes: %w", err)
		}
		out = append(out, ix)
	}
	return out, rows.Err()
}

// batchInsert inserts rows of one table, size to a prepared statement.
type batchInsert struct {
	table, columns string
	cols, size     int
	stmt           *sql.Stmt
	args           []any
}

func newBatchInsert(table, columns string, size int) *batchInsert {
	return &batchInsert{table: table, columns: columns, cols: strings.Count(columns, ",") + 1, size: size}
}

func (b *batchInsert) statement(rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", b.cols), ",") + ")"
	return "INSERT INTO " + b.table + " (" + b.columns + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

func (b *batchInsert) add(ctx context.Context, tx *sql.Tx, values ...any) error {
	if len(values) != b.cols {
		return fmt.Errorf("insert into %s: %d values for %d columns", b.table, len(values), b.cols)
	}
	b.args = append(b.args, values...)
	if len(b.args) < b.size*b.cols {
		return nil
	}
	if b.stmt == nil {
		var err error
		if b.stmt, err = tx.PrepareContext(ctx, b.statement(b.size)); err != nil {
			return fmt.Errorf("insert into %s: %w", b.table, err)
		}
	}
	if _, err := b.stmt.ExecContext(ctx, b.args...); err != nil {
		return fmt.Errorf("insert into %s: %w", b.table, err)
	}
	b.args = b.args[:0]
	return nil
}

// flush inserts what is left, fewer than a statement's rows.
func (b *batchInsert) flush(ctx context.Context, tx *sql.Tx) error {
	if len(b.args) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, b.statement(len(b.args)/b.cols), b.args...); err != nil {
		return fmt.Errorf("insert into %s: %w", b.table, err)
	}
	b.args = b.args[:0]
	return nil
}

func (b *batchInsert) close() {
	if b.stmt != nil {
		b.stmt.Close()
	}
}

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ipBytes is the store's 16-byte form of an address (IPv4 mapped into
// IPv6), for the range scans of events_ip.
func ipBytes(e *genEvent) []byte {
	b := e.ip.As16()
	return b[:]
}

// sortEvents puts events in id order.
func sortEvents(evs []*genEvent) {
	slices.SortFunc(evs, func(a, b *genEvent) int { return cmp.Compare(a.id, b.id) })
}

// eventsByID is a copy of a report's events in id order, as report_events'
// primary key (report_id, event_id) holds them.
func eventsByID(evs []*genEvent) []*genEvent {
	out := slices.Clone(evs)
	sortEvents(out)
	return out
}
