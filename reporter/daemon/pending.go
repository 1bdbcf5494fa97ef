package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

// PendingResult is what one report pass did about owners RDAP had not
// answered for, counted in owner questions (one per dedup key).
type PendingResult struct {
	Queries  int // RDAP queries answered
	Failed   int // RDAP queries that failed
	Stale    int // answered from an expired RDAP answer, as the server could not be asked again
	Fallback int // sent to the fallback contact after waiting rdap.max_wait
	// Stopped says why the pass stopped asking early (circuit open,
	// budget spent), or is empty.
	Stopped string
}

// contactPass answers the planner's contact questions for one report pass
// (reporter.ContactFinder). The resolver answers from overrides, the RIPE
// import and the RDAP cache; an owner the cache does not cover is asked
// about now, within rdap.budget and the rate limit, and asking stops for
// the pass when the circuit opens or the budget is spent.
type contactPass struct {
	d      *Daemon
	ask    context.Context // carries the budget
	asking bool
	failed map[netip.Addr]bool // asked and failed in this pass: not asked again
	res    PendingResult
	budget time.Duration
}

// newContactPass starts a pass; a dry run never asks (it must not write the
// cache). The returned cancel ends the budget.
func (d *Daemon) newContactPass(ctx context.Context, dryRun bool) (*contactPass, context.CancelFunc) {
	budget := d.cfg.RDAP.Budget.Duration()
	if budget <= 0 {
		budget = 2 * time.Minute
	}
	ask, cancel := context.WithTimeout(ctx, budget)
	return &contactPass{d: d, ask: ask, asking: d.rdap != nil && !dryRun, failed: map[netip.Addr]bool{}, budget: budget}, cancel
}

// Find implements reporter.ContactFinder.
func (p *contactPass) Find(ctx context.Context, ip netip.Addr, asn uint32, since time.Time) (reporter.Contact, error) {
	d := p.d
	r := d.contacts.Load()
	c := r.Resolve(ip, asn)
	if !c.Pending {
		return c, nil
	}
	if p.asking && !p.failed[ip] {
		e, err := d.rdap.Fetch(p.ask, ip)
		switch {
		case err == nil:
			p.res.Queries++
			if err := d.store.PutRDAP(ctx, e); err != nil {
				return c, fmt.Errorf("rdap cache: %w", err)
			}
			c = r.Resolve(ip, asn)
		case ctx.Err() != nil:
			return c, ctx.Err()
		case errors.Is(err, abuse.ErrCircuitOpen):
			p.asking, p.res.Stopped = false, err.Error()
		case p.ask.Err() != nil || errors.Is(err, abuse.ErrNoTime):
			p.asking, p.res.Stopped = false, fmt.Sprintf("rdap.budget of %s spent", p.budget)
		default:
			p.res.Failed++
			p.failed[ip] = true
			d.log.Warn("rdap query failed; the events wait", "ip", ip, slog.Any("err", err))
			if open, until, _ := d.rdap.Open(); open {
				p.asking = false
				p.res.Stopped = fmt.Sprintf("%v: circuit open until %s", err, until.UTC().Format(time.RFC3339))
			}
		}
	}
	if !c.Pending {
		return c, nil
	}
	var stale reporter.Contact
	haveStale := false
	if d.rdap != nil {
		stale, haveStale = d.rdap.StaleContact(ip)
	}
	now := d.now()
	switch reporter.PendingFate(haveStale, since, d.cfg.RDAP.MaxWait.Duration(), now) {
	case reporter.FateStale:
		p.res.Stale++
		return stale, nil
	case reporter.FateFallback:
		p.res.Fallback++
		fb := r.Fallback()
		if since.IsZero() {
			fb.Source += " (no RDAP answer)"
		} else {
			fb.Source += fmt.Sprintf(" (no RDAP answer in %s)", now.Sub(since).Round(time.Minute))
		}
		return fb, nil
	}
	return c, nil
}

// done logs what the pass did about waiting owners.
func (p *contactPass) done(waitingEvents int) {
	if p.res.Stopped != "" {
		p.d.log.Warn("rdap: stopped asking for this pass", "reason", p.res.Stopped, "waiting_events", waitingEvents)
	}
	if p.res.Queries+p.res.Failed+p.res.Stale+p.res.Fallback+waitingEvents > 0 {
		p.d.log.Info("waiting contacts", "rdap_queries", p.res.Queries, "rdap_failed", p.res.Failed,
			"stale", p.res.Stale, "fallback", p.res.Fallback, "waiting_events", waitingEvents)
	}
}

// SetOverride checks an override, normalises its addresses, stores it and
// starts using it; it returns what was stored.
func (d *Daemon) SetOverride(ctx context.Context, o abuse.Override) (abuse.Override, error) {
	o.Origin = "store"
	if o.Language != "" {
		if err := d.CheckLanguage(o.Language); err != nil {
			return o, fmt.Errorf("--lang: %w", err)
		}
	}
	if err := d.checkSign(o.Sign); err != nil {
		return o, fmt.Errorf("--sign: %w", err)
	}
	// The resolver checks what the config checker checks: addresses,
	// format, a rule, and addresses unless inhibited.
	r, err := abuse.NewResolver([]abuse.Override{o}, nil, "")
	if err != nil {
		return o, err
	}
	o = r.Overrides()[0]
	if err := d.store.SetOverride(ctx, o); err != nil {
		return o, err
	}
	return o, d.loadContacts(ctx)
}

// UnsetOverride removes a stored override ("cidr 192.0.2.0/24",
// "asn 64500") and reports whether there was one.
func (d *Daemon) UnsetOverride(ctx context.Context, rule string) (bool, error) {
	ok, err := d.store.UnsetOverride(ctx, rule)
	if err != nil || !ok {
		return ok, err
	}
	return true, d.loadContacts(ctx)
}

// Overrides lists the overrides in use, in the order they are tried.
func (d *Daemon) Overrides() []abuse.Override { return d.contacts.Load().Overrides() }

// RDAPStatus says whether RDAP is on, how much it holds and whether it is
// being left alone, by any instance on the store.
func (d *Daemon) RDAPStatus(ctx context.Context) string {
	if d.rdap == nil {
		return "off (set rdap.server to ask registries for what no override or import answers)"
	}
	s := fmt.Sprintf("%s, %d networks cached", d.cfg.RDAP.Server, d.rdap.Len())
	if err := d.rdap.Refresh(ctx); err != nil {
		s += fmt.Sprintf("; the shared state cannot be read: %v", err)
	}
	if open, until, cause := d.rdap.Open(); open {
		s += fmt.Sprintf("; not asking until %s after: %v", until.UTC().Format(time.RFC3339), cause)
	}
	return s
}

// PendingContacts lists the addresses whose events wait for RDAP.
func (d *Daemon) PendingContacts(ctx context.Context) ([]reporter.PendingContact, error) {
	return d.store.PendingContacts(ctx, 10000)
}
