package sign

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"io"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/emersion/go-msgauth/dkim"
)

// dkimVerify checks out with an independent implementation (go-msgauth,
// the DKIM library of the maddy mail server), the key record served by a
// lookup function instead of DNS.
func dkimVerify(t *testing.T, msg []byte, opt DKIMOptions) *dkim.Verification {
	t.Helper()
	rec, err := DKIMRecord(opt.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(domain string) ([]string, error) {
		if domain != opt.Selector+"._domainkey."+opt.Domain {
			return nil, errors.New("no such record: " + domain)
		}
		return []string{rec}, nil
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatalf("dkim.Verify: %v", err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d signatures, want 1", len(vs))
	}
	return vs[0]
}

// fixedEd25519 is a DKIM key for the golden file, from a fixed seed.
func fixedEd25519() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
}

func TestDKIMVerifies(t *testing.T) {
	pgpKey := newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour))
	ek := ecKey(t)
	cert := newCert(t, "CERT-XX Autoreporter", ek, false, nil, nil)
	inputs := map[string]func(t *testing.T) []byte{
		"unsigned": func(t *testing.T) []byte { return fixture(t, "report.eml") },
		"inline":   func(t *testing.T) []byte { return fixture(t, "report-inline.eml") },
		"pgp-mime": func(t *testing.T) []byte {
			b, err := PGPMIME(fixture(t, "report.eml"), pgpKey, t0)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"clearsign": func(t *testing.T) []byte {
			b, err := Clearsign(fixture(t, "report.eml"), pgpKey, t0)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		"smime": func(t *testing.T) []byte {
			b, err := SMIME(fixture(t, "report.eml"), cert, ek, nil)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	}
	keys := map[string]crypto.Signer{"rsa": rsaKey(t), "ed25519": fixedEd25519()}
	for _, keyName := range []string{"rsa", "ed25519"} {
		for _, in := range []string{"unsigned", "inline", "pgp-mime", "clearsign", "smime"} {
			t.Run(keyName+"/"+in, func(t *testing.T) {
				raw := inputs[in](t)
				opt := DKIMOptions{Domain: "cert.example", Selector: "ar2026", Key: keys[keyName], Expire: 7 * 24 * time.Hour}
				out, err := DKIM(raw, opt, t0)
				if err != nil {
					t.Fatal(err)
				}
				assertCRLF(t, out)
				if !bytes.HasSuffix(out, raw) || !bytes.HasPrefix(out, []byte("DKIM-Signature: ")) {
					t.Fatal("the message is not the same bytes after one DKIM-Signature field")
				}
				for _, line := range strings.Split(string(out[:len(out)-len(raw)]), "\r\n") {
					if len(line) > lineMax {
						t.Errorf("DKIM-Signature line of %d octets: %q", len(line), line)
					}
				}
				v := dkimVerify(t, out, opt)
				if v.Err != nil {
					t.Fatalf("go-msgauth: %v\n%s", v.Err, out[:len(out)-len(raw)])
				}
				if v.Domain != "cert.example" || !v.Time.Equal(t0) || !v.Expiration.Equal(t0.Add(7*24*time.Hour)) {
					t.Errorf("verified %+v", v)
				}
				for _, h := range []string{"From", "To", "Subject", "Date", "Message-ID", "Content-Type", "MIME-Version"} {
					if !slices.Contains(v.HeaderKeys, h) {
						t.Errorf("%s is not signed: %v", h, v.HeaderKeys)
					}
				}

				// Relaxed canonicalization: a relay that unfolds a field or
				// pads white space does not break it.
				relayed := bytes.Replace(out, []byte("3 events\r\n (infected"), []byte("3 events  (infected"), 1)
				relayed = bytes.Replace(relayed, []byte("\r\n\r\n"), []byte(" \r\n\r\n"), 1)
				if bytes.Equal(relayed, out) {
					t.Fatal("found nothing to refold")
				}
				if v := dkimVerify(t, relayed, opt); v.Err != nil {
					t.Errorf("a refolded message fails: %v", v.Err)
				}

				for name, bad := range map[string][]byte{
					"changed subject": bytes.Replace(out, []byte("3 events"), []byte("4 events"), 1),
					"changed body":    bytes.Replace(out, []byte("--\r\n"), []byte("-- \r\nX\r\n"), 1),
					"added subject":   bytes.Replace(out, []byte("\r\nFrom: "), []byte("\r\nSubject: urgent\r\nFrom: "), 1),
					"added reply-to":  bytes.Replace(out, []byte("\r\nFrom: "), []byte("\r\nReply-To: <x@evil.example>\r\nFrom: "), 1),
				} {
					if bytes.Equal(bad, out) {
						t.Fatalf("%s: found nothing to change", name)
					}
					if v := dkimVerify(t, bad, opt); v.Err == nil {
						t.Errorf("%s: verified", name)
					}
				}
			})
		}
	}
}

// The same message, key and time give the same bytes; the golden file
// shows the field as a receiver sees it.
func TestDKIMGolden(t *testing.T) {
	raw := fixture(t, "report.eml")
	opt := DKIMOptions{Domain: "cert.example", Selector: "ar2026", Key: fixedEd25519()}
	out, err := DKIM(raw, opt, t0)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.dkim.golden", out)
	again, err := DKIM(raw, opt, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Error("two signings differ")
	}
	if v := dkimVerify(t, out, opt); v.Err != nil {
		t.Error(v.Err)
	}
}

// RFC 6376 section 3.4.5's example, and the edges of the body rules.
func TestRelaxedCanonicalization(t *testing.T) {
	headers := []struct{ in, want string }{
		{"A: X\r\n", "a:X\r\n"},
		{"B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n"},
		{"Subject:  two\t\tspaces \r\n", "subject:two spaces\r\n"},
		{"X-Empty:\r\n", "x-empty:\r\n"},
	}
	for _, tt := range headers {
		if got := string(relaxedHeader([]byte(tt.in))); got != tt.want {
			t.Errorf("header %q: %q, want %q", tt.in, got, tt.want)
		}
	}
	bodies := []struct{ name, in, want string }{
		{"RFC example", " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
		{"empty", "", ""},
		{"only empty lines", "\r\n\r\n", ""},
		{"only white space", " \r\n\t\r\n", ""},
		{"no final CRLF", "a", "a\r\n"},
		{"inner empty lines kept", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"},
	}
	for _, tt := range bodies {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(relaxedBody([]byte(tt.in))); got != tt.want {
				t.Errorf("body %q: %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Fields that occur twice are signed bottom up, and each listed name once
// more than it occurs.
func TestDKIMHeaderSelection(t *testing.T) {
	m, err := parseMessage([]byte("Received: a\r\nFrom: x@example.org\r\nReceived: b\r\nSubject: s\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	names := dkimNames(m.fields, []string{"Subject", "Received", "received", "Cc"})
	if want := []string{"From", "From", "Subject", "Subject", "Received", "Received", "Received", "Cc"}; !slices.Equal(names, want) {
		t.Errorf("h= %v, want %v", names, want)
	}
	var got []string
	for _, f := range selectFields(m.fields, names) {
		got = append(got, strings.TrimSpace(string(f)))
	}
	if want := []string{"From: x@example.org", "Subject: s", "Received: b", "Received: a"}; !slices.Equal(got, want) {
		t.Errorf("selected %q, want %q", got, want)
	}
}

// smallRSA is a signer whose public key is too small for DKIM; Go no
// longer makes such keys, so only the public half is real.
type smallRSA struct{}

func (smallRSA) Public() crypto.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 511), E: 65537}
}

func (smallRSA) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("not used")
}

func TestDKIMRefuses(t *testing.T) {
	raw := fixture(t, "report.eml")
	good := DKIMOptions{Domain: "cert.example", Selector: "ar2026", Key: fixedEd25519()}
	with := func(f func(*DKIMOptions)) DKIMOptions { o := good; f(&o); return o }
	tests := []struct {
		name string
		raw  []byte
		opt  DKIMOptions
		want string
	}{
		{"no domain", raw, with(func(o *DKIMOptions) { o.Domain = "" }), "domain"},
		{"no selector", raw, with(func(o *DKIMOptions) { o.Selector = "" }), "selector"},
		{"selector with a semicolon", raw, with(func(o *DKIMOptions) { o.Selector = "a;b" }), "selector"},
		{"no key", raw, with(func(o *DKIMOptions) { o.Key = nil }), "no key"},
		{"small RSA key", raw, with(func(o *DKIMOptions) { o.Key = smallRSA{} }), "at least 1024"},
		{"ECDSA key", raw, with(func(o *DKIMOptions) { o.Key = ecKey(t) }), "RSA or Ed25519"},
		{"bad header name", raw, with(func(o *DKIMOptions) { o.Headers = []string{"From:"} }), "header name"},
		{"no From", []byte("To: a@example.org\r\n\r\nhi\r\n"), good, "no From"},
		{"bare LF", bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), good, "CRLF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DKIM(tt.raw, tt.opt, t0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}
