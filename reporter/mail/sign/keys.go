package sign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// LoadPGPKey reads the OpenPGP key that signs reports: an armored private
// key as "gpg --armor --export-secret-keys KEYID" writes it (a file from
// "--export-secret-subkeys", whose primary key stays offline, works too).
// The file must hold exactly one private key with a signing-capable part.
// A key protected by a passphrase is decrypted with the first line of
// passphraseFile; passphraseFile may be empty for an unprotected key.
// Errors name the file.
func LoadPGPKey(keyFile, passphraseFile string) (*openpgp.Entity, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("pgp key: %w", err)
	}
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("pgp key %s: not an armored OpenPGP key (gpg --armor --export-secret-keys KEYID): %w", keyFile, err)
	}
	var private []*openpgp.Entity
	for _, e := range el {
		if hasPrivate(e) {
			private = append(private, e)
		}
	}
	switch len(private) {
	case 0:
		return nil, fmt.Errorf("pgp key %s: no private key in it (a public key export?)", keyFile)
	case 1:
	default:
		return nil, fmt.Errorf("pgp key %s: %d private keys in it; keep only the one that signs", keyFile, len(private))
	}
	e := private[0]
	if encrypted(e) {
		if passphraseFile == "" {
			return nil, fmt.Errorf("pgp key %s: %X is protected by a passphrase and no passphrase file is set", keyFile, e.PrimaryKey.Fingerprint)
		}
		pass, err := readPassphrase(passphraseFile)
		if err != nil {
			return nil, err
		}
		if err := e.DecryptPrivateKeys(pass); err != nil {
			return nil, fmt.Errorf("pgp key %s: decrypt with the passphrase in %s: %w", keyFile, passphraseFile, err)
		}
	}
	if !canSign(e) {
		return nil, fmt.Errorf("pgp key %s: %X has no private key that may sign", keyFile, e.PrimaryKey.Fingerprint)
	}
	return e, nil
}

// hasPrivate is true when the entity has private key material that is not
// a GnuPG stub (an offline primary key exported with its subkeys).
func hasPrivate(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() {
		return true
	}
	return slices.ContainsFunc(e.Subkeys, func(s openpgp.Subkey) bool {
		return s.PrivateKey != nil && !s.PrivateKey.Dummy()
	})
}

func encrypted(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() && e.PrivateKey.Encrypted {
		return true
	}
	return slices.ContainsFunc(e.Subkeys, func(s openpgp.Subkey) bool {
		return s.PrivateKey != nil && !s.PrivateKey.Dummy() && s.PrivateKey.Encrypted
	})
}

// canSign is true when the primary key or a subkey is flagged for signing
// and has its private half, decrypted. Whether it is valid at the signing
// time is for the signer to find out.
func canSign(e *openpgp.Entity) bool {
	usable := func(k *packet.PrivateKey) bool { return k != nil && !k.Dummy() && !k.Encrypted }
	if self, _ := e.PrimarySelfSignature(); self != nil && self.FlagsValid && self.FlagSign && usable(e.PrivateKey) {
		return true
	}
	return slices.ContainsFunc(e.Subkeys, func(s openpgp.Subkey) bool {
		return s.Sig != nil && s.Sig.FlagsValid && s.Sig.FlagSign && usable(s.PrivateKey)
	})
}

// readPassphrase reads the first line of a passphrase file: the line
// ending an editor or echo adds is not part of the passphrase.
func readPassphrase(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pgp passphrase: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return nil, fmt.Errorf("pgp passphrase %s: the first line is empty", path)
	}
	return line, nil
}

// SMIMEKey is what signs S/MIME: the certificate, its private key, and
// the issuers to send along, nearest first.
type SMIMEKey struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// LoadSMIME reads the S/MIME certificate and key. certFile is PEM: the
// signing certificate first, then its issuers in order (the root may be
// left out). keyFile is a PEM private key, PKCS #8 ("PRIVATE KEY"), PKCS
// #1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"), not encrypted; it
// may be the same file as certFile. Errors name the file. The validity
// dates are not checked here: the caller has the clock.
func LoadSMIME(certFile, keyFile string) (*SMIMEKey, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("s/mime certificate: %w", err)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("s/mime certificate %s: certificate %d: %w", certFile, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("s/mime certificate %s: no PEM CERTIFICATE block", certFile)
	}
	k := &SMIMEKey{Cert: certs[0], Chain: certs[1:]}
	if len(k.Cert.ExtKeyUsage) > 0 && !slices.ContainsFunc(k.Cert.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageEmailProtection || u == x509.ExtKeyUsageAny
	}) {
		// Receivers check the purpose: a TLS certificate would sign mail
		// that every one of them refuses.
		return nil, fmt.Errorf("s/mime certificate %s: %q is not for e-mail (no emailProtection extended key usage)", certFile, k.Cert.Subject)
	}
	for i, issuer := range k.Chain {
		child := k.Cert
		if i > 0 {
			child = k.Chain[i-1]
		}
		if err := child.CheckSignatureFrom(issuer); err != nil {
			return nil, fmt.Errorf("s/mime certificate %s: certificate %d did not issue certificate %d (put the signing certificate first, then its issuers in order): %w", certFile, i+2, i+1, err)
		}
	}
	if k.Key, err = loadPrivateKey(keyFile); err != nil {
		return nil, fmt.Errorf("s/mime key: %w", err)
	}
	if err := matchKey(k.Cert, k.Key); err != nil {
		return nil, fmt.Errorf("s/mime key %s and certificate %s: %w", keyFile, certFile, err)
	}
	return k, nil
}

// LoadDKIMKey reads the DKIM private key: PEM, PKCS #8 ("PRIVATE KEY",
// as openssl genpkey writes it, RSA or Ed25519) or PKCS #1 ("RSA PRIVATE
// KEY", as opendkim-genkey writes it). An RSA key under 1024 bits is
// refused. Errors name the file.
func LoadDKIMKey(path string) (crypto.Signer, error) {
	k, err := loadPrivateKey(path)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	if _, err := dkimAlgorithm(k.Public()); err != nil {
		return nil, fmt.Errorf("dkim key %s: %w", path, err)
	}
	return k, nil
}

// loadPrivateKey reads the first private key block of a PEM file.
func loadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM private key block", path)
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			block.Type = "ENCRYPTED PRIVATE KEY"
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%s: the key is encrypted; store it decrypted, readable only by the daemon (openssl pkey -in %s -out NEW)", path, path)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		default:
			return nil, fmt.Errorf("%s: key type %T is not supported", path, key)
		}
	}
}
