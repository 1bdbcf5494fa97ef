package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// run --job runs one job under the lock the daemon takes for it, and
// status shows every job's last run and next from the store and the config.
func TestRunJobAndStatus(t *testing.T) {
	dir := setup(t)
	c := filepath.Join(dir, "config.yaml")
	code, out, errs := cli("status", "--config", c)
	if code != 0 || !strings.Contains(out, "feed ss") || !strings.Contains(out, "report") || strings.Count(out, "never") != 2 {
		t.Fatalf("status before any run: %d\n%s\n%s", code, out, errs)
	}

	code, out, errs = cli("run", "--job", "ss", "--config", c)
	if code != 0 || !strings.Contains(out, "files:   1 file read, 0 failed") || !strings.Contains(out, "events:  1 new") ||
		!strings.Contains(out, "job:     feed ss done in ") || strings.Contains(out, "mails:") {
		t.Fatalf("run --job ss: %d\n%s\n%s", code, out, errs)
	}

	// Another instance holds the report pass: its lock is an flock on a
	// file beside the store, as another process would hold it.
	lock, err := os.OpenFile(filepath.Join(dir, "var", "autoreporter.db.report.lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli("run", "--job", "report", "--config", c)
	if code != 1 || !strings.Contains(errs, "another autoreporter instance is doing this now; --wait waits") {
		t.Fatalf("run --job report while another instance holds it: %d\n%s\n%s", code, out, errs)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "var/outbox/*.eml")); len(m) != 0 {
		t.Fatalf("a job another instance holds sent mail: %v", m)
	}
	type result struct {
		code      int
		out, errs string
	}
	waited := make(chan result, 1)
	go func() {
		code, out, errs := cli("run", "--job", "report", "--wait", "--config", c)
		waited <- result{code, out, errs}
	}()
	select {
	case r := <-waited:
		t.Fatalf("run --job --wait did not wait for the lock: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	r := <-waited
	if r.code != 0 || !strings.Contains(r.out, "mails:   1 written") || !strings.Contains(r.out, "job:     report done") {
		t.Fatalf("run --job report --wait: %+v", r)
	}

	for _, bad := range [][]string{{"--job", "nope"}, {"--job", "ss", "--once"}, {"--wait"}} {
		code, _, errs := cli(append([]string{"run", "--config", c}, bad...)...)
		if code != 2 {
			t.Errorf("run %v: exit %d, want 2 (%s)", bad, code, errs)
		}
		if bad[0] == "--job" && bad[1] == "nope" && !strings.Contains(errs, "the jobs are: feed ss, report") {
			t.Errorf("run --job nope does not name the jobs: %s", errs)
		}
	}

	code, out, errs = cli("status", "--config", c, "--json")
	if code != 0 {
		t.Fatalf("status --json: %d %s", code, errs)
	}
	var jobs []jobJSON
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var j jobJSON
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		jobs = append(jobs, j)
	}
	if len(jobs) != 2 || jobs[0].Job != "feed ss" || jobs[1].Job != "report" {
		t.Fatalf("status --json: %s", out)
	}
	for _, j := range jobs {
		if j.Result != "done" || j.Runs != 1 || !strings.HasPrefix(j.LastBy, "cli ") || j.Next == nil || j.LastStarted == nil || !j.InConfig {
			t.Errorf("%s: %+v", j.Job, j)
		}
	}
	code, out, _ = cli("status", "--config", c)
	if code != 0 || !strings.Contains(out, "JOB") || strings.Count(out, "  cli  ") != 2 || strings.Count(out, "  done  ") != 2 {
		t.Errorf("status:\n%s", out)
	}
}
