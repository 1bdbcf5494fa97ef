package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	netmail "net/mail"
	"net/netip"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/daemon"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

// parseInterspersed parses flags wherever they stand among the
// positional arguments (`contacts import ripe DIR --config X`), which the
// flag package alone stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// contactsHelp is the -h of each contacts subcommand, with its positional
// arguments (min, max; -1 for any number).
var contactsHelp = map[string]struct {
	help
	min, max int
}{
	"import": {help{"contacts import ripe DIR",
		"Imports the RIPE database's split dumps (ripe.db.inetnum.gz, ripe.db.inet6num.gz, ripe.db.aut-num.gz,\nripe.db.organisation.gz, ripe.db.role.gz) from DIR, saves the snapshot (ripe.snapshot) and\nprints what changed since the last import. A running daemon picks it up at its next pass.",
		"autoreporter contacts import ripe /var/lib/autoreporter/ripe-dumps"}, 2, 2},
	"lookup": {help{"contacts lookup IP|ASN...",
		"Says where the reports of an address or an AS go, and which source said so.",
		"autoreporter contacts lookup 192.0.2.10 AS64500"}, 1, -1},
	"list": {help{"contacts list",
		"Lists the overrides in the order they are tried (and where each comes from), the RIPE import,\nRDAP, and the fallback mailbox.",
		"autoreporter contacts list"}, 0, 0},
	"set": {help{"contacts set CIDR|ASN [--to ADDR,...] [--lang xx] [--format csv|inline|zip] [--max-events N] [--sign METHOD] [--inhibit] [--until DATE|30d] [--note TEXT]",
		"Adds or replaces an override, kept in the store: it wins over the config's rule for the same\nCIDR or ASN and over every import, while it is in force. A running daemon uses it at its next pass.",
		"autoreporter contacts set AS64500 --to abuse@isp.example --lang fi --note \"ticket 1234\""}, 1, 1},
	"unset": {help{"contacts unset CIDR|ASN",
		"Removes an override set with contacts set (the config's rule for it, if any, answers again).",
		"autoreporter contacts unset 192.0.2.0/24"}, 1, 1},
	"pending": {help{"contacts pending",
		"Lists the addresses whose events wait for an RDAP answer.",
		"autoreporter contacts pending"}, 0, 0},
}

const contactsUsage = `Usage: autoreporter contacts SUBCOMMAND

  import ripe DIR     import the RIPE split dumps in DIR
  lookup IP|ASN...    where reports go, and which source said so
  list                the overrides, the RIPE import, RDAP and the fallback in use
  set CIDR|ASN ...    add or replace an override (contacts set -h for its flags)
  unset CIDR|ASN      remove an override set with contacts set
  pending             addresses whose events wait for an RDAP answer

"autoreporter contacts SUBCOMMAND -h" says more, with an example.
`

