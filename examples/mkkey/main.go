// Command mkkey makes the demo's OpenPGP signing key: an ed25519 key for
// "CERT-XX Autoreporter", written armored (private, no passphrase) and with
// its public half beside it, for gpg --import. It is a throwaway for trying
// signed reports; a CERT signs with its own key (gpg --export-secret-keys
// --armor) and publishes its fingerprint in mail.signature.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func main() {
	out := flag.String("out", "examples/keys/demo-signing.asc", "private key to write; the public key goes to the same name with .pub.asc")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkkey:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	// Made a day in the past: reports signed at their creation time must
	// not predate the key.
	created := time.Now().Add(-24 * time.Hour)
	e, err := openpgp.NewEntity("CERT-XX Autoreporter", "demo key, never trust it", "autoreporter@cert.example",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return created }})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dirOf(out), 0o755); err != nil {
		return err
	}
	write := func(path, kind string, private bool) error {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		w, err := armor.Encode(f, kind, nil)
		if err != nil {
			f.Close()
			return err
		}
		if private {
			err = e.SerializePrivate(w, nil)
		} else {
			err = e.Serialize(w)
		}
		if err != nil {
			f.Close()
			return err
		}
		if err := w.Close(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write(out, openpgp.PrivateKeyType, true); err != nil {
		return err
	}
	pub := out[:len(out)-len(".asc")] + ".pub.asc"
	if err := write(pub, openpgp.PublicKeyType, false); err != nil {
		return err
	}
	fmt.Printf("mkkey: %s and %s (fingerprint %X)\n", out, pub, e.PrimaryKey.Fingerprint)
	return nil
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}
