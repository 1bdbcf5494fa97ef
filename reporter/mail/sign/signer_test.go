package sign

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestParseMethod(t *testing.T) {
	tests := []struct {
		in   string
		want Method
		err  bool
	}{
		{"", MethodNone, false},
		{"none", MethodNone, false},
		{"pgp-mime", MethodPGPMIME, false},
		{"pgp-inline", MethodPGPInline, false},
		{"smime", MethodSMIME, false},
		{"pgp", "", true},
		{"PGP-MIME", "", true},
		{"s/mime", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMethod(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseMethod(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && !strings.Contains(err.Error(), "none, pgp-mime, pgp-inline, smime") {
				t.Errorf("error %q does not list the methods", err)
			}
		})
	}
}

func TestSignerCheck(t *testing.T) {
	k := ecKey(t)
	full := &Signer{
		PGP:   newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour)),
		SMIME: &SMIMEKey{Cert: newCert(t, "CERT-XX Autoreporter", k, false, nil, nil), Key: k},
		DKIM:  &DKIMOptions{Domain: "cert.example", Selector: "s", Key: fixedEd25519()},
	}
	errAny := errors.New("any error")
	tests := []struct {
		name string
		s    *Signer
		m    Method
		want error
	}{
		{"nil signer, none", nil, MethodNone, nil},
		{"nil signer, pgp", nil, MethodPGPMIME, ErrNoKey},
		{"nil signer, smime", nil, MethodSMIME, ErrNoKey},
		{"no pgp key", &Signer{SMIME: full.SMIME}, MethodPGPInline, ErrNoKey},
		{"no smime key", &Signer{PGP: full.PGP}, MethodSMIME, ErrNoKey},
		{"full, pgp-mime", full, MethodPGPMIME, nil},
		{"full, pgp-inline", full, MethodPGPInline, nil},
		{"full, smime", full, MethodSMIME, nil},
		{"unknown method", full, "pgp", errAny},
		{"broken dkim", &Signer{DKIM: &DKIMOptions{Domain: "cert.example"}}, MethodNone, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Check(tt.m)
			if tt.want == errAny {
				if err == nil {
					t.Error("accepted")
				}
			} else if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// Each method, then DKIM: the result has one DKIM-Signature that verifies
// on top of the method's own structure, and a resend of an OpenPGP-signed
// report is byte-identical.
func TestSignerSign(t *testing.T) {
	k := ecKey(t)
	s := &Signer{
		PGP:   newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour)),
		SMIME: &SMIMEKey{Cert: newCert(t, "CERT-XX Autoreporter", k, false, nil, nil), Key: k},
		DKIM:  &DKIMOptions{Domain: "cert.example", Selector: "s", Key: fixedEd25519()},
	}
	raw := fixture(t, "report.eml")
	wantType := map[Method]string{
		MethodNone:      "multipart/mixed",
		MethodPGPMIME:   "multipart/signed",
		MethodPGPInline: "multipart/mixed",
		MethodSMIME:     "multipart/signed",
	}
	for _, m := range Methods() {
		t.Run(string(m), func(t *testing.T) {
			out, err := s.Sign(raw, m, t0)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(out, []byte("DKIM-Signature:")); n != 1 {
				t.Errorf("%d DKIM-Signature fields", n)
			}
			if v := dkimVerify(t, out, *s.DKIM); v.Err != nil {
				t.Errorf("dkim: %v", v.Err)
			}
			h, _ := readHeader(t, out)
			if !strings.HasPrefix(h.Get("Content-Type"), wantType[m]) {
				t.Errorf("Content-Type %q, want %s", h.Get("Content-Type"), wantType[m])
			}
			if m == MethodSMIME {
				return
			}
			again, err := s.Sign(raw, m, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, again) {
				t.Error("a resend signs to other bytes")
			}
		})
	}
	var none *Signer
	if out, err := none.Sign(raw, MethodNone, t0); err != nil || !bytes.Equal(out, raw) {
		t.Errorf("a nil signer changed the message: %v", err)
	}
	if _, err := none.Sign(raw, MethodPGPMIME, t0); !errors.Is(err, ErrNoKey) {
		t.Errorf("a nil signer with pgp-mime: %v", err)
	}
}

// No private key shows when the keys are printed or logged, in any
// format (the JSON handler would marshal a struct's fields).
func TestSecretsDoNotPrint(t *testing.T) {
	k := rsaKey(t)
	s := &Signer{
		PGP:   newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour)),
		SMIME: &SMIMEKey{Cert: newCert(t, "CERT-XX Autoreporter", k, false, nil, nil), Key: k},
		DKIM:  &DKIMOptions{Domain: "cert.example", Selector: "s", Key: k},
	}
	d := k.D.String()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("keys", "signer", s, "smime", s.SMIME, "dkim", *s.DKIM, "value", *s)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("keys", "signer", s, "dkim", s.DKIM)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%+v", *s), fmt.Sprintf("%v", *s.DKIM), fmt.Sprintf("%+v", s.SMIME), fmt.Sprint(*s.SMIME), logs.String(),
	} {
		if strings.Contains(out, d) || strings.Contains(out, k.Primes[0].String()) {
			t.Errorf("a private key shows: %.200s", out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("no <secret> in %.200s", out)
		}
	}
	if got := fmt.Sprint((*Signer)(nil)); got != "<nil>" {
		t.Errorf("nil signer prints %q", got)
	}
	if got := (Signer{}).String(); got != "no signing keys" {
		t.Errorf("empty signer prints %q", got)
	}
}
