package sign

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DKIMOptions say who signs a message for DKIM (RFC 6376) and with which
// key.
type DKIMOptions struct {
	// Domain is the signing domain (d=). For DMARC it must be the From
	// address's domain or a parent of it.
	Domain string
	// Selector (s=) names the key: its public half is the TXT record
	// <Selector>._domainkey.<Domain> (see DKIMRecord).
	Selector string
	// Key is an RSA key of at least 1024 bits (RFC 8301; 2048 is the
	// usual size) for rsa-sha256, or an Ed25519 key for ed25519-sha256
	// (RFC 8463). Any crypto.Signer with such a public key will do, so a
	// key may live in a hardware module.
	Key crypto.Signer
	// Headers are the header fields to sign; nil signs the package's
	// default list (see DKIM). From is always signed.
	Headers []string
	// Expire, when not zero, puts x= at the signing time plus Expire:
	// after it a verifier may ignore the signature.
	Expire time.Duration
}

// defaultDKIMHeaders are RFC 6376 section 5.4.1's recommended fields, the
// MIME fields that say how to read the body (a relay that added a second
// Content-Type could change what a reader sees), Auto-Submitted (RFC
// 3834: receivers' auto-responders rely on it) and the report reference
// that ticket systems file by.
var defaultDKIMHeaders = []string{
	"From", "Reply-To", "Sender", "To", "Cc", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Auto-Submitted", "X-Autoreporter-Report",
}

func (o DKIMOptions) validate() error {
	switch {
	case o.Domain == "" || strings.ContainsAny(o.Domain, "; \t\r\n"):
		return fmt.Errorf("domain %q: want a domain name", o.Domain)
	case o.Selector == "" || strings.ContainsAny(o.Selector, "; \t\r\n"):
		return fmt.Errorf("selector %q: want a DNS label", o.Selector)
	case o.Key == nil:
		return errors.New("no key")
	case o.Expire < 0:
		return fmt.Errorf("expire %s is negative", o.Expire)
	}
	for _, h := range o.Headers {
		if h == "" || strings.ContainsAny(h, ": \t\r\n;") {
			return fmt.Errorf("header name %q", h)
		}
	}
	_, err := dkimAlgorithm(o.Key.Public())
	return err
}

// dkimAlgorithm is the a= tag for a public key.
func dkimAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 1024 {
			// RFC 8301 section 3.2: verifiers must not accept less.
			return "", fmt.Errorf("RSA key of %d bits: DKIM needs at least 1024 (2048 advised)", k.N.BitLen())
		}
		return "rsa-sha256", nil
	case ed25519.PublicKey:
		return "ed25519-sha256", nil
	default:
		return "", fmt.Errorf("key type %T: DKIM signs with RSA or Ed25519", pub)
	}
}

// DKIM signs raw, the final bytes to be sent (after PGPMIME, Clearsign or
// SMIME, which change the body and the Content-Type), and returns them
// with a DKIM-Signature field on top. Canonicalization is relaxed/relaxed
// (RFC 6376 section 3.4.2 and 3.4.4), which survives relays that refold
// headers or change white space; the body hash covers the whole body (no
// l=). Each header field in the list is signed once more than it occurs,
// so that none can be added after signing without breaking the signature
// (RFC 6376 section 8.15).
//
// now is the signature's time (t=); pass the report's creation time and
// a resend gets the same bytes (RSA PKCS #1 v1.5 and Ed25519 signatures
// are deterministic).
//
// By default the signed fields are From, Reply-To, Sender, To, Cc,
// Subject, Date, Message-ID, In-Reply-To, References, MIME-Version,
// Content-Type, Content-Transfer-Encoding, Auto-Submitted and
// X-Autoreporter-Report.
func DKIM(raw []byte, opt DKIMOptions, now time.Time) ([]byte, error) {
	if err := opt.validate(); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	algo, _ := dkimAlgorithm(opt.Key.Public())
	m, err := parseMessage(raw)
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	if m.get("From") == "" {
		return nil, fmt.Errorf("dkim: %w: no From field, which DKIM must sign (RFC 6376 section 5.4)", ErrMalformed)
	}
	want := opt.Headers
	if want == nil {
		want = defaultDKIMHeaders
	}
	names := dkimNames(m.fields, want)
	bodyHash := sha256.Sum256(relaxedBody(m.body))

	h := newFolder("DKIM-Signature:")
	h.token(" ", "v=1;")
	h.token(" ", "a="+algo+";")
	h.token(" ", "c=relaxed/relaxed;")
	h.token(" ", "d="+opt.Domain+";")
	h.token(" ", "s="+opt.Selector+";")
	h.token(" ", "t="+strconv.FormatInt(now.Unix(), 10)+";")
	if opt.Expire > 0 {
		h.token(" ", "x="+strconv.FormatInt(now.Add(opt.Expire).Unix(), 10)+";")
	}
	// FWS may stand around each colon of h= (RFC 6376 section 3.5), so the
	// list folds between names.
	for i, n := range names {
		switch {
		case i == 0 && len(names) == 1:
			h.token(" ", "h="+n+";")
		case i == 0:
			h.token(" ", "h="+n+":")
		case i == len(names)-1:
			h.token("", n+";")
		default:
			h.token("", n+":")
		}
	}
	h.token(" ", "bh="+base64.StdEncoding.EncodeToString(bodyHash[:])+";")
	h.token(" ", "b=")

	// The signature covers the selected fields and this field as it will
	// be sent, folding included, with b= empty (RFC 6376 section 3.7).
	var in bytes.Buffer
	for _, f := range selectFields(m.fields, names) {
		in.Write(relaxedHeader(f))
	}
	in.Write(bytes.TrimSuffix(relaxedHeader(h.Bytes()), []byte("\r\n")))
	digest := sha256.Sum256(in.Bytes())
	var sig []byte
	if algo == "ed25519-sha256" {
		// RFC 8463 section 3: PureEdDSA over the SHA-256 digest.
		sig, err = opt.Key.Sign(rand.Reader, digest[:], crypto.Hash(0))
	} else {
		sig, err = opt.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: sign: %w", err)
	}
	// b= is base64 and may be folded anywhere; a verifier drops its value
	// whole, white space included, before hashing.
	b64 := base64.StdEncoding.EncodeToString(sig)
	for len(b64) > 0 {
		if h.col >= lineMax {
			h.WriteString("\r\n\t")
			h.col = 1
		}
		n := min(lineMax-h.col, len(b64))
		h.WriteString(b64[:n])
		h.col += n
		b64 = b64[n:]
	}
	h.WriteString("\r\n")
	return append(h.Bytes(), raw...), nil
}

