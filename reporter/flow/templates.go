package flow

import (
	"encoding/binary"
	"fmt"
)

// checkTemplates refuses a NetFlow v9 or IPFIX datagram that defines a
// template (or options template) whose records would be 0 bytes long:
// goflow2 v2.2.6 reads a data set's records while the set holds one more,
// so a data set of such a template loops for ever (found by FuzzDecode).
// The datagram is checked before goflow2 sees it, so such a template
// never reaches the exporter's template cache. IPFIX forbids template
// withdrawals (0 fields) over UDP, so none is lost. Anything else that is
// malformed is left to goflow2, which says what.
func checkTemplates(version uint16, p []byte) error {
	hdr := 20
	if version == 10 {
		hdr = 16
	}
	if len(p) < hdr {
		return nil
	}
	p = p[hdr:]
	for len(p) >= 4 {
		id, l := binary.BigEndian.Uint16(p), int(binary.BigEndian.Uint16(p[2:]))
		if l < 4 || l > len(p) {
			return nil
		}
		body := p[4:l]
		p = p[l:]
		switch {
		case version == 9 && id == 0, version == 10 && id == 2: // templates
			for len(body) >= 4 {
				tid, n := binary.BigEndian.Uint16(body), int(binary.BigEndian.Uint16(body[2:]))
				size, rest, ok := fieldsLen(version, body[4:], n)
				if !ok {
					return nil
				}
				if size == 0 {
					return fmt.Errorf("template %d: records of 0 bytes", tid)
				}
				body = rest
			}
		case version == 9 && id == 1: // options templates, lengths in bytes
			// Read as goflow2 reads them: scope and option lengths are
			// divided by 4 (a length that is no multiple of 4 loses its
			// rest, it does not refuse the template), and what its fields
			// sum to is the record's size.
			for len(body) >= 6 {
				tid := binary.BigEndian.Uint16(body)
				scope, opts := int(binary.BigEndian.Uint16(body[2:])), int(binary.BigEndian.Uint16(body[4:]))
				size, rest, ok := fieldsLen(9, body[6:], scope/4+opts/4)
				if !ok {
					return nil
				}
				if size == 0 {
					return fmt.Errorf("options template %d: records of 0 bytes", tid)
				}
				body = rest
			}
		case version == 10 && id == 3: // options templates, counts of fields
			for len(body) >= 6 {
				tid, n := binary.BigEndian.Uint16(body), int(binary.BigEndian.Uint16(body[2:]))
				size, rest, ok := fieldsLen(10, body[6:], n)
				if !ok {
					return nil
				}
				if size == 0 {
					return fmt.Errorf("options template %d: records of 0 bytes", tid)
				}
				body = rest
			}
		}
	}
	return nil
}

// fieldsLen sums the lengths of n field specifiers at the start of b (an
// IPFIX enterprise field carries 4 more bytes; a variable length, 65535,
// counts as not 0), and returns what follows them.
func fieldsLen(version uint16, b []byte, n int) (size int, rest []byte, ok bool) {
	for range n {
		if len(b) < 4 {
			return 0, nil, false
		}
		typ, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		b = b[4:]
		if version == 10 && typ&0x8000 != 0 {
			if len(b) < 4 {
				return 0, nil, false
			}
			b = b[4:]
		}
		size += l
	}
	return size, b, true
}
