package sign

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func strconvUnix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func hexFpr(e *openpgp.Entity) string { return hex.EncodeToString(e.PrimaryKey.Fingerprint) }

// newEntity makes a throwaway OpenPGP key created at the given time.
func newEntity(t *testing.T, algo packet.PublicKeyAlgorithm, created time.Time) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("CERT-XX Autoreporter", "test key", "autoreporter@cert.example", &packet.Config{
		Algorithm: algo, RSABits: 2048, Time: func() time.Time { return created },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// testKey is the fixed key of the golden files: a throwaway ed25519 key
// made for these tests and published with them. Never trust it.
func testKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "pgp-test.key"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	el, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil || len(el) != 1 {
		t.Fatalf("testdata/pgp-test.key: %d keys, %v", len(el), err)
	}
	return el[0]
}

// gnupg is a throwaway GnuPG home that knows one public key.
type gnupg struct {
	t    *testing.T
	bin  string
	home string
}

func newGnuPG(t *testing.T, e *openpgp.Entity) *gnupg {
	t.Helper()
	bin := needTool(t, "gpg", "gnupg")
	// A short path: gpg-agent's socket must fit in sun_path should
	// anything start one.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	g := &gnupg{t: t, bin: bin, home: home}
	t.Cleanup(func() {
		if conf, err := exec.LookPath("gpgconf"); err == nil {
			exec.Command(conf, "--homedir", home, "--kill", "all").Run()
		}
		os.RemoveAll(home)
	})
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	cmd := exec.Command(bin, "--batch", "--homedir", home, "--import")
	cmd.Stdin = &pub
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	return g
}

// verify runs gpg --verify on files it writes from the given contents and
// returns gpg's status lines.
func (g *gnupg) verify(files ...[]byte) (string, error) {
	g.t.Helper()
	status, _, err := g.run("--verify", files...)
	return status, err
}

// clearText verifies a clearsigned text and returns what gpg says was
// signed.
func (g *gnupg) clearText(file []byte) (string, []byte, error) {
	g.t.Helper()
	return g.run("--decrypt", file)
}

func (g *gnupg) run(command string, files ...[]byte) (status string, output []byte, err error) {
	g.t.Helper()
	dir := g.t.TempDir()
	out := filepath.Join(dir, "out")
	args := []string{"--batch", "--homedir", g.home, "--status-fd", "1", "--output", out, command}
	for i, b := range files {
		p := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			g.t.Fatal(err)
		}
		args = append(args, p)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(g.bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String() + stderr.String(), nil, err
	}
	output, _ = os.ReadFile(out)
	return stdout.String(), output, nil
}

// goodSig checks gpg's status for a good SHA-256 signature by e made at
// the given time.
func goodSig(t *testing.T, status string, e *openpgp.Entity, at time.Time) {
	t.Helper()
	if !strings.Contains(status, "[GNUPG:] GOODSIG ") {
		t.Fatalf("gpg says no good signature:\n%s", status)
	}
	for _, line := range strings.Split(status, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[1] != "VALIDSIG" {
			continue
		}
		// VALIDSIG <fpr> <date> <ts> <expire> <ver> <res> <pk algo> <hash algo> <class> <primary fpr>
		if f[4] != strconvUnix(at) {
			t.Errorf("signature made at %s, want %d (%s)", f[4], at.Unix(), at)
		}
		if f[9] != "8" {
			t.Errorf("hash algorithm %s, want 8 (SHA-256)", f[9])
		}
		if want := strings.ToUpper(hexFpr(e)); f[len(f)-1] != want {
			t.Errorf("primary key %s, want %s", f[len(f)-1], want)
		}
		return
	}
	t.Errorf("no VALIDSIG line:\n%s", status)
}

func TestPGPMIMEVerifiesWithGPG(t *testing.T) {
	keys := map[string]*openpgp.Entity{
		"ed25519": newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-24*time.Hour)),
		"rsa":     newEntity(t, packet.PubKeyAlgoRSA, t0.Add(-24*time.Hour)),
	}
	for _, keyName := range []string{"ed25519", "rsa"} {
		e := keys[keyName]
		g := newGnuPG(t, e)
		for _, fix := range []string{"report.eml", "report-inline.eml"} {
			t.Run(keyName+"/"+fix, func(t *testing.T) {
				raw := fixture(t, fix)
				out, err := PGPMIME(raw, e, t0)
				if err != nil {
					t.Fatal(err)
				}
				assertCRLF(t, out)
				h, signed, sigPart := signedParts(t, out, "application/pgp-signature")
				if !strings.Contains(h.Get("Content-Type"), "micalg=pgp-sha256") {
					t.Errorf("Content-Type %q has no micalg=pgp-sha256", h.Get("Content-Type"))
				}
				sameFields(t, raw, out)
				if cte := h.Get("Content-Transfer-Encoding"); cte != "" {
					t.Errorf("multipart/signed has Content-Transfer-Encoding %q on top", cte)
				}

				// The signed part is the original body with its own
				// Content-* fields, byte for byte.
				ph, pbody := readHeader(t, signed)
				oh, obody := readHeader(t, raw)
				if ph.Get("Content-Type") != oh.Get("Content-Type") || ph.Get("Content-Transfer-Encoding") != oh.Get("Content-Transfer-Encoding") {
					t.Errorf("inner Content-* %v, want those of %v", ph, oh)
				}
				if !bytes.Equal(bytes.TrimSuffix(pbody, []byte("\r\n")), bytes.TrimSuffix(obody, []byte("\r\n"))) {
					t.Error("the signed body is not the original body")
				}
				if !bytes.HasSuffix(signed, []byte("\r\n")) {
					t.Error("the signed entity does not end with CRLF (RFC 3156 section 5)")
				}

				sh, sig := readHeader(t, sigPart)
				if sh.Get("Content-Type") != `application/pgp-signature; name="signature.asc"` {
					t.Errorf("signature part Content-Type %q", sh.Get("Content-Type"))
				}
				status, err := g.verify(sig, signed)
				if err != nil {
					t.Fatalf("gpg --verify: %v\n%s", err, status)
				}
				goodSig(t, status, e, t0)

				// A verifier that stores mail with LF line endings still
				// verifies: the signature is over canonical text.
				status, err = g.verify(sig, bytes.ReplaceAll(signed, []byte("\r\n"), []byte("\n")))
				if err != nil {
					t.Fatalf("gpg --verify with LF: %v\n%s", err, status)
				}

				// One changed byte and gpg refuses it.
				bad := bytes.Replace(signed, []byte("CERT-XX on saanut"), []byte("CERT-YY on saanut"), 1)
				if bytes.Equal(bad, signed) {
					t.Fatal("found nothing to tamper with")
				}
				if status, err := g.verify(sig, bad); err == nil || !strings.Contains(status, "BADSIG") {
					t.Errorf("a changed message verified: %v\n%s", err, status)
				}
			})
		}
	}
}

