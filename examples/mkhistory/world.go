package main

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
)

// shape is what a generated history looks like.
type shape struct {
	Events, Reports int
	Contacts        int       // ISPs: one AS, one abuse address, some /24s each
	Days            int       // history ends at End and goes back this many days
	End             time.Time // midnight UTC after the last day
	Seed            uint64
	Prefix          string // of report refs: "CERT-XX"
}

func (s shape) validate() error {
	switch {
	case s.Contacts < 1 || s.Contacts > 10000:
		return fmt.Errorf("contacts %d: must be from 1 to 10,000", s.Contacts)
	case s.Days < 1:
		return fmt.Errorf("days %d: must be at least 1", s.Days)
	case s.Reports < s.Contacts:
		return fmt.Errorf("reports %d: must be at least one per contact (%d)", s.Reports, s.Contacts)
	case s.Events < s.Reports:
		return fmt.Errorf("events %d: must be at least one per report (%d)", s.Events, s.Reports)
	}
	return nil
}

// isp is one network owner of the constituency.
type isp struct {
	asn     uint32
	org     string
	contact string // its abuse address; the report's and the event's contact
	rule    string
	source  string
	first   int // its /24s are blocks first .. first+blocks-1 (block b is 10.b>>8.b&255.0/24)
	blocks  int
	events  int // over the whole history
	reports int
}

// feedKind is one kind of event, as a Shadowserver report would carry it.
type feedKind struct {
	feed, class, ident, reportType, proto string
	port                                  int
	weight                                float64
}

var feedKinds = []feedKind{
	{"shadowserver", "vulnerable-system", "rdp", "scan_rdp", "tcp", 3389, 20},
	{"shadowserver", "vulnerable-system", "telnet", "scan_telnet", "tcp", 23, 10},
	{"shadowserver", "vulnerable-system", "smb", "scan_smb", "tcp", 445, 8},
	{"shadowserver", "open-service", "ntp", "scan_ntp", "udp", 123, 8},
	{"shadowserver", "ddos-amplifier", "dns", "scan_dns", "udp", 53, 6},
	{"shadowserver", "infected-system", "mirai", "event4_sinkhole", "tcp", 0, 15},
	{"shadowserver", "infected-system", "andromeda", "event4_sinkhole_http", "tcp", 80, 10},
	{"shadowserver", "brute-force", "ssh", "event4_honeypot_brute_force", "tcp", 22, 8},
	{"c2", "c2-server", "cobaltstrike", "", "tcp", 443, 2},
	{"shadowserver", "scanner", "scanner", "event4_honeypot_darknet", "tcp", 0, 13},
}

// world is a generated history, built report run by report run.
type world struct {
	shape
	isps  []isp
	kinds []float64     // cumulative weights of feedKinds
	runs  int           // report runs over the history (a few a day)
	every time.Duration // between runs
	// byRun[r] are the ISPs that get a report in run r, in report id order.
	byRun [][]int32
	start time.Time
}

// newWorld lays the history out: how many events and reports each ISP
// gets (a Zipf law over the ISPs, as a country's few big access networks
// and long tail of small ones), and in which runs its reports are made.
func newWorld(s shape) (*world, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	w := &world{shape: s, start: s.End.AddDate(0, 0, -s.Days)}
	r := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))
	// A few runs a day, enough that no ISP needs two reports in one run.
	perDay := max(4, int(math.Ceil(2*float64(s.Reports)/float64(s.Days*s.Contacts))))
	w.runs, w.every = s.Days*perDay, 24*time.Hour/time.Duration(perDay)

	weights := make([]float64, s.Contacts)
	var sum, sumSqrt float64
	for i := range weights {
		weights[i] = 1 / float64(i+1)
		sum += weights[i]
		sumSqrt += math.Sqrt(weights[i])
	}
	// Events by weight; reports by its square root (a big ISP gets a
	// report every run, each larger), at most one per run, at least one
	// per ISP, never more than its events.
	events := apportion(s.Events, weights, func(int) int { return 1 })
	sqrtW := make([]float64, len(weights))
	for i := range weights {
		sqrtW[i] = math.Sqrt(weights[i])
	}
	reports := apportionCapped(s.Reports, sqrtW, func(i int) int { return min(w.runs, events[i]) })
	if reports == nil {
		return nil, fmt.Errorf("%d reports do not fit in %d runs for %d contacts", s.Reports, w.runs, s.Contacts)
	}
	// /24s by weight: 16,384 shared out, at least one each.
	blocks := apportion(16384, weights, func(int) int { return 1 })
	next := 0
	for i := range s.Contacts {
		asn := uint32(4200000000 + i)
		w.isps = append(w.isps, isp{
			asn: asn, org: fmt.Sprintf("ISP %d Oy", i), contact: fmt.Sprintf("abuse@isp%d.example", i),
			rule: fmt.Sprintf("asn %d", asn), source: fmt.Sprintf("config asn %d", asn),
			first: next, blocks: blocks[i], events: events[i], reports: reports[i],
		})
		next += blocks[i]
	}
	if next > 1<<16 {
		return nil, fmt.Errorf("%d /24s do not fit in 10.0.0.0/8", next)
	}
	var c float64
	for _, k := range feedKinds {
		c += k.weight
		w.kinds = append(w.kinds, c)
	}
	// Each ISP's reports go to runs picked at random.
	w.byRun = make([][]int32, w.runs)
	idx := make([]int32, w.runs)
	for i, p := range w.isps {
		for j := range idx {
			idx[j] = int32(j)
		}
		for j := 0; j < p.reports; j++ {
			k := j + r.IntN(w.runs-j)
			idx[j], idx[k] = idx[k], idx[j]
			w.byRun[idx[j]] = append(w.byRun[idx[j]], int32(i))
		}
	}
	for _, b := range w.byRun {
		slices.Sort(b)
	}
	return w, nil
}

