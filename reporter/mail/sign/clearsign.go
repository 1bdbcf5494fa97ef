package sign

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// ErrUnsupported is a message whose shape an inline signature cannot
// cover honestly: no text/plain part, or a nested multipart (the HTML of a
// multipart/alternative would go unsigned). PGP/MIME signs any shape.
var ErrUnsupported = errors.New("message shape not supported for inline signing")

// Clearsign signs raw inline, for contacts whose ticket systems or scripts
// look for "-----BEGIN PGP SIGNED MESSAGE-----" in the text rather than
// for PGP/MIME. The text/plain body is decoded, clearsigned (RFC 4880
// section 7) and encoded again as quoted-printable.
//
// A clearsignature covers only that text, and in a report the events are
// the attachment. So that nothing arrives looking signed while it is not,
// every other part is left byte for byte as it was and followed by a
// detached signature of its decoded content, "<name>.asc", which
// "gpg --verify events.csv.asc events.csv" checks: the closest sound
// equivalent for an attachment. A contact that wants everything in one
// clearsigned text gets the inline format (the CSV in the body).
//
// now is the signing time, as for PGPMIME.
func Clearsign(raw []byte, signer *openpgp.Entity, now time.Time) ([]byte, error) {
	m, err := parseMessage(raw)
	if err != nil {
		return nil, fmt.Errorf("clearsign: %w", err)
	}
	mt, params, err := m.mediaType()
	if err != nil {
		return nil, fmt.Errorf("clearsign: %w", err)
	}
	switch {
	case mt == "text/plain":
		out, err := clearsignPart(m, signer, now)
		if err != nil {
			return nil, fmt.Errorf("clearsign: %w", err)
		}
		return out.bytes(), nil
	case mt == "multipart/mixed":
		body, err := clearsignMixed(m.body, params["boundary"], signer, now)
		if err != nil {
			return nil, fmt.Errorf("clearsign: %w", err)
		}
		return (&entity{fields: m.fields, body: body}).bytes(), nil
	default:
		return nil, fmt.Errorf("clearsign: %w: top level is %s", ErrUnsupported, mt)
	}
}

// clearsignMixed rewrites a multipart/mixed body: the first inline
// text/plain part is clearsigned, every other part is kept as it was and
// gets a detached signature part right after it. Bytes between the parts
// (preamble, delimiters, epilogue) are copied unchanged.
func clearsignMixed(body []byte, bound string, signer *openpgp.Entity, now time.Time) ([]byte, error) {
	if bound == "" {
		return nil, fmt.Errorf("%w: multipart/mixed without a boundary", ErrMalformed)
	}
	spans, err := parts(body, bound)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	last, signedText := 0, false
	for i, s := range spans {
		p, err := parseEntity(body[s.start:s.end])
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
		pt, _, err := p.mediaType()
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i+1, err)
		}
		out.Write(body[last:s.start])
		last = s.end
		switch {
		case strings.HasPrefix(pt, "multipart/"):
			return nil, fmt.Errorf("%w: part %d is %s", ErrUnsupported, i+1, pt)
		case pt == "text/plain" && !signedText && !isAttachment(p):
			signed, err := clearsignPart(p, signer, now)
			if err != nil {
				return nil, fmt.Errorf("part %d: %w", i+1, err)
			}
			out.Write(signed.bytes())
			signedText = true
		default:
			out.Write(body[s.start:s.end])
			sig, err := detachedPart(p, i+1, signer, now)
			if err != nil {
				return nil, fmt.Errorf("part %d: %w", i+1, err)
			}
			out.WriteString("\r\n--" + bound + "\r\n")
			out.Write(sig)
		}
	}
	if !signedText {
		return nil, fmt.Errorf("%w: no inline text/plain part", ErrUnsupported)
	}
	out.Write(body[last:])
	return out.Bytes(), nil
}

