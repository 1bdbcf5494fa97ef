// Package metrics counts what the pipeline does, for Prometheus. The
// counters are decorators around the pipeline's interfaces (a Parser, the
// ingest EventWriter, the planner's PlanStore, the Mailer, the
// DeliverStore), as goflow2 wraps its producers: the business code knows
// nothing of them. Gauges that are a question to the store or the daemon
// (backlog, snapshot ages, RDAP's circuit) are read at scrape time.
package metrics

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/autoreporter/autoreporter/reporter"
)

const ns = "autoreporter"

// Metrics holds the collectors of one daemon, in a registry of its own (no
// global state: two daemons in one test process do not share counters).
type Metrics struct {
	reg *prometheus.Registry

	rows         *prometheus.CounterVec // feed, outcome
	rejected     *prometheus.CounterVec // feed, reason
	stored       *prometheus.CounterVec // feed
	decided      *prometheus.CounterVec // reason
	reports      prometheus.Counter
	deliveries   *prometheus.CounterVec // result
	smtp         prometheus.Histogram
	jobSeconds   *prometheus.HistogramVec // job
	jobLastOK    *prometheus.GaugeVec     // job
	jobFailures  *prometheus.CounterVec   // job
	rdapQueries  *prometheus.CounterVec   // result
	rdapFallback prometheus.Counter
}

// New makes the collectors and registers them, with Go's and the process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rows_total",
		Help: "Rows read from feeds, by outcome: kept (in the constituency), outside, no_address, rejected."}, []string{"feed", "outcome"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rows_rejected_total",
		Help: "Rows that could not be read, by reason class."}, []string{"feed", "reason"})
	m.stored = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_stored_total",
		Help: "Events new to the store."}, []string{"feed"})
	m.decided = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_decided_total",
		Help: "Events decided by the planner, by reason: send, or why not (held reasons keep the event for a later pass)."}, []string{"reason"})
	m.reports = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "reports_created_total",
		Help: "Reports created (one mail to one recipient)."})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "deliveries_total",
		Help: "Delivery attempts by result: sent, deferred (retried later), failed (gave up)."}, []string{"result"})
	m.smtp = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "send_seconds",
		Help: "Time to build and deliver one mail.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.jobSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "job_seconds",
		Help: "Duration of scheduled jobs (a feed's fetch and ingest, the report pass).", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"job"})
	m.jobLastOK = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "job_last_success_timestamp_seconds",
		Help: "When each job last succeeded (Unix time)."}, []string{"job"})
	m.jobFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "job_failures_total",
		Help: "Jobs that failed."}, []string{"job"})
	m.rdapQueries = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rdap_queries_total",
		Help: "RDAP queries by result: answered, failed."}, []string{"result"})
	m.rdapFallback = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rdap_fallback_total",
		Help: "Owners sent to the fallback contact after waiting rdap.max_wait."})
	m.reg.MustRegister(m.rows, m.rejected, m.stored, m.decided, m.reports, m.deliveries, m.smtp, m.jobSeconds,
		m.jobLastOK, m.jobFailures, m.rdapQueries, m.rdapFallback,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gauge registers a gauge read at scrape time, for what is a question to
// the store or the daemon (backlog, snapshot age).
func (m *Metrics) Gauge(name, help string, read func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, read))
}

// Job records one run of a scheduled job.
func (m *Metrics) Job(name string, took time.Duration, err error) {
	m.jobSeconds.WithLabelValues(name).Observe(took.Seconds())
	if err != nil {
		m.jobFailures.WithLabelValues(name).Inc()
		return
	}
	m.jobLastOK.WithLabelValues(name).Set(float64(time.Now().Unix()))
}

// RDAP records a report pass's questions to RDAP.
func (m *Metrics) RDAP(answered, failed, fallback int) {
	m.rdapQueries.WithLabelValues("answered").Add(float64(answered))
	m.rdapQueries.WithLabelValues("failed").Add(float64(failed))
	m.rdapFallback.Add(float64(fallback))
}

// Parser counts the rows a parser reads by outcome. The counts are kept in
// the file's own sink and added once per file: the per-row cost is an
// increment, not an atomic operation on a shared counter.
func (m *Metrics) Parser(feed string, p reporter.Parser) reporter.Parser {
	return parser{m: m, feed: feed, next: p}
}

type parser struct {
	m    *Metrics
	feed string
	next reporter.Parser
}

func (p parser) Parse(ctx context.Context, r io.Reader, file string, sink reporter.Sink) error {
	s := &countingSink{next: sink}
	err := p.next.Parse(ctx, r, file, s)
	for outcome, n := range map[string]int{"kept": s.kept, "outside": s.outside, "no_address": s.noAddress, "rejected": s.rejected} {
		if n > 0 {
			p.m.rows.WithLabelValues(p.feed, outcome).Add(float64(n))
		}
	}
	for reason, n := range s.reasons {
		p.m.rejected.WithLabelValues(p.feed, reason).Add(float64(n))
	}
	return err
}

