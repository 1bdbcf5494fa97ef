package shadowserver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/geo/mmdbgen"
	"github.com/autoreporter/autoreporter/reporter/feed/feedtest"
)

// The full-pass benchmarks read a generated global scan_rdp-like file from
// disk: AUTOREPORTER_BENCH_ROWS rows (default 100,000; the figures in the
// notes use 1,000,000), 1% of them inside the constituency.
var (
	passOnce sync.Once
	passFile string
	passRows int
)

func passData(b *testing.B) (string, int) {
	passOnce.Do(func() {
		passRows = 100000
		if v, err := strconv.Atoi(os.Getenv("AUTOREPORTER_BENCH_ROWS")); err == nil && v > 0 {
			passRows = v
		}
		dir, err := os.MkdirTemp("", "ar-bench-")
		if err != nil {
			b.Fatal(err)
		}
		passFile = filepath.Join(dir, "2026-11-20-scan_rdp-world.csv")
		f, err := os.Create(passFile)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		const chunk = 10000
		for done := 0; done < passRows; done += chunk {
			n := min(chunk, passRows-done)
			data := ScanRDP(n)
			if done > 0 {
				data = data[bytes.IndexByte(data, '\n')+1:] // header once
			}
			w.Write(data)
		}
		w.Flush()
		f.Close()
	})
	if passFile == "" {
		b.Fatal("no benchmark file")
	}
	return passFile, passRows
}

func TestMain(m *testing.M) {
	code := m.Run()
	if passFile != "" {
		os.RemoveAll(filepath.Dir(passFile))
	}
	os.Exit(code)
}

func benchConstituency(b *testing.B) *geo.Constituency {
	dir := b.TempDir()
	nets, _ := mmdbgen.Parse(strings.NewReader("192.0.2.0/24 64500 FI FI ISP\n100.64.0.0/10 64510 US US Elsewhere\n"), "n")
	mmdbgen.WriteASN(filepath.Join(dir, "a.mmdb"), nets)
	mmdbgen.WriteCountry(filepath.Join(dir, "c.mmdb"), nets)
	db, err := geo.Open(filepath.Join(dir, "a.mmdb"), filepath.Join(dir, "c.mmdb"), geo.LayoutAuto)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	c, err := geo.Compile(db, geo.ConstituencySpec{Countries: []string{"FI"}})
	if err != nil {
		b.Fatal(err)
	}
	if !c.Contains(netip.MustParseAddr("192.0.2.1")) || c.Contains(netip.MustParseAddr("100.64.0.1")) {
		b.Fatal("constituency is not what the benchmark needs")
	}
	return c
}

// BenchmarkFullPass: file on disk -> Shadowserver parser -> constituency.
func BenchmarkFullPass(b *testing.B) {
	path, rows := passData(b)
	st, _ := os.Stat(path)
	cons := benchConstituency(b)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	kept := 0
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		s := &feedtest.Sink{KeepFunc: cons.Contains, Discard: true}
		if err := (&Parser{}).Parse(context.Background(), f, path, s); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if s.Count+s.Outside != rows || len(s.Rejects) != 0 {
			b.Fatalf("read %d+%d rows (%d rejected), want %d", s.Count, s.Outside, len(s.Rejects), rows)
		}
		kept += s.Count
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows*b.N), "ns/row")
	_ = kept
}

// BenchmarkFileLineCount is the floor for the same file: read it and count
// newlines, nothing else.
func BenchmarkFileLineCount(b *testing.B) {
	path, rows := passData(b)
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	buf := make([]byte, 256<<10)
	for i := 0; i < b.N; i++ {
		f, _ := os.Open(path)
		n := 0
		for {
			k, err := f.Read(buf)
			n += bytes.Count(buf[:k], []byte{'\n'})
			if err == io.EOF {
				break
			}
		}
		f.Close()
		if n != rows+1 {
			b.Fatalf("%d lines", n)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
