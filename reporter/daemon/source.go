package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/feed/httpsrc"
	"github.com/autoreporter/autoreporter/reporter/feed/spool"
	"github.com/autoreporter/autoreporter/reporter/feed/ssapi"
)

// Source is where a feed's files come from: a spool folder, a URL, the
// Shadowserver Reports API. It only finds files and acknowledges them;
// the collector (Daemon.collect) reads them and keeps the feed's state,
// by one rule for every source (recordRun).
type Source interface {
	// Where names the source in a result when finding fails.
	Where() string
	// Find returns the files that are new since the last run. st is the
	// feed's state as stored (a URL's validators are in it).
	Find(ctx context.Context, st reporter.FeedState) ([]SourceFile, error)
}

// SourceFile is one file a Source found.
type SourceFile interface {
	// Name names the file in results and logs.
	Name() string
	// Open returns the file's content, unpacked, and the name the parser
	// sees (a zip's member names the Shadowserver report type).
	Open(ctx context.Context) (io.ReadCloser, string, error)
	// Finish acknowledges the file once the collector is done with it:
	// res says whether it was read (res.Err nil) and what it held. A file
	// read is never handed out again; one that failed is, or is set
	// aside, as the source does. It may keep what it must in st (a URL's
	// validators).
	Finish(ctx context.Context, res FileResult, st *reporter.FeedState) error
}

// source returns a feed's Source.
func (d *Daemon) source(f config.Feed) Source {
	ua := "autoreporter (" + d.cfg.Cert.Name + ")"
	switch s := f.Source; {
	case s.ShadowserverAPI != nil:
		a := s.ShadowserverAPI
		return &apiSource{d: d, feed: f.Name, days: a.Days, c: &ssapi.Client{
			API: a.URL, Download: a.DownloadURL, Key: a.Key.Reveal(), Secret: a.Secret.Reveal(),
			Reports: a.Reports, Types: a.Types,
			HTTP: httpsrc.Source{MaxBytes: s.MaxBytes, Timeout: s.Timeout.Duration(), Retries: s.RetryCount, UserAgent: ua, Sleep: d.sleep},
		}}
	case s.URL != "":
		return &urlSource{src: &httpsrc.Source{
			URL: s.URL, Headers: reveal(s.Headers), Query: reveal(s.Query),
			MaxBytes: s.MaxBytes, Timeout: s.Timeout.Duration(), Retries: s.RetryCount, UserAgent: ua, Sleep: d.sleep,
		}}
	}
	return d.spoolSource(f)
}

// collect runs a feed once: it finds the source's new files, reads each
// into the store, acknowledges it, and records the run in the feed's
// state (recordRun). A file that fails does not stop the others. A stop
// (ctx) leaves the files not yet read to the next run.
func (d *Daemon) collect(ctx context.Context, f config.Feed, src Source) ([]FileResult, error) {
	log := d.log.With("feed", f.Name)
	st, err := d.store.FeedState(ctx, f.Name)
	if err != nil {
		return []FileResult{{Feed: f.Name, File: src.Where(), Err: fmt.Errorf("feed %s: state: %w", f.Name, err)}}, nil
	}
	at := d.now().UTC()
	var out []FileResult
	files, err := src.Find(ctx, st)
	if err != nil {
		// As a file's, the error names what failed, not the feed: the
		// result, the log line and the job carry the feed's name.
		log.Error("feed failed", "source", src.Where(), slog.Any("err", err))
		out = append(out, FileResult{Feed: f.Name, File: src.Where(), Err: err})
	}
	complete := true
	for _, file := range files {
		if ctx.Err() != nil {
			// Not read: a spool file stays in processing/, a report is
			// not marked fetched.
			complete = false
			if ferr := file.Finish(ctx, FileResult{Feed: f.Name, File: file.Name(), Err: ctx.Err()}, &st); ferr != nil {
				log.Warn("file left for the next run", "file", file.Name(), slog.Any("err", ferr))
			}
			continue
		}
		res := FileResult{Feed: f.Name, File: file.Name()}
		rc, name, err := file.Open(ctx)
		if err == nil {
			res.Stats, err = d.ingester.Ingest(ctx, f.Name, d.parsers[f.Name], rc, name)
			rc.Close()
		}
		res.Err = err
		if ferr := file.Finish(ctx, res, &st); ferr != nil {
			res.Err = errors.Join(res.Err, ferr)
		}
		if ctx.Err() != nil {
			complete = false
			continue // cut short: neither read nor failed
		}
		if res.Err != nil {
			log.Error("file failed; tried again or kept aside", "file", file.Name(), slog.Any("err", res.Err))
		} else {
			log.Info("file ingested", "file", file.Name(), "rows", res.Stats.Rows, "kept", res.Stats.Kept,
				"new", res.Stats.Stored, "rejected", res.Stats.Rejected)
		}
		out = append(out, res)
	}
	recordRun(&st, at, out, complete)
	if serr := d.store.SaveFeedState(ctx, st); serr != nil {
		out = append(out, FileResult{Feed: f.Name, File: "feed state", Err: fmt.Errorf("feed %s: save state: %w", f.Name, serr)})
	}
	return out, ctx.Err()
}

