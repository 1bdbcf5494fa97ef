package blocklist

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/reporter/feed/feedtest"
)

func TestDrop(t *testing.T) {
	f, _ := os.Open("testdata/drop.txt")
	defer f.Close()
	s := &feedtest.Sink{KeepFunc: func(a netip.Addr) bool { return !netip.MustParsePrefix("1.0.0.0/8").Contains(a) }}
	if err := (&Parser{Identifier: "spamhaus-drop"}).Parse(context.Background(), f, "drop.txt", s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 4 || s.Outside != 1 || len(s.Rejects) != 1 || s.Rejects[0].Line != 8 {
		t.Fatalf("events %d outside %d rejects %+v", len(s.Events), s.Outside, s.Rejects)
	}
	e := s.Events[0]
	if e.IP.String() != "192.0.2.0" || e.ExtraValue("network") != "192.0.2.0/25" || e.ExtraValue("reference") != "SBL000001" ||
		e.Classification != "blocklist" || e.Identifier != "spamhaus-drop" || e.Source != "drop.txt:4" {
		t.Errorf("CIDR entry: %+v", e)
	}
	if s.Events[1].IP.String() != "198.51.100.23" || s.Events[1].ExtraValue("network") != "" {
		t.Errorf("single address (CRLF): %+v", s.Events[1])
	}
	if s.Events[3].IP.String() != "192.0.2.200" || s.Events[3].ExtraValue("reference") != "trailing comment" {
		t.Errorf("address with comment: %+v", s.Events[3])
	}
}

func TestLongLine(t *testing.T) {
	in := "192.0.2.1\n" + strings.Repeat("x", 100<<10) + "\n192.0.2.2\n"
	s := &feedtest.Sink{}
	if err := (&Parser{}).Parse(context.Background(), strings.NewReader(in), "l.txt", s); err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 2 || len(s.Rejects) != 1 || s.Rejects[0].Line != 2 {
		t.Errorf("events %d rejects %+v", len(s.Events), s.Rejects)
	}
}

func FuzzBlocklist(f *testing.F) {
	b, _ := os.ReadFile("testdata/drop.txt")
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := &feedtest.Sink{}
		if err := (&Parser{}).Parse(context.Background(), bytes.NewReader(data), "f.txt", s); err != nil {
			t.Fatal(err)
		}
		for _, e := range s.Events {
			if !e.IP.IsValid() || e.Classification == "" {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}
