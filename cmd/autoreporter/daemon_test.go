package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	nmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter/mail/smtptest"
)

// lockedBuffer collects a subprocess's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runDaemon starts `autoreporter run` on config (the test binary is the
// command) with its output in log; exited receives its end. The process is
// killed when the test ends.
func runDaemon(t *testing.T, config string, log *lockedBuffer) (cmd *exec.Cmd, exited <-chan error) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "run", "--config", config, "--log-level", "debug")
	cmd.Env = append(os.Environ(), "AUTOREPORTER_TEST_MAIN=1")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, done
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, log fmt.Stringer, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s; log:\n%s", what, log)
}

// The daemon as an operator runs it, in a process of its own: it fetches
// a feed over HTTP and reports by SMTP on short schedules; SIGHUP with a
// broken config keeps the old one running and a good one applies; /metrics,
// /healthz and /readyz answer; SIGTERM exits cleanly, and a restart sends
// nothing twice.
func TestDaemonProcess(t *testing.T) {
	dir := setup(t)
	os.RemoveAll(filepath.Join(dir, "spool")) // this test's feeds come over HTTP
	smtp := smtptest.Start(t)
	feeds := map[string]string{
		"/a.csv": "ip,port,first_seen\n192.0.2.10,443,2026-11-23 01:00:00\n198.51.100.1,443,2026-11-23 01:00:00\n",
		"/b.csv": "ip,port,first_seen\n192.0.2.20,8443,2026-11-23 02:00:00\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := feeds[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	listen := freePort(t)
	feed := func(name, path string) string {
		return fmt.Sprintf("  - {name: %s, format: csv, schedule: \"@every 1s\", source: {url: %q}, csv: {columns: {ip: ip, port: port, time: first_seen}, classification: c2-server, identifier: qakbot}}\n", name, srv.URL+path)
	}
	conf := func(feedLines string) string {
		return fmt.Sprintf(`cert: {name: CERT-T, from: ar@cert.example, fallback_contact: soc@cert.example}
constituency: {countries: [FI]}
geo: {asn_db: asn.mmdb, country_db: country.mmdb}
mail: {mode: smtp, smtp: {host: %s, port: %d, tls: none}}
report: {schedule: "@every 1s"}
http: {listen: %q}
shutdown_grace: 10s
contacts:
  - {asn: 64500, to: [abuse@isp.example]}
feeds:
%s`, smtp.Host, smtp.Port, listen, feedLines)
	}
	c := filepath.Join(dir, "config.yaml")
	os.WriteFile(c, []byte(conf(feed("a", "/a.csv"))), 0o644)

	var log lockedBuffer
	cmd, exited := runDaemon(t, c, &log)

	waitFor(t, "the first mail", &log, func() bool { return len(smtp.Messages()) == 1 })
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "/metrics", &log, func() bool {
		_, body := get("/metrics")
		return strings.Contains(body, `autoreporter_deliveries_total{result="sent"} 1`)
	})
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("/readyz: %d %s", code, body)
	}

	// status, from another process beside the daemon: the daemon's runs,
	// and its plan for the next. run --job takes the daemon's lock for the
	// job (--wait: the daemon may hold it now) and runs it beside it.
	code, out, errs := cli("status", "--config", c, "--json")
	if code != 0 || !strings.Contains(out, `"job":"feed a"`) || !strings.Contains(out, `"last_by":"daemon `) ||
		!strings.Contains(out, `"job":"report"`) || !strings.Contains(out, `"next":"`) {
		t.Errorf("status beside the daemon: %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := cli("run", "--job", "feed a", "--wait", "--config", c); code != 0 || !strings.Contains(out, "job:     feed a ") {
		t.Errorf("run --job beside the daemon: %d\n%s\n%s", code, out, errs)
	}

	// A broken config: refused, every error logged, the old one runs on.
	os.WriteFile(c, []byte(conf(feed("a", "/a.csv"))+"bogus: 1\nmail: {mode: pigeon}\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the refusal", &log, func() bool {
		return strings.Contains(log.String(), "config not reloaded") && strings.Contains(log.String(), "bogus")
	})
	// A good one that adds a feed: its event is fetched and mailed.
	os.WriteFile(c, []byte(conf(feed("a", "/a.csv")+feed("b", "/b.csv"))), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the new feed's mail", &log, func() bool { return len(smtp.Messages()) == 2 })
	if !strings.Contains(log.String(), "config reloaded") {
		t.Errorf("no reload logged:\n%s", log.String())
	}
	select {
	case err := <-exited:
		t.Fatalf("the daemon exited: %v\n%s", err, log.String())
	default:
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	// A start line (version, config, store, feeds), a line for the pass
	// that did work, and a stop line with what is left for the next start.
	for _, re := range []string{`msg=running version=\S+ config=\S+config.yaml store=sqlite feeds=\S+`,
		`msg="report pass" .*reports_created=1`, `msg=stopped events_held=\d+ reports_unsent=0`} {
		if !regexp.MustCompile(re).MatchString(log.String()) {
			t.Errorf("log lacks %s:\n%s", re, log.String())
		}
	}

	// A restart: the same feeds, nothing new to tell.
	if code, out, errs := cli("run", "--once", "--config", c); code != 0 {
		t.Fatalf("restart: %d %s %s", code, out, errs)
	}
	ids := map[string]int{}
	for _, m := range smtp.Messages() {
		msg, err := nmail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		ids[msg.Header.Get("Message-Id")]++
	}
	if len(smtp.Messages()) != 2 || len(ids) != 2 {
		t.Errorf("after the restart: %d mails, %d Message-IDs; want 2 and 2", len(smtp.Messages()), len(ids))
	}
}

// SIGTERM while the daemon's report pass is sending, as an operator's stop
// lands: within shutdown_grace the pass finishes, every mail is recorded,
// the process exits 0 and a restart sends nothing; past the grace it exits
// non-zero saying which job was cut short, and a restart sends the rest,
// every Message-ID once but for the one that was on the wire.
func TestSIGTERMMidPass(t *testing.T) {
	for _, tt := range []struct {
		name, grace string
		cut         bool
	}{{"within grace", "20s", false}, {"past grace", "100ms", true}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := setup(t)
			smtp := smtptest.Start(t)
			c := fourISPs(t, dir, smtp, "shutdown_grace: "+tt.grace+"\n")
			smtp.Delay(300 * time.Millisecond)
			proc := make(chan *os.Process, 1)
			smtp.OnData(func(n int) {
				if n == 2 { // the second of four mails has arrived, its 250 not yet sent
					(<-proc).Signal(syscall.SIGTERM)
				}
			})
			var log lockedBuffer
			cmd, exited := runDaemon(t, c, &log)
			proc <- cmd.Process
			select {
			case err := <-exited:
				if tt.cut != (err != nil) {
					t.Fatalf("exit: %v, want cut short %v:\n%s", err, tt.cut, log.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no exit after SIGTERM:\n%s", log.String())
			}
			if tt.cut != strings.Contains(log.String(), `job cut short" job=report`) {
				t.Errorf("cut short %v, log:\n%s", tt.cut, log.String())
			}
			before := len(smtp.Messages())
			if !tt.cut && before != 4 {
				t.Errorf("%d mails before the stop, want all 4 within the grace", before)
			}
			smtp.OnData(nil)
			smtp.Delay(0)
			time.Sleep(1200 * time.Millisecond) // a claim left by the cut ends with its lease
			if code, out, errs := cli("run", "--once", "--config", c); code != 0 {
				t.Fatalf("restart: %d %s %s", code, out, errs)
			}
			if !tt.cut && len(smtp.Messages()) != before {
				t.Errorf("the restart sent %d mails again", len(smtp.Messages())-before)
			}
			ids := map[string]int{}
			for _, m := range smtp.Messages() {
				id, _ := csvAddresses(t, m.Data)
				ids[id]++
			}
			twice := 0
			for id, n := range ids {
				if n == 2 {
					twice++
				} else if n != 1 {
					t.Errorf("%s arrived %d times", id, n)
				}
			}
			if len(ids) != 4 || twice > 1 || (!tt.cut && twice > 0) {
				t.Errorf("mails by Message-ID %v: want 4, each once (one may repeat only when cut short)", ids)
			}
		})
	}
}
