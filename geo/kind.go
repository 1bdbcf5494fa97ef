package geo

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Role is what a database file is asked: who routes an address (ASN), where
// it is (country), or both, as one IPinfo file answers.
type Role uint8

const (
	ASN Role = 1 << iota
	Country
)

func (r Role) String() string {
	switch r {
	case ASN:
		return "ASN"
	case Country:
		return "country"
	case ASN | Country:
		return "ASN and country"
	}
	return "no"
}

// article is the indefinite article before the role's name.
func (r Role) article() string {
	if r&ASN != 0 {
		return "an"
	}
	return "a"
}

// RolesOf says what a database can answer in the layouts this package
// reads, from the type its metadata names (database_type), or 0 when the
// name says nothing this package knows. Names are MaxMind's
// ("GeoLite2-ASN", "GeoIP2-City", "GeoIP2-ISP"), DB-IP's, which name the
// MaxMind layout they copy ("DBIP-ASN-Lite (compat=GeoLite2-ASN)",
// "DBIP-ISP (compat=Enterprise)"), and IPinfo's ("ipinfo lite.mmdb",
// "ipinfo country_asn.mmdb", "ipinfo generic_asn_free.mmdb").
//
// Enterprise files, and DB-IP's ISP files that copy them, keep the ASN
// under traits, where the ASN reader does not look: they are country
// databases here.
func RolesOf(databaseType string) Role {
	t := strings.ToLower(databaseType)
	if _, compat, ok := strings.Cut(t, "(compat="); ok {
		t = strings.TrimSuffix(strings.TrimSpace(compat), ")")
	}
	words := strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	has := func(w ...string) bool {
		for _, x := range words {
			for _, y := range w {
				if x == y {
					return true
				}
			}
		}
		return false
	}
	var r Role
	if has("ipinfo") {
		if has("asn", "lite") {
			r |= ASN
		}
		if has("country", "lite") {
			r |= Country
		}
		return r
	}
	if has("asn", "isp") {
		r |= ASN
	}
	if has("country", "city", "enterprise") {
		r |= Country
	}
	return r
}

// KindError is a database given for a role its type cannot answer.
type KindError struct {
	Path string
	Type string // the metadata's database_type
	Want Role
}

func (e *KindError) Error() string {
	return fmt.Sprintf("%s is a %q database, not %s %s database", e.Path, e.Type, e.Want.article(), e.Want)
}

// FileError is a database file that cannot serve its role: missing,
// unreadable, corrupt, or of another kind (*KindError).
type FileError struct {
	Role Role
	Path string
	Err  error
}

func (e *FileError) Error() string {
	var ke *KindError
	if errors.As(e.Err, &ke) {
		return ke.Error()
	}
	return fmt.Sprintf("mmdb %s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// CheckFile opens a database only as far as its metadata and refuses it
// when it cannot answer role: cheap enough for every config load, where
// Open reads and verifies the whole file. A type RolesOf does not know is
// judged by its first records.
func CheckFile(path string, role Role, layout Layout) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &FileError{Role: role, Path: path, Err: fmt.Errorf("corrupt database: %v", p)}
		}
	}()
	r, err := maxminddb.Open(path)
	if err != nil {
		return &FileError{Role: role, Path: path, Err: err}
	}
	defer r.Close()
	if err := checkRole(r, path, role, layoutOf(r, layout)); err != nil {
		return &FileError{Role: role, Path: path, Err: err}
	}
	return nil
}

// layoutOf is the layout to read r with: the one given, or the one its
// type names.
func layoutOf(r *maxminddb.Reader, layout Layout) Layout {
	if layout != LayoutAuto {
		return layout
	}
	if strings.Contains(strings.ToLower(r.Metadata.DatabaseType), "ipinfo") {
		return LayoutIPinfo
	}
	return LayoutMaxMind
}

// probeRecords is how many records of a database of unknown type are read
// to find what it answers.
const probeRecords = 1000

// checkRole refuses a database that cannot answer role. Its type decides
// when RolesOf knows it; a home-made type is judged by whether any of its
// first records holds the field the role reads.
func checkRole(r *maxminddb.Reader, path string, role Role, layout Layout) error {
	typ := r.Metadata.DatabaseType
	if known := RolesOf(typ); known != 0 {
		if known&role != role {
			return &KindError{Path: path, Type: typ, Want: role}
		}
		return nil
	}
	var paths [][]any
	switch {
	case role == ASN && layout == LayoutIPinfo:
		paths = [][]any{{"asn"}}
	case role == ASN:
		paths = [][]any{{"autonomous_system_number"}}
	case layout == LayoutIPinfo:
		paths = [][]any{{"country_code"}, {"country"}}
	default:
		paths = [][]any{{"country", "iso_code"}, {"registered_country", "iso_code"}}
	}
	n := 0
	for res := range r.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("corrupt database: %w", err)
		}
		for _, p := range paths {
			var v any
			if err := res.DecodePath(&v, p...); err != nil {
				return fmt.Errorf("corrupt database: %w", err)
			}
			if v != nil {
				return nil
			}
		}
		if n++; n == probeRecords {
			break
		}
	}
	return &KindError{Path: path, Type: typ, Want: role}
}
