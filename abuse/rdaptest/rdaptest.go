// Package rdaptest is an RDAP server for tests: it answers /ip/ADDR queries
// on 127.0.0.1 with real-shaped documents, and can be told to be slow, to
// rate-limit (429) or to answer garbage, per network.
package rdaptest

import (
	"embed"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata/*.json
var fixtures embed.FS

// Fixture returns one of the real-shaped answers: ripe-ip.json (abuse
// entity at the top, 192.0.2.0/24), arin-ip.json (abuse entity under the
// organisation, 198.51.100.0/25, with one hostile email value),
// ripe-ip6.json (2001:db8:1000::/36) and no-abuse-ip.json (a registry's
// whole-space block without abuse contact).
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// Answer is how the server answers for a network.
type Answer struct {
	Status     int           // default 200
	Body       []byte        // default empty
	Delay      time.Duration // before answering (or until the client gives up)
	RetryAfter string        // Retry-After header
}

// Server is a running test RDAP server.
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	answers map[netip.Prefix]Answer
	hits    map[netip.Addr]int
	total   int
}

// New starts a server; it stops when the test ends. Unknown addresses get
// a 404, as from a real registry.
func New(t testing.TB) *Server {
	s := &Server{answers: map[netip.Prefix]Answer{}, hits: map[netip.Addr]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Set makes the server answer a for every address in prefix; the most
// specific prefix wins.
func (s *Server) Set(prefix string, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[netip.MustParsePrefix(prefix)] = a
}

// Hits is how many queries were made for ip, or for all when ip is zero.
func (s *Server) Hits(ip netip.Addr) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ip.IsValid() {
		return s.total
	}
	return s.hits[ip]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	q, ok := strings.CutPrefix(r.URL.Path, "/ip/")
	ip, err := netip.ParseAddr(q)
	if !ok || err != nil {
		http.Error(w, `{"errorCode":400,"title":"bad request"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.total++
	s.hits[ip]++
	var best netip.Prefix
	a, found := Answer{}, false
	for p, ans := range s.answers {
		if p.Contains(ip) && (!found || p.Bits() > best.Bits()) {
			best, a, found = p, ans, true
		}
	}
	s.mu.Unlock()
	if !found {
		w.Header().Set("Content-Type", "application/rdap+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errorCode":404,"title":"Not Found","rdapConformance":["rdap_level_0"]}`))
		return
	}
	if a.Delay > 0 {
		select {
		case <-time.After(a.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/rdap+json")
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
}
