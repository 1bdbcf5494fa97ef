package unpack_test

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/autoreporter/autoreporter/reporter/feed/feedtest"
	"github.com/autoreporter/autoreporter/reporter/feed/shadowserver"
	"github.com/autoreporter/autoreporter/reporter/feed/unpack"
)

// TestOpenThenParse is the ingest command's path (daemon.IngestFile): Open,
// then the Shadowserver parser with the name Open gives. A compressed
// report keeps its report type and reads as the plain one does.
func TestOpenThenParse(t *testing.T) {
	const report = "2026-11-20-scan_rdp-test-geo.csv"
	plain, err := os.ReadFile(filepath.Join("testdata", report))
	if err != nil {
		t.Fatal(err)
	}
	bz, err := os.ReadFile(filepath.Join("testdata", report+".bz2"))
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
	for _, tt := range []struct {
		file string
		data []byte
	}{
		{"2026-11-23-scan_rdp-sweden-geo.csv.gz", gz.Bytes()},
		{report + ".bz2", bz},
		{"daily.zip", zb.Bytes()},
	} {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			rc, name, err := unpack.Open(path, unpack.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			s := &feedtest.Sink{}
			if err := (&shadowserver.Parser{}).Parse(context.Background(), rc, name, s); err != nil {
				t.Fatalf("parse %s as %s: %v", tt.file, name, err)
			}
			if len(s.Events) != 3 || len(s.Rejects) != 0 {
				t.Fatalf("%d events, rejects %+v", len(s.Events), s.Rejects)
			}
			for _, e := range s.Events {
				if e.Classification != "vulnerable-system" || e.Identifier != "rdp" {
					t.Errorf("event %+v: not read as scan_rdp", e)
				}
			}
		})
	}
}
