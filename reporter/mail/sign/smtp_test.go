package sign_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/autoreporter/autoreporter/reporter/mail"
	"github.com/autoreporter/autoreporter/reporter/mail/sign"
	"github.com/autoreporter/autoreporter/reporter/mail/smtptest"
)

// A signature verifies on exactly what the receiving server gets: each
// method with DKIM goes through reporter/mail's own SMTP transport to a
// real SMTP server, and what the server stored is checked with the real
// tools. One message has lines that start with a dot, one of them a lone
// dot, which SMTP must stuff and unstuff (RFC 5321 section 4.5.2).
func TestSignedMailThroughSMTP(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	e, err := openpgp.NewEntity("CERT-XX Autoreporter", "test key", "autoreporter@cert.example", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return t0.Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	smime := sign.NewCertForTest(t)
	dkim := &sign.DKIMOptions{Domain: "cert.example", Selector: "ar2026", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	s := &sign.Signer{PGP: e, SMIME: smime, DKIM: dkim}

	report, err := os.ReadFile(filepath.Join("testdata", "report.eml"))
	if err != nil {
		t.Fatal(err)
	}
	dots := []byte("From: <autoreporter@cert.example>\r\nTo: <abuse@isp-one.example>\r\nSubject: dots\r\n" +
		"Date: Mon, 23 Nov 2026 06:00:00 +0000\r\nMessage-ID: <dots@cert.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
		"first\r\n.\r\n.hidden\r\n..two\r\nlast\r\n")

	srv := smtptest.Start(t)
	tr := &mail.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", Timeout: 10 * time.Second, From: "autoreporter@cert.example"}
	n := 0
	for name, raw := range map[string][]byte{"report": report, "dots": dots} {
		for _, m := range sign.Methods() {
			t.Run(name+"/"+string(m), func(t *testing.T) {
				out, err := s.Sign(raw, m, t0)
				if err != nil {
					t.Fatal(err)
				}
				msg := &mail.Message{Subject: "x", To: []string{"abuse@isp-one.example"}, Raw: out}
				if _, err := tr.Deliver(context.Background(), "CERT-XX#1", msg); err != nil {
					t.Fatal(err)
				}
				n++
				got := srv.Messages()
				if len(got) != n {
					t.Fatalf("the server has %d messages, want %d", len(got), n)
				}
				data := got[n-1].Data
				if !bytes.Equal(data, out) {
					t.Errorf("the server got other bytes than were signed:\n%q\n%q", data, out)
				}
				sign.VerifyDKIMForTest(t, data, *dkim)
				switch m {
				case sign.MethodPGPMIME:
					sign.VerifyPGPMIMEForTest(t, data, e, t0)
				case sign.MethodPGPInline:
					sign.VerifyClearsignForTest(t, data, e, t0)
				case sign.MethodSMIME:
					sign.VerifySMIMEForTest(t, data, smime.Cert)
				}
			})
		}
	}
}
