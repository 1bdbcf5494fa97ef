// Command smtpsink is an SMTP server that takes every mail and keeps only
// a count, and optionally the mails in a folder: a relay to try
// autoreporter's sending at real size against, on loopback.
//
//	go run ./examples/smtpsink -listen 127.0.0.1:2525 &
//	go run ./examples/mkday -dir /tmp/day -smtp 127.0.0.1:2525
//	/usr/bin/time -v ./bin/autoreporter run --once --config /tmp/day/config.yaml
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2525", "address to listen on (no TLS, no auth: loopback only)")
	dir := flag.String("dir", "", "keep each mail here as an .eml file (default: keep none)")
	fail := flag.Float64("fail", 0, "answer this share of mails with 451 (a relay having a bad day), 0 to 1")
	flag.Parse()
	if *fail < 0 || *fail > 1 {
		fmt.Fprintln(os.Stderr, "smtpsink: -fail must be from 0 to 1")
		os.Exit(2)
	}
	if err := run(*listen, *dir, *fail); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
}

type sink struct {
	dir                  string
	fail                 float64
	mails, bytes, failed atomic.Int64
	ids                  *os.File // Message-IDs taken, one a line
	mu                   sync.Mutex
}

func run(listen, dir string, fail float64) error {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	s := &sink{dir: dir, fail: fail}
	if dir != "" {
		f, err := os.OpenFile(filepath.Join(dir, "message-ids.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		s.ids = f
	}
	srv := smtp.NewServer(s)
	srv.Addr, srv.Domain = listen, "smtpsink.local"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 64 << 20
	srv.AllowInsecureAuth = true
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		srv.Close()
	}()
	slog.Info("listening", "addr", listen)
	err := srv.ListenAndServe()
	slog.Info("stopped", "mails", s.mails.Load(), "bytes", s.bytes.Load(), "refused_451", s.failed.Load())
	if err == smtp.ErrServerClosed {
		return nil
	}
	return err
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct{ s *sink }

func (*session) Reset()                               {}
func (*session) Logout() error                        { return nil }
func (*session) Mail(string, *smtp.MailOptions) error { return nil }
func (*session) Rcpt(string, *smtp.RcptOptions) error { return nil }

var errTemp = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "smtpsink: try again later"}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.fail > 0 && rand.Float64() < x.s.fail {
		x.s.failed.Add(1)
		return errTemp
	}
	n := x.s.mails.Add(1)
	x.s.bytes.Add(int64(len(b)))
	if x.s.dir != "" {
		if err := os.WriteFile(filepath.Join(x.s.dir, fmt.Sprintf("%08d.eml", n)), b, 0o644); err != nil {
			return err
		}
		if m, err := mail.ReadMessage(bytes.NewReader(b)); err == nil {
			x.s.mu.Lock()
			fmt.Fprintln(x.s.ids, m.Header.Get("Message-Id"))
			x.s.mu.Unlock()
		}
	}
	if n%1000 == 0 {
		slog.Info("mails taken", "mails", n, "bytes", x.s.bytes.Load(), "refused_451", x.s.failed.Load())
	}
	return nil
}
