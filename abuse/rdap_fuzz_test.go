package abuse

import (
	"net/mail"
	"net/netip"
	"strings"
	"testing"

	"github.com/openrdap/rdap"

	"github.com/autoreporter/autoreporter/abuse/rdaptest"
)

// FuzzRDAPAnswer feeds hostile answers through the decoder and our reading
// of them: no panic escapes, the cached range always holds the queried
// address, and every address kept is a single, bare, lower-case mailbox.
func FuzzRDAPAnswer(f *testing.F) {
	for _, name := range []string{"ripe-ip.json", "arin-ip.json", "ripe-ip6.json", "no-abuse-ip.json"} {
		f.Add(rdaptest.Fixture(name), "192.0.2.1")
	}
	f.Add([]byte(`{"objectClassName":"ip network","startAddress":"2001:db8::","endAddress":"192.0.2.9","entities":[{"roles":["abuse"],"vcardArray":["vcard",[["email",{},"text",["a@b.example","c@d.example"]]]]}]}`), "192.0.2.5")
	f.Add([]byte(`{"objectClassName":"ip network","entities":[{"entities":[{"entities":[{"roles":["ABUSE "],"vcardArray":["vcard",[["email",{},"text","x@y.example\r\nBcc: z@z.example"]]]}]}]}]}`), "2001:db8::1")
	r, err := NewRDAP(RDAPOptions{Server: "https://rdap.example"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, q string) {
		ip, err := netip.ParseAddr(q)
		if err != nil {
			return
		}
		ip = ip.Unmap()
		e, err := func() (e RDAPEntry, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = &RDAPError{IP: ip, Msg: "decoder panic"} // as query does
				}
			}()
			obj, err := rdap.NewDecoder(body).Decode()
			if err != nil {
				return RDAPEntry{}, err
			}
			return r.entryFrom(obj, ip, t0)
		}()
		if err != nil {
			return
		}
		if !e.Range().IsValid() || !e.Range().Contains(ip) {
			t.Fatalf("cached range %s-%s does not hold %s", e.First, e.Last, ip)
		}
		for _, a := range e.To {
			m, err := mail.ParseAddress(a)
			if err != nil || m.Address != a || a != strings.ToLower(a) || strings.ContainsAny(a, "\r\n,<> ") {
				t.Fatalf("kept %q", a)
			}
		}
		if strings.ContainsAny(e.Handle+e.Entity, "\r\n\x1b") {
			t.Fatalf("control characters kept: %q %q", e.Handle, e.Entity)
		}
	})
}
