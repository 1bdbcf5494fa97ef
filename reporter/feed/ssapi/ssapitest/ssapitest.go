// Package ssapitest serves a Shadowserver Reports API on 127.0.0.1 for
// tests: reports/list checks the HMAC2 signature and the date window, and
// downloads are counted per report.
package ssapitest

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/autoreporter/autoreporter/reporter/feed/ssapi"
)

// Report is one report the server lists and serves.
type Report struct {
	Listed ssapi.Listed
	Body   []byte
	// Status, when set, answers downloads with that HTTP status instead.
	Status int
}

// Server is the fake API.
type Server struct {
	*httptest.Server
	Key, Secret string

	mu        sync.Mutex
	reports   []Report
	lists     int
	downloads map[string]int
	lastList  map[string]any
}

// New starts a server; Close it when done.
func New(key, secret string, reports ...Report) *Server {
	s := &Server{Key: key, Secret: secret, reports: reports, downloads: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api2/reports/list", s.list)
	mux.HandleFunc("GET /dl/{id}", s.download)
	s.Server = httptest.NewServer(mux)
	return s
}

// API and Download are the base URLs to configure.
func (s *Server) API() string      { return s.URL + "/api2/" }
func (s *Server) Download() string { return s.URL + "/dl/" }

// Add lists one more report.
func (s *Server) Add(r Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reports = append(s.reports, r)
}

// SetStatus changes how downloads of one report are answered; 0 serves it.
func (s *Server) SetStatus(id string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.reports {
		if s.reports[i].Listed.ID == id {
			s.reports[i].Status = status
		}
	}
}

// Downloads is how often each report id was downloaded.
func (s *Server) Downloads() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.downloads))
	for k, v := range s.downloads {
		out[k] = v
	}
	return out
}

// Lists is how many reports/list calls were answered.
func (s *Server) Lists() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

// LastList is the last accepted reports/list request body.
func (s *Server) LastList() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastList
}

func fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(w, 400, "unreadable body")
		return
	}
	if !hmac.Equal([]byte(r.Header.Get("HMAC2")), []byte(ssapi.Sign(s.Secret, body))) {
		fail(w, 401, "Invalid HMAC")
		return
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil || req["apikey"] != s.Key {
		fail(w, 401, "Invalid API key")
		return
	}
	from, to, ok := window(req["date"])
	if !ok {
		fail(w, 400, "bad date")
		return
	}
	var names []string
	if l, ok := req["reports"].([]any); ok {
		for _, n := range l {
			if s, ok := n.(string); ok {
				names = append(names, s)
			}
		}
	}
	typ, _ := req["type"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	s.lastList = req
	out := []ssapi.Listed{}
	for _, rep := range s.reports {
		d := rep.Listed.Timestamp
		if d < from || d > to || (typ != "" && rep.Listed.Type != typ) ||
			(len(names) > 0 && !slices.Contains(names, rep.Listed.Report)) {
			continue
		}
		out = append(out, rep.Listed)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func window(v any) (from, to string, ok bool) {
	d, _ := v.(string)
	from, to, found := strings.Cut(d, ":")
	if !found {
		to = from
	}
	for _, x := range []string{from, to} {
		if _, err := time.Parse(time.DateOnly, x); err != nil {
			return "", "", false
		}
	}
	return from, to, from <= to
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	var body []byte
	found, status := false, 0
	for _, rep := range s.reports {
		if rep.Listed.ID == id {
			body, found, status = rep.Body, true, rep.Status
		}
	}
	if found && status == 0 {
		s.downloads[id]++
	}
	s.mu.Unlock()
	if !found {
		http.NotFound(w, r)
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Write(body)
}