func (e *env) contacts(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, contactsUsage)
		return usagef("a subcommand is needed")
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		fmt.Fprint(e.stdout, contactsUsage)
		return nil
	}
	h, ok := contactsHelp[sub]
	if !ok {
		fmt.Fprint(e.stderr, contactsUsage)
		return usagef("unknown subcommand %q", sub)
	}
	fs := e.flags("contacts "+sub, h.help)
	var set overrideFlags
	if sub == "set" {
		set.define(fs)
	}
	if err := parse(fs, args, h.min, h.max); err != nil {
		return err
	}
	// The RIPE snapshot takes most of a second to load: only import and
	// lookup need it at once.
	d, err := e.openWith(ctx, daemon.Options{LazyContacts: sub != "import" && sub != "lookup"})
	if err != nil {
		return err
	}
	defer d.Close()
	switch sub {
	case "import":
		if fs.Arg(0) != "ripe" {
			return usagef("only RIPE dumps can be imported: autoreporter contacts import ripe DIR")
		}
		var m *meter
		res, err := d.ImportRIPEProgress(ctx, fs.Arg(1), func(done, total int64) {
			if m == nil {
				m = e.newMeter("ripe dumps", total, true)
			}
			m.Set(done, total)
		})
		if m != nil {
			m.Finish()
		}
		if err != nil {
			return err
		}
		t := res.Table
		fmt.Fprintf(e.stdout, "imported %s in %s\n", fs.Arg(1), res.Took.Round(time.Millisecond))
		fmt.Fprintf(e.stdout, "objects: %d inetnum, %d inet6num, %d aut-num, %d organisation, %d role; %d unreadable\n",
			t.Stats.Objects["inetnum"], t.Stats.Objects["inet6num"], t.Stats.Objects["aut-num"], t.Stats.Objects["organisation"],
			t.Stats.Objects["role"], t.Stats.Skipped)
		fmt.Fprintf(e.stdout, "kept:    %d ranges (%d with an abuse contact of their own or their organisation's, the rest inherit), %d outside the constituency\n",
			t.Stats.Ranges, t.Stats.WithAbuse, t.Stats.Outside)
		fmt.Fprintf(e.stdout, "         %d aut-nums with an abuse contact, %d abuse mailboxes\n", t.Stats.ASNs, len(t.Contacts))
		if res.Previous == nil {
			fmt.Fprintf(e.stdout, "changes: first import\n")
		} else {
			fmt.Fprintf(e.stdout, "changes: %d ranges added, %d removed, %d with a changed mailbox, %d unchanged (since %s)\n",
				res.Diff.Added, res.Diff.Removed, res.Diff.Changed, res.Diff.Same, res.Previous.Imported.Format(time.RFC3339))
		}
		fmt.Fprintf(e.stdout, "saved:   %s\n", d.Config().RIPE.Snapshot)
		return nil
	case "lookup":
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		defer w.Flush()
		fmt.Fprintln(w, "QUERY	CONTACT	SOURCE")
		for _, q := range fs.Args() {
			var ip netip.Addr
			var asn uint32
			if a, err := feed.ParseAddr(q); err == nil {
				ip = a
			} else if asn, err = config.ParseASN(q); err != nil {
				return fmt.Errorf("%q is neither an address nor an AS number", q)
			}
			c, err := d.Contact(ctx, ip, asn)
			source := c.Source
			switch {
			case err != nil:
				source += " (" + err.Error() + ")"
			case c.Inhibit != "":
				source += "; " + c.Inhibit
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", q, dash(strings.Join(c.To, ", ")), source)
		}
		return nil
	case "set":
		o, err := set.override(fs.Arg(0), time.Now())
		if err != nil {
			return err
		}
		saved, err := d.SetOverride(ctx, o)
		if err != nil {
			return err
		}
		to := "no addresses"
		if len(saved.To) > 0 {
			to = "to " + strings.Join(saved.To, ", ")
		}
		fmt.Fprintf(e.stdout, "set override %s: %s; %s\n", saved.Key(), to, describeOverride(saved))
		return nil
	case "pending":
		pend, err := d.PendingContacts(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ADDRESS\tASN\tEVENTS\tWAITING SINCE")
		for _, p := range pend {
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", p.IP, p.ASN, p.Events, p.Since.Format(time.RFC3339))
		}
		w.Flush()
		fmt.Fprintf(e.stdout, "%d address(es) wait for RDAP; RDAP: %s\n", len(pend), d.RDAPStatus(ctx))
		return nil
	case "unset":
		rule, err := ruleKey(fs.Arg(0))
		if err != nil {
			return err
		}
		ok, err := d.UnsetOverride(ctx, rule)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no override %s was set with contacts set (overrides in %s are changed there)", rule, d.Config().Path)
		}
		fmt.Fprintf(e.stdout, "removed override %s\n", rule)
		return nil
	default: // list
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(w, "OVERRIDE\tCONTACT\tFROM\tDETAILS")
		for _, o := range d.Overrides() {
			from := o.Origin
			if o.Origin == "store" {
				from = "contacts set"
				if o.By != "" {
					from += " by " + o.By
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", o.Key(), dash(strings.Join(o.To, ", ")), from, describeOverride(o))
		}
		w.Flush()
		if t := d.RIPE(); t != nil {
			fmt.Fprintf(e.stdout, "\nRIPE: %s (%s)\n", t.Summary(), d.Config().RIPE.Snapshot)
		} else {
			fmt.Fprintf(e.stdout, "\nRIPE: not imported (autoreporter contacts import ripe DIR)\n")
		}
		fmt.Fprintf(e.stdout, "RDAP: %s\n", d.RDAPStatus(ctx))
		fmt.Fprintf(e.stdout, "fallback: %s\n", strings.Join(d.Config().Cert.FallbackContact, ", "))
		return nil
	}
}

// overrideFlags are the options of contacts set.
type overrideFlags struct {
	to, lang, format, until, note, by, sign *string
	inhibit                                 *bool
	maxEvents                               *int
}

func (f *overrideFlags) define(fs *flag.FlagSet) {
	f.to = fs.String("to", "", "comma-separated addresses reports go to")
	f.lang = fs.String("lang", "", "two-letter language of the reports")
	f.format = fs.String("format", "", "csv (attachment, the default), inline (the lines in the body) or zip (the attachments in one zip file)")
	f.inhibit = fs.Bool("inhibit", false, "keep the events but send nothing (an opt-out)")
	f.maxEvents = fs.Int("max-events", 0, "at most this many events a mail; more go out in numbered parts (0: only mail.max_size)")
	f.sign = fs.String("sign", "", "how its mails are signed, instead of mail.sign: none, pgp-mime, pgp-inline or smime")
	f.until = fs.String("until", "", "when the override ends: a date (2027-01-31), an RFC 3339 time, or a duration from now (30d)")
	f.note = fs.String("note", "", "why, for the next person (a ticket number)")
	f.by = fs.String("by", os.Getenv("USER"), "who sets it")
}

func (f *overrideFlags) override(rule string, now time.Time) (abuse.Override, error) {
	o := abuse.Override{Language: *f.lang, Format: *f.format, Inhibit: *f.inhibit, Note: *f.note, By: *f.by, Set: now.UTC(), Origin: "store",
		MaxEvents: *f.maxEvents, Sign: *f.sign}
	if o.MaxEvents < 0 {
		return o, fmt.Errorf("--max-events: %d is negative", o.MaxEvents)
	}
	if strings.Contains(rule, "/") {
		// A rule is stored under its network: refuse host bits rather
		// than store another network than the one typed.
		p, err := netip.ParsePrefix(strings.TrimSpace(rule))
		if err != nil {
			return o, fmt.Errorf("%q is not a CIDR", rule)
		}
		if p != p.Masked() {
			return o, fmt.Errorf("%s has host bits set: its network is %s; write that", rule, p.Masked())
		}
		o.CIDR = p
	} else if p, err := config.ParsePrefix(rule); err == nil {
		o.CIDR = p
	} else if asn, err := config.ParseASN(rule); err == nil {
		o.ASN = asn
	} else {
		return o, fmt.Errorf("%q is neither a CIDR nor an AS number", rule)
	}
	if *f.to != "" {
		// A list as a To header has it: display names kept, and quoted
		// ones may hold commas ("Abuse Desk, NOC" <noc@isp.example>).
		list, err := netmail.ParseAddressList(*f.to)
		if err != nil {
			for _, a := range strings.Split(*f.to, ",") {
				if _, err := netmail.ParseAddress(a); err != nil {
					return o, fmt.Errorf("--to: %q is not an email address", strings.TrimSpace(a))
				}
			}
			return o, fmt.Errorf("--to: %q is not a list of email addresses: %v", *f.to, err)
		}
		for _, a := range list {
			o.To = append(o.To, a.String())
		}
	}
	if *f.until != "" {
		t, err := config.ParseUntil(*f.until)
		if err != nil {
			d, derr := config.ParseDuration(*f.until)
			if derr != nil {
				return o, fmt.Errorf("--until: %w", err)
			}
			t = now.Add(d).UTC()
		}
		if !t.After(now) {
			return o, fmt.Errorf("--until %s is in the past", *f.until)
		}
		o.Until = t
	}
	return o, nil
}

func ruleKey(rule string) (string, error) {
	if p, err := config.ParsePrefix(rule); err == nil {
		return abuse.Override{CIDR: p}.Key(), nil
	}
	if asn, err := config.ParseASN(rule); err == nil {
		return abuse.Override{ASN: asn}.Key(), nil
	}
	return "", fmt.Errorf("%q is neither a CIDR nor an AS number", rule)
}

func describeOverride(o abuse.Override) string {
	var parts []string
	if o.Inhibit {
		parts = append(parts, "inhibited (events kept, nothing sent)")
	}
	if o.Language != "" {
		parts = append(parts, "language "+o.Language)
	}
	if o.Format != "" {
		parts = append(parts, "format "+o.Format)
	}
	if o.MaxEvents > 0 {
		parts = append(parts, fmt.Sprintf("at most %d events a mail", o.MaxEvents))
	}
	if o.Sign != "" {
		parts = append(parts, "signed "+o.Sign)
	}
	for _, a := range slices.Sorted(maps.Keys(o.Names)) {
		parts = append(parts, fmt.Sprintf("%s as %q", a, o.Names[a]))
	}
	if !o.Until.IsZero() {
		parts = append(parts, "until "+o.Until.UTC().Format(time.RFC3339))
	}
	if o.Note != "" {
		parts = append(parts, fmt.Sprintf("note %q", o.Note))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
