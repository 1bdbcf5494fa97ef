package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/flow"
)

// flowRunner is one configured flow collector.
type flowRunner struct {
	cfg     config.Flow
	matcher *flow.Matcher
	decoder *flow.Decoder
	log     *slog.Logger
	// loaded is when each watched feed's list in use was replaced.
	loaded map[string]time.Time
}

// newFlows makes the collectors; nothing is bound until Run starts them.
func (d *Daemon) newFlows() error {
	for _, fc := range d.cfg.Flows {
		log := d.log.With("flow", fc.Name)
		m := flow.NewMatcher(d.geo, fc.Window.Duration(), fc.MaxOpen)
		dec, err := flow.NewDecoder(flow.Exporters(fc.ExporterPrefixes), m, log)
		if err != nil {
			return fmt.Errorf("flow %s: %w", fc.Name, err)
		}
		fr := &flowRunner{cfg: fc, matcher: m, decoder: dec, log: log}
		d.flows = append(d.flows, fr)
		labels := map[string]string{"flow": fc.Name}
		d.metrics.Counter("flow_datagrams_total", "Datagrams (or stream messages) received by a flow collector.", labels, func() float64 { return float64(dec.Stats().Packets) })
		d.metrics.Counter("flow_refused_total", "Datagrams dropped undecoded: their exporter is not on the flow's allow-list.", labels, func() float64 { return float64(dec.Stats().Refused) })
		d.metrics.Counter("flow_decode_errors_total", "Datagrams that could not be decoded (in full).", labels, func() float64 { return float64(dec.Stats().DecodeErrors) })
		d.metrics.Counter("flow_records_total", "Flow records decoded.", labels, func() float64 { return float64(dec.Stats().Records) })
		d.metrics.Counter("flow_matched_total", "Flow records between the constituency and a watched entry.", labels, func() float64 { return float64(m.Counts().Matched) })
		d.metrics.Counter("flow_overflow_total", "Matched flows dropped because flows[].max_open aggregates were open.", labels, func() float64 { return float64(m.Counts().Overflow) })
		d.metrics.GaugeWith("flow_open_aggregates", "Aggregates whose window is open.", labels, func() float64 { return float64(m.Counts().Open) })
		d.metrics.GaugeWith("flow_watched_indicators", "Indicators in the flow's watchlist.", labels, func() float64 { return float64(m.Watchlist().Len()) })
	}
	return nil
}

// startFlows restores each flow's saved aggregates, loads its watchlist,
// binds its listeners and starts reading. The returned stop ends the
// reading, waits for it, and saves the open aggregates for the next start.
func (d *Daemon) startFlows(ctx context.Context) (stop func(), err error) {
	if len(d.flows) == 0 {
		return func() {}, nil
	}
	readCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	stop = func() {
		cancel()
		wg.Wait()
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		for _, fr := range d.flows {
			if err := d.saveFlow(sctx, fr); err != nil {
				fr.log.Error("open aggregates not saved; they are lost", slog.Any("err", err))
			} else {
				fr.log.Info("flow stopped; open aggregates saved", "open", len(fr.matcher.Open()))
			}
		}
	}
	for i, fr := range d.flows {
		st, err := d.store.FlowState(ctx, fr.cfg.Name)
		if err == nil {
			var open []flow.Aggregate
			if open, err = flow.DecodeState(st); err == nil {
				fr.matcher.Restore(open)
			}
		}
		if err != nil {
			// A state this build cannot read must not stop collection.
			fr.log.Error("saved aggregates not restored", slog.Any("err", err))
		}
		if err := d.loadWatchlist(ctx, fr); err != nil {
			cancel()
			wg.Wait()
			return nil, err
		}
		for _, l := range []struct{ key, addr string }{{"netflow", fr.cfg.NetFlow}, {"sflow", fr.cfg.SFlow}} {
			if l.addr == "" {
				continue
			}
			ln, err := flow.Listen(ctx, l.addr, fr.decoder, d.now)
			if err != nil {
				cancel()
				wg.Wait()
				return nil, fmt.Errorf("flows[%d].%s: %w", i, l.key, err)
			}
			fr.log.Info("listening for flows", "protocol", l.key, "addr", ln.Addr().String(), "exporters", len(fr.cfg.ExporterPrefixes))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ln.Serve(readCtx); err != nil {
					fr.log.Error("flow listener stopped", "addr", ln.Addr().String(), slog.Any("err", err))
				}
			}()
		}
		if fr.cfg.GoFlow2 != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// goflow2 may come up after us, or restart: try again.
				for readCtx.Err() == nil {
					err := fr.decoder.FollowStream(readCtx, fr.cfg.GoFlow2)
					if err == nil {
						return
					}
					fr.log.Error("goflow2 stream not read; trying again in 10 s", slog.Any("err", err))
					select {
					case <-readCtx.Done():
					case <-time.After(10 * time.Second):
					}
				}
			}()
		}
	}
	d.flowsRunning = true
	return stop, nil
}

