package sign

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// ErrNoSigningKey is an OpenPGP key with no private key that may sign at
// the signing time (expired, revoked, or without a signing-capable key).
var ErrNoSigningKey = errors.New("no usable OpenPGP signing key")

// PGPMIME signs raw, a complete RFC 5322 message in CRLF form, as
// PGP/MIME (RFC 3156): the Content-* fields and the body become the signed
// entity, whose exact bytes get a detached, armored OpenPGP signature, and
// the message becomes multipart/signed with the other header fields on
// top, unchanged. signer must hold a decrypted private signing key.
//
// now is the signature's creation time; pass the report's creation time,
// not the wall clock, and a resend signs to the same bytes (with a v4 key:
// v6 signatures are salted by design). A time before the signing key was
// made becomes the key's creation time: a report made before a key
// rollover still signs, with a signature the key can vouch for.
func PGPMIME(raw []byte, signer *openpgp.Entity, now time.Time) ([]byte, error) {
	m, err := parseMessage(raw)
	if err != nil {
		return nil, fmt.Errorf("pgp/mime: %w", err)
	}
	outer, at, inner := split(m)
	if err := check7bit(inner); err != nil {
		return nil, fmt.Errorf("pgp/mime: %w", err)
	}
	// A text signature (type 0x01) hashes the canonical CRLF form, which
	// inner already is: a verifier that hands over the part with LF line
	// endings (a Unix mailbox) still gets a good signature. Mutt and
	// GnuPG's --textmode sign PGP/MIME the same way.
	sig, hash, err := detachSign(signer, inner, now, true)
	if err != nil {
		return nil, fmt.Errorf("pgp/mime: %w", err)
	}
	micalg, ok := pgpMicalg[hash]
	if !ok {
		return nil, fmt.Errorf("pgp/mime: the key signed with %v, which has no micalg name", hash)
	}
	bound := boundary(m, raw, "pgp")
	ct := "Content-Type: multipart/signed; boundary=\"" + bound + "\";\r\n" +
		" micalg=" + micalg + "; protocol=\"application/pgp-signature\"\r\n"
	part := "Content-Type: application/pgp-signature; name=\"signature.asc\"\r\n" +
		"Content-Description: OpenPGP digital signature\r\n" +
		"Content-Disposition: attachment; filename=\"signature.asc\"\r\n" +
		"\r\n" + string(sig)
	return wrap(outer, at, ct, bound, inner, []byte(part)), nil
}

// pgpMicalg names the hash in the micalg parameter (RFC 3156 section 5,
// RFC 4880 section 9.4).
var pgpMicalg = map[crypto.Hash]string{
	crypto.SHA256: "pgp-sha256",
	crypto.SHA384: "pgp-sha384",
	crypto.SHA512: "pgp-sha512",
	crypto.SHA224: "pgp-sha224",
}

// pgpConfig signs with SHA-256 at the given time. The salt notation that
// go-crypto adds to v4 signatures by default makes every signature differ;
// it guards EdDSA against fault attacks during signing, at the price of
// the byte-identical resend this package promises, so it is off. RSA
// signatures are deterministic anyway.
func pgpConfig(t time.Time) *packet.Config {
	salted := false
	return &packet.Config{
		DefaultHash:                           crypto.SHA256,
		Time:                                  func() time.Time { return t },
		NonDeterministicSignaturesViaNotation: &salted,
	}
}

// signingKey finds the key that signs at now, or, when now is before the
// key (or the binding signature that made it a signing key) existed, at
// the first second it could. It returns the key and the time to sign at.
func signingKey(e *openpgp.Entity, now time.Time) (openpgp.Key, time.Time, error) {
	if e == nil {
		return openpgp.Key{}, now, fmt.Errorf("%w: none given", ErrNoSigningKey)
	}
	now = now.Truncate(time.Second) // OpenPGP times are whole seconds
	if k, ok := e.SigningKey(now); ok {
		return k, now, nil
	}
	var later []time.Time
	add := func(t time.Time) {
		if t.After(now) {
			later = append(later, t)
		}
	}
	add(e.PrimaryKey.CreationTime)
	for _, id := range e.Identities {
		if id.SelfSignature != nil {
			add(id.SelfSignature.CreationTime)
		}
	}
	for _, sk := range e.Subkeys {
		add(sk.PublicKey.CreationTime)
		if sk.Sig != nil {
			add(sk.Sig.CreationTime)
		}
	}
	slices.SortFunc(later, time.Time.Compare)
	for _, t := range later {
		if k, ok := e.SigningKey(t); ok {
			return k, t, nil
		}
	}
	return openpgp.Key{}, now, fmt.Errorf("%w: key %X at %s", ErrNoSigningKey, e.PrimaryKey.Fingerprint, now.UTC().Format(time.RFC3339))
}

// detachSign makes an armored detached signature of data with CRLF line
// endings, and says which hash the key's preferences led to.
func detachSign(e *openpgp.Entity, data []byte, now time.Time, text bool) ([]byte, crypto.Hash, error) {
	key, at, err := signingKey(e, now)
	if err != nil {
		return nil, 0, err
	}
	if key.PrivateKey == nil || key.PrivateKey.Encrypted {
		return nil, 0, fmt.Errorf("%w: key %X has no decrypted private key", ErrNoSigningKey, key.PublicKey.Fingerprint)
	}
	cfg := pgpConfig(at)
	var bin bytes.Buffer
	sign := openpgp.DetachSign
	if text {
		sign = openpgp.DetachSignText
	}
	if err := sign(&bin, e, bytes.NewReader(data), cfg); err != nil {
		return nil, 0, fmt.Errorf("sign: %w", err)
	}
	p, err := packet.Read(bytes.NewReader(bin.Bytes()))
	if err != nil {
		return nil, 0, fmt.Errorf("read back signature: %w", err)
	}
	sig, ok := p.(*packet.Signature)
	if !ok {
		return nil, 0, fmt.Errorf("read back signature: got %T", p)
	}
	arm, err := armorCRLF(bin.Bytes(), openpgp.SignatureType)
	if err != nil {
		return nil, 0, err
	}
	return arm, sig.Hash, nil
}

// armorCRLF armors b with CRLF line endings: go-crypto writes LF, and the
// message must be CRLF throughout.
func armorCRLF(b []byte, blockType string) ([]byte, error) {
	var out bytes.Buffer
	w, err := armor.Encode(&out, blockType, nil)
	if err != nil {
		return nil, fmt.Errorf("armor: %w", err)
	}
	if _, err := io.Copy(w, bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("armor: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("armor: %w", err)
	}
	return bytes.ReplaceAll(out.Bytes(), []byte("\n"), []byte("\r\n")), nil
}
