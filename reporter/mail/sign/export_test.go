package sign

import (
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// These give the external test package (smtp_test.go) the verifiers of
// the internal tests. That test needs reporter/mail's real SMTP
// transport, and reporter/mail will import this package, so it cannot
// live in package sign.

// VerifyPGPMIMEForTest verifies a PGP/MIME message with gpg.
func VerifyPGPMIMEForTest(t *testing.T, msg []byte, e *openpgp.Entity, at time.Time) {
	t.Helper()
	_, signed, sigPart := signedParts(t, msg, "application/pgp-signature")
	_, sig := readHeader(t, sigPart)
	status, err := newGnuPG(t, e).verify(sig, signed)
	if err != nil {
		t.Fatalf("gpg --verify: %v\n%s", err, status)
	}
	goodSig(t, status, e, at)
}

// VerifySMIMEForTest verifies an S/MIME message with openssl, trusting
// root.
func VerifySMIMEForTest(t *testing.T, msg []byte, root *x509.Certificate) {
	t.Helper()
	if _, talk, err := opensslVerify(t, msg, root); err != nil {
		t.Fatalf("openssl smime -verify: %v\n%s", err, talk)
	}
}

// VerifyDKIMForTest verifies the DKIM-Signature with go-msgauth.
func VerifyDKIMForTest(t *testing.T, msg []byte, opt DKIMOptions) {
	t.Helper()
	if v := dkimVerify(t, msg, opt); v.Err != nil {
		t.Fatalf("dkim: %v", v.Err)
	}
}

// VerifyClearsignForTest verifies the clearsigned text (the whole body,
// or the first part of a multipart) and every .asc after an attachment
// with gpg.
func VerifyClearsignForTest(t *testing.T, msg []byte, e *openpgp.Entity, at time.Time) {
	t.Helper()
	g := newGnuPG(t, e)
	h, body := readHeader(t, msg)
	text, cte := body, h.Get("Content-Transfer-Encoding")
	var parts []rawPart
	if strings.HasPrefix(h.Get("Content-Type"), "multipart/") {
		parts = rawParts(t, msg)
		text, cte = parts[0].body, parts[0].header.Get("Content-Transfer-Encoding")
	}
	if cte == "quoted-printable" {
		text = qpDecode(t, text)
	}
	status, _, err := g.clearText(text)
	if err != nil {
		t.Fatalf("gpg: %v\n%s", err, status)
	}
	goodSig(t, status, e, at)
	for i := 2; i < len(parts); i += 2 {
		content, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(parts[i-1].body)), ""))
		if err != nil {
			t.Fatal(err)
		}
		if status, err := g.verify(parts[i].body, content); err != nil {
			t.Fatalf("gpg --verify %s: %v\n%s", parts[i].header.Get("Content-Type"), err, status)
		}
	}
}

// NewCertForTest makes a self-signed S/MIME certificate.
func NewCertForTest(t *testing.T) *SMIMEKey {
	k := ecKey(t)
	return &SMIMEKey{Cert: newCert(t, "CERT-XX Autoreporter", k, false, nil, nil), Key: k}
}
