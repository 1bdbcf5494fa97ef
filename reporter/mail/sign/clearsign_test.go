package sign

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// rawPart is one body part read by the standard library, not decoded.
type rawPart struct {
	header textproto.MIMEHeader
	body   []byte
}

func rawParts(t *testing.T, msg []byte) []rawPart {
	t.Helper()
	h, body := readHeader(t, msg)
	_, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []rawPart
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rawPart{p.Header, b})
	}
}

func qpDecode(t *testing.T, b []byte) []byte {
	t.Helper()
	d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// canonical is text as a clearsignature covers it: LF, no trailing white
// space, no final line break.
func canonical(b []byte) string {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

func TestClearsignVerifiesWithGPG(t *testing.T) {
	e := newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-24*time.Hour))
	g := newGnuPG(t, e)

	t.Run("multipart", func(t *testing.T) {
		raw := fixture(t, "report.eml")
		out, err := Clearsign(raw, e, t0)
		if err != nil {
			t.Fatal(err)
		}
		assertCRLF(t, out)
		oh, _ := readHeader(t, raw)
		nh, _ := readHeader(t, out)
		for k := range oh {
			if nh.Get(k) != oh.Get(k) {
				t.Errorf("header %s: %q, want %q", k, nh.Get(k), oh.Get(k))
			}
		}
		orig, got := rawParts(t, raw), rawParts(t, out)
		if len(got) != 3 {
			t.Fatalf("%d parts, want text, events.csv and events.csv.asc", len(got))
		}

		// The text: clearsigned, and what gpg says was signed is the text.
		if cte := got[0].header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("text part Content-Transfer-Encoding %q", cte)
		}
		text := qpDecode(t, got[0].body)
		if !bytes.HasPrefix(text, []byte("-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n")) {
			t.Errorf("text does not start as a clearsigned message:\n%s", text)
		}
		status, plain, err := g.clearText(text)
		if err != nil {
			t.Fatalf("gpg: %v\n%s", err, status)
		}
		goodSig(t, status, e, t0)
		if want := canonical(qpDecode(t, orig[0].body)); canonical(plain) != want {
			t.Errorf("gpg's signed text:\n%s\nwant:\n%s", plain, want)
		}
		bad := bytes.Replace(text, []byte("CERT-XX on saanut"), []byte("CERT-YY on saanut"), 1)
		if status, _, err := g.clearText(bad); err == nil || !strings.Contains(status, "BADSIG") {
			t.Errorf("a changed text verified: %v\n%s", err, status)
		}

		// The attachment: byte for byte as built, then its signature.
		if !bytes.Equal(got[1].body, orig[1].body) || got[1].header.Get("Content-Type") != orig[1].header.Get("Content-Type") {
			t.Error("the attachment changed")
		}
		if ct := got[2].header.Get("Content-Type"); ct != `application/pgp-signature; name=events.csv.asc` {
			t.Errorf("signature part Content-Type %q", ct)
		}
		csv, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(got[1].body)), ""))
		if err != nil {
			t.Fatal(err)
		}
		status, err = g.verify(got[2].body, csv)
		if err != nil {
			t.Fatalf("gpg --verify events.csv.asc events.csv: %v\n%s", err, status)
		}
		goodSig(t, status, e, t0)
		if status, err := g.verify(got[2].body, append(csv, '\n')); err == nil {
			t.Errorf("a changed attachment verified:\n%s", status)
		}
	})

	t.Run("inline", func(t *testing.T) {
		raw := fixture(t, "report-inline.eml")
		out, err := Clearsign(raw, e, t0)
		if err != nil {
			t.Fatal(err)
		}
		assertCRLF(t, out)
		sameFields(t, raw, out)
		h, body := readHeader(t, out)
		if h.Get("Content-Type") != "text/plain; charset=UTF-8" || h.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Errorf("Content-Type %q, Content-Transfer-Encoding %q", h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"))
		}
		text := qpDecode(t, body)
		// The CSV markers start with dashes: escaped in the clearsigned
		// form (RFC 4880 section 7.1), restored by gpg.
		if !bytes.Contains(text, []byte("\r\n- ----- begin events.csv -----\r\n")) {
			t.Errorf("no dash-escaped marker:\n%s", text)
		}
		status, plain, err := g.clearText(text)
		if err != nil {
			t.Fatalf("gpg: %v\n%s", err, status)
		}
		goodSig(t, status, e, t0)
		_, obody := readHeader(t, raw)
		if want := canonical(qpDecode(t, obody)); canonical(plain) != want {
			t.Errorf("gpg's signed text:\n%s\nwant:\n%s", plain, want)
		}
	})
}

