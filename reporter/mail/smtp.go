package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
	"golang.org/x/time/rate"
)

// SMTP sends through a relay over one connection, kept from mail to mail
// while it is in use. Replies are typed (ReplyError): a 4xx is tried again
// later, a 5xx to one recipient refuses that recipient only, and a 5xx to
// the mail is final. Time limits are per command and per idle period on
// the wire, not one deadline for the whole session: a 10 MB mail to a
// relay that reads slowly goes through as long as it keeps reading.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string // starttls, tls or none
	// Timeout is how long the wire may be idle: no command answered, no
	// byte of a mail taken.
	Timeout time.Duration
	From    string // envelope sender, a bare address
	// Throttle caps the mails a second; the connections of a Pool share
	// one. Nil is no cap.
	Throttle *Throttle
	Log      *slog.Logger

	mu       sync.Mutex
	c        *smtp.Client
	conn     *idleConn
	size     int64 // the relay's SIZE, 0 when it says none
	lastUsed time.Time
}

// Throttle caps mails a second over all destinations (Rate) and per
// recipient domain (DomainRate: a large ISP's relay throttles senders);
// zero is no cap. It is safe for concurrent use.
type Throttle struct {
	total      *rate.Limiter
	domainRate rate.Limit
	mu         sync.Mutex
	domains    map[string]*rate.Limiter
}

// NewThrottle returns a throttle at these rates, nil when both are zero.
func NewThrottle(total, perDomain rate.Limit) *Throttle {
	if total <= 0 && perDomain <= 0 {
		return nil
	}
	t := &Throttle{domainRate: perDomain, domains: map[string]*rate.Limiter{}}
	if total > 0 {
		t.total = rate.NewLimiter(total, 1)
	}
	return t
}

// Wait blocks until a mail to these recipients may go.
func (t *Throttle) Wait(ctx context.Context, to []string) error {
	if t == nil {
		return nil
	}
	if t.total != nil {
		if err := t.total.Wait(ctx); err != nil {
			return err
		}
	}
	if t.domainRate <= 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, a := range to {
		_, dom, _ := strings.Cut(a, "@")
		if seen[dom] {
			continue
		}
		seen[dom] = true
		t.mu.Lock()
		l := t.domains[dom]
		if l == nil {
			l = rate.NewLimiter(t.domainRate, 1)
			t.domains[dom] = l
		}
		t.mu.Unlock()
		if err := l.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ReplyError is the relay's answer to a command.
type ReplyError struct {
	Cmd  string // "MAIL FROM", "RCPT TO", "DATA", "end of DATA"
	Code int
	Msg  string
}

func (e *ReplyError) Error() string { return fmt.Sprintf("%s: %d %s", e.Cmd, e.Code, e.Msg) }

// Temporary is true for a 4xx: try again later.
func (e *ReplyError) Temporary() bool { return e.Code/100 == 4 }

// Permanent is true for a 5xx: the same mail will be refused again.
func (e *ReplyError) Permanent() bool { return e.Code/100 == 5 }

// ErrUnreachable is a relay that cannot be reached or dropped the
// connection: the other mails of the pass would fare no better.
var ErrUnreachable = errors.New("relay unreachable")

type unreachable struct{ err error }

func (u *unreachable) Error() string     { return u.err.Error() }
func (u *unreachable) Unwrap() []error   { return []error{u.err, ErrUnreachable} }
func (u *unreachable) Unreachable() bool { return true }

// A connection unused this long is closed and dialled anew: relays drop
// idle clients, often after a minute.
const maxIdle = 30 * time.Second

// Close ends the session.
func (s *SMTP) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropLocked()
}

func (s *SMTP) dropLocked() error {
	if s.c == nil {
		return nil
	}
	err := s.c.Quit()
	s.c.Close()
	s.c, s.conn = nil, nil
	return err
}

// client returns the session, dialling when there is none or it sat idle.
func (s *SMTP) clientLocked(ctx context.Context) (*smtp.Client, error) {
	if s.c != nil && time.Since(s.lastUsed) > maxIdle {
		s.dropLocked()
	}
	if s.c != nil {
		return s.c, nil
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(timeout),
		// go-mail sets one deadline on the connection for the whole
		// session; the idle connection replaces it with one per read and
		// write, pushed on as bytes move.
		gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			s.conn = &idleConn{Conn: c, idle: timeout}
			return s.conn, nil
		})}
	switch s.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	gc, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp %s: %w", s.Host, err)
	}
	c, err := gc.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, &unreachable{fmt.Errorf("smtp %s:%d: %w", s.Host, s.Port, err)}
	}
	s.c, s.size = c, 0
	if ok, param := c.Extension("SIZE"); ok {
		if n, err := strconv.ParseInt(strings.TrimSpace(param), 10, 64); err == nil {
			s.size = n
		}
	}
	return c, nil
}

// MaxSize is the largest mail the relay takes (its SIZE), 0 when it sets
// none; it dials to ask.
func (s *SMTP) MaxSize(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.clientLocked(ctx); err != nil {
		return 0, err
	}
	return s.size, nil
}

