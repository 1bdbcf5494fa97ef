// Package reporter is the domain of autoreporter. Data flows one way:
//
//	source -> parse -> enrich -> keep? -> store -> group -> render -> send -> history
//
// Feeds (reporter/feed/...) turn bytes into Events; Ingest enriches each
// with geo answers, drops what is outside the constituency, resolves its
// contact and stores it; Plan groups the new events by contact, drops what
// that contact was told inside the feed's repeat window and creates the
// reports; Deliver renders and sends them. The store, the mailer and the
// parsers are adapters in sub-packages that import this one, never the
// reverse; the interfaces they satisfy are declared here, where they are used.
package reporter

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/autoreporter/autoreporter/abuse"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Classifications from the Reference Security Incident Taxonomy (RSIT) that
// the built-in parsers produce. Feeds may carry others.
const (
	InfectedSystem      = "infected-system"
	C2Server            = "c2-server"
	VulnerableSystem    = "vulnerable-system"
	Scanner             = "scanner"
	BruteForce          = "brute-force"
	DDoSAmplifier       = "ddos-amplifier"
	MalwareDistribution = "malware-distribution"
	SystemCompromise    = "system-compromise"
	Blocklist           = "blocklist"
	Undetermined        = "undetermined"
)

// Field is one extra column of an event, kept in the feed's column order.
type Field struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Event is one observation of one address. It is the single type that
// travels from parser to mail.
type Event struct {
	ID             int64
	Time           time.Time
	Feed           string
	Classification string
	Identifier     string // service or malware family: "rdp", "andromeda"
	IP             netip.Addr
	Port           int // 0 when the feed has none
	Protocol       string
	ASN            uint32
	ASOrg          string
	Country        string
	Hostname       string
	Extra          []Field
	// ReportType is the feed's own name for what it reports (Shadowserver's
	// "scan_rdp"); empty when the feed has none.
	ReportType string
	// Unclassified is set by a parser that could not classify the row (a
	// Shadowserver report type it does not know). Such events are stored
	// but held back from reports, never mailed as "undetermined".
	Unclassified bool

	// Set at ingest.
	Contact  Contact
	Source   string // file:line the event came from
	Ingested time.Time
}

// Key is the dedup key: the same problem on the same host and port. Two
// observations with one key are the same thing to tell an ISP about.
func (e *Event) Key() string { return DedupKey(e.Classification, e.Identifier, e.IP, e.Port) }

// DedupKey hashes (classification, identifier, ip, port) into a short
// stable string. The fields are length-prefixed so that no two different
// tuples can collide by concatenation.
func DedupKey(classification, identifier string, ip netip.Addr, port int) string {
	var b strings.Builder
	for _, s := range []string{classification, strings.ToLower(identifier), ip.Unmap().String(), strconv.Itoa(port)} {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// Extra returns the value of an extra column, or "".
func (e *Event) ExtraValue(key string) string {
	for _, f := range e.Extra {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// Contact is where an owner's reports go; abuse resolves it.
type Contact = abuse.Contact