// apportion shares total out by weight, each at least least(i), exactly.
func apportion(total int, weights []float64, least func(int) int) []int {
	out := make([]int, len(weights))
	rest := total
	for i := range out {
		out[i] = least(i)
		rest -= out[i]
	}
	if rest <= 0 {
		return out
	}
	var sum float64
	for _, w := range weights {
		sum += w
	}
	var cum float64
	given := 0
	for i, w := range weights {
		cum += w
		upto := int(math.Round(cum / sum * float64(rest)))
		out[i] += upto - given
		given = upto
	}
	return out
}

// apportionCapped is apportion with a cap per share: what a capped share
// cannot take goes to the others. nil if the caps hold less than total.
func apportionCapped(total int, weights []float64, capOf func(int) int) []int {
	out := make([]int, len(weights))
	capped := make([]bool, len(weights))
	for range 64 {
		rest := total
		var open []int
		var ws []float64
		for i := range out {
			if capped[i] {
				out[i] = capOf(i)
				rest -= out[i]
			} else {
				open = append(open, i)
				ws = append(ws, weights[i])
			}
		}
		if len(open) == 0 {
			return nil
		}
		share := apportion(rest, ws, func(int) int { return 1 })
		over := false
		for j, i := range open {
			out[i] = share[j]
			if out[i] > capOf(i) {
				capped[i], over = true, true
			}
		}
		if !over {
			return out
		}
	}
	return nil
}

// runTime is the time of report run n.
func (w *world) runTime(n int) time.Time {
	return w.start.Add(time.Duration(n) * w.every)
}

// genReport is a report as generated, with its events.
type genReport struct {
	id        int64
	ref       string
	day       time.Time
	seq       int
	isp       *isp
	created   time.Time
	sent      time.Time
	state     string
	messageID string
	subject   string
	events    []*genEvent // in report order; seq is the index + 1
}

// lastError is what a failed report's last attempt said.
func (r *genReport) lastError() string {
	if r.state == reporter.ReportFailed {
		return "550 5.1.1 mailbox unavailable"
	}
	return ""
}

// genEvent is one reported event.
type genEvent struct {
	id       int64
	report   *genReport
	kind     *feedKind
	time     time.Time
	ingested time.Time
	ip       netip.Addr
	key      string
	source   string
	seq      int
}

// generator hands out the history run by run, deterministically for a seed.
type generator struct {
	*world
	r *rand.Rand
	// left[i] is how many events and reports ISP i has still to get.
	leftEvents, leftReports []int
	nextReport, nextEvent   int64
	daySeq                  int
	day                     time.Time
}

func (w *world) generator() *generator {
	g := &generator{world: w, r: rand.New(rand.NewPCG(w.Seed+1, w.Seed^0x5851f42d4c957f2d)), nextReport: 1, nextEvent: 1}
	for _, p := range w.isps {
		g.leftEvents = append(g.leftEvents, p.events)
		g.leftReports = append(g.leftReports, p.reports)
	}
	return g
}

