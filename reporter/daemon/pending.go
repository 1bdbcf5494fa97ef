package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
)

// PendingResult is what one pass over the waiting contacts did, counted in
// events.
type PendingResult struct {
	Resolved int // given a contact (any source)
	Stale    int // given an expired RDAP answer, as the server could not be asked again
	Fallback int // given the fallback contact after waiting rdap.max_wait
	Waiting  int // still waiting for RDAP
	Queries  int // RDAP queries answered
	Failed   int // RDAP queries that failed
	// Stopped says why the pass stopped asking early (circuit open,
	// budget spent), or is empty.
	Stopped string
}

// maxPending caps the addresses read in one pass; the rest wait for the
// next.
const maxPending = 10000

// ResolvePending gives the events that wait for RDAP their contact. It asks
// RDAP for the addresses its cache does not cover (or covers with an
// expired answer), within rdap.budget and the rate limit, and stops asking
// at once when the circuit opens. When a question cannot be asked or is not
// answered, an expired answer is used; an address never answered waits up
// to rdap.max_wait and then goes to the fallback contact, so that nothing
// waits forever.
func (d *Daemon) ResolvePending(ctx context.Context) (PendingResult, error) {
	var res PendingResult
	d.reloadContacts(ctx)
	pend, err := d.store.PendingContacts(ctx, maxPending)
	if err != nil || len(pend) == 0 {
		return res, err
	}
	budget := d.cfg.RDAP.BudgetDuration
	if budget <= 0 {
		budget = 2 * time.Minute
	}
	ask, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	asking := d.rdap != nil
	for _, p := range pend {
		r := d.contacts.Load()
		c := r.Resolve(p.IP, p.ASN)
		if c.Pending && asking {
			e, err := d.rdap.Fetch(ask, p.IP)
			switch {
			case err == nil:
				res.Queries++
				if err := d.store.PutRDAP(ctx, e); err != nil {
					return res, fmt.Errorf("rdap cache: %w", err)
				}
				c = r.Resolve(p.IP, p.ASN)
			case ctx.Err() != nil:
				return res, ctx.Err()
			case errors.Is(err, abuse.ErrCircuitOpen):
				asking, res.Stopped = false, err.Error()
			case ask.Err() != nil || errors.Is(err, abuse.ErrNoTime):
				asking, res.Stopped = false, fmt.Sprintf("rdap.budget of %s spent", budget)
			default:
				res.Failed++
				d.log.Warn("rdap query failed; the events wait", "ip", p.IP, slog.Any("err", err))
				if open, until, _ := d.rdap.Open(); open {
					asking = false
					res.Stopped = fmt.Sprintf("%v: circuit open until %s", err, until.UTC().Format(time.RFC3339))
				}
			}
		}
		if c.Pending && d.rdap != nil {
			// The network was answered before but the answer expired and
			// could not be refreshed now: an old answer beats waiting.
			if sc, ok := d.rdap.StaleContact(p.IP); ok {
				c = sc
				res.Stale += p.Events
			}
		}
		if c.Pending {
			waited := d.now().Sub(p.Since)
			if waited < d.cfg.RDAP.MaxWaitDuration {
				res.Waiting += p.Events
				continue
			}
			c = r.Fallback()
			c.Source += fmt.Sprintf(" (no RDAP answer in %s)", waited.Round(time.Minute))
			res.Fallback += p.Events
		}
		n, err := d.store.SetContact(ctx, p.IP, c)
		if err != nil {
			return res, err
		}
		res.Resolved += n
	}
	if res.Stopped != "" {
		d.log.Warn("rdap: stopped asking for this pass", "reason", res.Stopped, "waiting_events", res.Waiting)
	}
	if res.Resolved+res.Waiting > 0 {
		d.log.Info("waiting contacts", "resolved", res.Resolved, "waiting", res.Waiting, "rdap_queries", res.Queries,
			"rdap_failed", res.Failed, "stale", res.Stale, "fallback", res.Fallback)
	}
	return res, nil
}

// SetOverride checks an override, normalises its addresses, stores it and
// starts using it; it returns what was stored.
func (d *Daemon) SetOverride(ctx context.Context, o abuse.Override) (abuse.Override, error) {
	o.Origin = "store"
	if o.Language != "" && !config.IsLanguage(o.Language) {
		return o, fmt.Errorf("language %q is not a two-letter code", o.Language)
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
// being left alone.
func (d *Daemon) RDAPStatus() string {
	if d.rdap == nil {
		return "off (set rdap.server to ask registries for what no override or import answers)"
	}
	s := fmt.Sprintf("%s, %d networks cached", d.cfg.RDAP.Server, d.rdap.Len())
	if open, until, cause := d.rdap.Open(); open {
		s += fmt.Sprintf("; not asking until %s after: %v", until.UTC().Format(time.RFC3339), cause)
	}
	return s
}

// PendingContacts lists the addresses whose events wait for RDAP.
func (d *Daemon) PendingContacts(ctx context.Context) ([]reporter.PendingContact, error) {
	return d.store.PendingContacts(ctx, maxPending)
}
