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
	unit     string // what is counted, when it is not bytes: "reports"
	bar      *progressbar.ProgressBar
	w        io.Writer
	now      func() time.Time
	start    time.Time
	last     time.Time
	interval time.Duration
	done     int64
	said     int64 // done as the last plain line said it
}

// newMeter starts a meter on stderr for a run of total bytes.
func (e *env) newMeter(label string, total int64, bytes bool) *meter {
	return e.startMeter(label, total, bytes, "")
}

// newCountMeter starts a meter on stderr for a run of total items, named
// by unit ("reports").
func (e *env) newCountMeter(label string, total int64, unit string) *meter {
	return e.startMeter(label, total, false, unit)
}

func (e *env) startMeter(label string, total int64, bytes bool, unit string) *meter {
	m := &meter{label: label, total: total, bytes: bytes, unit: unit, w: e.stderr, now: time.Now, interval: 10 * time.Second}
	m.start = m.now()
	m.last = m.start
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		opts := []progressbar.Option{progressbar.OptionSetWriter(f), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(f) })}
		switch {
		case bytes:
			opts = append(opts, progressbar.OptionShowBytes(true))
		case unit != "":
			opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
		default:
			opts = append(opts, progressbar.OptionShowIts())
		}
		m.bar = progressbar.NewOptions64(total, opts...)
	}
	return m
}

// Set records that done units of the total are done; a total that grew
// (more work turned up) is taken as the new total.
func (m *meter) Set(done, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = done
	if total != m.total {
		m.total = total
		if m.bar != nil {
			m.bar.ChangeMax64(total)
		}
	}
	if m.bar != nil {
		m.bar.Set64(done)
		return
	}
	if now := m.now(); now.Sub(m.last) >= m.interval {
		m.last, m.said = now, done
		fmt.Fprintln(m.w, m.line(now))
	}
}

// Finish ends the bar; a plain meter that spoke says the last figure,
// unless its last line said it already.
func (m *meter) Finish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bar != nil {
		m.bar.Finish()
		return
	}
	if m.last != m.start && m.done != m.said {
		fmt.Fprintln(m.w, m.line(m.now()))
	}
}

func (m *meter) line(now time.Time) string {
	took := now.Sub(m.start)
	rate := float64(m.done) / took.Seconds()
	unit, scale := "", 1.0
	switch {
	case m.bytes:
		unit, scale = " MB", 1<<20
	case m.unit != "":
		unit = " " + m.unit
	}
	first := unit // "3 MB of 10 MB", "3 of 10 reports"
	if !m.bytes {
		first = ""
	}
	s := fmt.Sprintf("%s: %.0f%s of %.0f%s", m.label, float64(m.done)/scale, first, float64(m.total)/scale, unit)
	if m.total > 0 {
		s += fmt.Sprintf(" (%.0f%%)", 100*float64(m.done)/float64(m.total))
	}
	s += fmt.Sprintf(", %.1f%s/s", rate/scale, unit)
	if rate > 0 && m.total > m.done {
		s += ", ETA " + time.Duration(float64(m.total-m.done)/rate*float64(time.Second)).Round(time.Second).String()
	}
	return s
}
