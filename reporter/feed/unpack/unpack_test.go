package unpack

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// report is the plain fixture; testdata also holds it bzip2ed (by the bzip2
// CLI: Go has no bzip2 writer).
const report = "2026-11-20-scan_rdp-test-geo.csv"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipped makes a zip of members name, content, name, content...
func zipped(t testing.TB, members ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for i := 0; i+1 < len(members); i += 2 {
		w, err := z.Create(members[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, members[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpen(t *testing.T) {
	plain := fixture(t, report)
	tests := []struct {
		name     string
		file     string // written to a temporary folder
		data     []byte
		wantName string // base name handed to the parser
		wantErr  error  // errors.Is; nil for success
		errHas   string // the error must name this
	}{
		{"plain", report, plain, report, nil, ""},
		{"gz", "x-scan_rdp-y.csv.gz", gzipped(t, plain), "x-scan_rdp-y.csv", nil, ""},
		{"gz upper case", "SCAN_RDP.CSV.GZ", gzipped(t, plain), "SCAN_RDP.CSV", nil, ""},
		{"gz by magic only", "2026-11-20-scan_rdp-a.csv", gzipped(t, plain), "2026-11-20-scan_rdp-a.csv", nil, ""},
		{"bz2", report + ".bz2", fixture(t, report+".bz2"), report, nil, ""},
		{"bz2 by magic only", "feed.dat", fixture(t, report+".bz2"), "feed.dat", nil, ""},
		{"zip", "reports.zip", zipped(t, "dir/"+report, string(plain)), report, nil, ""},
		{"zip with a folder and Finder metadata", "reports.zip", zipped(t, "dir/", "", "__MACOSX/._"+report, "junk", report, string(plain)), report, nil, ""},
		{"zip by magic only", "download", zipped(t, report, string(plain)), report, nil, ""},
		{"zip of two files", "two.zip", zipped(t, "a.csv", "x", "b.csv", "y"), "", ErrZipMembers, "two.zip"},
		{"empty zip", "none.zip", zipped(t), "", ErrZipMembers, "none.zip"},
		{"named gz, plain bytes", "bad.csv.gz", []byte("not gzip"), "", ErrNotCompressed, "bad.csv.gz"},
		{"named zip, empty", "empty.zip", nil, "", ErrNotCompressed, "empty.zip"},
		{"broken gzip header", "broken.csv.gz", []byte{0x1f, 0x8b, 8, 0, 1}, "", io.ErrUnexpectedEOF, "broken.csv.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			rc, name, err := Open(path, Limits{})
			if tt.wantErr != nil || tt.errHas != "" {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(fmtErr(err), tt.errHas) {
					t.Fatalf("err %v, want %v naming %s", err, tt.wantErr, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Errorf("unpacked %q", got)
			}
			if filepath.Dir(name) != filepath.Dir(path) || filepath.Base(name) != tt.wantName {
				t.Errorf("name %q, want %s in %s", name, tt.wantName, filepath.Dir(path))
			}
		})
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestCaps(t *testing.T) {
	// A gzip bomb: 64 MiB of zeros in ~64 KiB. The ratio counts at least
	// 1 MiB of packed bytes, so a ratio of 10 caps it at 10 MiB.
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	r, _, err := Reader(bytes.NewReader(gz.Bytes()), int64(gz.Len()), "bomb.csv.gz", Limits{MaxRatio: 10})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bomb.csv.gz") || n != 10<<20 {
		t.Errorf("ratio cap: %d bytes, %v", n, err)
	}
	// MaxUnpacked holds even where the ratio would allow more.
	r, _, _ = Reader(bytes.NewReader(gz.Bytes()), int64(gz.Len()), "bomb.csv.gz", Limits{MaxUnpacked: 1000})
	if n, err := io.Copy(io.Discard, r); !errors.Is(err, ErrTooLarge) || n != 1000 {
		t.Errorf("size cap: %d bytes, %v", n, err)
	}
	// A stream that ends exactly at the cap is whole.
	data := gzipped(t, bytes.Repeat([]byte("x"), 1000))
	r, _, _ = Reader(bytes.NewReader(data), int64(len(data)), "exact.gz", Limits{MaxUnpacked: 1000})
	if n, err := io.Copy(io.Discard, r); err != nil || n != 1000 {
		t.Errorf("exactly at the cap: %d bytes, %v", n, err)
	}
	// A zip whose header announces more than the cap is refused at once.
	big := zipped(t, "big.csv", strings.Repeat("x", 5000))
	if _, _, err := Reader(bytes.NewReader(big), int64(len(big)), "big.zip", Limits{MaxUnpacked: 1000}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("zip header over the cap: %v", err)
	}
}

func TestDetect(t *testing.T) {
	for _, tt := range []struct {
		magic string
		want  Format
	}{
		{"\x1f\x8b\x08\x00", Gzip},
		{"BZh9", Bzip2},
		{"BZh,", Plain}, // a CSV that starts with the letters BZh
		{"PK\x03\x04", Zip},
		{"PK\x05\x06", Zip}, // empty
		{"PK,x", Plain},
		{"ip,p", Plain},
		{"", Plain},
	} {
		if got := Detect([]byte(tt.magic)); got != tt.want {
			t.Errorf("Detect(%q) = %v, want %v", tt.magic, got, tt.want)
		}
	}
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone.csv.gz")
	_, _, err := Open(path, Limits{})
	if !errors.Is(err, os.ErrNotExist) || strings.Count(err.Error(), path) != 1 {
		t.Errorf("err %v: want not-exist naming the path once", err)
	}
}
