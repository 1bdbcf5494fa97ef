package sign

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// FuzzSign feeds arbitrary bytes to the message parser and to every
// signer: nothing panics, a parsed message writes back to the same bytes,
// body parts lie inside the body in order, and whatever a signer accepts
// comes out CRLF throughout, with PGP/MIME's first part exactly the
// entity that was signed.
func FuzzSign(f *testing.F) {
	for _, name := range []string{"report.eml", "report-inline.eml"} {
		b, err := readTestdata(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"))
	f.Add([]byte("From: a@example.org\r\n folded\r\nContent-Type: text/plain\r\n\r\n-- \r\n.\r\n"))
	e, err := openpgp.NewEntity("fuzz", "", "fuzz@example.org", &packet.Config{
		Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return t0.Add(-time.Hour) }})
	if err != nil {
		f.Fatal(err)
	}
	dkim := DKIMOptions{Domain: "cert.example", Selector: "s", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}

	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parseMessage(raw)
		if err != nil {
			return
		}
		if !bytes.Equal(m.bytes(), raw) {
			t.Fatalf("parsed message writes back other bytes:\n%q\n%q", m.bytes(), raw)
		}
		if mt, params, err := m.mediaType(); err == nil && len(mt) > 10 && mt[:10] == "multipart/" && params["boundary"] != "" {
			if spans, err := parts(m.body, params["boundary"]); err == nil {
				last := 0
				for _, s := range spans {
					if s.start < last || s.end < s.start || s.end > len(m.body) {
						t.Fatalf("part %v out of order or bounds (body %d)", s, len(m.body))
					}
					last = s.end
				}
			}
		}
		if out, err := PGPMIME(raw, e, t0); err == nil {
			if err := checkCRLF(out); err != nil {
				t.Fatalf("PGP/MIME output: %v", err)
			}
			_, _, inner := split(m)
			om, err := parseMessage(out)
			if err != nil {
				t.Fatalf("PGP/MIME output does not parse: %v", err)
			}
			_, params, err := om.mediaType()
			if err != nil {
				t.Fatalf("PGP/MIME Content-Type: %v", err)
			}
			spans, err := parts(om.body, params["boundary"])
			if err != nil || len(spans) != 2 {
				t.Fatalf("PGP/MIME output has parts %v: %v", spans, err)
			}
			if got := om.body[spans[0].start:spans[0].end]; !bytes.Equal(got, inner) {
				t.Fatalf("first part is not the signed entity:\n%q\n%q", got, inner)
			}
		}
		if out, err := Clearsign(raw, e, t0); err == nil {
			if err := checkCRLF(out); err != nil {
				t.Fatalf("clearsign output: %v", err)
			}
		}
		if out, err := DKIM(raw, dkim, t0); err == nil {
			if !bytes.HasSuffix(out, raw) {
				t.Fatal("DKIM changed the message")
			}
			if err := checkCRLF(out); err != nil {
				t.Fatalf("DKIM output: %v", err)
			}
		}
	})
}
