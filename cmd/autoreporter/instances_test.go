package main

import (
	"bytes"
	"fmt"
	nmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter/mail/smtptest"
	"github.com/autoreporter/autoreporter/reporter/store/pgtest"
)

// csvAddresses reads the ip:port of the events in a mail's CSV attachments.
func csvAddresses(t *testing.T, raw []byte) (id string, ips []string) {
	t.Helper()
	msg, err := nmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, rows := csvRows(t, raw)
	for _, r := range rows {
		ips = append(ips, r[1]+":"+r[2])
	}
	return msg.Header.Get("Message-Id"), ips
}

// Three daemons on one PostgreSQL database share the work: files arrive
// in one spool while they run, one of them is killed (SIGKILL) while it
// sends, and still every event reaches its ISP exactly once; no Message-ID
// arrives twice but the one on the wire at the kill, resent the same.
func TestThreeInstancesOnePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := setup(t)
	os.RemoveAll(filepath.Join(dir, "spool"))
	os.MkdirAll(filepath.Join(dir, "spool"), 0o755)
	smtp := smtptest.Start(t)
	smtp.Delay(150 * time.Millisecond) // a mail takes a while: a kill lands mid-send
	c := filepath.Join(dir, "config.yaml")
	conf := strings.Replace(cfg, "feeds:\n  - {name: ss, format: shadowserver, source: {spool: spool}}",
		"feeds:\n  - {name: ss, format: shadowserver, source: {spool: spool}, schedule: \"@every 1s\", settle: 1s}", 1)
	conf = strings.Replace(conf, "contacts:\n  - {asn: 64500, to: [abuse@isp.example]}\n", "", 1) +
		fmt.Sprintf("store: {driver: postgres, dsn: %q}\nmail: {mode: smtp, smtp: {host: %s, port: %d, tls: none}}\n"+
			"report: {schedule: \"@every 1s\", claim_lease: 2s, backoff: 1s}\n", dsn, smtp.Host, smtp.Port)
	// Many contacts, so that a pass sends many mails.
	conf += "contacts:\n"
	for i := 0; i < 64; i++ {
		conf += fmt.Sprintf("  - {cidr: 192.0.2.%d/30, to: [abuse%d@isp.example]}\n", i*4, i)
	}
	if err := os.WriteFile(c, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := cli("check-config", "--config", c); code != 0 {
		t.Fatalf("config: %s%s", out, errs)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run", "--config", c)
		cmd.Env = append(os.Environ(), "AUTOREPORTER_TEST_MAIN=1")
		var log lockedBuffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	procs := []*exec.Cmd{start(), start(), start()}
	want := map[string]bool{}
	drop := func(n int) {
		// Written elsewhere and renamed in, as the README says.
		var b strings.Builder
		b.WriteString("timestamp,ip,port,tag\n")
		for i := 0; i < 64; i++ {
			ip := fmt.Sprintf("192.0.2.%d", i*4+n%4)
			fmt.Fprintf(&b, "2026-11-23 %02d:00:00,%s,%d,telnet\n", n%24, ip, 2300+n)
			if ip != "192.0.2.7" { // excluded from the constituency (setup's config)
				want[fmt.Sprintf("%s:%d", ip, 2300+n)] = true
			}
		}
		tmp := filepath.Join(dir, fmt.Sprintf(".f%d.csv", n))
		os.WriteFile(tmp, []byte(b.String()), 0o644)
		old := time.Now().Add(-time.Minute)
		os.Chtimes(tmp, old, old)
		os.Rename(tmp, filepath.Join(dir, "spool", fmt.Sprintf("2026-11-23-scan_telnet-f%d.csv", n)))
	}
	for n := 0; n < 3; n++ {
		drop(n)
	}
	// Kill one while mails go out.
	for deadline := time.Now().Add(20 * time.Second); len(smtp.Messages()) < 10 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	procs[0].Process.Signal(syscall.SIGKILL)
	for n := 3; n < 6; n++ {
		drop(n)
		time.Sleep(300 * time.Millisecond)
	}
	// Every event reported, once.
	got := map[string]int{}
	ids := map[string]int{}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, ids = map[string]int{}, map[string]int{}
		for _, m := range smtp.Messages() {
			id, _ := csvAddresses(t, m.Data)
			ids[id]++
		}
		// Events once over distinct mails: a resend of one mail (same
		// Message-ID) is one mail to the ISP.
		seen := map[string]bool{}
		for _, m := range smtp.Messages() {
			id, evs := csvAddresses(t, m.Data)
			if seen[id] {
				continue
			}
			seen[id] = true
			for _, ev := range evs {
				got[ev]++
			}
		}
		if len(got) >= len(want) {
			break
		}
	}
	for _, p := range procs[1:] {
		p.Process.Signal(syscall.SIGTERM)
	}
	// status reads the runs the three daemons recorded in PostgreSQL.
	code, out, errs := cli("status", "--config", c, "--json")
	if code != 0 || strings.Count(out, `"last_by":"daemon `) != 2 || !strings.Contains(out, `"job":"feed ss"`) || !strings.Contains(out, `"job":"report"`) {
		t.Errorf("status on PostgreSQL: %d\n%s\n%s", code, out, errs)
	}
	// The history has every event once, on one report each.
	code, out, _ = cli("history", "--config", c, "--json", "--limit", "100000")
	if code != 0 {
		t.Fatalf("history: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d events in history, want %d: every event reported once", len(lines), len(want))
	}
	twice := 0
	for id, n := range ids {
		if n > 1 {
			twice++
			t.Logf("%s delivered %d times (the resend after the kill)", id, n)
		}
		if n > 2 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if twice > 1 {
		t.Errorf("%d Message-IDs delivered twice; only the one on the wire at the kill may be", twice)
	}
	for ev, n := range got {
		if n != 1 || !want[ev] {
			t.Errorf("%s reached its ISP %d times", ev, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d events mailed, want %d", len(got), len(want))
		for ev := range want {
			if got[ev] == 0 {
				t.Logf("not mailed: %s", ev)
			}
		}
		for _, sub := range []string{"", "processing", "done", "failed"} {
			ls, _ := os.ReadDir(filepath.Join(dir, "spool", sub))
			for _, e := range ls {
				t.Logf("spool/%s: %s", sub, e.Name())
			}
		}
		_, out, _ := cli("feeds", "--config", c)
		t.Log(out)
		_, out, _ = cli("rejects", "--config", c)
		t.Log(out)
	}
}

// fourISPs writes a config that mails four ISPs by SMTP, with extra
// appended, and a spool file with four events for each.
func fourISPs(t *testing.T, dir string, smtp *smtptest.Server, extra string) (config string) {
	t.Helper()
	c := filepath.Join(dir, "config.yaml")
	conf := strings.Replace(cfg, "contacts:\n  - {asn: 64500, to: [abuse@isp.example]}\n", "", 1) + extra +
		fmt.Sprintf("mail: {mode: smtp, smtp: {host: %s, port: %d, tls: none}}\nreport: {claim_lease: 1s, backoff: 1s}\ncontacts:\n", smtp.Host, smtp.Port)
	var b strings.Builder
	b.WriteString("timestamp,ip,port,tag\n")
	for i := 0; i < 4; i++ {
		conf += fmt.Sprintf("  - {cidr: 192.0.2.%d/26, to: [abuse%d@isp.example]}\n", i*64, i)
		for j := 1; j < 5; j++ {
			fmt.Fprintf(&b, "2026-11-23 01:00:00,192.0.2.%d,23,telnet\n", i*64+j*8)
		}
	}
	if err := os.WriteFile(c, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spool", "2026-11-23-scan_telnet-k.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// A process killed (SIGKILL) after the relay took a mail and before the
// process could record it: the next run sends that mail once more, with
// the same Message-ID and bytes, and every other mail exactly once.
func TestKillBetweenDataAndRecord(t *testing.T) {
	dir := setup(t)
	smtp := smtptest.Start(t)
	c := fourISPs(t, dir, smtp, "")
	run := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "run", "--once", "--config", c)
		cmd.Env = append(os.Environ(), "AUTOREPORTER_TEST_MAIN=1")
		var log lockedBuffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := run()
	exited := make(chan error, 1)
	smtp.OnData(func(n int) {
		if n == 2 { // the second mail: one is recorded, this one arrives unrecorded
			first.Process.Signal(syscall.SIGKILL)
			exited <- first.Wait()
		}
	})
	select {
	case err := <-exited:
		if err == nil {
			t.Fatal("the first run ended by itself: the kill did not land between DATA and the record")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the first run never sent a second mail")
	}
	smtp.OnData(nil)
	time.Sleep(1200 * time.Millisecond) // the dead run's claim ends with its lease
	second := run()
	if err := second.Wait(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	ids := map[string]int{}
	raw := map[string][]byte{}
	for _, m := range smtp.Messages() {
		id, _ := csvAddresses(t, m.Data)
		ids[id]++
		if prev, ok := raw[id]; ok && !bytes.Equal(prev, m.Data) {
			t.Errorf("%s sent twice with different bytes", id)
		}
		raw[id] = m.Data
	}
	if len(ids) != 4 {
		t.Errorf("%d distinct mails, want 4 (one per ISP): %v", len(ids), ids)
	}
	twice := 0
	for id, n := range ids {
		switch {
		case n == 2:
			twice++
		case n != 1:
			t.Errorf("%s arrived %d times", id, n)
		}
	}
	if twice != 1 {
		t.Errorf("%d mails arrived twice, want exactly the one killed before its record: %v", twice, ids)
	}
}