// recordRun keeps one run of a feed in its state, by the one rule every
// source follows:
//
//   - A run succeeds when every file it found was read. Finding none is a
//     success: nothing new (an unchanged URL, an empty spool, no new report).
//   - A failed run (finding failed, or a file was not read) keeps its last
//     error, with the run's time, and the error is shown until a later run
//     succeeds: a good file does not hide a bad one of the same run.
//   - Each file read counts on its own (files, rows, rejected; Rows and
//     Rejected are the last one's), failed runs included.
//   - A run cut short by a stop (complete false) is neither: the files not
//     read are there for the next run.
//
// Pure, for the table test.
func recordRun(st *reporter.FeedState, at time.Time, results []FileResult, complete bool) {
	st.LastAttempt = at
	var cause string
	for _, r := range results {
		if r.Err != nil {
			cause = r.Err.Error()
			if !strings.Contains(cause, r.File) {
				cause = r.File + ": " + cause
			}
			continue
		}
		st.Rows, st.Rejected = r.Stats.Rows, r.Stats.Rejected
		st.Files++
		st.TotalRows += r.Stats.Rows
		st.TotalRejected += r.Stats.Rejected
	}
	switch {
	case cause != "":
		st.LastError, st.LastErrorAt = cause, at
	case complete:
		st.LastSuccess, st.LastError = at, ""
	}
}

// spoolSource reads a spool folder: each file is claimed by a rename,
// then moved to done/ or, with its reason, to failed/.
func (d *Daemon) spoolSource(f config.Feed) *spoolSource {
	sp := &spool.Spool{Dir: f.Source.Spool, Now: d.now, Skipped: func(name, why string) {
		// Once per name and process: the entry is there at every pass.
		if _, seen := d.skipped.LoadOrStore(f.Name+"/"+name, true); !seen {
			d.log.Warn("spool entry left alone", "feed", f.Name, "name", name, "why", why)
		}
	}, Unsettled: func(name string, settled time.Time) {
		d.log.Debug("spool file still changing; looked at again once settled", "feed", f.Name, "name", name, "at", settled)
		d.wakeAt("feed "+f.Name, settled)
	}}
	if d.settle {
		sp.Settle = f.Settle.Duration()
	}
	return &spoolSource{sp: sp}
}

type spoolSource struct{ sp *spool.Spool }

func (s *spoolSource) Where() string { return s.sp.Dir }

func (s *spoolSource) Find(ctx context.Context, _ reporter.FeedState) ([]SourceFile, error) {
	files, err := s.sp.Claim(ctx)
	out := make([]SourceFile, len(files))
	for i, f := range files {
		out[i] = spoolFile{f}
	}
	return out, err
}

