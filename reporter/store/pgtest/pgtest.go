// Package pgtest gives each test a PostgreSQL schema of its own on the
// server named by AUTOREPORTER_TEST_DATABASE (by default the local
// server's postgres database). A test that finds no server skips with a
// message saying how to provide one, except under CI=true, where it fails:
// CI must never pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable that holds the test server's DSN.
const Env = "AUTOREPORTER_TEST_DATABASE"

// DefaultDSN is used when Env is not set: the server a Debian machine runs
// after apt-get install postgresql, with trust authentication on loopback.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// BaseDSN returns the test server's DSN.
func BaseDSN() string {
	if dsn := os.Getenv(Env); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// DSN creates a fresh, empty schema on the test server and returns a DSN
// whose connections use it (search_path), so that every handle opened
// with it shares that schema. The schema is dropped with everything in it
// when the test ends.
func DSN(tb testing.TB) string {
	tb.Helper()
	base := BaseDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		Unavailable(tb, err)
	}
	defer conn.Close(context.Background())
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema := "test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create schema %s on %s: %v", schema, redact(base), err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(base, schema)
}

// Unavailable ends a test that found no server: a skip that says how to
// provide one, or under CI=true a failure.
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	msg := fmt.Sprintf("no PostgreSQL at %s (%v). Set %s to the DSN of a server where this user may create schemas, "+
		"e.g. %s; on Debian: apt-get install postgresql && pg_ctlcluster 15 main start", redact(BaseDSN()), err, Env, DefaultDSN)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// WithSearchPath returns dsn with search_path set to schema, for both DSN
// forms pgx reads: a URL, or keyword=value pairs.
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}

// redact hides a password in a URL DSN; a keyword=value DSN is not shown.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "$" + Env
}
