package feed

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 11, 20, 4, 5, 6, 0, time.UTC)
	for _, s := range []string{"2026-11-20 04:05:06", "2026-11-20T04:05:06Z", "2026-11-20T06:05:06+02:00", "2026-11-20 04:05:06Z", "2026-11-20 06:05:06+0200", "1795147506", "1795147506000", " 2026-11-20 04:05:06 "} {
		got, err := ParseTime(s, "")
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v", s, got, err)
		}
	}
	if got, err := ParseTime("20/11/2026 04:05", "02/01/2006 15:04"); err != nil || !got.Equal(want.Truncate(time.Minute)) {
		t.Errorf("layout: %v %v", got, err)
	}
	for _, bad := range []string{"", "soon", "2026-13-40 00:00:00", "-5"} {
		if _, err := ParseTime(bad, ""); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.1": "192.0.2.1", " 192.0.2.1 ": "192.0.2.1", "::ffff:192.0.2.1": "192.0.2.1", "fe80::1%eth0": "fe80::1", "2001:DB8::1": "2001:db8::1"} {
		got, err := ParseAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseAddr(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"010.1.1.1", "999.1.1.1", "192.0.2", "", "host.example"} {
		if _, err := ParseAddr(bad); err == nil {
			t.Errorf("ParseAddr(%q) accepted", bad)
		}
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		"a\r\nBcc: x":     "a  Bcc: x",
		"caf\xe9":         "café", // latin-1 byte
		"tab\there":       "tab here",
		"äöå-ok":          "äöå-ok",
		"long-long-value": "long-",
	} {
		max := 100
		if in == "long-long-value" {
			max = 5
		}
		if got := Clean(in, max); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Clip("ää", 3); got != "ä" {
		t.Errorf("Clip split a rune: %q", got)
	}
}

func TestURLAddr(t *testing.T) {
	tests := []struct {
		in      string
		ip      string
		port    int
		ok, err bool
	}{
		{"http://192.0.2.1:8080/x.sh", "192.0.2.1", 8080, true, false},
		{"https://192.0.2.1/", "192.0.2.1", 0, true, false},
		{"192.0.2.1/bins/mozi.m", "192.0.2.1", 0, true, false},
		{"http://[2001:db8::5]:81/a", "2001:db8::5", 81, true, false},
		{"http://[::ffff:192.0.2.9]/a", "192.0.2.9", 0, true, false},
		{"http://evil.example/a.exe", "", 0, false, false},
		{"http://xn--80ak6aa92e.example/", "", 0, false, false},
		{"", "", 0, false, false},
		{"http://999.1.1.1/a", "", 0, false, true},
		{"http://192.0.2.1:99999/a", "", 0, false, true},
		{"http://%zz/", "", 0, false, true},
	}
	for _, tt := range tests {
		ip, port, ok, err := URLAddr(tt.in)
		if (err != nil) != tt.err || ok != tt.ok || port != tt.port || (tt.ok && ip.String() != tt.ip) {
			t.Errorf("URLAddr(%q) = %v %d %v %v", tt.in, ip, port, ok, err)
		}
	}
}
