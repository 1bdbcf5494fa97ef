// Package smtptest runs a real SMTP server on 127.0.0.1 for tests
// (emersion/go-smtp): it records every message it accepts, and can be told
// to refuse the next ones with a temporary error.
package smtptest

import (
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one accepted mail.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a running test server.
type Server struct {
	Host string
	Port int

	mu       sync.Mutex
	messages []Message
	failNext int
	failAt   int
	delay    time.Duration
	discard  bool
	count    int
	onData   func(n int)
}

// OnData calls fn with the count of accepted mails each time one has been
// taken and kept, before the server answers 250: a test may kill the
// sender there, when the mail has arrived and the sender cannot know.
func (s *Server) OnData(fn func(n int)) {
	s.mu.Lock()
	s.onData = fn
	s.mu.Unlock()
}

// Discard makes the server count the mails it accepts without keeping
// them: a benchmark sends more than memory should hold.
func (s *Server) Discard() {
	s.mu.Lock()
	s.discard = true
	s.mu.Unlock()
}

// Count is how many mails the server accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Delay makes the server wait this long before answering each DATA: a
// slow relay.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Start starts a server that stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s := &Server{}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	srv := smtp.NewServer(backend{s})
	srv.Domain = "smtptest.local"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = true
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// FailAt makes the n-th message from now (1 is the next) fail at DATA
// with 451, and the others pass.
func (s *Server) FailAt(n int) {
	s.mu.Lock()
	s.failAt = n
	s.mu.Unlock()
}

// FailNext makes the next n messages fail at DATA with 451.
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// Messages returns what was accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s   *Server
	msg Message
}

func (x *session) Reset()        { x.msg = Message{} }
func (x *session) Logout() error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.msg.From = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.msg.To = append(x.msg.To, to)
	return nil
}

var errTemp = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	delay := x.s.delay
	x.s.mu.Unlock()
	time.Sleep(delay)
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	if x.s.failNext > 0 {
		x.s.failNext--
		return errTemp
	}
	if x.s.failAt > 0 {
		x.s.failAt--
		if x.s.failAt == 0 {
			return errTemp
		}
	}
	if len(x.msg.To) == 0 {
		return errors.New("no recipients")
	}
	x.s.count++
	if !x.s.discard {
		x.msg.Data = b
		x.s.messages = append(x.s.messages, x.msg)
	}
	if fn, n := x.s.onData, x.s.count; fn != nil {
		x.s.mu.Unlock()
		fn(n)
		x.s.mu.Lock() // for the deferred Unlock
	}
	return nil
}
