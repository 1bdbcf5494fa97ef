package sign

import (
	"bytes"
	"crypto"

	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// writeFile writes b into dir and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func armored(t *testing.T, blockType string, write func(w io.Writer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

// A key exported by the real gpg (testdata/pgp-gpg.key: ed25519, a
// signing subkey, protected by the passphrase in pgp-gpg.passphrase)
// loads and signs what gpg verifies.
func TestLoadPGPKeyFromGnuPG(t *testing.T) {
	e, err := LoadPGPKey(filepath.Join("testdata", "pgp-gpg.key"), filepath.Join("testdata", "pgp-gpg.passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := PGPMIME(fixture(t, "report.eml"), e, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, signed, sigPart := signedParts(t, out, "application/pgp-signature")
	_, sig := readHeader(t, sigPart)
	status, err := newGnuPG(t, e).verify(sig, signed)
	if err != nil || !strings.Contains(status, "GOODSIG") {
		t.Fatalf("gpg --verify: %v\n%s", err, status)
	}
	// The report is older than this key: it signs at the key's birth.
	if _, err := PGPMIME(fixture(t, "report.eml"), e, t0); err != nil {
		t.Errorf("a report older than the key: %v", err)
	}
}

func TestLoadPGPKey(t *testing.T) {
	dir := t.TempDir()
	pass := []byte("s3cret pass\n")
	newKey := func() *openpgp.Entity { return newEntity(t, packet.PubKeyAlgoEdDSA, t0.Add(-time.Hour)) }
	protected := newKey()
	if err := protected.EncryptPrivateKeys([]byte("s3cret pass"), nil); err != nil {
		t.Fatal(err)
	}
	private := func(es ...*openpgp.Entity) []byte {
		return armored(t, openpgp.PrivateKeyType, func(w io.Writer) error {
			for _, e := range es {
				if err := e.SerializePrivateWithoutSigning(w, nil); err != nil {
					return err
				}
			}
			return nil
		})
	}
	publicOnly := armored(t, openpgp.PublicKeyType, func(w io.Writer) error { return newKey().Serialize(w) })
	files := map[string]string{
		"protected": writeFile(t, dir, "protected.asc", private(protected)),
		"plain":     writeFile(t, dir, "plain.asc", private(newKey())),
		"two":       writeFile(t, dir, "two.asc", private(newKey(), newKey())),
		"public":    writeFile(t, dir, "public.asc", publicOnly),
		"pem":       writeFile(t, dir, "cert.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
		"pass":      writeFile(t, dir, "pass", pass),
		"wrongpass": writeFile(t, dir, "wrongpass", []byte("guess\n")),
		"emptypass": writeFile(t, dir, "emptypass", []byte("\nsecond line\n")),
		"missing":   filepath.Join(dir, "missing.asc"),
	}
	tests := []struct {
		name, key, pass string
		want            string // "" loads; else the error names this file and says this
		says            string
	}{
		{"protected", "protected", "pass", "", ""},
		{"unprotected without a passphrase file", "plain", "", "", ""},
		{"unprotected with one", "plain", "pass", "", ""},
		{"no key file", "missing", "", "missing", "no such file"},
		{"not OpenPGP", "pem", "", "pem", "not an armored OpenPGP key"},
		{"public key only", "public", "", "public", "no private key"},
		{"two keys", "two", "", "two", "2 private keys"},
		{"protected, no passphrase file", "protected", "", "protected", "no passphrase file"},
		{"wrong passphrase", "protected", "wrongpass", "wrongpass", "decrypt"},
		{"empty first line", "protected", "emptypass", "emptypass", "empty"},
		{"no passphrase file", "protected", "missing", "missing", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			passFile := ""
			if tt.pass != "" {
				passFile = files[tt.pass]
			}
			e, err := LoadPGPKey(files[tt.key], passFile)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := PGPMIME(fixture(t, "report.eml"), e, t0); err != nil {
					t.Errorf("the loaded key does not sign: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), files[tt.want]) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not name %s and say %q", err, files[tt.want], tt.says)
			}
		})
	}
}

func pkcs8PEM(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestLoadSMIME(t *testing.T) {
	dir := t.TempDir()
	cak, leafk, other := ecKey(t), rsaKey(t), ecKey(t)
	ca := newCert(t, "CERT-XX test CA", cak, true, nil, nil)
	leaf := newCert(t, "CERT-XX Autoreporter", leafk, false, ca, cak)
	self := newCert(t, "CERT-XX Autoreporter", other, false, nil, nil)
	tlsOnly := func() *x509.Certificate {
		tmpl := *self
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, other.Public(), other)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}()
	ecDER, _ := x509.MarshalECPrivateKey(other)
	files := map[string]string{
		"chain":     writeFile(t, dir, "chain.pem", certPEM(leaf, ca)),
		"reversed":  writeFile(t, dir, "reversed.pem", certPEM(leaf, self)),
		"leafkey":   writeFile(t, dir, "leaf.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(leafk)})),
		"both":      writeFile(t, dir, "both.pem", append(certPEM(self), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})...)),
		"tls":       writeFile(t, dir, "tls.pem", append(certPEM(tlsOnly), pkcs8PEM(t, other)...)),
		"otherkey":  writeFile(t, dir, "other.key", pkcs8PEM(t, other)),
		"encrypted": writeFile(t, dir, "enc.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})),
		"nocert":    writeFile(t, dir, "nocert.pem", pkcs8PEM(t, other)),
		"missing":   filepath.Join(dir, "missing.pem"),
	}
	tests := []struct {
		name, cert, key string
		want, says      string
		chain           int
	}{
		{"leaf and CA, separate key", "chain", "leafkey", "", "", 1},
		{"certificate and key in one file", "both", "both", "", "", 0},
		{"no certificate file", "missing", "leafkey", "missing", "no such file", 0},
		{"no key file", "chain", "missing", "missing", "no such file", 0},
		{"no certificate in it", "nocert", "nocert", "nocert", "no PEM CERTIFICATE", 0},
		{"chain out of order", "reversed", "leafkey", "reversed", "did not issue", 0},
		{"key of another certificate", "chain", "otherkey", "otherkey", "does not match", 0},
		{"TLS certificate", "tls", "tls", "tls", "not for e-mail", 0},
		{"encrypted key", "chain", "encrypted", "encrypted", "encrypted", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := LoadSMIME(files[tt.cert], files[tt.key])
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(k.Chain) != tt.chain {
					t.Errorf("chain of %d, want %d", len(k.Chain), tt.chain)
				}
				out, err := SMIME(fixture(t, "report.eml"), k.Cert, k.Key, k.Chain)
				if err != nil {
					t.Fatal(err)
				}
				root := k.Cert
				if len(k.Chain) > 0 {
					root = k.Chain[len(k.Chain)-1]
				}
				if _, talk, err := opensslVerify(t, out, root); err != nil {
					t.Errorf("openssl smime -verify: %v\n%s", err, talk)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), files[tt.want]) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not name %s and say %q", err, files[tt.want], tt.says)
			}
		})
	}
}

