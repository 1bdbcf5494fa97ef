// Package geo answers where an address is and who routes it, from
// MaxMind-format .mmdb files, and compiles a constituency into a range table
// that is cheap enough to test on every row of a global feed.
package geo

import (
	"errors"
	"fmt"
	"net/netip"

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

// DB holds the ASN and country databases. Either may be nil.
type DB struct {
	asn, country         *maxminddb.Reader
	asnPath, countryPath string
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

// Open opens the ASN and country databases. An empty path leaves that
// database out. A file that is missing, truncated or corrupt is an error that
// names it; the search tree is verified so that a broken file fails here and
// not on the first lookup of a run.
func Open(asnPath, countryPath string) (*DB, error) {
	db := &DB{asnPath: asnPath, countryPath: countryPath}
	var err error
	if asnPath != "" {
		if db.asn, err = openVerified(asnPath); err != nil {
			return nil, err
		}
	}
	if countryPath != "" {
		if db.country, err = openVerified(countryPath); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

func openVerified(path string) (r *maxminddb.Reader, err error) {
	// The reader can panic on some malformed files; a bad file must be an
	// error that names it, never a crash.
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("mmdb %s: corrupt database: %v", path, p)
		}
	}()
	r, err = maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mmdb %s: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("mmdb %s: corrupt database: %w", path, err)
	}
	return r, nil
}

// Close releases both databases.
func (db *DB) Close() error {
	var errs []error
	if db.asn != nil {
		errs = append(errs, db.asn.Close())
	}
	if db.country != nil {
		errs = append(errs, db.country.Close())
	}
	return errors.Join(errs...)
}

// Lookup returns what the databases know of a.
func (db *DB) Lookup(a netip.Addr) (Info, error) {
	var info Info
	a = a.Unmap()
	if db.asn != nil {
		var rec asnRecord
		if err := db.asn.Lookup(a).Decode(&rec); err != nil {
			return info, fmt.Errorf("asn lookup %s in %s: %w", a, db.asnPath, err)
		}
		info.ASN, info.ASOrg = rec.ASN, rec.Org
	}
	if db.country != nil {
		var rec countryRecord
		if err := db.country.Lookup(a).Decode(&rec); err != nil {
			return info, fmt.Errorf("country lookup %s in %s: %w", a, db.countryPath, err)
		}
		info.Country, info.RegisteredCountry = rec.Country.ISOCode, rec.RegisteredCountry.ISOCode
	}
	return info, nil
}