// clearsignPart returns p with its text clearsigned: as 7bit when the
// result is plain ASCII in short lines without trailing white space, else
// as quoted-printable, which keeps 8-bit text, long lines and trailing
// white space safe from relays. The charset stays what it was; the
// signature is over the text's bytes in that charset.
func clearsignPart(p *entity, signer *openpgp.Entity, now time.Time) (*entity, error) {
	text, err := decode(p)
	if err != nil {
		return nil, err
	}
	key, at, err := signingKey(signer, now)
	if err != nil {
		return nil, err
	}
	if key.PrivateKey == nil || key.PrivateKey.Encrypted {
		return nil, fmt.Errorf("%w: key %X has no decrypted private key", ErrNoSigningKey, key.PublicKey.Fingerprint)
	}
	var cs bytes.Buffer
	w, err := clearsign.Encode(&cs, key.PrivateKey, pgpConfig(at))
	if err != nil {
		return nil, fmt.Errorf("clearsign: %w", err)
	}
	// LF in, so that the clearsigned text has one kind of line ending,
	// made CRLF after.
	if _, err := w.Write(bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))); err != nil {
		return nil, fmt.Errorf("clearsign: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("clearsign: %w", err)
	}
	signed := bytes.ReplaceAll(cs.Bytes(), []byte("\n"), []byte("\r\n"))
	if !bytes.HasSuffix(signed, []byte("\r\n")) {
		signed = append(signed, '\r', '\n')
	}
	if check7bit(signed) == nil {
		// Plain ASCII stays readable for a script that greps the raw mail.
		return &entity{fields: withCTE(p.fields, "7bit"), body: signed}, nil
	}
	var qp bytes.Buffer
	qw := quotedprintable.NewWriter(&qp)
	if _, err := qw.Write(signed); err != nil {
		return nil, fmt.Errorf("quoted-printable: %w", err)
	}
	if err := qw.Close(); err != nil {
		return nil, fmt.Errorf("quoted-printable: %w", err)
	}
	body := qp.Bytes()
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		body = append(body, '\r', '\n')
	}
	return &entity{fields: withCTE(p.fields, "quoted-printable"), body: body}, nil
}

// withCTE sets Content-Transfer-Encoding, in place of the old one or
// after Content-Type.
func withCTE(fields []field, cte string) []field {
	f := field{name: "Content-Transfer-Encoding", raw: []byte("Content-Transfer-Encoding: " + cte + "\r\n")}
	out := make([]field, 0, len(fields)+1)
	done := false
	for _, old := range fields {
		if strings.EqualFold(old.name, f.name) {
			if !done {
				out = append(out, f)
				done = true
			}
			continue
		}
		out = append(out, old)
		if !done && strings.EqualFold(old.name, "Content-Type") {
			out = append(out, f)
			done = true
		}
	}
	if !done {
		out = append(out, f)
	}
	return out
}

// detachedPart is a part holding a detached binary signature of p's
// decoded content: the bytes a reader saves as the file.
func detachedPart(p *entity, n int, signer *openpgp.Entity, now time.Time) ([]byte, error) {
	content, err := decode(p)
	if err != nil {
		return nil, err
	}
	sig, _, err := detachSign(signer, content, now, false)
	if err != nil {
		return nil, err
	}
	name := fileName(p)
	if name == "" {
		name = fmt.Sprintf("part%d", n)
	}
	name += ".asc"
	var b bytes.Buffer
	b.WriteString("Content-Type: " + mime.FormatMediaType("application/pgp-signature", map[string]string{"name": name}) + "\r\n")
	b.WriteString("Content-Disposition: " + mime.FormatMediaType("attachment", map[string]string{"filename": name}) + "\r\n")
	b.WriteString("Content-Description: OpenPGP signature of the attachment before it\r\n")
	b.WriteString("\r\n")
	b.Write(sig)
	return b.Bytes(), nil
}

// isAttachment is a part the reader sees as a file rather than as the
// text of the mail.
func isAttachment(p *entity) bool {
	if d, _, err := mime.ParseMediaType(p.get("Content-Disposition")); err == nil && d == "attachment" {
		return true
	}
	return fileName(p) != ""
}

func fileName(p *entity) string {
	if _, params, err := mime.ParseMediaType(p.get("Content-Disposition")); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	if _, params, err := p.mediaType(); err == nil {
		return params["name"]
	}
	return ""
}

// decode undoes the part's Content-Transfer-Encoding.
func decode(p *entity) ([]byte, error) {
	var b []byte
	var err error
	switch cte := strings.ToLower(p.get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		b, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(p.body)))
	case "base64":
		// Line breaks, and the stray white space some encoders leave.
		b, err = base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(p.body), nil)))
	case "", "7bit", "8bit", "binary":
		return p.body, nil
	default:
		return nil, fmt.Errorf("%w: Content-Transfer-Encoding %q", ErrMalformed, cte)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %v", ErrMalformed, p.get("Content-Transfer-Encoding"), err)
	}
	return b, nil
}