func TestLoadDKIMKey(t *testing.T) {
	dir := t.TempDir()
	rk := rsaKey(t)
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey(t))
	tests := []struct {
		name string
		pem  []byte
		says string // "" loads
	}{
		{"PKCS #8 RSA", pkcs8PEM(t, rk), ""},
		{"PKCS #1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), ""},
		{"PKCS #8 Ed25519", pkcs8PEM(t, ek), ""},
		{"after a certificate", append([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), pkcs8PEM(t, ek)...), ""},
		{"ECDSA", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), "RSA or Ed25519"},
		{"legacy encrypted", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}}), "encrypted"},
		{"not PEM", []byte("p=MIIBIjANBgkqh"), "no PEM private key"},
		{"broken", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), "PRIVATE KEY"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, string(rune('a'+i))+".pem", tt.pem)
			k, err := LoadDKIMKey(path)
			if tt.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := DKIM(fixture(t, "report.eml"), DKIMOptions{Domain: "cert.example", Selector: "s", Key: k}, t0); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %v does not name %s and say %q", err, path, tt.says)
			}
		})
	}
	if _, err := LoadDKIMKey(filepath.Join(dir, "missing.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("a missing file: %v", err)
	}
}

// Keys as the usual tools write them: openssl genpkey (PKCS #8, RSA and
// Ed25519) and openssl genrsa -traditional (PKCS #1, as opendkim-genkey),
// each signing what go-msgauth verifies.
func TestLoadDKIMKeyFromOpenSSL(t *testing.T) {
	bin := needTool(t, "openssl", "openssl")
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"genpkey rsa":         {"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"},
		"genpkey ed25519":     {"genpkey", "-algorithm", "ed25519"},
		"genrsa -traditional": {"genrsa", "-traditional", "2048"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".pem")
			if out, err := exec.Command(bin, append([]string{args[0], "-out", path}, args[1:]...)...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, out)
			}
			k, err := LoadDKIMKey(path)
			if err != nil {
				t.Fatal(err)
			}
			switch k.(type) {
			case *rsa.PrivateKey, ed25519.PrivateKey:
			default:
				t.Fatalf("key %T", k)
			}
			opt := DKIMOptions{Domain: "cert.example", Selector: "s", Key: k}
			out, err := DKIM(fixture(t, "report.eml"), opt, t0)
			if err != nil {
				t.Fatal(err)
			}
			if v := dkimVerify(t, out, opt); v.Err != nil {
				t.Error(v.Err)
			}
		})
	}
}
