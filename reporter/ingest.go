package reporter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/autoreporter/autoreporter/geo"
)

// Sink receives what a parser reads. Keep is asked with the address before
// the rest of the row is decoded, so that a global feed costs little more
// than a scan for the rows outside the constituency.
type Sink interface {
	Keep(ip netip.Addr) bool
	Event(e *Event) error
	Reject(line int, reason, raw string)
	// NoAddress counts a row that has no address to report (for example a
	// compromised account); it is not an error.
	NoAddress(line int)
}

// Parser reads one file of a feed format.
type Parser interface {
	Parse(ctx context.Context, r io.Reader, file string, sink Sink) error
}

// Enricher answers geo questions.
type Enricher interface {
	Lookup(ip netip.Addr) (geo.Info, error)
}

// Membership is the compiled constituency test.
type Membership interface {
	Contains(ip netip.Addr) bool
}

// IngestStats counts what happened to the rows of one file.
type IngestStats struct {
	Rows      int // data rows read: Kept + Outside + NoAddress + Rejected
	Kept      int // inside the constituency
	Outside   int
	NoAddress int
	Rejected  int
	Stored    int // new in the store (Kept minus rows already stored)
	// Reasons counts Rejected by reason class (RejectClass).
	Reasons map[string]int
}

// Add sums stats.
func (s *IngestStats) Add(o IngestStats) {
	s.Rows += o.Rows
	s.Kept += o.Kept
	s.Outside += o.Outside
	s.NoAddress += o.NoAddress
	s.Rejected += o.Rejected
	s.Stored += o.Stored
	for k, n := range o.Reasons {
		if s.Reasons == nil {
			s.Reasons = map[string]int{}
		}
		s.Reasons[k] += n
	}
}

// Ingester runs parse -> enrich -> keep? -> store. The owner (address,
// ASN) is stored with each event; where its reports go is decided at report
// time, so that a contact changed after ingest applies.
type Ingester struct {
	Geo          Enricher
	Constituency Membership
	Store        EventWriter
	Log          *slog.Logger
	Now          func() time.Time
	// BatchSize is how many events go to the store at once.
	BatchSize int
	// Writers is how many batches may be on their way to the store while
	// the file is read on: 0 stores each batch before the next row is
	// read; 1 overlaps parsing with one batch's insert; more suit a store
	// that takes batches side by side (PostgreSQL, one connection each).
	Writers int
	// LoggedRejects caps how many rejected rows of one file are logged one
	// by one; the rest are counted and kept in the store.
	LoggedRejects int
	// Watch keeps the whole entry lists of the feeds the flow collectors
	// watch; nil when no flow watches any.
	Watch *IngestWatch
}

// WatchWriter is what ingest writes of a watched feed.
type WatchWriter interface {
	ReplaceWatchlist(ctx context.Context, w Watchlist) error
}

// IngestWatch names the watched feeds. Every row of such a feed is read
// (not only the constituency's) and its address kept in the feed's
// watchlist, replaced by each file that lists at least one entry, so that
// a broken download of comments alone does not empty it.
type IngestWatch struct {
	Store WatchWriter
	// Feeds maps each watched feed to whether its port is part of an
	// entry: ThreatFox lists ip:port indicators, a server shared with
	// others; Feodo Tracker's port is what the C2 was seen on, and the
	// address alone is watched.
	Feeds map[string]bool
}

type ingestSink struct {
	in      *Ingester
	ctx     context.Context
	feed    string
	file    string
	now     time.Time
	log     *slog.Logger
	stats   IngestStats
	batch   []Event
	rejects []Reject
	watch   *watchCollector // nil unless the feed is watched
	ports   bool
	writes  *batchWriter // nil when batches are stored in line
}

func (s *ingestSink) Keep(ip netip.Addr) bool {
	if s.watch != nil {
		return true // every row: Event keeps the constituency's share
	}
	if s.in.Constituency.Contains(ip) {
		return true
	}
	s.stats.Outside++
	return false
}

