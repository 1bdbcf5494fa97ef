package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// meter shows how a long run goes: a bar with rate and ETA on a terminal,
// a plain line every interval when stderr is a file or a pipe (a cron
// job's log, journald), nothing for runs too short to matter.
type meter struct {
	mu       sync.Mutex
	label    string
	total    int64
	bytes    bool
	bar      *progressbar.ProgressBar
	w        io.Writer
	start    time.Time
	last     time.Time
	interval time.Duration
	done     int64
}

// newMeter starts a meter on w for a run of total units (bytes when
// bytes is set, else items).
func (e *env) newMeter(label string, total int64, bytes bool) *meter {
	m := &meter{label: label, total: total, bytes: bytes, w: e.stderr, start: time.Now(), interval: 10 * time.Second}
	m.last = m.start
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		opts := []progressbar.Option{progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(f) })}
		if bytes {
			opts = append(opts, progressbar.OptionShowBytes(true))
		} else {
			opts = append(opts, progressbar.OptionShowIts())
		}
		m.bar = progressbar.NewOptions64(total, opts...)
	}
	return m
}

// Set records that done units of the total are done.
func (m *meter) Set(done int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = done
	if m.bar != nil {
		m.bar.Set64(done)
		return
	}
	if now := time.Now(); now.Sub(m.last) >= m.interval {
		m.last = now
		fmt.Fprintln(m.w, m.line(now))
	}
}

// Finish ends the bar; a plain meter says the last figure if it spoke.
func (m *meter) Finish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bar != nil {
		m.bar.Finish()
		return
	}
	if m.last != m.start {
		fmt.Fprintln(m.w, m.line(time.Now()))
	}
}

func (m *meter) line(now time.Time) string {
	took := now.Sub(m.start)
	rate := float64(m.done) / took.Seconds()
	unit, scale := "", 1.0
	if m.bytes {
		unit, scale = " MB", 1<<20
	}
	s := fmt.Sprintf("%s: %.0f%s of %.0f%s", m.label, float64(m.done)/scale, unit, float64(m.total)/scale, unit)
	if m.total > 0 {
		s += fmt.Sprintf(" (%.0f%%)", 100*float64(m.done)/float64(m.total))
	}
	s += fmt.Sprintf(", %.1f%s/s", rate/scale, unit)
	if rate > 0 && m.total > m.done {
		s += ", ETA " + time.Duration(float64(m.total-m.done)/rate*float64(time.Second)).Round(time.Second).String()
	}
	return s
}