func TestClearsignGolden(t *testing.T) {
	e := testKey(t)
	for _, fix := range []string{"report.eml", "report-inline.eml"} {
		t.Run(fix, func(t *testing.T) {
			raw := fixture(t, fix)
			out, err := Clearsign(raw, e, t0)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(fix, ".eml")+".clearsign.golden", out)
			again, err := Clearsign(raw, e, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, again) {
				t.Error("two signings with the same key and time differ")
			}
		})
	}
}

func TestClearsignRefuses(t *testing.T) {
	e := newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour))
	const top = "From: a@example.org\r\nMIME-Version: 1.0\r\n"
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"alternative", top + "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b--\r\n", ErrUnsupported},
		{"nested", top + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nhi\r\n--c--\r\n--b--\r\n", ErrUnsupported},
		{"no text", top + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/csv; name=a.csv\r\n\r\na,b\r\n--b--\r\n", ErrUnsupported},
		{"only html", top + "Content-Type: text/html\r\n\r\n<p>hi</p>\r\n", ErrUnsupported},
		{"no close delimiter", top + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nhi\r\n", ErrMalformed},
		{"no boundary", top + "Content-Type: multipart/mixed\r\n\r\nhi\r\n", ErrMalformed},
		{"bad base64", top + "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n", ErrMalformed},
		{"unknown encoding", top + "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nhi\r\n", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Clearsign([]byte(tt.raw), e, t0); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// A text without a Content-Transfer-Encoding gets one: 7bit when the
// clearsigned text is plain ASCII (readable to a script that greps the
// raw mail), quoted-printable when it has trailing white space; a part
// without a file name gets a numbered signature; the preamble and the
// epilogue stay.
func TestClearsignShapes(t *testing.T) {
	e := newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour))
	g := newGnuPG(t, e)
	for _, tt := range []struct{ text, cte string }{
		{"hello\r\n--\r\nsig\r\n", "7bit"},
		{"hyv\xc3\xa4\r\n-- \r\nsig\r\n", "quoted-printable"},
	} {
		t.Run(tt.cte, func(t *testing.T) {
			raw := "From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
				"preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + tt.text +
				"--b\r\nContent-Type: application/octet-stream\r\n\r\nxyz\r\n--b--\r\nepilogue\r\n"
			out, err := Clearsign([]byte(raw), e, t0)
			if err != nil {
				t.Fatal(err)
			}
			assertCRLF(t, out)
			if !bytes.Contains(out, []byte("\r\n\r\npreamble\r\n--b\r\n")) || !bytes.HasSuffix(out, []byte("\r\n--b--\r\nepilogue\r\n")) {
				t.Errorf("preamble or epilogue changed:\n%s", out)
			}
			got := rawParts(t, out)
			if len(got) != 3 {
				t.Fatalf("%d parts:\n%s", len(got), out)
			}
			if cte := got[0].header.Get("Content-Transfer-Encoding"); cte != tt.cte {
				t.Errorf("text part Content-Transfer-Encoding %q, want %q", cte, tt.cte)
			}
			text := got[0].body
			if tt.cte == "quoted-printable" {
				text = qpDecode(t, text)
			} else if !bytes.HasPrefix(out[bytes.Index(out, []byte("\r\n\r\nhello"))-len("Hash: SHA256"):], []byte("Hash: SHA256\r\n\r\nhello\r\n- --\r\n")) {
				t.Errorf("7bit text not readable as is:\n%s", out)
			}
			if string(got[1].body) != "xyz" {
				t.Errorf("attachment %q", got[1].body)
			}
			if cd := got[2].header.Get("Content-Disposition"); cd != "attachment; filename=part2.asc" {
				t.Errorf("signature part Content-Disposition %q", cd)
			}
			if status, err := g.verify(got[2].body, []byte("xyz")); err != nil {
				t.Errorf("gpg --verify part2.asc: %v\n%s", err, status)
			}
			if status, _, err := g.clearText(text); err != nil {
				t.Errorf("gpg: %v\n%s\n%q", err, status, text)
			}
		})
	}
}
