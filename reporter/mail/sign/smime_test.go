package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newCert makes a throwaway certificate for S/MIME signing, self-signed
// when parent is nil.
func newCert(t *testing.T, name string, key crypto.Signer, ca bool, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"CERT-XX test"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.EmailAddresses = []string{"autoreporter@cert.example"}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func certPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// opensslVerify runs openssl smime -verify on the exact signed bytes,
// trusting only caFile, and returns what openssl says was signed.
func opensslVerify(t *testing.T, msg []byte, ca ...*x509.Certificate) ([]byte, string, error) {
	t.Helper()
	bin := needTool(t, "openssl", "openssl")
	dir := t.TempDir()
	in, caFile, out := filepath.Join(dir, "msg.eml"), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "content")
	if err := os.WriteFile(in, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, certPEM(ca...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "smime", "-verify", "-in", in, "-CAfile", caFile, "-out", out)
	talk, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(talk), err
	}
	content, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return content, string(talk), nil
}

func TestSMIMEVerifiesWithOpenSSL(t *testing.T) {
	rk, ek, cak := rsaKey(t), ecKey(t), ecKey(t)
	ca := newCert(t, "CERT-XX test CA", cak, true, nil, nil)
	tests := []struct {
		name  string
		key   crypto.Signer
		cert  *x509.Certificate
		chain []*x509.Certificate
		trust *x509.Certificate
	}{
		{"rsa self-signed", rk, newCert(t, "CERT-XX Autoreporter", rk, false, nil, nil), nil, nil},
		{"ecdsa self-signed", ek, newCert(t, "CERT-XX Autoreporter", ek, false, nil, nil), nil, nil},
		// Only the CA is trusted: the leaf must come inside the signature.
		{"rsa issued by a CA", rk, newCert(t, "CERT-XX Autoreporter", rk, false, ca, cak), []*x509.Certificate{ca}, ca},
	}
	for _, tt := range tests {
		for _, fix := range []string{"report.eml", "report-inline.eml"} {
			t.Run(tt.name+"/"+fix, func(t *testing.T) {
				raw := fixture(t, fix)
				out, err := SMIME(raw, tt.cert, tt.key, tt.chain)
				if err != nil {
					t.Fatal(err)
				}
				assertCRLF(t, out)
				h, signed, _ := signedParts(t, out, "application/pkcs7-signature")
				if !strings.Contains(h.Get("Content-Type"), "micalg=sha-256") {
					t.Errorf("Content-Type %q has no micalg=sha-256", h.Get("Content-Type"))
				}
				sameFields(t, raw, out)
				trust := tt.trust
				if trust == nil {
					trust = tt.cert
				}
				content, talk, err := opensslVerify(t, out, trust)
				if err != nil {
					t.Fatalf("openssl smime -verify: %v\n%s", err, talk)
				}
				if !strings.Contains(talk, "Verification successful") {
					t.Errorf("openssl says:\n%s", talk)
				}
				if !bytes.Equal(content, signed) {
					t.Errorf("openssl's signed content differs from the first part:\n%q\n%q", content, signed)
				}

				bad := bytes.Replace(out, []byte("CERT-XX on saanut"), []byte("CERT-YY on saanut"), 1)
				if bytes.Equal(bad, out) {
					t.Fatal("found nothing to tamper with")
				}
				if _, talk, err := opensslVerify(t, bad, trust); err == nil {
					t.Errorf("a changed message verified:\n%s", talk)
				}
			})
		}
	}
}

// Everything but the signature is the same at a resend: the library
// stamps the wall clock into the signature itself.
func TestSMIMEStructureIsStable(t *testing.T) {
	k := ecKey(t)
	cert := newCert(t, "CERT-XX Autoreporter", k, false, nil, nil)
	raw := fixture(t, "report.eml")
	a, err := SMIME(raw, cert, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := SMIME(raw, cert, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	ha, sa, _ := signedParts(t, a, "application/pkcs7-signature")
	hb, sb, _ := signedParts(t, b, "application/pkcs7-signature")
	if ha.Get("Content-Type") != hb.Get("Content-Type") || !bytes.Equal(sa, sb) {
		t.Error("two signings differ outside the signature")
	}
}

func TestSMIMERefuses(t *testing.T) {
	k, other := ecKey(t), ecKey(t)
	cert := newCert(t, "CERT-XX Autoreporter", k, false, nil, nil)
	ca := newCert(t, "unrelated CA", other, true, nil, nil)
	raw := fixture(t, "report.eml")
	tests := []struct {
		name  string
		raw   []byte
		key   crypto.Signer
		chain []*x509.Certificate
		want  error
	}{
		{"key of another certificate", raw, other, nil, ErrKeyMismatch},
		{"8-bit body", []byte("From: a@example.org\r\n\r\nk\xc3\xa4ytt\xc3\xa4j\xc3\xa4\r\n"), k, nil, ErrNot7bit},
		{"bare LF", bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), k, nil, ErrNotCRLF},
		{"chain that did not issue it", raw, k, []*x509.Certificate{ca}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SMIME(tt.raw, cert, tt.key, tt.chain)
			if err == nil {
				t.Fatal("signed")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}
