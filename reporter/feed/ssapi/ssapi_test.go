package ssapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter/feed/httpsrc"
	"github.com/autoreporter/autoreporter/reporter/feed/ssapi"
	"github.com/autoreporter/autoreporter/reporter/feed/ssapi/ssapitest"
)

func TestSign(t *testing.T) {
	// RFC 4231 test case 2: key "Jefe".
	got := ssapi.Sign("Jefe", []byte("what do ya want for nothing?"))
	if got != "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Errorf("Sign = %s", got)
	}
	m := hmac.New(sha256.New, []byte("s"))
	m.Write([]byte(`{"apikey":"k"}`))
	if ssapi.Sign("s", []byte(`{"apikey":"k"}`)) != hex.EncodeToString(m.Sum(nil)) {
		t.Error("Sign is not hex HMAC-SHA256")
	}
}

func rep(id, day, typ, name string, body string) ssapitest.Report {
	return ssapitest.Report{
		Listed: ssapi.Listed{ID: id, Type: typ, Report: name, Timestamp: day,
			File: day + "-" + typ + "-" + name + "-geo.csv"},
		Body: []byte(body),
	}
}

func client(srv *ssapitest.Server, secret string) *ssapi.Client {
	return &ssapi.Client{API: srv.API(), Download: srv.Download(), Key: srv.Key, Secret: secret,
		HTTP: httpsrc.Source{Retries: 0, Timeout: 5 * time.Second}}
}

func TestListAndFetch(t *testing.T) {
	srv := ssapitest.New("key1", "sec1",
		rep("a1", "2026-11-21", "scan_rdp", "finland", "timestamp,ip\n"),
		rep("a2", "2026-11-22", "scan_telnet", "finland", "timestamp,ip,port\n2026-11-22 01:00:00,192.0.2.1,23\n"),
		rep("a3", "2026-11-22", "scan_telnet", "sweden", "x"),
		rep("a4", "2026-11-19", "scan_rdp", "finland", "old"),
	)
	defer srv.Close()
	c := client(srv, "sec1")
	c.Reports = []string{"finland"}
	ctx := context.Background()
	list, err := c.List(ctx, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "a1" || list[1].ID != "a2" {
		t.Fatalf("list: %+v", list)
	}
	if got := srv.LastList()["date"]; got != "2026-11-21:2026-11-22" {
		t.Errorf("date window sent: %v", got)
	}
	res, err := c.Fetch(ctx, list[1])
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.Name != "2026-11-22-scan_telnet-finland-geo.csv" || !strings.Contains(string(b), "192.0.2.1") {
		t.Errorf("fetched %s: %q", res.Name, b)
	}
	if d := srv.Downloads(); d["a2"] != 1 || len(d) != 1 {
		t.Errorf("downloads: %v", d)
	}

	c.Reports, c.Types = nil, []string{"scan_telnet", "scan_ftp"}
	list, err = c.List(ctx, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if err != nil || len(list) != 2 || list[0].Type != "scan_telnet" || list[1].Report != "sweden" {
		t.Errorf("two types, filtered here: %v %+v", err, list)
	}
}

func TestBadSecret(t *testing.T) {
	srv := ssapitest.New("key1", "sec1")
	defer srv.Close()
	_, err := client(srv, "wrong").List(context.Background(), time.Now(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "reports/list") || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad secret: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "key1") {
		t.Errorf("error leaks a secret: %v", err)
	}
}

func TestListAnswers(t *testing.T) {
	c := &ssapi.Client{}
	if _, err := c.ParseList([]byte(`{"error":"Invalid HMAC"}`)); err == nil || !strings.Contains(err.Error(), "the API said: Invalid HMAC") {
		t.Errorf("error object: %v", err)
	}
	if _, err := c.ParseList([]byte(`<html>`)); err == nil || !strings.Contains(err.Error(), "not a list of reports") {
		t.Errorf("garbage: %v", err)
	}
	got, err := c.ParseList([]byte(`[{"id":""},{"id":"x","file":"../../etc/passwd"},{"id":"y","type":"scan_rdp","timestamp":"2026-11-22"}]`))
	if err != nil || len(got) != 2 {
		t.Fatalf("list: %v %+v", err, got)
	}
	if got[0].Name() != "passwd" || got[1].Name() != "2026-11-22-scan_rdp.csv" {
		t.Errorf("names: %q %q", got[0].Name(), got[1].Name())
	}
}
