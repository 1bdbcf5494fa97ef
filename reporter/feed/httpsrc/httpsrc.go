// Package httpsrc fetches a feed over HTTP(S) politely: a conditional GET
// (ETag, If-Modified-Since) so that an unchanged feed costs one 304, a cap on
// what is downloaded and on what it unpacks to (gzip, bzip2, zip of one
// file, by package unpack, as every other path unpacks), timeouts, and
// retries with backoff that honour Retry-After.
package httpsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter/feed/unpack"
)

// State is what is remembered of a feed between fetches.
type State struct {
	ETag         string
	LastModified string
}

// Source is one feed URL.
type Source struct {
	URL string
	// Method is GET unless set; a POST sends Body (an API call) and is
	// retried like a GET, so it must be safe to repeat.
	Method  string
	Body    []byte
	Headers map[string]string // e.g. Auth-Key for abuse.ch; values are secrets
	Query   map[string]string // added to the URL; values are secrets
	// MaxBytes caps the download; MaxUnpacked caps what it unpacks to, and
	// MaxRatio caps unpacked/downloaded, against decompression bombs.
	MaxBytes    int64
	MaxUnpacked int64
	MaxRatio    int64
	Timeout     time.Duration
	Retries     int
	Backoff     time.Duration
	Client      *http.Client
	UserAgent   string
	// Sleep waits between retries; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Result is one fetch.
type Result struct {
	NotModified bool
	Name        string        // a file name for the body: from Content-Disposition or the URL
	Body        io.ReadCloser // unpacked; nil when NotModified
	State       State         // to remember once the body was ingested
	Status      int
}

// ErrTooLarge is a body or an unpacked body over its cap. It is unpack's,
// so that errors.Is holds for both.
var ErrTooLarge = unpack.ErrTooLarge

// StatusError is an HTTP answer that is not a success.
type StatusError struct {
	Code       int
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// Temporary is true for answers worth retrying.
func (e *StatusError) Temporary() bool { return e.Code == 429 || e.Code == 408 || e.Code >= 500 }

func (s *Source) defaults() {
	if s.MaxBytes <= 0 {
		s.MaxBytes = 512 << 20
	}
	if s.MaxUnpacked <= 0 {
		s.MaxUnpacked = 8 << 30
	}
	if s.MaxRatio <= 0 {
		s.MaxRatio = 200
	}
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Minute
	}
	if s.Backoff <= 0 {
		s.Backoff = 5 * time.Second
	}
	if s.Client == nil {
		s.Client = &http.Client{}
	}
	if s.Sleep == nil {
		s.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
}

// Fetch downloads the feed unless it is unchanged since st. The body is
// spooled to a temporary file (so that the connection is not held open while
// a slow store ingests, and so that zip can be read) and removed on Close.
func (s *Source) Fetch(ctx context.Context, st State) (*Result, error) {
	s.defaults()
	var last error
	for attempt := 0; attempt <= s.Retries; attempt++ {
		if attempt > 0 {
			wait := s.Backoff << (attempt - 1)
			var se *StatusError
			if errors.As(last, &se) && se.RetryAfter > 0 {
				wait = se.RetryAfter
			}
			if err := s.Sleep(ctx, min(wait, time.Hour)); err != nil {
				return nil, err
			}
		}
		res, err := s.once(ctx, st)
		if err == nil {
			return res, nil
		}
		last = err
		var se *StatusError
		// What the server sent is wrong in itself: asking again gives the same.
		permanent := errors.Is(err, ErrTooLarge) || errors.Is(err, unpack.ErrZipMembers) || errors.Is(err, unpack.ErrNotCompressed)
		if ctx.Err() != nil || permanent || (errors.As(err, &se) && !se.Temporary()) {
			break
		}
	}
	return nil, last
}

func (s *Source) once(ctx context.Context, st State) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if len(s.Query) > 0 {
		q := u.Query()
		for k, v := range s.Query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	method := s.Method
	if method == "" {
		method = http.MethodGet
	}
	var reqBody io.Reader
	if s.Body != nil {
		reqBody = bytes.NewReader(s.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reqBody)
	if err != nil {
		return nil, err
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	if st.ETag != "" {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		// The error names the URL with its query: keep secrets out of it.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("%s %s: %w", method, redact(s.URL), ue.Err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return &Result{NotModified: true, State: st, Status: resp.StatusCode}, nil
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &StatusError{Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	if resp.ContentLength > s.MaxBytes {
		return nil, fmt.Errorf("GET %s: %d bytes announced: %w (%d)", redact(s.URL), resp.ContentLength, ErrTooLarge, s.MaxBytes)
	}
	tmp, err := os.CreateTemp("", "autoreporter-fetch-*")
	if err != nil {
		return nil, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, s.MaxBytes+1))
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("GET %s: read body: %w", redact(s.URL), err)
	}
	if n > s.MaxBytes {
		cleanup()
		return nil, fmt.Errorf("GET %s: %w (%d bytes)", redact(s.URL), ErrTooLarge, s.MaxBytes)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, err
	}
	name := fileName(resp, u)
	if resp.Uncompressed {
		// The transport took off a gzip Content-Encoding (Apache's AddEncoding
		// does that to .gz files): the body is what the name less .gz says.
		if k := len(name) - len(".gz"); k > 0 && strings.EqualFold(name[k:], ".gz") {
			name = name[:k]
		}
	}
	body, name, err := unpack.Reader(tmp, n, name, unpack.Limits{MaxUnpacked: s.MaxUnpacked, MaxRatio: s.MaxRatio})
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("GET %s: %w", redact(s.URL), err)
	}
	return &Result{
		Name:   name,
		Body:   &tempBody{Reader: body, cleanup: cleanup},
		State:  State{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")},
		Status: resp.StatusCode,
	}, nil
}

type tempBody struct {
	io.Reader
	cleanup func()
}

func (b *tempBody) Close() error { b.cleanup(); return nil }

func fileName(resp *http.Response, u *url.URL) string {
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
			return path.Base(params["filename"])
		}
	}
	if b := path.Base(u.Path); b != "" && b != "/" && b != "." {
		return b
	}
	return u.Host
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact drops the query string, where API keys often travel.
func redact(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i] + "?…"
	}
	return raw
}
