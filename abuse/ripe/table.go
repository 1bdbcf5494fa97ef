package ripe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// u128 is an address as a number, IPv4 mapped into ::ffff:0:0/96.
type u128 struct{ Hi, Lo uint64 }

func (a u128) cmp(b u128) int {
	switch {
	case a.Hi < b.Hi:
		return -1
	case a.Hi > b.Hi:
		return 1
	case a.Lo < b.Lo:
		return -1
	case a.Lo > b.Lo:
		return 1
	}
	return 0
}

func (a u128) add1() u128 {
	lo, c := bits.Add64(a.Lo, 1, 0)
	return u128{a.Hi + c, lo}
}

func (a u128) sub1() u128 {
	lo, b := bits.Sub64(a.Lo, 1, 0)
	return u128{a.Hi - b, lo}
}

func toU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func (a u128) addr() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.Hi)
	binary.BigEndian.PutUint64(b[8:], a.Lo)
	return netip.AddrFrom16(b).Unmap()
}

// Range is one inetnum or inet6num.
type Range struct {
	Lo, Hi  u128
	Contact int32 // index into Table.Contacts; -1 when the object names none
}

// First and Last are the range's bounds as addresses.
func (r Range) First() netip.Addr { return r.Lo.addr() }
func (r Range) Last() netip.Addr  { return r.Hi.addr() }

// String writes the range the way the database does.
func (r Range) String() string {
	lo, hi := r.First(), r.Last()
	if ps := prefixesOf(lo, hi); len(ps) == 1 {
		if lo.Is6() {
			return ps[0].String()
		}
	}
	return lo.String() + " - " + hi.String()
}

func prefixesOf(lo, hi netip.Addr) []netip.Prefix {
	for b := 0; b <= lo.BitLen(); b++ {
		p := netip.PrefixFrom(lo, b).Masked()
		if p.Addr() == lo {
			last := lastOf(p)
			if last == hi {
				return []netip.Prefix{p}
			}
			if last.Less(hi) {
				return nil
			}
		}
	}
	return nil
}

func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Contact is one abuse mailbox and the role it came from.
type Contact struct {
	Mailbox string // as written in the role: may hold several addresses
	Role    string // nic-hdl
}

// ASN is one aut-num with an abuse contact.
type ASN struct {
	ASN     uint32
	Contact int32
}

// Stats counts what an import read and kept.
type Stats struct {
	Objects   map[string]int // by type, as read
	Ranges    int            // inet(6)nums kept
	WithAbuse int            // of those, with an abuse contact of their own or their organisation's
	ASNs      int            // aut-nums with an abuse contact
	Roles     int            // roles with an abuse-mailbox
	Skipped   int            // objects that could not be read
	Outside   int            // ranges left out by the constituency filter
}

// Table is an imported RIPE database, reduced to what contact resolution
// needs. It is immutable once built.
type Table struct {
	Imported time.Time
	Contacts []Contact
	Ranges   []Range // sorted by Lo, then widest first
	ASNs     []ASN   // sorted
	Stats    Stats
	segs     []seg // Ranges flattened into disjoint pieces, each with its most specific range
}

// seg is a piece of address space and the range that answers for it.
type seg struct {
	Lo, Hi u128
	Range  int32
}

func sortRanges(rs []Range) {
	slices.SortFunc(rs, func(a, b Range) int {
		if c := a.Lo.cmp(b.Lo); c != 0 {
			return c
		}
		return b.Hi.cmp(a.Hi) // the covering range first
	})
}