func (s *ingestSink) NoAddress(line int) {
	s.stats.NoAddress++
}

func (s *ingestSink) Reject(line int, reason, raw string) {
	s.stats.Rejected++
	if s.stats.Rejected <= s.in.LoggedRejects {
		s.log.Warn("row rejected", "file", s.file, "line", line, "reason", reason)
	} else if s.stats.Rejected == s.in.LoggedRejects+1 {
		s.log.Warn("more rows rejected; counting them without logging each", "file", s.file)
	}
	const maxRaw = 2048
	if len(raw) > maxRaw {
		raw = raw[:maxRaw]
	}
	class := RejectClass(reason)
	if s.stats.Reasons == nil {
		s.stats.Reasons = map[string]int{}
	}
	s.stats.Reasons[class]++
	s.rejects = append(s.rejects, Reject{Feed: s.feed, File: s.file, Line: line, Reason: reason, Class: class, Raw: raw})
}

func (s *ingestSink) Event(e *Event) error {
	if s.watch != nil {
		s.watch.add(e, s.ports)
		if !s.in.Constituency.Contains(e.IP) {
			s.stats.Outside++
			return nil
		}
	}
	info, err := s.in.Geo.Lookup(e.IP)
	if err != nil {
		return err
	}
	// Our databases win over whatever the feed said.
	e.ASN, e.ASOrg, e.Country = info.ASN, info.ASOrg, info.Country
	e.Feed = s.feed
	if e.Time.IsZero() {
		e.Time = s.now // the feed gave no time: it was seen now
	}
	e.Ingested = s.now
	s.stats.Kept++
	if c := cap(s.batch); len(s.batch) == c && c < s.in.BatchSize {
		// A file with a few kept rows costs a small batch; a larger one
		// grows it fourfold at a time, fewer copies left to the collector
		// than append's doublings.
		n := min(s.in.BatchSize, max(1024, 4*c))
		s.batch = append(make([]Event, 0, n), s.batch...)
	}
	s.batch = append(s.batch, *e)
	if len(s.batch) >= s.in.BatchSize {
		return s.flush()
	}
	return nil
}

func (s *ingestSink) flush() error {
	if len(s.rejects) > 0 {
		if err := s.in.Store.AddRejects(s.ctx, s.rejects); err != nil {
			return fmt.Errorf("store rejects: %w", err)
		}
		s.rejects = s.rejects[:0]
	}
	if len(s.batch) == 0 {
		return nil
	}
	if s.writes != nil {
		next, err := s.writes.send(s.batch)
		s.batch = next
		return err
	}
	n, err := s.in.Store.InsertEvents(s.ctx, s.batch)
	s.batch = s.batch[:0] // a batch the store refused stops the file; it is not tried again
	if err != nil {
		return fmt.Errorf("store events: %w", err)
	}
	s.stats.Stored += n
	return nil
}

// batchWriter stores batches in goroutines of its own while the parser
// reads on, so that on a file where every row is kept the store's time
// and the parser's add up to the longer of the two instead of their sum.
// A file is ingested only once every batch sent has been stored (wait),
// so a crash still leaves the whole file to be read again, and what it
// stored already is skipped as before. Batches are sorted by the store,
// so two in flight at once lock the unique index's keys in one order and
// never deadlock each other.
type batchWriter struct {
	store  EventWriter
	ctx    context.Context
	cancel context.CancelFunc
	work   chan []Event
	free   chan []Event // batches stored, for the parser to fill again
	mu     sync.Mutex
	stored int
	err    error
	wg     sync.WaitGroup
	closed sync.Once
}

func newBatchWriter(ctx context.Context, store EventWriter, writers int) *batchWriter {
	w := &batchWriter{store: store, work: make(chan []Event), free: make(chan []Event, writers+1)}
	w.ctx, w.cancel = context.WithCancel(ctx)
	// One batch for each writer and one for the parser to fill meanwhile;
	// each grows as it is filled, so a small file costs little.
	for range writers + 1 {
		w.free <- nil
	}
	w.wg.Add(writers)
	for range writers {
		go w.run()
	}
	return w
}