type countingSink struct {
	next                               reporter.Sink
	kept, outside, noAddress, rejected int
	reasons                            map[string]int
}

func (s *countingSink) Keep(ip netip.Addr) bool {
	if s.next.Keep(ip) {
		return true
	}
	s.outside++
	return false
}

// Event counts the kept rows: a row inside the constituency either becomes
// an event or is rejected after Keep, and counts once, as ingest counts it.
func (s *countingSink) Event(e *reporter.Event) error {
	s.kept++
	return s.next.Event(e)
}

func (s *countingSink) Reject(line int, reason, raw string) {
	s.rejected++
	if s.reasons == nil {
		s.reasons = map[string]int{}
	}
	s.reasons[reporter.RejectClass(reason)]++
	s.next.Reject(line, reason, raw)
}

func (s *countingSink) NoAddress(line int) {
	s.noAddress++
	s.next.NoAddress(line)
}

// EventWriter counts the events new to the store.
func (m *Metrics) EventWriter(w reporter.EventWriter) reporter.EventWriter { return eventWriter{m, w} }

type eventWriter struct {
	m *Metrics
	reporter.EventWriter
}

func (w eventWriter) InsertEvents(ctx context.Context, events []reporter.Event) (int, error) {
	n, err := w.EventWriter.InsertEvents(ctx, events)
	if n > 0 && len(events) > 0 {
		// Ingest writes one file's batch at a time: one feed.
		w.m.stored.WithLabelValues(events[0].Feed).Add(float64(n))
	}
	return n, err
}

// PlanStore counts the planner's verdicts and the reports it creates.
func (m *Metrics) PlanStore(p reporter.PlanStore) reporter.PlanStore { return planStore{m, p} }

type planStore struct {
	m *Metrics
	reporter.PlanStore
}

func (p planStore) Decide(ctx context.Context, vs []reporter.Verdict) error {
	err := p.PlanStore.Decide(ctx, vs)
	if err == nil {
		n := map[reporter.Reason]int{}
		for _, v := range vs {
			n[v.Reason]++
		}
		for r, c := range n {
			p.m.decided.WithLabelValues(r.String()).Add(float64(c))
		}
	}
	return err
}

func (p planStore) CreateReport(ctx context.Context, prefix string, now time.Time, g reporter.ReportGroup, mid string) (reporter.Report, error) {
	r, err := p.PlanStore.CreateReport(ctx, prefix, now, g, mid)
	if err == nil {
		p.m.reports.Inc()
	}
	return r, err
}

// Mailer times each mail built and delivered.
func (m *Metrics) Mailer(x reporter.Mailer) reporter.Mailer { return mailer{m, x} }

type mailer struct {
	m    *Metrics
	next reporter.Mailer
}

func (x mailer) Send(ctx context.Context, rep reporter.Report, events reporter.EventReader, sent func(part, parts int) error) (reporter.Sent, error) {
	start := time.Now()
	s, err := x.next.Send(ctx, rep, events, sent)
	x.m.smtp.Observe(time.Since(start).Seconds())
	return s, err
}

// DeliverStore counts delivery results as they are recorded.
func (m *Metrics) DeliverStore(d reporter.DeliverStore) reporter.DeliverStore {
	return deliverStore{m, d}
}

type deliverStore struct {
	m *Metrics
	reporter.DeliverStore
}

func (d deliverStore) MarkSent(ctx context.Context, id int64, owner, subject, note string, at time.Time) error {
	err := d.DeliverStore.MarkSent(ctx, id, owner, subject, note, at)
	if err == nil {
		d.m.deliveries.WithLabelValues("sent").Inc()
	}
	return err
}

func (d deliverStore) MarkAttempt(ctx context.Context, id int64, owner, cause string, at, next time.Time) error {
	err := d.DeliverStore.MarkAttempt(ctx, id, owner, cause, at, next)
	if err == nil {
		result := "deferred"
		if next.IsZero() {
			result = "failed"
		}
		d.m.deliveries.WithLabelValues(result).Inc()
	}
	return err
}

// Counter registers a counter read at scrape time, with constant labels
// (a flow collector's totals, which it keeps itself).
func (m *Metrics) Counter(name, help string, labels map[string]string, read func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: labels}, read))
}

// GaugeWith registers a gauge read at scrape time, with constant labels.
func (m *Metrics) GaugeWith(name, help string, labels map[string]string, read func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help, ConstLabels: labels}, read))
}
