package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (reporter.Store, storetest.Reopen) {
		path := filepath.Join(t.TempDir(), "test.db")
		open := func(t *testing.T) reporter.Store {
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		return open(t), open
	})
}

func TestMigrationsTwice(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.db")
	for i := 0; i < 2; i++ {
		s, err := Open(context.Background(), p)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		s.Close()
	}
}

// BenchmarkInsertEvents: compare with the PostgreSQL store's, which runs
// the same storetest.BenchInsertEvents.
func BenchmarkInsertEvents(b *testing.B) {
	storetest.BenchInsertEvents(b, func(b *testing.B) reporter.Store {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := s.Close(); err != nil {
				b.Error(err)
			}
		})
		return s
	})
}

// BenchmarkIngest: a report of 100,000 rows, all kept, through the
// ingester; batch=50000/writers=1 is what the daemon gives SQLite.
func BenchmarkIngest(b *testing.B) {
	storetest.BenchIngest(b, func(b *testing.B) reporter.Store {
		s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}, []storetest.IngestShape{{Batch: 10000}, {Batch: 50000}, {Batch: 50000, Writers: 1}})
}

// BenchmarkPurge: compare with the PostgreSQL store's, which runs the same
// storetest.BenchPurge.
func BenchmarkPurge(b *testing.B) {
	storetest.BenchPurge(b, PurgePause, func(b *testing.B) (reporter.Store, reporter.Store) {
		path := filepath.Join(b.TempDir(), "bench.db")
		var out [2]reporter.Store
		for i := range out {
			s, err := Open(context.Background(), path)
			if err != nil {
				b.Fatal(err)
			}
			out[i] = s
		}
		return out[0], out[1]
	})
}