func (w *batchWriter) run() {
	defer w.wg.Done()
	for batch := range w.work {
		n, err := w.insert(batch)
		w.mu.Lock()
		w.stored += n
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("store events: %w", err)
			w.cancel()
		}
		w.mu.Unlock()
		clear(batch) // the events' strings and maps go with the batch
		select {
		case w.free <- batch[:0]:
		default: // never the case while batches come from free alone
		}
	}
}

// insert stores a batch. A panic below it becomes the file's error, as it
// would in the job that runs the ingest were the batch stored in line: on
// a goroutine of its own it would end the process.
func (w *batchWriter) insert(batch []Event) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("panic: %v", p)
		}
	}()
	return w.store.InsertEvents(w.ctx, batch)
}

// send hands a full batch to a writer and returns an empty one to fill,
// or the first error a writer met (the file stops there). Once that error
// is known nothing more is sent, whatever the parser does with it.
func (w *batchWriter) send(batch []Event) ([]Event, error) {
	if err := w.failed(); err != nil {
		return batch[:0], err
	}
	select {
	case w.work <- batch:
	case <-w.ctx.Done():
		return batch[:0], w.failed()
	}
	select {
	case next := <-w.free:
		return next, w.failed()
	case <-w.ctx.Done():
		return nil, w.failed()
	}
}

func (w *batchWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	return w.ctx.Err()
}

// wait lets every batch sent reach the store and returns how many events
// were new and the first error. It may be called again (a deferred call
// after a panic in the parser ends the writers too).
func (w *batchWriter) wait() (int, error) {
	w.closed.Do(func() { close(w.work) })
	w.wg.Wait()
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stored, w.err
}

// Ingest reads one file of a feed and stores the events inside the
// constituency. Bad rows are counted, logged (up to a cap) and kept; they
// never stop the file. The error is for what stops the whole file: an
// unreadable format, a failing store, a cancelled context.
func (in *Ingester) Ingest(ctx context.Context, feed string, p Parser, r io.Reader, file string) (IngestStats, error) {
	if in.BatchSize <= 0 {
		in.BatchSize = 1000
	}
	s := &ingestSink{in: in, ctx: ctx, feed: feed, file: file, now: in.Now().UTC(), log: in.Log.With("feed", feed)}
	if in.Watch != nil {
		if ports, ok := in.Watch.Feeds[feed]; ok {
			s.watch, s.ports = &watchCollector{}, ports
		}
	}
	if in.Writers > 0 {
		s.writes = newBatchWriter(ctx, in.Store, in.Writers)
		defer s.writes.wait() // a panic in the parser leaves no writer behind
		s.batch = <-s.writes.free
	}
	err := p.Parse(ctx, r, file, s)
	if ferr := s.flush(); err == nil {
		err = ferr
	}
	if s.writes != nil {
		n, werr := s.writes.wait()
		s.stats.Stored += n
		if err == nil {
			err = werr
		}
	}
	if err == nil && s.watch != nil {
		if len(s.watch.entries) == 0 {
			s.log.Warn("watched feed's file lists no entry; its watchlist is left as it was", "file", file)
		} else if werr := in.Watch.Store.ReplaceWatchlist(ctx, Watchlist{Feed: feed, Updated: s.now, Entries: s.watch.entries}); werr != nil {
			err = fmt.Errorf("store watchlist: %w", werr)
		}
	}
	// A row can be rejected after its address was found inside, so rows are
	// counted by their outcome, once each.
	s.stats.Rows = s.stats.Kept + s.stats.Outside + s.stats.NoAddress + s.stats.Rejected
	if err != nil {
		return s.stats, fmt.Errorf("feed %s: %s: %w", feed, file, err)
	}
	return s.stats, nil
}
