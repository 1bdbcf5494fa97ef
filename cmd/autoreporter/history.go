package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/config"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

func (e *env) history(ctx context.Context, args []string) error {
	fs := e.flags("history", help{"history [--ip IP] [--cidr CIDR] [--asn ASN] [--contact ADDR] [--feed NAME] [--ref REF] [--since WHEN] [--until WHEN] [--limit N] [--before CURSOR] [--json]",
		"Lists reported events, newest report first: which report told whom about what, and when.\n" +
			"When --limit cuts the list, the last line on stderr gives the --before that continues it.",
		"autoreporter history --cidr 192.0.2.0/24 --since 7d"})
	ip := fs.String("ip", "", "one address")
	cidr := fs.String("cidr", "", "addresses in a CIDR")
	asn := fs.String("asn", "", "AS number")
	contact := fs.String("contact", "", "a recipient address")
	feedName := fs.String("feed", "", "feed name")
	ref := fs.String("ref", "", "one report, by its reference")
	since := fs.String("since", "", "reports since a date (2026-11-20), a time (RFC 3339) or a duration ago (7d)")
	until := fs.String("until", "", "reports before a date, a time or a duration ago")
	before := fs.String("before", "", "continue a listing: the cursor (REPORT:SEQ) the last page printed")
	limit := fs.Int("limit", 1000, "at most this many rows")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	q := reporter.HistoryQuery{Contact: *contact, Feed: *feedName, Ref: *ref, Limit: *limit}
	var err error
	if *limit < 1 {
		return usagef("--limit: %d is not a positive number", *limit)
	}
	if q.Before, err = parseCursor(*before); err != nil {
		return usagef("--before: %v", err)
	}
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
	if *until != "" {
		if q.Until, err = parseSince(*until, time.Now()); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
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
		e.nextPage(rows, *limit)
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
	e.nextPage(rows, *limit)
	return nil
}

// nextPage tells how to continue a listing --limit cut; on stderr, so
// the rows on stdout stay clean for a pipe.
func (e *env) nextPage(rows []reporter.HistoryRow, limit int) {
	if len(rows) < limit || len(rows) == 0 {
		return
	}
	fmt.Fprintf(e.stderr, "more may follow: add --before %s\n", formatCursor(rows[len(rows)-1].Cursor))
}

func formatCursor(c reporter.HistoryCursor) string { return fmt.Sprintf("%d:%d", c.Report, c.Seq) }

func parseCursor(s string) (reporter.HistoryCursor, error) {
	var c reporter.HistoryCursor
	if s == "" {
		return c, nil
	}
	r, q, ok := strings.Cut(s, ":")
	var err1, err2 error
	c.Report, err1 = strconv.ParseInt(r, 10, 64)
	c.Seq, err2 = strconv.Atoi(q)
	if !ok || err1 != nil || err2 != nil || c.Report < 1 || c.Seq < 0 {
		return reporter.HistoryCursor{}, fmt.Errorf("%q is not a cursor (REPORT:SEQ, as a page's last line gives it)", s)
	}
	return c, nil
}

func historyJSON(r reporter.HistoryRow) map[string]any {
	ev := r.Event
	return map[string]any{
		"report": r.Report.Ref, "created": r.Report.Created, "state": r.Report.State, "to": r.Report.Contact.To,
		"message_id": r.Report.MessageID, "note": r.Report.LastError, "parts": r.Report.Parts, "sent": r.Report.Sent,
		"time": ev.Time, "ip": ev.IP.String(), "port": ev.Port, "protocol": ev.Protocol, "asn": ev.ASN,
		"as_org": ev.ASOrg, "country": ev.Country, "hostname": ev.Hostname, "classification": ev.Classification,
		"identifier": ev.Identifier, "feed": ev.Feed, "source": ev.Source, "cursor": formatCursor(r.Cursor),
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