// flatten turns the nested ranges that have a contact into disjoint
// segments, each answered by the most specific range covering it. A range
// without a contact is left out, so its addresses fall to the range that
// covers it: inheritance.
func (t *Table) flatten() {
	var out []seg
	type open struct {
		hi  u128
		idx int32
	}
	var stack []open
	var cursor u128 // the first address not yet emitted
	emit := func(lo, hi u128, idx int32) {
		if lo.cmp(hi) > 0 {
			return
		}
		if n := len(out); n > 0 && out[n-1].Range == idx && out[n-1].Hi.add1() == lo {
			out[n-1].Hi = hi
			return
		}
		out = append(out, seg{lo, hi, idx})
	}
	closeUntil := func(limit u128, bounded bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if bounded && top.hi.cmp(limit) >= 0 {
				return
			}
			if cursor.cmp(top.hi) <= 0 {
				emit(cursor, top.hi, top.idx)
				cursor = top.hi.add1()
			}
			stack = stack[:len(stack)-1]
		}
	}
	for i, r := range t.Ranges {
		if r.Contact < 0 {
			continue
		}
		closeUntil(r.Lo, true)
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if cursor.cmp(r.Lo) < 0 {
				emit(cursor, r.Lo.sub1(), top.idx)
			}
			// A range that sticks out of its cover (not seen in a sound
			// database) is clipped to it.
			if r.Hi.cmp(top.hi) > 0 {
				r.Hi = top.hi
			}
		}
		cursor = r.Lo
		stack = append(stack, open{r.Hi, int32(i)})
	}
	closeUntil(u128{}, false)
	t.segs = out
}

// Match is an answer: the contact and the range or aut-num that gave it.
type Match struct {
	Contact Contact
	Index   int32 // the contact's index in Table.Contacts
	Range   Range // zero when the answer came from an aut-num
	ASN     uint32
}

// Lookup finds the most specific range with a contact that covers a.
func (t *Table) Lookup(a netip.Addr) (Match, bool) {
	if t == nil || !a.IsValid() {
		return Match{}, false
	}
	x := toU128(a.Unmap())
	i := sort.Search(len(t.segs), func(i int) bool { return t.segs[i].Hi.cmp(x) >= 0 })
	if i == len(t.segs) || t.segs[i].Lo.cmp(x) > 0 {
		return Match{}, false
	}
	r := t.Ranges[t.segs[i].Range]
	return Match{Contact: t.Contacts[r.Contact], Index: r.Contact, Range: r}, true
}

// LookupASN finds an aut-num's abuse contact.
func (t *Table) LookupASN(asn uint32) (Match, bool) {
	if t == nil {
		return Match{}, false
	}
	i := sort.Search(len(t.ASNs), func(i int) bool { return t.ASNs[i].ASN >= asn })
	if i == len(t.ASNs) || t.ASNs[i].ASN != asn {
		return Match{}, false
	}
	return Match{Contact: t.Contacts[t.ASNs[i].Contact], Index: t.ASNs[i].Contact, ASN: asn}, true
}

// Diff counts how one import differs from the one before, range by range:
// a range is the same object when its bounds are.
type Diff struct {
	Added, Removed, Changed, Same int
}

// DiffFrom compares t with an older table.
func (t *Table) DiffFrom(old *Table) Diff {
	var d Diff
	if old == nil {
		d.Added = len(t.Ranges)
		return d
	}
	mailbox := func(tb *Table, r Range) string {
		if r.Contact < 0 {
			return ""
		}
		return tb.Contacts[r.Contact].Mailbox
	}
	i, j := 0, 0
	for i < len(t.Ranges) || j < len(old.Ranges) {
		var c int
		switch {
		case i == len(t.Ranges):
			c = 1
		case j == len(old.Ranges):
			c = -1
		default:
			if c = t.Ranges[i].Lo.cmp(old.Ranges[j].Lo); c == 0 {
				c = old.Ranges[j].Hi.cmp(t.Ranges[i].Hi)
			}
		}
		switch {
		case c < 0:
			d.Added++
			i++
		case c > 0:
			d.Removed++
			j++
		default:
			if mailbox(t, t.Ranges[i]) != mailbox(old, old.Ranges[j]) {
				d.Changed++
			} else {
				d.Same++
			}
			i++
			j++
		}
	}
	return d
}

// The snapshot file: a magic line, then little-endian counts and records.
// It is written to a temporary file and renamed over the old one, so a
// reader sees the old import or the new one, never half of one.
const magic = "autoreporter-ripe-v1\n"

