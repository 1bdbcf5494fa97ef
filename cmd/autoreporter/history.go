package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

func (e *env) history(ctx context.Context, args []string) error {
	fs := e.flags("history", help{"history [--ip IP] [--cidr CIDR] [--asn ASN] [--contact ADDR] [--feed NAME] [--since WHEN] [--limit N] [--json]",
		"Lists reported events, newest report first: which report told whom about what, and when.",
		"autoreporter history --cidr 192.0.2.0/24 --since 7d"})
	ip := fs.String("ip", "", "one address")
	cidr := fs.String("cidr", "", "addresses in a CIDR")
	asn := fs.String("asn", "", "AS number")
	contact := fs.String("contact", "", "a recipient address")
	feedName := fs.String("feed", "", "feed name")
	since := fs.String("since", "", "reports since a date (2026-11-20), a time (RFC 3339) or a duration ago (7d)")
	limit := fs.Int("limit", 1000, "at most this many rows")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	q := reporter.HistoryQuery{Contact: *contact, Feed: *feedName, Limit: *limit}
	var err error
	if *ip != "" {
		if q.IP, err = feed.ParseAddr(*ip); err != nil {
			return fmt.Errorf("--ip: %w", err)
		}
	}
	if *cidr != "" {
		if q.CIDR, err = config.ParsePrefix(*cidr); err != nil {
			return fmt.Errorf("--cidr: %q is not a CIDR", *cidr)
		}
	}
	if *asn != "" {
		if q.ASN, err = config.ParseASN(*asn); err != nil {
			return fmt.Errorf("--asn: %w", err)
		}
	}
	if q.Since, err = sinceFlag(*since); err != nil {
		return err
	}
	_, st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.History(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, r := range rows {
			if err := enc.Encode(historyJSON(r)); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REPORT\tCREATED\tSTATE\tTO\tEVENT TIME\tIP\tPORT\tASN\tCLASSIFICATION\tIDENTIFIER\tFEED")
	for _, r := range rows {
		ev := r.Event
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Report.Ref, r.Report.Created.Format(time.RFC3339),
			stateOf(r.Report), r.Report.Contact.Key(), ev.Time.Format(time.RFC3339), ev.IP, orDash(ev.Port), orDash(int(ev.ASN)),
			ev.Classification, ev.Identifier, ev.Feed)
	}
	w.Flush()
	if len(rows) == 0 {
		fmt.Fprintln(e.stderr, "no reported events match")
	}
	return nil
}

func historyJSON(r reporter.HistoryRow) map[string]any {
	ev := r.Event
	return map[string]any{
		"report": r.Report.Ref, "created": r.Report.Created, "state": r.Report.State, "to": r.Report.Contact.To,
		"message_id": r.Report.MessageID, "note": r.Report.LastError, "parts": r.Report.Parts, "sent": r.Report.Sent,
		"time": ev.Time, "ip": ev.IP.String(), "port": ev.Port, "protocol": ev.Protocol, "asn": ev.ASN,
		"as_org": ev.ASOrg, "country": ev.Country, "hostname": ev.Hostname, "classification": ev.Classification,
		"identifier": ev.Identifier, "feed": ev.Feed, "source": ev.Source,
	}
}

// sinceFlag reads a --since value; empty means no bound.
func sinceFlag(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := parseSince(s, time.Now())
	if err != nil {
		return t, fmt.Errorf("--since: %w", err)
	}
	return t, nil
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, l := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date, time or duration", s)
}

// stateOf is a report's state, with what went wrong: the reason a failed
// one failed, the recipients a sent one was refused by.
func stateOf(r reporter.Report) string {
	if r.LastError == "" || r.State == reporter.ReportPending {
		return r.State
	}
	return r.State + " (" + feed.Clip(strings.ReplaceAll(r.LastError, "\t", " "), 120) + ")"
}
