package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// ReadyCheck is one readiness check's verdict.
type ReadyCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Readiness is what /readyz answers: ready when every check is.
type Readiness struct {
	Ready  bool         `json:"ready"`
	Checks []ReadyCheck `json:"checks"`
}

// Ready checks what the daemon needs to do its job: the store answers, the
// .mmdb files are loaded, no feed has been failing longer than
// http.feed_failing, and the backlog of held events and unsent reports is
// under http.max_backlog (when set).
func (d *Daemon) Ready(ctx context.Context) Readiness {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var r Readiness
	add := func(name string, ok bool, format string, args ...any) {
		r.Checks = append(r.Checks, ReadyCheck{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	held, err := d.store.Held(ctx)
	if err != nil {
		add("store", false, "%v", err)
	} else {
		add("store", true, "%s", d.cfg.Store.Driver)
	}
	if snap := d.geo.Current(); snap == nil || snap.DB == nil {
		add("geo", false, "no .mmdb files loaded")
	} else {
		add("geo", true, "loaded %s", snap.Loaded.UTC().Format(time.RFC3339))
	}
	limit := d.cfg.HTTP.FeedFailing.Duration()
	now := d.now()
	for _, f := range d.cfg.Feeds {
		st, err := d.store.FeedState(ctx, f.Name)
		if err != nil {
			add("feed "+f.Name, false, "%v", err)
			continue
		}
		if failing, since := feedFailing(st, limit, now); failing {
			add("feed "+f.Name, false, "failing since %s: %s", since.UTC().Format(time.RFC3339), st.LastError)
		}
	}
	if max := d.cfg.HTTP.MaxBacklog; max > 0 && err == nil {
		n := 0
		for _, h := range held {
			n += h.Events
		}
		unsent, err := d.store.PendingReports(ctx, time.Unix(1<<40, 0))
		if err != nil {
			add("backlog", false, "%v", err)
		} else if n+len(unsent) > max {
			add("backlog", false, "%d events held and %d reports unsent, over http.max_backlog %d", n, len(unsent), max)
		} else {
			add("backlog", true, "%d events held, %d reports unsent", n, len(unsent))
		}
	}
	r.Ready = true
	for _, c := range r.Checks {
		r.Ready = r.Ready && c.OK
	}
	return r
}

// feedFailing says whether a feed has failed for longer than limit: its
// last attempt failed and it has not succeeded since now-limit. A feed
// never tried is not failing; one that failed only just is not yet.
func feedFailing(st reporter.FeedState, limit time.Duration, now time.Time) (bool, time.Time) {
	if st.LastError == "" || limit <= 0 {
		return false, time.Time{}
	}
	since := st.LastErrorAt
	if !st.LastSuccess.IsZero() {
		since = st.LastSuccess
	}
	if since.IsZero() {
		return false, time.Time{}
	}
	return now.Sub(since) > limit, since
}

// Handler serves /metrics, /healthz (the process answers) and /readyz
// (Ready, as JSON; 503 when not ready).
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rd := d.Ready(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if !rd.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(rd)
	})
	return mux
}

// serveHTTP serves Handler on http.listen until ctx is done.
func (d *Daemon) serveHTTP(ctx context.Context) error {
	ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	d.log.Info("serving metrics and health", "listen", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server stopped", slog.Any("err", err))
		}
	}()
	return nil
}

// gauges registers what is read at scrape time: the backlog, the age of the
// data that decides ownership and contacts, RDAP's state.
func (d *Daemon) gauges() {
	ask := func(f func(ctx context.Context) float64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return f(ctx)
		}
	}
	held := func(reason string) func(ctx context.Context) float64 {
		return func(ctx context.Context) float64 {
			h, err := d.store.Held(ctx)
			if err != nil {
				return -1
			}
			n := 0
			for _, c := range h {
				if reason == "" || c.Reason == reason {
					n += c.Events
				}
			}
			return float64(n)
		}
	}
	d.metrics.Gauge("backlog_events", "New events held for a later pass (-1 when the store does not answer).", ask(held("")))
	d.metrics.Gauge("events_waiting_for_contact", "Events whose owner RDAP has not answered for yet.", ask(held(reporter.WaitingContact.String())))
	d.metrics.Gauge("reports_unsent", "Reports created and not sent yet (retries included; -1 when the store does not answer).", ask(func(ctx context.Context) float64 {
		p, err := d.store.PendingReports(ctx, time.Unix(1<<40, 0))
		if err != nil {
			return -1
		}
		return float64(len(p))
	}))
	d.metrics.Gauge("geo_database_age_seconds", "Age of the oldest .mmdb in use (from its build epoch).", func() float64 {
		if s := d.geo.Current(); s != nil && s.DB != nil && !s.DB.Built().IsZero() {
			return d.now().Sub(s.DB.Built()).Seconds()
		}
		return -1
	})
	d.metrics.Gauge("ripe_snapshot_age_seconds", "Age of the RIPE import in use (-1 when there is none).", func() float64 {
		if t := d.ripe.Table(); t != nil {
			return d.now().Sub(t.Imported).Seconds()
		}
		return -1
	})
	d.metrics.Gauge("rdap_circuit_open", "1 while RDAP is not asked (after a 429 or repeated failures).", func() float64 {
		if d.rdap != nil {
			if open, _, _ := d.rdap.Open(); open {
				return 1
			}
		}
		return 0
	})
}
