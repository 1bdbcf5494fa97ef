// Command smtpsink is an SMTP server that takes every mail and keeps only
// a count, and optionally the mails in a folder: a relay to try
// autoreporter's sending at real size against, on loopback.
//
//	go run ./examples/smtpsink -listen 127.0.0.1:2525 &
//	go run ./examples/mkday -dir /tmp/day -smtp 127.0.0.1:2525
//	/usr/bin/time -v ./bin/autoreporter run --once --config /tmp/day/config.yaml
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2525", "address to listen on (no TLS, no auth: loopback only)")
	dir := flag.String("dir", "", "keep each mail here as an .eml file (default: keep none)")
	flag.Parse()
	if err := run(*listen, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
}

type sink struct {
	dir          string
	mails, bytes atomic.Int64
}

func run(listen, dir string) error {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	s := &sink{dir: dir}
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
	slog.Info("stopped", "mails", s.mails.Load(), "bytes", s.bytes.Load())
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
func (x *session) Data(r io.Reader) error {
	n := x.s.mails.Add(1)
	var w io.Writer = io.Discard
	if x.s.dir != "" {
		f, err := os.Create(filepath.Join(x.s.dir, fmt.Sprintf("%08d.eml", n)))
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	b, err := io.Copy(w, r)
	x.s.bytes.Add(b)
	if n%1000 == 0 {
		slog.Info("mails taken", "mails", n, "bytes", x.s.bytes.Load())
	}
	return err
}
