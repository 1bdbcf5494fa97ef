package sqlite

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
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

// FuzzAppendExtra: the hand-written JSON of the extra columns reads back as
// what encoding/json would have stored, whatever the bytes.
func FuzzAppendExtra(f *testing.F) {
	for _, s := range [][2]string{{"tag", "rdp"}, {"", ""}, {"q\"uote", `back\slash`}, {"nul\x00", "\x01\x1f\x7f"},
		{"latin1\xe9", "\xff\xfe"}, {"<>&", "\u2028\u2029"}, {"ünï", "😀"}, {"trunc\xf0\x9f", "\xed\xa0\x80"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		in := []reporter.Field{{Key: k, Value: v}, {Key: v, Value: k}}
		var got, want []reporter.Field
		if err := json.Unmarshal(appendExtra(nil, in), &got); err != nil {
			t.Fatalf("%q: %v", appendExtra(nil, in), err)
		}
		ref, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q read back as %q, want %q", appendExtra(nil, in), got, want)
		}
	})
}

func TestAppendExtraEmpty(t *testing.T) {
	if got := string(appendExtra(nil, nil)); got != "[]" {
		t.Errorf("no extra columns: %s, want []", got)
	}
}