// The same report, key and time sign to the same bytes, so a resend is
// identical; the golden file shows the whole structure.
func TestPGPMIMEGolden(t *testing.T) {
	e := testKey(t)
	raw := fixture(t, "report.eml")
	out, err := PGPMIME(raw, e, t0)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.pgpmime.golden", out)
	again, err := PGPMIME(raw, e, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, again) {
		t.Error("two signings with the same key and time differ")
	}
	later, err := PGPMIME(raw, e, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(out, later) {
		t.Error("the signing time is not in the signature")
	}
	_, a, _ := signedParts(t, out, "application/pgp-signature")
	_, b, _ := signedParts(t, later, "application/pgp-signature")
	if !bytes.Equal(a, b) {
		t.Error("the signed entity depends on the signing time")
	}
	g := newGnuPG(t, e)
	_, signed, sigPart := signedParts(t, out, "application/pgp-signature")
	_, sig := readHeader(t, sigPart)
	status, err := g.verify(sig, signed)
	if err != nil {
		t.Fatalf("gpg --verify: %v\n%s", err, status)
	}
	goodSig(t, status, e, t0)
}

// A report made before the key existed (a resend after a key rollover) is
// signed at the key's creation time: gpg refuses a signature older than
// its key.
func TestSigningTime(t *testing.T) {
	created := t0.Add(-time.Hour)
	expiring := newEntity(t, packet.PubKeyAlgoEdDSA, created)
	life := uint32(3600)
	for _, id := range expiring.Identities {
		id.SelfSignature.KeyLifetimeSecs = &life
	}
	tests := []struct {
		name string
		e    *openpgp.Entity
		now  time.Time
		want time.Time
		err  error
	}{
		{"after the key", newEntity(t, packet.PubKeyAlgoEdDSA, created), t0, t0, nil},
		{"sub-second dropped", newEntity(t, packet.PubKeyAlgoEdDSA, created), t0.Add(900 * time.Millisecond), t0, nil},
		{"before the key", newEntity(t, packet.PubKeyAlgoEdDSA, created), t0.Add(-48 * time.Hour), created, nil},
		{"key expired", expiring, t0.Add(2 * time.Hour), time.Time{}, ErrNoSigningKey},
		{"no key", nil, t0, time.Time{}, ErrNoSigningKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, at, err := signingKey(tt.e, tt.now)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err == nil && !at.Equal(tt.want) {
				t.Errorf("signs at %s, want %s", at, tt.want)
			}
		})
	}
	// And gpg agrees with the moved time.
	e := newEntity(t, packet.PubKeyAlgoEdDSA, created)
	out, err := PGPMIME(fixture(t, "report.eml"), e, t0.Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, signed, sigPart := signedParts(t, out, "application/pgp-signature")
	_, sig := readHeader(t, sigPart)
	status, err := newGnuPG(t, e).verify(sig, signed)
	if err != nil {
		t.Fatalf("gpg --verify: %v\n%s", err, status)
	}
	goodSig(t, status, e, created)
}

// What a relay could change, or what is not a message, is refused before
// anything is signed: a signature that breaks on the way is worse than
// none.
func TestPGPMIMERefuses(t *testing.T) {
	e := newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour))
	raw := fixture(t, "report.eml")
	const top = "From: a@example.org\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"bare LF", bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), ErrNotCRLF},
		{"bare CR", []byte("From: a@example.org\r\n\r\nx\ry\r\n"), ErrNotCRLF},
		{"no end of header", []byte("From: a@example.org\r\n"), ErrMalformed},
		{"no colon", []byte("From a@example.org\r\n\r\nx\r\n"), ErrMalformed},
		{"8-bit body", []byte(top + "k\xc3\xa4ytt\xc3\xa4j\xc3\xa4\r\n"), ErrNot7bit},
		{"trailing space", []byte(top + "hello \r\n"), ErrNot7bit},
		{"long line", []byte(top + strings.Repeat("x", 999) + "\r\n"), ErrNot7bit},
		{"NUL", []byte(top + "a\x00b\r\n"), ErrNot7bit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := PGPMIME(tt.raw, e, t0); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// A message without Content-* fields or a final CRLF still signs to an
// entity that ends with CRLF, as RFC 3156 section 5 asks.
func TestPGPMIMEPlainMessage(t *testing.T) {
	e := newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour))
	raw := []byte("From: a@example.org\r\nSubject: hi\r\n\r\nno newline at the end")
	out, err := PGPMIME(raw, e, t0)
	if err != nil {
		t.Fatal(err)
	}
	h, signed, sigPart := signedParts(t, out, "application/pgp-signature")
	if h.Get("Subject") != "hi" {
		t.Errorf("Subject %q", h.Get("Subject"))
	}
	if want := "\r\nno newline at the end\r\n"; string(signed) != want {
		t.Errorf("signed %q, want %q", signed, want)
	}
	_, sig := readHeader(t, sigPart)
	if status, err := newGnuPG(t, e).verify(sig, signed); err != nil {
		t.Fatalf("gpg --verify: %v\n%s", err, status)
	}
}
