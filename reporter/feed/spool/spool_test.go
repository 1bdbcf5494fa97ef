package spool

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, body string, mod time.Time) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func names(files []*File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func TestClaim(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := now.Add(-time.Hour)
	write(t, dir, "b.csv", "b", old)
	write(t, dir, "a.csv", "a", old.Add(time.Minute))
	write(t, dir, "c.csv", "c", old.Add(-time.Minute))
	write(t, dir, "fresh.csv", "still being copied", now.Add(-time.Second))
	write(t, dir, ".hidden.csv", "x", old)
	write(t, dir, "upload.csv.part", "x", old)
	write(t, dir, "upload.csv.tmp", "x", old)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.MkdirAll(filepath.Join(dir, Processing), 0o755)
	write(t, filepath.Join(dir, Processing), "left-by-crash.csv", "z", old)

	s := &Spool{Dir: dir, Settle: 5 * time.Second, Now: func() time.Time { return now }}
	got, err := s.Claim(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Leftovers first, then oldest first.
	if strings.Join(names(got), " ") != "left-by-crash.csv c.csv b.csv a.csv" {
		t.Fatalf("claimed %v", names(got))
	}
	for _, f := range got {
		if filepath.Dir(f.Path) != filepath.Join(dir, Processing) {
			t.Errorf("%s not in processing/: %s", f.Name, f.Path)
		}
	}
	left, _ := os.ReadDir(dir)
	var rest []string
	for _, e := range left {
		rest = append(rest, e.Name())
	}
	if strings.Join(rest, " ") != ".hidden.csv fresh.csv processing sub upload.csv.part upload.csv.tmp" {
		t.Errorf("left in the spool: %v", rest)
	}
	again, err := s.Claim(context.Background())
	if err != nil || strings.Join(names(again), " ") != "a.csv b.csv c.csv left-by-crash.csv" {
		t.Errorf("a second claim takes what is in processing/ again: %v %v", err, names(again))
	}
}

func TestDoneAndFail(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	write(t, dir, "x.csv", "1", old)
	s := &Spool{Dir: dir}
	got, _ := s.Claim(context.Background())
	if err := got[0].Fail(errors.New("line 3: broken")); err != nil {
		t.Fatal(err)
	}
	why, err := os.ReadFile(filepath.Join(dir, Failed, "x.csv.error.txt"))
	if err != nil || string(why) != "line 3: broken\n" {
		t.Errorf("sidecar: %v %q", err, why)
	}
	// The same name twice: both are kept.
	write(t, dir, "x.csv", "2", old)
	got, _ = s.Claim(context.Background())
	if err := got[0].Done(); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "x.csv", "3", old)
	got, _ = s.Claim(context.Background())
	if err := got[0].Done(); err != nil {
		t.Fatal(err)
	}
	done, _ := filepath.Glob(filepath.Join(dir, Done, "x*.csv"))
	if len(done) != 2 {
		t.Errorf("done/: %v", done)
	}
}

func TestOpenGzip(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, "ip\n192.0.2.1\n")
	zw.Close()
	write(t, dir, "feed.csv.GZ", buf.String(), time.Now().Add(-time.Hour))
	write(t, dir, "bad.csv.gz", "not gzip", time.Now().Add(-time.Hour))
	s := &Spool{Dir: dir}
	got, _ := s.Claim(context.Background())
	for _, f := range got {
		r, err := f.Open()
		if f.Name == "bad.csv.gz" {
			if err == nil || !strings.Contains(err.Error(), "bad.csv.gz") {
				t.Errorf("broken gzip: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "ip\n192.0.2.1\n" {
			t.Errorf("unpacked %q", b)
		}
	}
}

// Every compression a feed may arrive in is unpacked, whatever the file is
// called, and Unpack names what the parser should see.
func TestOpenFormats(t *testing.T) {
	const report = "2026-11-20-scan_rdp-test-geo.csv"
	plain, err := os.ReadFile(filepath.Join("..", "unpack", "testdata", report))
	if err != nil {
		t.Fatal(err)
	}
	bz, err := os.ReadFile(filepath.Join("..", "unpack", "testdata", report+".bz2"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	var zb bytes.Buffer
	z := zip.NewWriter(&zb)
	w, _ := z.Create("reports/" + report)
	w.Write(plain)
	z.Close()
	var two bytes.Buffer
	z = zip.NewWriter(&two)
	for _, n := range []string{"a.csv", "b.csv"} {
		w, _ := z.Create(n)
		w.Write(plain)
	}
	z.Close()
	tests := []struct {
		file, data, parse string
		err               string // the error must hold this; "" for none
	}{
		{"x-scan_rdp-y.csv.gz", gz.String(), "x-scan_rdp-y.csv", ""},
		{report + ".bz2", string(bz), report, ""},
		{"reports.zip", zb.String(), report, ""},
		{"2026-11-20-scan_rdp-z.csv", gz.String(), "2026-11-20-scan_rdp-z.csv", ""}, // gzip by its bytes alone
		{"two.zip", two.String(), "", "two.zip"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.file, tt.data, time.Now().Add(-time.Hour))
			got, err := (&Spool{Dir: dir}).Claim(context.Background())
			if err != nil || len(got) != 1 {
				t.Fatalf("claim: %v %v", names(got), err)
			}
			rc, name, err := got[0].Unpack()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(b, plain) {
				t.Errorf("unpacked %.80q, %v", b, err)
			}
			if filepath.Base(name) != tt.parse {
				t.Errorf("name for the parser %q, want %q", name, tt.parse)
			}
			// Open is Unpack without the name.
			rc, err = got[0].Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(b, plain) {
				t.Errorf("Open: %.80q", b)
			}
		})
	}
}

// Entries the spool never takes are named, with why, so that an operator
// is not left waiting for a file that will never be read.
func TestSkippedEntriesAreNamed(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "real.csv"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden.csv"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "half.csv.part"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(dir, "real.csv"), filepath.Join(dir, "link.csv"))
	os.Mkdir(filepath.Join(dir, "archive"), 0o755)
	got := map[string]string{}
	s := &Spool{Dir: dir, Skipped: func(name, why string) { got[name] = why }}
	files, err := s.Claim(context.Background())
	if err != nil || len(files) != 1 || files[0].Name != "real.csv" {
		t.Fatalf("claimed %v, %v", files, err)
	}
	for name, want := range map[string]string{".hidden.csv": "dot name", "half.csv.part": ".part", "link.csv": "symbolic link", "archive": "folder"} {
		if !strings.Contains(got[name], want) {
			t.Errorf("%s: %q, want it to say %q", name, got[name], want)
		}
	}
	if _, ok := got[Processing]; ok || len(got) != 4 {
		t.Errorf("skipped: %v", got)
	}
}