// lineMax is RFC 5322's recommended line length, which the field keeps to.
const lineMax = 78

// folder writes a header field, folding before a token that would pass
// lineMax.
type folder struct {
	bytes.Buffer
	col int
}

func newFolder(start string) *folder {
	f := &folder{col: len(start)}
	f.WriteString(start)
	return f
}

func (f *folder) token(sep, tok string) {
	if f.col+len(sep)+len(tok) > lineMax {
		f.WriteString("\r\n\t")
		f.col = 1
		sep = ""
	}
	f.WriteString(sep + tok)
	f.col += len(sep) + len(tok)
}

// dkimNames is the h= list: each wanted field as often as it occurs, plus
// once, so that an added one breaks the signature (a field listed once
// more than it exists is hashed as empty: RFC 6376 section 5.4.2).
func dkimNames(fields []field, want []string) []string {
	var out []string
	seen := map[string]bool{}
	from := false
	for _, w := range want {
		k := strings.ToLower(w)
		if seen[k] {
			continue
		}
		seen[k] = true
		from = from || k == "from"
		n := 1
		for _, f := range fields {
			if strings.EqualFold(f.name, w) {
				n++
			}
		}
		for range n {
			out = append(out, w)
		}
	}
	if !from {
		// RFC 6376 section 5.4: From must be signed.
		out = append(dkimNames(fields, []string{"From"}), out...)
	}
	return out
}

// selectFields picks, for each name in the h= list, the next instance of
// that field from the bottom of the header up (RFC 6376 section 5.4.2);
// names past the last instance select nothing.
func selectFields(fields []field, names []string) [][]byte {
	used := map[string]int{}
	var out [][]byte
	for _, n := range names {
		k := strings.ToLower(n)
		skip := used[k]
		used[k]++
		for i := len(fields) - 1; i >= 0; i-- {
			if !strings.EqualFold(fields[i].name, n) {
				continue
			}
			if skip == 0 {
				out = append(out, fields[i].raw)
				break
			}
			skip--
		}
	}
	return out
}

// relaxedHeader canonicalizes one field (RFC 6376 section 3.4.2): name in
// lower case, folding undone, runs of white space made one space, none
// around the colon or at the end.
func relaxedHeader(raw []byte) []byte {
	name, value, _ := bytes.Cut(raw, []byte{':'})
	var b bytes.Buffer
	b.Write(bytes.ToLower(bytes.TrimRight(name, " \t")))
	b.WriteByte(':')
	value = bytes.ReplaceAll(value, []byte("\r\n"), nil)
	b.Write(collapseWSP(bytes.Trim(value, " \t")))
	b.WriteString("\r\n")
	return b.Bytes()
}

// relaxedBody canonicalizes the body (RFC 6376 section 3.4.4): runs of
// white space made one space, none at line ends, no empty lines at the
// end, and a non-empty body ending in CRLF.
func relaxedBody(body []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.SplitSeq(body, []byte("\r\n")) {
		b.Write(bytes.TrimRight(collapseWSP(line), " "))
		b.WriteString("\r\n")
	}
	out := b.Bytes()
	for bytes.HasSuffix(out, []byte("\r\n\r\n")) {
		out = out[:len(out)-2]
	}
	if bytes.Equal(out, []byte("\r\n")) {
		return nil
	}
	return out
}

func collapseWSP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	wsp := false
	for _, c := range b {
		if c == ' ' || c == '\t' {
			wsp = true
			continue
		}
		if wsp {
			out = append(out, ' ')
			wsp = false
		}
		out = append(out, c)
	}
	if wsp {
		out = append(out, ' ')
	}
	return out
}

// DKIMRecord is the TXT record that publishes pub for DKIM, to put at
// <selector>._domainkey.<domain> (RFC 6376 section 3.6.1, RFC 8463).
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	if _, err := dkimAlgorithm(pub); err != nil {
		return "", err
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	default:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", fmt.Errorf("dkim record: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
}
