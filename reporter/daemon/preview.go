package daemon

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/mail"
)

// Preview is what report --preview built: the mails a report pass now
// would send to one address, not sent and not recorded.
type Preview struct {
	Reports []reporter.Report
	Mails   []*mail.Message
	Plan    reporter.PlanResult
}

// collect is a mail.Transport that keeps what it is given.
type collect struct{ msgs []*mail.Message }

func (c *collect) Deliver(_ context.Context, _ string, msg *mail.Message) ([]string, error) {
	c.msgs = append(c.msgs, msg)
	return nil, nil
}

// Preview plans as a dry run would and builds, byte for byte as they would
// leave (parts, attachments, signature), the mails of every report that
// would go to addr. Nothing is written or sent. The ref and Message-ID
// are placeholders ("-preview"): the real ones are taken when the report
// is created. The events of those reports are held in memory.
func (d *Daemon) Preview(ctx context.Context, addr string) (Preview, error) {
	var out Preview
	addr = strings.ToLower(strings.TrimSpace(addr))
	groups := map[string]*struct {
		c   reporter.Contact
		evs []reporter.Event
	}{}
	var keys []string
	d.reloadContacts(ctx)
	pass, cancel := d.newContactPass(ctx, true)
	defer cancel()
	r := *d.reporter
	r.Contacts = pass
	r.Preview = func(c reporter.Contact, e reporter.Event) {
		if !slices.Contains(c.To, addr) {
			return
		}
		k := c.Key() + "\x00" + c.Language + "\x00" + c.Format
		g := groups[k]
		if g == nil {
			g = &struct {
				c   reporter.Contact
				evs []reporter.Event
			}{c: c}
			groups[k] = g
			keys = append(keys, k)
		}
		g.evs = append(g.evs, e)
	}
	plan, err := r.Plan(ctx, true)
	out.Plan = plan
	if err != nil {
		return out, err
	}
	sort.Strings(keys)
	// The planner reads what it decides with; the mail needs the whole
	// event (AS name, country, the source's own fields).
	for _, k := range keys {
		g := groups[k]
		ids := make([]int64, len(g.evs))
		for i := range g.evs {
			ids[i] = g.evs[i].ID
		}
		if g.evs, err = d.store.EventsByID(ctx, ids); err != nil {
			return out, err
		}
	}
	now := d.now().UTC()
	m := *d.mailer
	tr := &collect{}
	m.Transport = tr
	for i, k := range keys {
		g := groups[k]
		// The order the stores number a report's events in.
		sort.SliceStable(g.evs, func(a, b int) bool {
			x, y := &g.evs[a], &g.evs[b]
			if x.Classification != y.Classification {
				return x.Classification < y.Classification
			}
			if !x.Time.Equal(y.Time) {
				return x.Time.Before(y.Time)
			}
			if c := x.IP.Compare(y.IP); c != 0 {
				return c < 0
			}
			if x.Port != y.Port {
				return x.Port < y.Port
			}
			return x.ID < y.ID
		})
		rep := reporter.Report{
			Ref:        fmt.Sprintf("%s#%s-preview%d", d.cfg.Cert.ReportPrefix, now.Format("20060102"), i+1),
			Contact:    g.c,
			Created:    now,
			MessageID:  fmt.Sprintf("<%s.preview%d@%s>", now.Format("20060102T150405Z"), i+1, domainOf(d.cfg.Cert.From)),
			State:      reporter.ReportPending,
			EventCount: len(g.evs),
			NextTry:    now.Add(time.Minute),
		}
		sent, err := m.Send(ctx, rep, reporter.Events(g.evs), nil)
		if err != nil {
			return out, fmt.Errorf("preview for %s: %w", g.c.Key(), err)
		}
		rep.Subject = sent.Subject
		out.Reports = append(out.Reports, rep)
	}
	out.Mails = tr.msgs
	return out, nil
}