type spoolFile struct{ f *spool.File }

func (f spoolFile) Name() string { return f.f.Name }

func (f spoolFile) Open(context.Context) (io.ReadCloser, string, error) { return f.f.Unpack() }

func (f spoolFile) Finish(ctx context.Context, res FileResult, _ *reporter.FeedState) error {
	switch {
	case ctx.Err() != nil:
		return nil // left in processing/ for the next pass
	case res.Err != nil:
		return f.f.Fail(res.Err)
	}
	return f.f.Done()
}

// urlSource fetches a URL with a conditional GET: unchanged since the
// last file read, it finds nothing.
type urlSource struct{ src *httpsrc.Source }

func (s *urlSource) Where() string { return s.src.URL }

func (s *urlSource) Find(ctx context.Context, st reporter.FeedState) ([]SourceFile, error) {
	fetched, err := s.src.Fetch(ctx, httpsrc.State{ETag: st.ETag, LastModified: st.LastModified})
	if err != nil {
		return nil, err
	}
	if fetched.NotModified {
		return nil, nil
	}
	return []SourceFile{&urlFile{fetched: fetched}}, nil
}

type urlFile struct{ fetched *httpsrc.Result }

func (f *urlFile) Name() string { return f.fetched.Name }

func (f *urlFile) Open(context.Context) (io.ReadCloser, string, error) {
	return f.fetched.Body, f.fetched.Name, nil
}

// Finish keeps the validators (ETag, Last-Modified) only once the body
// went into the store, so that a failed ingest fetches it again.
func (f *urlFile) Finish(_ context.Context, res FileResult, st *reporter.FeedState) error {
	f.fetched.Body.Close()
	if res.Err == nil {
		st.ETag, st.LastModified = f.fetched.State.ETag, f.fetched.State.LastModified
	}
	return nil
}

// apiSource lists the Shadowserver reports of the feed's window and finds
// each one not fetched before. A report is marked fetched only after it
// was ingested; a crash in between downloads it again, which stores
// nothing twice.
type apiSource struct {
	d    *Daemon
	feed string
	days int
	c    *ssapi.Client
}

func (s *apiSource) Where() string { return "reports/list" }

func (s *apiSource) Find(ctx context.Context, _ reporter.FeedState) ([]SourceFile, error) {
	today := s.d.now().UTC().Truncate(24 * time.Hour)
	list, err := s.c.List(ctx, today.AddDate(0, 0, -(s.days-1)), today)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, l := range list {
		ids[i] = l.ID
	}
	done, err := s.d.store.Fetched(ctx, s.feed, ids)
	if err != nil {
		return nil, err
	}
	var out []SourceFile
	for _, l := range list {
		if !done[l.ID] {
			out = append(out, &apiFile{s: s, l: l})
		}
	}
	s.d.log.Info("reports listed", "feed", s.feed, "listed", len(list), "new", len(out))
	return out, nil
}

type apiFile struct {
	s *apiSource
	l ssapi.Listed
}

func (f *apiFile) Name() string { return f.l.Name() }

func (f *apiFile) Open(ctx context.Context) (io.ReadCloser, string, error) {
	fetched, err := f.s.c.Fetch(ctx, f.l)
	if err != nil {
		return nil, "", err
	}
	return fetched.Body, fetched.Name, nil
}

func (f *apiFile) Finish(ctx context.Context, res FileResult, _ *reporter.FeedState) error {
	if res.Err != nil || ctx.Err() != nil {
		return nil // not marked: downloaded again on the next run
	}
	return f.s.d.store.MarkFetched(ctx, reporter.FetchedFile{Feed: f.s.feed, ID: f.l.ID, File: f.l.Name(),
		Fetched: f.s.d.now().UTC(), Rows: res.Stats.Rows, Rejected: res.Stats.Rejected})
}
