package reporter

import "strings"

// RejectClass turns a reject message into the reason it is counted under:
// the quoted values are dropped, so that `ip: not an IP address: "x"` and
// `ip: not an IP address: "y"` count as one reason.
func RejectClass(reason string) string {
	var b strings.Builder
	b.Grow(len(reason))
	inQuote, esc := false, false
	for i := 0; i < len(reason); i++ {
		c := reason[i]
		switch {
		case inQuote && esc:
			esc = false
		case inQuote && c == '\\':
			esc = true
		case c == '"':
			inQuote = !inQuote
		case !inQuote:
			b.WriteByte(c)
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	out = strings.TrimRight(out, ": ")
	out = strings.ReplaceAll(out, " :", ":")
	if len(out) > 80 {
		out = out[:80]
	}
	if out == "" {
		return "unreadable"
	}
	return out
}
