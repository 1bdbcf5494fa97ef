package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/autoreporter/autoreporter/reporter/daemon"
	"github.com/autoreporter/autoreporter/reporter/feed"
)

func (e *env) status(ctx context.Context, args []string) error {
	fs := e.flags("status", help{"status [--json]",
		"Shows each scheduled job (every feed's ingest, the report pass): its schedule, when it runs next,\n" +
			"and its last run: when, by whom (the daemon, run --once, or run --job), how long it took and how it\n" +
			"ended (done, idle, partial, failed, interrupted). The store keeps the runs, so this works from\n" +
			"any process, beside a running daemon. A next run in the past (\"due 5m ago\") means the job is\n" +
			"running now, or no daemon ran it when it was due.",
		"autoreporter status --config /etc/autoreporter/config.yaml"})
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	jobs, err := daemon.JobStatuses(ctx, cfg, st, now)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, j := range jobs {
			if err := enc.Encode(statusJSON(j)); err != nil {
				return err
			}
		}
		return nil
	}
	w := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tSCHEDULE\tNEXT\tLAST RUN\tBY\tTOOK\tRESULT\tRUNS\tERROR")
	for _, j := range jobs {
		last := j.State.Last
		sched, next := j.Schedule, "-"
		if !j.InConfig {
			sched = "(not in the config)"
		} else {
			next = j.Next.UTC().Format(time.RFC3339) + " (" + relative(j.Next, now) + ")"
		}
		ran, by, took, result, runs, cause := "never", "-", "-", "-", "0", "-"
		if !last.Started.IsZero() {
			ran = last.Started.UTC().Format(time.RFC3339)
			by = role(last.By)
			took = last.Took.Round(time.Millisecond).String()
			result = string(last.Result)
			runs = strconv.Itoa(j.State.Runs)
			if n := j.State.Failures; n > 1 {
				result += fmt.Sprintf(" (%d in a row)", n)
			}
		}
		if last.Error != "" {
			cause = strconv.Quote(feed.Clip(last.Error, 200))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, sched, next, ran, by, took, result, runs, cause)
	}
	return w.Flush()
}

// jobJSON is a job as status --json prints it.
type jobJSON struct {
	Job         string     `json:"job"`
	Schedule    string     `json:"schedule,omitempty"`
	InConfig    bool       `json:"in_config"`
	Next        *time.Time `json:"next,omitempty"`
	LastStarted *time.Time `json:"last_started,omitempty"`
	LastBy      string     `json:"last_by,omitempty"`
	TookSeconds float64    `json:"took_seconds"`
	Result      string     `json:"result,omitempty"`
	Error       string     `json:"error,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	Runs        int        `json:"runs"`
	Failures    int        `json:"failures_in_a_row"`
}

func statusJSON(j daemon.JobStatus) jobJSON {
	last := j.State.Last
	out := jobJSON{Job: j.Name, Schedule: j.Schedule, InConfig: j.InConfig, LastStarted: utcOrNil(last.Started),
		LastBy: last.By, TookSeconds: last.Took.Seconds(), Result: string(last.Result), Error: last.Error,
		LastSuccess: utcOrNil(j.State.LastSuccess), Runs: j.State.Runs, Failures: j.State.Failures}
	if j.InConfig {
		out.Next = utcOrNil(j.Next)
	}
	return out
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// role is who ran a job, without the instance's host, process and random
// part: "daemon", "run --once", "cli".
func role(by string) string {
	if i := strings.LastIndexByte(by, ' '); i > 0 {
		return by[:i]
	}
	return by
}

// relative says when t is from now: "in 4m0s", "due 12m0s ago".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	round := time.Second
	if d > time.Hour || d < -time.Hour {
		round = time.Minute
	}
	if d >= 0 {
		return "in " + d.Round(round).String()
	}
	return "due " + (-d).Round(round).String() + " ago"
}