// run makes the reports of run n and their events. Events get their ids in
// the order they were ingested (the run's feed files, each in time order),
// not report by report, as the daemon's would: one report's events lie
// among every other report's of the run.
func (g *generator) run(n int) []*genReport {
	created := g.runTime(n)
	day := created.Truncate(24 * time.Hour)
	if !day.Equal(g.day) {
		g.day, g.daySeq = day, 0
	}
	interval := g.runTime(n + 1).Sub(created)
	var reps []*genReport
	var all []*genEvent
	for k, i32 := range g.byRun[n] {
		i := int(i32)
		p := &g.isps[i]
		// This report's share of what the ISP has left, varied: a
		// lognormal factor around the mean, at least one event, and
		// enough left for each of the ISP's later reports.
		mean := float64(g.leftEvents[i]) / float64(g.leftReports[i])
		size := 1
		if g.leftReports[i] == 1 {
			size = g.leftEvents[i]
		} else {
			size = max(1, int(mean*math.Exp(g.r.NormFloat64()*0.8-0.32)))
			size = min(size, g.leftEvents[i]-(g.leftReports[i]-1))
		}
		g.leftEvents[i] -= size
		g.leftReports[i]--
		g.daySeq++
		at := created.Add(time.Duration(k) * 3 * time.Millisecond)
		rep := &genReport{
			id: g.nextReport, day: day, seq: g.daySeq, isp: p, created: at,
			ref:       fmt.Sprintf("%s#%s-%04d", g.Prefix, day.Format("20060102"), g.daySeq),
			messageID: fmt.Sprintf("<%d.%d@autoreporter.cert.example>", at.UnixMicro(), g.nextReport),
			state:     reporter.ReportSent, sent: at.Add(2 * time.Second),
		}
		if g.r.IntN(1000) == 0 {
			rep.state, rep.sent = reporter.ReportFailed, time.Time{}
		}
		g.nextReport++
		for range size {
			e := &genEvent{report: rep, kind: g.kind(), ip: g.addr(p)}
			// Seen in the interval before the run, ingested a little
			// later but before the run.
			e.time = created.Add(-interval + time.Duration(g.r.Int64N(int64(interval)*3/4)))
			e.ingested = e.time.Add(time.Duration(g.r.Int64N(int64(interval) / 4)))
			e.key = reporter.DedupKey(e.kind.class, e.kind.ident, e.ip, e.kind.port)
			rep.events = append(rep.events, e)
			all = append(all, e)
		}
		// The counts say what the subject would.
		rep.subject = fmt.Sprintf("[%s] AS%d %s: %d events", rep.ref, p.asn, p.org, size)
		reps = append(reps, rep)
	}
	// Ingest order: by feed file, then time.
	sort.Slice(all, func(a, b int) bool {
		x, y := all[a], all[b]
		if c := strings.Compare(x.kind.reportType, y.kind.reportType); c != 0 {
			return c < 0
		}
		return x.ingested.Before(y.ingested)
	})
	for line, e := range all {
		e.id = g.nextEvent
		g.nextEvent++
		e.source = fmt.Sprintf("%s-%s.csv:%d", e.time.Format("2006-01-02"), e.kind.reportType, line+2)
	}
	// Report order, as CreateReport numbers them.
	for _, rep := range reps {
		slices.SortFunc(rep.events, func(x, y *genEvent) int {
			if c := strings.Compare(x.kind.class, y.kind.class); c != 0 {
				return c
			}
			if c := x.time.Compare(y.time); c != 0 {
				return c
			}
			if c := x.ip.Compare(y.ip); c != 0 {
				return c
			}
			return cmp.Or(cmp.Compare(x.kind.port, y.kind.port), cmp.Compare(x.id, y.id))
		})
		for j, e := range rep.events {
			e.seq = j + 1
		}
	}
	return reps
}

func (g *generator) kind() *feedKind {
	x := g.r.Float64() * g.kinds[len(g.kinds)-1]
	i, _ := slices.BinarySearch(g.kinds, x)
	return &feedKinds[min(i, len(feedKinds)-1)]
}

// addr is an address of the ISP: a quarter of its events come from the
// one per cent of its hosts that stay infected for months, so that some
// addresses have hundreds of reported events.
func (g *generator) addr(p *isp) netip.Addr {
	hosts := p.blocks * 254
	var h int
	if g.r.IntN(4) == 0 {
		h = g.r.IntN(max(1, hosts/100))
	} else {
		h = g.r.IntN(hosts)
	}
	b := p.first + h/254
	return netip.AddrFrom4([4]byte{10, byte(b >> 8), byte(b), byte(1 + h%254)})
}

// extra is the same few columns for every event: their size is what
// matters to the store, not their content.
func (e *genEvent) extra() string {
	return `[{"k":"tag","v":"` + e.kind.ident + `"},{"k":"naics","v":"517311"},{"k":"sector","v":"Communications"}]`
}