// reply types a command's error: the relay's answer, or a broken
// connection (then the session is dropped).
func (s *SMTP) reply(cmd string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &ReplyError{Cmd: cmd, Code: te.Code, Msg: te.Msg}
	}
	s.dropLocked()
	return &unreachable{fmt.Errorf("smtp %s:%d: %s: %w", s.Host, s.Port, cmd, err)}
}

// Deliver implements Transport. It returns the recipients the relay
// refused for good (a 5xx to RCPT TO) when it took the mail for the others.
func (s *SMTP) Deliver(ctx context.Context, name string, msg *Message) (refused []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Throttle.Wait(ctx, msg.To); err != nil {
		return nil, err
	}
	c, err := s.clientLocked(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { s.lastUsed = time.Now() }()
	// RFC 5321: the paths are written <addr>; a strict relay refuses a
	// bare address.
	if err := c.Mail("<" + s.From + ">"); err != nil {
		return nil, s.reply("MAIL FROM", err)
	}
	accepted := 0
	for _, to := range msg.To {
		err := c.Rcpt("<" + to + ">")
		if err == nil {
			accepted++
			continue
		}
		r := s.reply("RCPT TO <"+to+">", err)
		var re *ReplyError
		if errors.As(r, &re) && re.Permanent() {
			refused = append(refused, fmt.Sprintf("%s: %d %s", to, re.Code, re.Msg))
			continue
		}
		// A 4xx (greylisting, a full queue) for one recipient: the mail
		// is tried again later, whole.
		if errors.As(r, &re) {
			c.Reset()
		}
		return nil, r
	}
	if accepted == 0 {
		c.Reset()
		return refused, &ReplyError{Cmd: "RCPT TO", Code: 550, Msg: "every recipient refused: " + strings.Join(refused, "; ")}
	}
	w, err := c.Data()
	if err != nil {
		return nil, s.reply("DATA", err)
	}
	if _, err := w.Write(msg.Raw); err != nil {
		w.Close()
		s.dropLocked()
		return nil, &unreachable{fmt.Errorf("smtp %s: %s: DATA: %w", s.Host, name, err)}
	}
	// The relay answers once it has read what the kernel buffers between
	// us hold: the wait for that answer allows for a relay reading at
	// minRate.
	if conn := s.conn; conn != nil {
		conn.grace = time.Duration(len(msg.Raw)/minRate) * time.Second
		defer func() { conn.grace = 0 }()
	}
	if err := w.Close(); err != nil {
		return nil, s.reply("end of DATA", err)
	}
	return refused, nil
}

// idleConn pushes a deadline on before every read and write: the wire
// may be idle for at most idle, however long a whole mail takes. The
// deadlines go-mail sets for the whole session are ignored.
type idleConn struct {
	net.Conn
	idle  time.Duration
	grace time.Duration // more for the next reads: the answer to a large mail
}

// minRate is the slowest a relay may read a mail, in bytes a second.
const minRate = 20 << 10

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle + c.grace))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	// Large writes go in pieces, so that a slow reader that keeps
	// reading keeps the deadline moving.
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), 32<<10)]
		c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
		k, err := c.Conn.Write(chunk)
		n += k
		if err != nil {
			return n, err
		}
		p = p[len(chunk):]
	}
	return n, nil
}

func (c *idleConn) SetDeadline(time.Time) error      { return nil }
func (c *idleConn) SetReadDeadline(time.Time) error  { return nil }
func (c *idleConn) SetWriteDeadline(time.Time) error { return nil }

var _ io.Closer = (*SMTP)(nil)

// Pool sends over several connections to one relay at once, each an SMTP
// of its own, sharing one Throttle: a concurrency limit that is also the
// number of sessions the relay sees.
type Pool struct {
	free chan *SMTP
	all  []*SMTP
}

// NewPool makes a pool of n connections (at least one) from a template;
// the copies share its Throttle.
func NewPool(n int, template *SMTP) *Pool {
	n = max(n, 1)
	p := &Pool{free: make(chan *SMTP, n)}
	for range n {
		s := &SMTP{Host: template.Host, Port: template.Port, Username: template.Username, Password: template.Password,
			TLS: template.TLS, Timeout: template.Timeout, From: template.From, Throttle: template.Throttle, Log: template.Log}
		p.all = append(p.all, s)
		p.free <- s
	}
	return p
}

func (p *Pool) take(ctx context.Context) (*SMTP, error) {
	select {
	case s := <-p.free:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Deliver implements Transport on a free connection.
func (p *Pool) Deliver(ctx context.Context, name string, msg *Message) ([]string, error) {
	s, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { p.free <- s }()
	return s.Deliver(ctx, name, msg)
}

// MaxSize is the relay's SIZE, asked on a free connection.
func (p *Pool) MaxSize(ctx context.Context) (int64, error) {
	s, err := p.take(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { p.free <- s }()
	return s.MaxSize(ctx)
}

// Close ends every session.
func (p *Pool) Close() error {
	var errs []error
	for _, s := range p.all {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
