package config

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
)

// DefaultMaxSize is the largest mail sent whole: many relays refuse more
// than 10 MB, and a larger report goes out in parts.
const DefaultMaxSize = 10 << 20

// DefaultBodyLines is how many affected hosts a problem lists in the body.
const DefaultBodyLines = 20

var tlpLevels = []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}

func (v *validator) mailContent() {
	m := &v.cfg.Mail
	m.MaxBytes = DefaultMaxSize
	if m.MaxSize != "" {
		n, err := ParseSize(m.MaxSize)
		switch {
		case err != nil:
			v.add("mail.max_size", "%v", err)
		case n < 64<<10:
			v.add("mail.max_size", "%s is too small for a report (at least 64KB)", m.MaxSize)
		default:
			m.MaxBytes = n
		}
	}
	m.BodyLineCount = DefaultBodyLines
	if m.BodyLines != nil {
		if *m.BodyLines < 0 || *m.BodyLines > 1000 {
			v.add("mail.body_lines", "%d must be from 0 to 1000", *m.BodyLines)
		}
		m.BodyLineCount = *m.BodyLines
	}
	if m.TLP != "" {
		t := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(m.TLP), "TLP:"))
		ok := false
		for _, l := range tlpLevels {
			ok = ok || l == t
		}
		if !ok {
			v.add("mail.tlp", "%q is not a TLP 2.0 level: %s", m.TLP, strings.Join(tlpLevels, ", "))
		}
		m.TLP = t
	}
	if m.ReplyTo != "" {
		if _, err := mail.ParseAddress(m.ReplyTo); err != nil || strings.ContainsAny(m.ReplyTo, "\r\n") {
			v.add("mail.reply_to", "%q is not an email address", m.ReplyTo)
		}
	}
	for _, r := range m.Signature {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			v.add("mail.signature", "holds a control character (%U); lines and tabs only", r)
			break
		}
	}
	for i, c := range v.cfg.Contacts {
		if c.MaxEvents < 0 {
			v.add(fmt.Sprintf("contacts[%d].max_events", i), "must be 0 (no cap) or more")
		}
	}
	for i, f := range v.cfg.Feeds {
		if f.Reference != "" {
			v.httpURL(fmt.Sprintf("feeds[%d].reference", i), f.Reference)
		}
	}
}
