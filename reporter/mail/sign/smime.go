package sign

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/smallstep/pkcs7"
)

// ErrKeyMismatch is a private key that does not belong to the certificate.
var ErrKeyMismatch = errors.New("private key does not match the certificate")

// SMIME signs raw, a complete RFC 5322 message in CRLF form, as S/MIME
// (RFC 8551 section 3.5): the same entity PGPMIME signs (the Content-*
// fields and the body, ending in CRLF) gets a detached CMS SignedData
// signature with SHA-256, and the message becomes multipart/signed;
// protocol="application/pkcs7-signature"; micalg=sha-256. The signature
// carries cert and chain (its issuers, nearest first), so a receiver
// that trusts the root can verify without fetching anything.
//
// The CMS library stamps its own signing-time attribute from the wall
// clock and offers no way to set it, so unlike PGPMIME a resend differs
// in the signature part (the rest, boundary included, is the same).
func SMIME(raw []byte, cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate) ([]byte, error) {
	if cert == nil || key == nil {
		return nil, errors.New("s/mime: no certificate or key")
	}
	if err := matchKey(cert, key); err != nil {
		return nil, fmt.Errorf("s/mime: %w", err)
	}
	m, err := parseMessage(raw)
	if err != nil {
		return nil, fmt.Errorf("s/mime: %w", err)
	}
	outer, at, inner := split(m)
	if err := check7bit(inner); err != nil {
		return nil, fmt.Errorf("s/mime: %w", err)
	}
	sd, err := pkcs7.NewSignedData(inner)
	if err != nil {
		return nil, fmt.Errorf("s/mime: %w", err)
	}
	// Per signature, not SetDefaultDigestAlgorithm: that one is global.
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("s/mime: sign: %w", err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("s/mime: sign: %w", err)
	}
	bound := boundary(m, raw, "smime")
	ct := "Content-Type: multipart/signed; boundary=\"" + bound + "\";\r\n" +
		" micalg=sha-256; protocol=\"application/pkcs7-signature\"\r\n"
	var part bytes.Buffer
	part.WriteString("Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"smime.p7s\"\r\n" +
		"Content-Description: S/MIME cryptographic signature\r\n" +
		"\r\n")
	b64 := base64.StdEncoding.EncodeToString(der)
	for len(b64) > 76 {
		part.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	part.WriteString(b64 + "\r\n")
	return wrap(outer, at, ct, bound, inner, part.Bytes()), nil
}

// matchKey refuses a key that is not the certificate's: the signature
// would be made and fail at every receiver.
func matchKey(cert *x509.Certificate, key crypto.Signer) error {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return fmt.Errorf("%w (certificate %q)", ErrKeyMismatch, cert.Subject)
	}
	return nil
}