// Save writes the table to path atomically.
func (t *Table) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ripe-*.tmp")
	if err != nil {
		return fmt.Errorf("ripe snapshot %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	put := func(v any) {
		if err == nil {
			err = binary.Write(w, binary.LittleEndian, v)
		}
	}
	putString := func(s string) {
		put(uint32(len(s)))
		if err == nil {
			_, err = w.WriteString(s)
		}
	}
	_, err = w.WriteString(magic)
	put(t.Imported.UnixMicro())
	put(uint32(len(t.Contacts)))
	for _, c := range t.Contacts {
		putString(c.Mailbox)
		putString(c.Role)
	}
	put(uint64(len(t.Ranges)))
	put(t.Ranges)
	put(uint32(len(t.ASNs)))
	put(t.ASNs)
	put(int64(t.Stats.Ranges))
	put(int64(t.Stats.WithAbuse))
	put(int64(t.Stats.Roles))
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("ripe snapshot %s: %w", path, err)
	}
	return nil
}

// Load reads a snapshot written by Save.
func Load(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ripe snapshot %s: %w", path, err)
	}
	defer f.Close()
	t, err := read(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("ripe snapshot %s: %w (import the dumps again with `autoreporter contacts import ripe DIR`)", path, err)
	}
	return t, nil
}

func read(r io.Reader) (*Table, error) {
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != magic {
		return nil, errors.New("not a RIPE snapshot of this version")
	}
	var err error
	get := func(v any) {
		if err == nil {
			err = binary.Read(r, binary.LittleEndian, v)
		}
	}
	getString := func() string {
		var n uint32
		get(&n)
		if err != nil || n > 1<<20 {
			if err == nil {
				err = errors.New("corrupt string length")
			}
			return ""
		}
		b := make([]byte, n)
		if _, rerr := io.ReadFull(r, b); rerr != nil && err == nil {
			err = rerr
		}
		return string(b)
	}
	t := &Table{}
	var us int64
	get(&us)
	t.Imported = time.UnixMicro(us).UTC()
	var nc uint32
	get(&nc)
	if err == nil && nc > 1<<26 {
		return nil, errors.New("corrupt contact count")
	}
	t.Contacts = make([]Contact, 0, min(nc, 1<<16))
	for i := uint32(0); i < nc && err == nil; i++ {
		t.Contacts = append(t.Contacts, Contact{Mailbox: getString(), Role: getString()})
	}
	var nr uint64
	get(&nr)
	if err == nil && nr > 1<<32 {
		return nil, errors.New("corrupt range count")
	}
	if err == nil {
		t.Ranges = make([]Range, nr)
		get(t.Ranges)
	}
	var na uint32
	get(&na)
	if err == nil && na > 1<<26 {
		return nil, errors.New("corrupt aut-num count")
	}
	if err == nil {
		t.ASNs = make([]ASN, na)
		get(t.ASNs)
	}
	var ranges, withAbuse, roles int64
	get(&ranges)
	get(&withAbuse)
	get(&roles)
	if err != nil {
		return nil, fmt.Errorf("truncated or corrupt: %w", err)
	}
	for _, r := range t.Ranges {
		if r.Contact >= int32(len(t.Contacts)) || r.Contact < -1 {
			return nil, errors.New("corrupt contact index")
		}
	}
	for _, a := range t.ASNs {
		if a.Contact < 0 || a.Contact >= int32(len(t.Contacts)) {
			return nil, errors.New("corrupt contact index")
		}
	}
	t.Stats = Stats{Ranges: int(ranges), WithAbuse: int(withAbuse), Roles: int(roles), ASNs: len(t.ASNs)}
	t.flatten()
	return t, nil
}

// Summary is a one-line description for people.
func (t *Table) Summary() string {
	return fmt.Sprintf("%d ranges (%d with an abuse contact), %d aut-nums, %d mailboxes, imported %s",
		len(t.Ranges), t.Stats.WithAbuse, len(t.ASNs), len(t.Contacts), t.Imported.Format(time.RFC3339))
}
