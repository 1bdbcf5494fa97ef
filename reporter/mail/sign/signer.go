package sign

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Method is how a report is signed for one contact.
type Method string

// The methods, as configuration names them.
const (
	MethodNone      Method = "none"       // unsigned (DKIM may still apply)
	MethodPGPMIME   Method = "pgp-mime"   // PGPMIME
	MethodPGPInline Method = "pgp-inline" // Clearsign
	MethodSMIME     Method = "smime"      // SMIME
)

func (m Method) String() string { return string(m) }

// Methods lists every method, for help texts and validation messages.
func Methods() []Method {
	return []Method{MethodNone, MethodPGPMIME, MethodPGPInline, MethodSMIME}
}

// ParseMethod reads a method from configuration; "" is MethodNone.
func ParseMethod(s string) (Method, error) {
	if s == "" {
		return MethodNone, nil
	}
	for _, m := range Methods() {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, 0, 4)
	for _, m := range Methods() {
		names = append(names, string(m))
	}
	return "", fmt.Errorf("signing method %q: want one of %s", s, strings.Join(names, ", "))
}

// ErrNoKey is a method whose key was not loaded.
var ErrNoKey = errors.New("no key loaded for the signing method")

// Signer holds the keys loaded at start and signs each report with the
// method its contact asked for, then with DKIM when that is configured.
// A nil *Signer signs nothing: Sign with MethodNone returns raw as it is.
// It keeps no state between calls and is safe for concurrent use.
type Signer struct {
	PGP   *openpgp.Entity // for MethodPGPMIME and MethodPGPInline
	SMIME *SMIMEKey       // for MethodSMIME
	DKIM  *DKIMOptions    // nil: no DKIM-Signature
}

// Check says whether s has the key for m. Run it for the default method
// and every contact's override at start, so that a missing key fails the
// configuration check rather than a report.
func (s *Signer) Check(m Method) error {
	switch m {
	case MethodNone:
	case MethodPGPMIME, MethodPGPInline:
		if s == nil || s.PGP == nil {
			return fmt.Errorf("%s: %w (an OpenPGP key)", m, ErrNoKey)
		}
	case MethodSMIME:
		if s == nil || s.SMIME == nil || s.SMIME.Cert == nil || s.SMIME.Key == nil {
			return fmt.Errorf("%s: %w (an S/MIME certificate and key)", m, ErrNoKey)
		}
	default:
		_, err := ParseMethod(string(m))
		return err
	}
	if s != nil && s.DKIM != nil {
		if err := s.DKIM.validate(); err != nil {
			return fmt.Errorf("dkim: %w", err)
		}
	}
	return nil
}

// Sign signs raw, a report as reporter/mail built it, with m, then adds a
// DKIM-Signature over the result when s.DKIM is set. created is the
// report's creation time: the OpenPGP and DKIM signatures carry it, so a
// resend signs to the same bytes.
func (s *Signer) Sign(raw []byte, m Method, created time.Time) ([]byte, error) {
	if err := s.Check(m); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	out := raw
	var err error
	switch m {
	case MethodPGPMIME:
		out, err = PGPMIME(raw, s.PGP, created)
	case MethodPGPInline:
		out, err = Clearsign(raw, s.PGP, created)
	case MethodSMIME:
		out, err = SMIME(raw, s.SMIME.Cert, s.SMIME.Key, s.SMIME.Chain)
	}
	if err != nil {
		return nil, err
	}
	if s != nil && s.DKIM != nil {
		return DKIM(out, *s.DKIM, created)
	}
	return out, nil
}

// String names the keys without their secrets, for logs and check-config:
// a Signer printed or logged must never show a private key. (Value
// receivers, so that a Signer printed by value is covered too; fmt prints
// a nil *Signer as <nil>.)
func (s Signer) String() string {
	var parts []string
	if s.PGP != nil {
		parts = append(parts, fmt.Sprintf("pgp=%X", s.PGP.PrimaryKey.Fingerprint))
	}
	if s.SMIME != nil {
		parts = append(parts, "smime="+s.SMIME.String())
	}
	if s.DKIM != nil {
		parts = append(parts, s.DKIM.String())
	}
	if len(parts) == 0 {
		return "no signing keys"
	}
	return strings.Join(parts, " ")
}

// LogValue keeps the keys out of structured logs.
func (s Signer) LogValue() slog.Value { return slog.StringValue(s.String()) }

// String names the certificate; the key prints as <secret>.
func (k SMIMEKey) String() string {
	if k.Cert == nil {
		return "<none>"
	}
	return fmt.Sprintf("%q (serial %s, until %s) key=<secret>", k.Cert.Subject.String(), k.Cert.SerialNumber, k.Cert.NotAfter.UTC().Format(time.DateOnly))
}

// LogValue keeps the key out of structured logs.
func (k SMIMEKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

// String names the domain and selector; the key prints as <secret>.
func (o DKIMOptions) String() string {
	algo := "?"
	if o.Key != nil {
		algo, _ = dkimAlgorithm(o.Key.Public())
	}
	return fmt.Sprintf("dkim d=%s s=%s a=%s key=<secret>", o.Domain, o.Selector, algo)
}

// LogValue keeps the key out of structured logs.
func (o DKIMOptions) LogValue() slog.Value { return slog.StringValue(o.String()) }
