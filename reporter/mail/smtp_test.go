package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/mail/smtptest"
	"github.com/autoreporter/autoreporter/templates"
)

func relay(srv *smtptest.Strict) *SMTP {
	return &SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: time.Second, From: "autoreporter@cert.example"}
}

func message(t *testing.T, to ...string) *Message {
	t.Helper()
	rep, evs := fixture("en")
	rep.Contact.To = to
	msg, err := builder(t).Build(rep, evs)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// The envelope is RFC 5321's (<addr>), which a strict relay insists on; one
// connection carries many mails.
func TestSMTPEnvelopeAndReuse(t *testing.T) {
	srv := smtptest.StartStrict(t, smtptest.Faults{})
	s := relay(srv)
	defer s.Close()
	for i := 0; i < 5; i++ {
		if _, err := s.Deliver(context.Background(), "r", message(t, "abuse@isp.example")); err != nil {
			t.Fatal(err)
		}
	}
	if m := srv.Malformed(); len(m) > 0 {
		t.Errorf("the relay refused: %v", m)
	}
	if n := len(srv.Messages()); n != 5 {
		t.Errorf("%d mails arrived, want 5", n)
	}
	if c := srv.Conns(); c != 1 {
		t.Errorf("%d connections for 5 mails, want 1", c)
	}
	if got := srv.Messages()[0].From; got != "autoreporter@cert.example" {
		t.Errorf("envelope sender %q", got)
	}
}

// A 550 for one recipient refuses that one; the other gets the mail, and
// the refusal comes back to be recorded.
func TestSMTPOneRecipientRefused(t *testing.T) {
	srv := smtptest.StartStrict(t, smtptest.Faults{Refuse: map[string]bool{"gone@isp.example": true}})
	s := relay(srv)
	defer s.Close()
	refused, err := s.Deliver(context.Background(), "r", message(t, "abuse@isp.example", "gone@isp.example"))
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 1 || !strings.Contains(refused[0], "gone@isp.example: 550") {
		t.Errorf("refused %v", refused)
	}
	if m := srv.Messages(); len(m) != 1 || len(m[0].To) != 1 || m[0].To[0] != "abuse@isp.example" {
		t.Errorf("delivered %+v", m)
	}
	// Every recipient refused: a permanent failure.
	_, err = s.Deliver(context.Background(), "r", message(t, "gone@isp.example"))
	var re *ReplyError
	if !errors.As(err, &re) || !re.Permanent() {
		t.Errorf("all refused: %v", err)
	}
}

// A 451 is temporary; a dropped connection after DATA is the relay's
// fault, unreachable for the rest of the pass; a slow reader is waited for
// as long as it reads.
func TestSMTPFaults(t *testing.T) {
	t.Run("451", func(t *testing.T) {
		srv := smtptest.StartStrict(t, smtptest.Faults{TempFail: 1})
		s := relay(srv)
		defer s.Close()
		_, err := s.Deliver(context.Background(), "r", message(t, "abuse@isp.example"))
		var re *ReplyError
		if !errors.As(err, &re) || !re.Temporary() || re.Code != 451 {
			t.Fatalf("want a temporary 451, got %v", err)
		}
		if _, err := s.Deliver(context.Background(), "r", message(t, "abuse@isp.example")); err != nil {
			t.Errorf("the retry on the same connection: %v", err)
		}
	})
	t.Run("dropped after DATA", func(t *testing.T) {
		srv := smtptest.StartStrict(t, smtptest.Faults{DropAfterData: 1})
		s := relay(srv)
		defer s.Close()
		_, err := s.Deliver(context.Background(), "r", message(t, "abuse@isp.example"))
		var down reporter.Unreachable
		if !errors.As(err, &down) || !down.Unreachable() {
			t.Fatalf("want unreachable, got %v", err)
		}
		if _, err := s.Deliver(context.Background(), "r", message(t, "abuse@isp.example")); err != nil {
			t.Errorf("a new connection after the drop: %v", err)
		}
		if srv.Conns() != 2 {
			t.Errorf("%d connections, want 2", srv.Conns())
		}
	})
	t.Run("nobody listens", func(t *testing.T) {
		s := &SMTP{Host: "127.0.0.1", Port: 1, TLS: "none", Timeout: time.Second, From: "a@b.example"}
		_, err := s.Deliver(context.Background(), "r", message(t, "abuse@isp.example"))
		if !errors.Is(err, ErrUnreachable) {
			t.Errorf("want ErrUnreachable, got %v", err)
		}
	})
	t.Run("slow reader", func(t *testing.T) {
		// 400 KB at 200 KB/s is two seconds, twice the idle timeout: it
		// goes through as long as the relay keeps reading.
		srv := smtptest.StartStrict(t, smtptest.Faults{ReadRate: 200 << 10})
		s := relay(srv)
		defer s.Close()
		msg := message(t, "abuse@isp.example")
		msg.Raw = append(msg.Raw, bytes.Repeat([]byte("x"), 400<<10)...)
		start := time.Now()
		if _, err := s.Deliver(context.Background(), "r", msg); err != nil {
			t.Fatalf("after %s: %v", time.Since(start), err)
		}
		if took := time.Since(start); took < time.Second {
			t.Errorf("took %s: the relay did not read slowly", took)
		}
	})
	t.Run("SIZE", func(t *testing.T) {
		srv := smtptest.StartStrict(t, smtptest.Faults{Size: 100 << 10})
		s := relay(srv)
		defer s.Close()
		if n, err := s.MaxSize(context.Background()); err != nil || n != 100<<10 {
			t.Errorf("MaxSize %d %v", n, err)
		}
	})
}

// BenchmarkSendReports renders and sends reports of 100 events each, one
// a b.N, through one reused connection to a real SMTP server on loopback:
// go test -bench SendReports -benchtime 10000x ./reporter/mail
func BenchmarkSendReports(b *testing.B) {
	srv := smtptest.Start(b)
	srv.Discard()
	s := &SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 5 * time.Second, From: "autoreporter@cert.example"}
	defer s.Close()
	bd, err := NewBuilder(templates.FS(""), "CERT-XX", "autoreporter@cert.example", "en", nil)
	if err != nil {
		b.Fatal(err)
	}
	m := &Mailer{Builder: bd, Transport: s, Limits: func(reporter.Report) Limits { return Limits{MaxBytes: 10 << 20} }}
	rep, base := fixture("en")
	evs := make([]reporter.Event, 100)
	for i := range evs {
		evs[i] = base[i%len(base)]
		evs[i].IP = netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep.ID = int64(i + 1)
		rep.Ref = fmt.Sprintf("CERT-XX#20261123-%04d", i+1)
		rep.MessageID = fmt.Sprintf("<20261123T060000Z.%d@cert.example>", i+1)
		rep.Contact.To = []string{fmt.Sprintf("abuse@isp%d.example", i%1000)}
		if _, err := m.Send(ctx, rep, reporter.Events(evs), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := srv.Count(); got != b.N {
		b.Fatalf("%d mails arrived, want %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}

// A pool sends over its connections at once, each kept for many mails.
func TestPoolConnections(t *testing.T) {
	srv := smtptest.StartStrict(t, smtptest.Faults{})
	p := NewPool(3, relay(srv))
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Deliver(context.Background(), fmt.Sprint(i), message(t, fmt.Sprintf("abuse%d@isp.example", i)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Messages()); n != 30 {
		t.Errorf("%d mails arrived, want 30", n)
	}
	if c := srv.Conns(); c < 1 || c > 3 {
		t.Errorf("%d connections for a pool of 3", c)
	}
	if m := srv.Malformed(); len(m) > 0 {
		t.Errorf("the relay refused: %v", m)
	}
}

// The connections of a pool share one throttle, so mail.smtp.rate caps
// the pool, not each connection.
func TestPoolSharesThrottle(t *testing.T) {
	srv := smtptest.StartStrict(t, smtptest.Faults{})
	tmpl := relay(srv)
	tmpl.Throttle = NewThrottle(20, 0)
	p := NewPool(3, tmpl)
	defer p.Close()
	for _, s := range p.all {
		if s.Throttle != tmpl.Throttle {
			t.Fatal("a connection of the pool has a throttle of its own")
		}
	}
}

// A throttle lets one mail a domain through at once and makes the next to
// that domain wait (here past a deadline, which rate.Limiter says at once
// rather than sleeping); another domain is not held up, until the total
// cap is reached.
func TestThrottle(t *testing.T) {
	if NewThrottle(0, 0) != nil {
		t.Error("no caps: a throttle")
	}
	th := NewThrottle(0, 1.0/3600) // one an hour a domain
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		t.Cleanup(cancel)
		return ctx
	}
	if err := th.Wait(short(), []string{"a@one.example"}); err != nil {
		t.Fatalf("first mail: %v", err)
	}
	if err := th.Wait(short(), []string{"b@one.example"}); err == nil {
		t.Error("a second mail to one.example within the hour went through")
	}
	th = NewThrottle(1.0/3600, 0)
	if err := th.Wait(short(), []string{"a@one.example"}); err != nil {
		t.Fatal(err)
	}
	if err := th.Wait(short(), []string{"a@two.example"}); err == nil {
		t.Error("over the total cap: went through")
	}
	th = NewThrottle(0, 1.0/3600)
	for _, to := range []string{"a@one.example", "a@two.example", "a@three.example"} {
		if err := th.Wait(short(), []string{to}); err != nil {
			t.Errorf("%s held up by another domain's cap: %v", to, err)
		}
	}
}
