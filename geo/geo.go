// Package geo answers where an address is and who routes it, from
// MaxMind-format .mmdb files, and compiles a constituency into a range table
// that is cheap enough to test on every row of a global feed.
package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Info is what the databases say about one address. Empty fields mean the
// database had no answer.
type Info struct {
	ASN               uint32
	ASOrg             string
	Country           string // where the address is located
	RegisteredCountry string // where the network is registered
}

// Layout is how a database names its fields. MaxMind's GeoLite2/GeoIP2
// and DB-IP's files share one layout; IPinfo's use flat fields
// (asn "AS64500", as_name, country or country_code).
type Layout string

const (
	LayoutAuto    Layout = ""        // from the file's metadata
	LayoutMaxMind Layout = "maxmind" // also DB-IP
	LayoutIPinfo  Layout = "ipinfo"
)

// source is one opened database file.
type source struct {
	r      *maxminddb.Reader
	path   string
	layout Layout
	stamp  stamp // the file it was read from, to notice a replacement
}

// DB holds the ASN and country databases. Either may be nil.
type DB struct {
	asn, country *source
}

type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

type ipinfoRecord struct {
	ASN         string `maxminddb:"asn"`
	ASName      string `maxminddb:"as_name"`
	Country     string `maxminddb:"country"` // a code in country_asn.mmdb, a name in ipinfo_lite.mmdb
	CountryCode string `maxminddb:"country_code"`
}

func (s *source) asnOf(res maxminddb.Result) (uint32, string, error) {
	if s.layout == LayoutIPinfo {
		var rec ipinfoRecord
		if err := res.Decode(&rec); err != nil {
			return 0, "", err
		}
		if rec.ASN == "" {
			return 0, rec.ASName, nil
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(rec.ASN), "AS"), 10, 32)
		if err != nil {
			return 0, "", fmt.Errorf("asn %q is not an AS number", rec.ASN)
		}
		return uint32(n), rec.ASName, nil
	}
	var rec asnRecord
	err := res.Decode(&rec)
	return rec.ASN, rec.Org, err
}

// asnNumberOf is asnOf without the organisation, for walking a whole file.
func (s *source) asnNumberOf(res maxminddb.Result) (uint32, error) {
	if s.layout == LayoutIPinfo {
		n, _, err := s.asnOf(res)
		return n, err
	}
	var asn uint32
	err := res.DecodePath(&asn, "autonomous_system_number")
	return asn, err
}

func (s *source) countryOf(res maxminddb.Result) (located, registered string, err error) {
	if s.layout == LayoutIPinfo {
		var rec ipinfoRecord
		if err := res.Decode(&rec); err != nil {
			return "", "", err
		}
		cc := rec.CountryCode
		if cc == "" && len(rec.Country) == 2 {
			cc = rec.Country
		}
		// IPinfo gives one country, where the address is; it says nothing of
		// registration.
		return strings.ToUpper(cc), "", nil
	}
	var rec countryRecord
	err = res.Decode(&rec)
	return rec.Country.ISOCode, rec.RegisteredCountry.ISOCode, err
}

// Open opens the ASN and country databases. An empty path leaves that
// database out. A file that is missing, truncated, corrupt or of a kind
// that cannot answer its role is a *FileError that names it; when both
// files are bad, both are named. The search tree is verified so that a
// broken file fails here and not on the first lookup of a run. The layout
// of each file is taken from its metadata unless layout says.
func Open(asnPath, countryPath string, layout Layout) (*DB, error) {
	db := &DB{}
	var errs []error
	var err error
	if asnPath != "" {
		if db.asn, err = openVerified(asnPath, ASN, layout); err != nil {
			errs = append(errs, err)
		}
	}
	if countryPath != "" {
		if db.country, err = openVerified(countryPath, Country, layout); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		db.Close()
		return nil, errors.Join(errs...)
	}
	return db, nil
}

// openVerified reads the whole file into memory rather than mapping it: a
// replaced database is then dropped by the garbage collector once the last
// lookup on it is done, with no unmap racing a lookup.
func openVerified(path string, role Role, layout Layout) (s *source, err error) {
	// The reader can panic on some malformed files; a bad file must be an
	// error that names it, never a crash.
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, &FileError{Role: role, Path: path, Err: fmt.Errorf("corrupt database: %v", p)}
		}
	}()
	fail := func(err error) (*source, error) { return nil, &FileError{Role: role, Path: path, Err: err} }
	st, err := stampOf(path)
	if err != nil {
		return fail(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return fail(err)
	}
	if err := r.Verify(); err != nil {
		return fail(fmt.Errorf("corrupt database: %w", err))
	}
	layout = layoutOf(r, layout)
	if err := checkRole(r, path, role, layout); err != nil {
		return fail(err)
	}
	return &source{r: r, path: path, layout: layout, stamp: st}, nil
}

// Close releases both databases.
func (db *DB) Close() error {
	var errs []error
	if db.asn != nil {
		errs = append(errs, db.asn.r.Close())
	}
	if db.country != nil {
		errs = append(errs, db.country.r.Close())
	}
	return errors.Join(errs...)
}

// Lookup returns what the databases know of a.
func (db *DB) Lookup(a netip.Addr) (Info, error) {
	var info Info
	a = a.Unmap()
	var err error
	if db.asn != nil {
		if info.ASN, info.ASOrg, err = db.asn.asnOf(db.asn.r.Lookup(a)); err != nil {
			return info, fmt.Errorf("asn lookup %s in %s: %w", a, db.asn.path, err)
		}
	}
	if db.country != nil {
		if info.Country, info.RegisteredCountry, err = db.country.countryOf(db.country.r.Lookup(a)); err != nil {
			return info, fmt.Errorf("country lookup %s in %s: %w", a, db.country.path, err)
		}
	}
	return info, nil
}

// Built returns when the oldest of the databases was built (its metadata's
// build epoch): the age of the data that decides ownership, for
// monitoring that geoipupdate still runs. Zero when none is open.
func (db *DB) Built() time.Time {
	var oldest time.Time
	for _, s := range []*source{db.asn, db.country} {
		if s == nil || s.r == nil {
			continue
		}
		t := time.Unix(int64(s.r.Metadata.BuildEpoch), 0).UTC()
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest
}
