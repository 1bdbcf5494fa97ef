package smtptest

import (
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Faults are what a Strict server does wrong on purpose.
type Faults struct {
	// Refuse answers RCPT TO for these addresses with 550.
	Refuse map[string]bool
	// TempFail answers the DATA of the next n mails with 451.
	TempFail int
	// DropAfterData closes the connection after reading the next n mails'
	// DATA, without an answer: the sender cannot know the mail arrived
	// (it did: the mail is kept).
	DropAfterData int
	// ReadRate is how many bytes a second the server reads during DATA
	// (0: as fast as it can): a slow relay.
	ReadRate int
	// Size is advertised as SIZE and enforced (552); 0 advertises none.
	Size int64
}

// Strict is an SMTP server that reads the protocol as RFC 5321 writes it:
// MAIL FROM and RCPT TO take a path in angle brackets, and anything else
// is refused (501), as strict relays do. It counts connections, so a test
// sees whether one was reused.
type Strict struct {
	Host string
	Port int

	mu       sync.Mutex
	faults   Faults
	messages []Message
	conns    int
	refused  []string // commands refused for their syntax
}

// StartStrict starts a strict server that stops when the test ends.
func StartStrict(t testing.TB, f Faults) *Strict {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	s := &Strict{faults: f}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// Set replaces the faults.
func (s *Strict) Set(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Messages returns what was accepted (or kept before a drop).
func (s *Strict) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Conns is how many connections were made.
func (s *Strict) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Malformed lists the commands refused for their syntax.
func (s *Strict) Malformed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// path reads "<addr>" after a "FROM:" or "TO:", refusing a bare address.
func path(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	end := strings.IndexByte(rest, '>')
	if !strings.HasPrefix(rest, "<") || end < 0 {
		return "", false
	}
	return strings.ToLower(rest[1:end]), true
}

// throttled reads at most rate bytes a second while slow is set.
type throttled struct {
	net.Conn
	rate int
	slow bool
}

func (t *throttled) Read(p []byte) (int, error) {
	if !t.slow || t.rate <= 0 {
		return t.Conn.Read(p)
	}
	chunk := max(t.rate/20, 1)
	if len(p) > chunk {
		p = p[:chunk]
	}
	time.Sleep(50 * time.Millisecond)
	return t.Conn.Read(p)
}

func (s *Strict) serve(conn net.Conn) {
	defer conn.Close()
	s.mu.Lock()
	c := &throttled{Conn: conn, rate: s.faults.ReadRate}
	s.mu.Unlock()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 strict.test ESMTP")
	var msg Message
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			s.mu.Lock()
			size := s.faults.Size
			s.mu.Unlock()
			if size > 0 {
				tp.PrintfLine("250-strict.test\r\n250-SIZE %d\r\n250 8BITMIME", size)
			} else {
				tp.PrintfLine("250-strict.test\r\n250 8BITMIME")
			}
		case "HELO":
			tp.PrintfLine("250 strict.test")
		case "MAIL":
			from, ok := path(arg, "FROM:")
			if !ok {
				s.malformed(line)
				tp.PrintfLine("501 5.5.4 syntax: MAIL FROM:<address>")
				continue
			}
			msg = Message{From: from}
			tp.PrintfLine("250 2.1.0 ok")
		case "RCPT":
			to, ok := path(arg, "TO:")
			if !ok {
				s.malformed(line)
				tp.PrintfLine("501 5.5.4 syntax: RCPT TO:<address>")
				continue
			}
			s.mu.Lock()
			refuse := s.faults.Refuse[to]
			s.mu.Unlock()
			if refuse {
				tp.PrintfLine("550 5.1.1 <%s>: no such user", to)
				continue
			}
			msg.To = append(msg.To, to)
			tp.PrintfLine("250 2.1.5 ok")
		case "DATA":
			if len(msg.To) == 0 {
				tp.PrintfLine("554 5.5.1 no valid recipients")
				continue
			}
			tp.PrintfLine("354 go ahead")
			c.slow = true
			data, err := io.ReadAll(tp.DotReader())
			c.slow = false
			if err != nil {
				return
			}
			s.mu.Lock()
			f := &s.faults
			switch {
			case f.Size > 0 && int64(len(data)) > f.Size:
				s.mu.Unlock()
				tp.PrintfLine("552 5.3.4 message too big")
			case f.TempFail > 0:
				f.TempFail--
				s.mu.Unlock()
				tp.PrintfLine("451 4.3.0 try again later")
			case f.DropAfterData > 0:
				f.DropAfterData--
				msg.Data = data
				s.messages = append(s.messages, msg)
				s.mu.Unlock()
				return // no answer: the sender does not know it arrived
			default:
				msg.Data = data
				s.messages = append(s.messages, msg)
				s.mu.Unlock()
				tp.PrintfLine("250 2.0.0 queued")
			}
			msg = Message{}
		case "RSET":
			msg = Message{}
			tp.PrintfLine("250 ok")
		case "NOOP":
			tp.PrintfLine("250 ok")
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 5.5.2 not implemented")
		}
	}
}

func (s *Strict) malformed(line string) {
	s.mu.Lock()
	s.refused = append(s.refused, line)
	s.mu.Unlock()
}
