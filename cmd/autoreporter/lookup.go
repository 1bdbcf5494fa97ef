package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

func (e *env) lookup(ctx context.Context, args []string) error {
	fs := e.flags("lookup", help{"lookup IP...",
		"Explains what would happen to an address: its ASN and countries, every constituency rule\nthat matched, and where its reports would go (asking RDAP now if its answer is not cached).",
		"autoreporter lookup 192.0.2.10 2001:db8::1"})
	if err := parse(fs, args, 1, -1); err != nil {
		return err
	}
	d, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	for i, s := range fs.Args() {
		ip, err := feed.ParseAddr(s)
		if err != nil {
			return err
		}
		l, err := d.Lookup(ctx, ip)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintf(w, "address\t%s\n", l.IP)
		fmt.Fprintf(w, "asn\t%s\n", dash(asnString(l.Info.ASN, l.Info.ASOrg)))
		fmt.Fprintf(w, "located in\t%s\n", dash(l.Info.Country))
		fmt.Fprintf(w, "registered in\t%s\n", dash(l.Info.RegisteredCountry))
		verdict := "no: not reported"
		if l.Decision.In {
			verdict = "yes: reported"
		}
		fmt.Fprintf(w, "constituency\t%s\n", verdict)
		for _, r := range l.Decision.Reasons {
			fmt.Fprintf(w, "\t- %s\n", r)
		}
		if l.InTable != l.Decision.In {
			fmt.Fprintf(w, "warning\tthe compiled range table says %v; please report this as a bug\n", l.InTable)
		}
		if !l.Decision.In {
			// Nothing would be sent: who would be told is beside the point.
			fmt.Fprintf(w, "contact\t- (outside the constituency: nothing is reported)\n")
			w.Flush()
			continue
		}
		if l.Contact.Language == "" {
			l.Contact.Language = d.Config().Cert.Language + " (cert.language)"
		}
		printContact(w, l.Contact)
		if l.ContactErr != nil {
			fmt.Fprintf(w, "rdap\t%v\n", l.ContactErr)
		}
		w.Flush()
	}
	return nil
}

func printContact(w io.Writer, c reporter.Contact) {
	fmt.Fprintf(w, "contact\t%s\n", dash(strings.Join(c.To, ", ")))
	fmt.Fprintf(w, "contact source\t%s\n", c.Source)
	if c.Language != "" {
		fmt.Fprintf(w, "language\t%s\n", c.Language)
	}
	if c.Format != "" {
		fmt.Fprintf(w, "format\t%s\n", c.Format)
	}
	if c.Inhibit != "" {
		fmt.Fprintf(w, "inhibited\t%s: events are kept and not reported\n", c.Inhibit)
	}
	if c.Pending {
		fmt.Fprintf(w, "pending\tevents wait until RDAP answers\n")
	}
}

func asnString(asn uint32, org string) string {
	if asn == 0 {
		return ""
	}
	return strings.TrimSpace(fmt.Sprintf("AS%d %s", asn, org))
}

// orDash prints an unknown number (0) as "-".
func orDash(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