// loadWatchlist compiles the flow's watched feeds' lists, in the order
// the config names them, and swaps the table in.
func (d *Daemon) loadWatchlist(ctx context.Context, fr *flowRunner) error {
	lists, err := d.store.Watchlists(ctx, fr.cfg.Watch)
	if err != nil {
		return fmt.Errorf("flow %s: %w", fr.cfg.Name, err)
	}
	byFeed := map[string]reporter.Watchlist{}
	for _, l := range lists {
		byFeed[l.Feed] = l
	}
	ordered := make([]reporter.Watchlist, 0, len(lists))
	fr.loaded = map[string]time.Time{}
	for _, w := range fr.cfg.Watch {
		if l, ok := byFeed[w]; ok {
			ordered = append(ordered, l)
			fr.loaded[w] = l.Updated
		}
	}
	t := flow.Compile(ordered)
	fr.matcher.SetWatchlist(t)
	fr.log.Info("watchlist loaded", "feeds", len(ordered), "indicators", t.Len())
	if len(ordered) < len(fr.cfg.Watch) {
		fr.log.Warn("a watched feed has no list yet: it has not ingested a file", "watch", fr.cfg.Watch, "with_list", len(ordered))
	}
	return nil
}

// refreshWatchlists reloads the lists of the flows whose watched feeds
// were replaced since they were loaded: by this instance's ingest, or by
// another's sharing the store.
func (d *Daemon) refreshWatchlists(ctx context.Context) error {
	if !d.flowsRunning {
		return nil
	}
	var errs []error
	for _, fr := range d.flows {
		up, err := d.store.WatchlistsUpdated(ctx, fr.cfg.Watch)
		if err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", fr.cfg.Name, err))
			continue
		}
		changed := len(up) != len(fr.loaded)
		for feed, at := range up {
			if !fr.loaded[feed].Equal(at) {
				changed = true
			}
		}
		if changed {
			errs = append(errs, d.loadWatchlist(ctx, fr))
		}
	}
	return errors.Join(errs...)
}

// saveFlow writes the flow's open aggregates to the store.
func (d *Daemon) saveFlow(ctx context.Context, fr *flowRunner) error {
	st, err := flow.EncodeState(fr.matcher.Open())
	if err != nil {
		return err
	}
	return d.store.SaveFlowState(ctx, fr.cfg.Name, st)
}

// flowJob closes the flow's windows that are over: each aggregate becomes
// one event, ingested as a feed's are (enrichment, contact, the report
// pass); then the open ones are saved, so that a crash loses at most a
// job's interval of counts; then the job asks to run again when the next
// window closes. Outside a running daemon (a job run from the command
// line) there is nothing open, and saving would erase the daemon's state:
// it does nothing.
func (d *Daemon) flowJob(name string) func(ctx context.Context, wait bool) (Summary, error) {
	return func(ctx context.Context, _ bool) (Summary, error) {
		var s Summary
		var fr *flowRunner
		for _, f := range d.flows {
			if f.cfg.Name == name {
				fr = f
			}
		}
		if fr == nil || !d.flowsRunning {
			return s, nil
		}
		err := d.refreshWatchlists(ctx)
		closed := fr.matcher.TakeClosed(d.now())
		if len(closed) > 0 {
			events := make([]reporter.Event, len(closed))
			for i := range closed {
				events[i] = closed[i].Event(fr.cfg.Name)
			}
			res := FileResult{Feed: fr.cfg.Name, File: fmt.Sprintf("flow %s %s", fr.cfg.Name, d.now().UTC().Format(time.RFC3339))}
			res.Stats, res.Err = d.ingester.Ingest(ctx, fr.cfg.Name, d.metrics.Parser(fr.cfg.Name, eventsParser(events)), nil, res.File)
			if res.Err != nil {
				// Put them back: the next run tries again, and the
				// store keeps none of them twice.
				fr.matcher.Restore(closed)
				err = errors.Join(err, res.Err)
			} else {
				fr.log.Info("flow windows closed", "aggregates", len(closed), "events", res.Stats.Stored, "outside", res.Stats.Outside)
				s.Files = append(s.Files, res)
				s.Ingest.Add(res.Stats)
			}
		}
		if serr := d.saveFlow(ctx, fr); serr != nil {
			err = errors.Join(err, serr)
		}
		if next, ok := fr.matcher.NextClose(); ok {
			d.wakeAt("flow "+fr.cfg.Name, next)
		}
		return s, err
	}
}

// flowTick is how often a flow's job looks for closed windows: a quarter
// of the window, so that an event comes at most that late, but at least a
// second and at most a minute apart (each run saves the open aggregates).
func flowTick(window time.Duration) time.Duration {
	return min(max(window/4, time.Second), time.Minute).Truncate(time.Second)
}

// eventsParser hands ready events to the ingester, as a parser would.
type eventsParser []reporter.Event

func (p eventsParser) Parse(ctx context.Context, _ io.Reader, _ string, sink reporter.Sink) error {
	for i := range p {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e := p[i]
		if sink.Keep(e.IP) {
			if err := sink.Event(&e); err != nil {
				return err
			}
		}
	}
	return nil
}

// FlowStatus is what a running flow collector has seen.
type FlowStatus struct {
	Stats      flow.Stats
	Counts     flow.Counts
	Indicators int // in the watchlist in use
}

// FlowStatus returns the named flow's status; false when there is none.
func (d *Daemon) FlowStatus(name string) (FlowStatus, bool) {
	for _, fr := range d.flows {
		if fr.cfg.Name == name {
			return FlowStatus{Stats: fr.decoder.Stats(), Counts: fr.matcher.Counts(), Indicators: fr.matcher.Watchlist().Len()}, true
		}
	}
	return FlowStatus{}, false
}
