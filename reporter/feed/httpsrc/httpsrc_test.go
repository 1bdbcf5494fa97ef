package httpsrc

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const body = "first_seen_utc,dst_ip,dst_port,malware\n2026-11-20 10:00:00,192.0.2.5,443,QakBot\n"

func fetchAll(t *testing.T, s *Source, st State) (*Result, string) {
	t.Helper()
	res, err := s.Fetch(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if res.NotModified {
		return res, ""
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestConditionalGet(t *testing.T) {
	var hits, full atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Auth-Key") != "k3y" || r.URL.Query().Get("key") != "q" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Fri, 20 Nov 2026 10:00:00 GMT")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	s := &Source{URL: srv.URL + "/feeds/ipblocklist.csv", Headers: map[string]string{"Auth-Key": "k3y"}, Query: map[string]string{"key": "q"}}
	res, got := fetchAll(t, s, State{})
	if got != body || res.Name != "ipblocklist.csv" || res.State.ETag != `"v1"` || res.State.LastModified == "" {
		t.Fatalf("first fetch: %+v %q", res, got)
	}
	res, _ = fetchAll(t, s, res.State)
	if !res.NotModified || res.Body != nil {
		t.Fatalf("second fetch not 304: %+v", res)
	}
	if hits.Load() != 2 || full.Load() != 1 {
		t.Errorf("hits %d, full bodies %d", hits.Load(), full.Load())
	}
}

func TestRetryAfter(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		default:
			io.WriteString(w, body)
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	s := &Source{URL: srv.URL, Retries: 3, Backoff: time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	_, got := fetchAll(t, s, State{})
	if got != body {
		t.Fatalf("body %q", got)
	}
	if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 2*time.Second {
		t.Errorf("waits %v, want [7s 2s]", waits)
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	s := &Source{URL: srv.URL + "/x?key=SECRET", Retries: 5, Sleep: func(context.Context, time.Duration) error { return nil }}
	_, err := s.Fetch(context.Background(), State{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 404 || n.Load() != 1 {
		t.Errorf("err %v after %d requests", err, n.Load())
	}
	s.URL = "http://127.0.0.1:1/x?key=SECRET"
	s.Retries = 0
	_, err = s.Fetch(context.Background(), State{})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("connection error %v (must not show the query)", err)
	}
}

func serve(b []byte, name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Write(b)
	}))
}

func TestUnpack(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(body))
	zw.Close()
	var zb bytes.Buffer
	z := zip.NewWriter(&zb)
	f, _ := z.Create("dir/2026-11-20-scan_rdp-x.csv")
	f.Write([]byte(body))
	z.Close()
	for name, tc := range map[string]struct {
		data     []byte
		sent     string
		wantName string
	}{
		"plain": {[]byte(body), "a.csv", "a.csv"},
		"gzip":  {gz.Bytes(), "a.csv.gz", "a.csv"},
		"zip":   {zb.Bytes(), "a.zip", "2026-11-20-scan_rdp-x.csv"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := serve(tc.data, tc.sent)
			defer srv.Close()
			res, got := fetchAll(t, &Source{URL: srv.URL}, State{})
			if got != body || res.Name != tc.wantName {
				t.Errorf("name %q body %q", res.Name, got)
			}
		})
	}
}

// The shared fixtures of package unpack, bzip2 among them, come through a
// download as they come through the spool; a zip of several files is
// refused, naming the file; a .gz whose gzip layer the transport took off
// (Content-Encoding: gzip) is read as what it is.
func TestUnpackShared(t *testing.T) {
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
	var two bytes.Buffer
	z := zip.NewWriter(&two)
	for _, n := range []string{"a.csv", "b.csv"} {
		w, _ := z.Create(n)
		w.Write(plain)
	}
	z.Close()
	tests := []struct {
		name, sent string
		data       []byte
		encoding   string // Content-Encoding
		wantName   string
		err        string // the error must hold this; "" for none
	}{
		{"gz", "x-scan_rdp-y.csv.gz", gz.Bytes(), "", "x-scan_rdp-y.csv", ""},
		{"bz2", report + ".bz2", bz, "", report, ""},
		{"gz under a plain name", report, gz.Bytes(), "", report, ""},
		{"gz taken off by the transport", "x-scan_rdp-y.csv.gz", gz.Bytes(), "gzip", "x-scan_rdp-y.csv", ""},
		{"zip of two files", "two.zip", two.Bytes(), "", "", "two.zip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Disposition", `attachment; filename="`+tc.sent+`"`)
				if tc.encoding != "" {
					w.Header().Set("Content-Encoding", tc.encoding)
				}
				w.Write(tc.data)
			}))
			defer srv.Close()
			s := &Source{URL: srv.URL, Retries: 2, Sleep: func(context.Context, time.Duration) error { return nil }}
			res, err := s.Fetch(context.Background(), State{})
			if tc.err != "" {
				// Asking again would get the same file: not retried.
				if err == nil || !strings.Contains(err.Error(), tc.err) || hits.Load() != 1 {
					t.Fatalf("err %v after %d requests, want one naming %s after 1", err, hits.Load(), tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			if err != nil || !bytes.Equal(got, plain) || res.Name != tc.wantName {
				t.Errorf("name %q body %.80q %v", res.Name, got, err)
			}
		})
	}
}

func TestCaps(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 4096)
	srv := serve(big, "big.csv")
	defer srv.Close()
	if _, err := (&Source{URL: srv.URL, MaxBytes: 1000}).Fetch(context.Background(), State{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("download cap: %v", err)
	}
	// A gzip bomb: 64 MiB of zeros in ~64 KiB.
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	bomb := serve(gz.Bytes(), "bomb.csv.gz")
	defer bomb.Close()
	res, err := (&Source{URL: bomb.URL, MaxRatio: 10}).Fetch(context.Background(), State{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); !errors.Is(err, ErrTooLarge) {
		t.Errorf("unpack cap: %v", err)
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{"": 0, "30": 30 * time.Second, "Mon, 23 Nov 2026 06:01:00 GMT": time.Minute, "junk": 0} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
