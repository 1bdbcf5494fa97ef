package geo_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autoreporter/autoreporter/geo"
	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

// version writes both databases for one "release": the /24 belongs to asn
// and is located in cc. The files are written beside and renamed over the
// old ones, as geoipupdate does.
func version(t testing.TB, dir string, asn uint32, cc string) {
	t.Helper()
	nets := []mmdbgen.Network{
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), ASN: asn, Org: "Org " + cc, Country: cc, Registered: cc},
		{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), ASN: asn, Org: "Org " + cc, Country: cc, Registered: cc},
	}
	if err := mmdbgen.WriteASN(filepath.Join(dir, "asn.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
	if err := mmdbgen.WriteCountry(filepath.Join(dir, "country.mmdb"), nets); err != nil {
		t.Fatal(err)
	}
}

func openLive(t testing.TB, dir string) *geo.Live {
	t.Helper()
	l, err := geo.OpenLive(filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "country.mmdb"), geo.LayoutAuto,
		geo.ConstituencySpec{Countries: []string{"FI"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLiveReload(t *testing.T) {
	dir := t.TempDir()
	version(t, dir, 64500, "FI")
	l := openLive(t, dir)
	a := netip.MustParseAddr("192.0.2.1")
	if info, _ := l.Lookup(a); info.ASN != 64500 || !l.Contains(a) {
		t.Fatalf("v1: %+v %v", info, l.Contains(a))
	}
	if err := l.Reload(); !errors.Is(err, geo.ErrUnchanged) {
		t.Errorf("reload of unchanged files: %v", err)
	}

	version(t, dir, 64999, "SE")
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	info, _ := l.Lookup(a)
	if info.ASN != 64999 || info.Country != "SE" || l.Contains(a) {
		t.Errorf("v2: %+v, in constituency %v", info, l.Contains(a))
	}

	// A broken release: the old version keeps serving, and says so once.
	asn := filepath.Join(dir, "asn.mmdb")
	good, _ := os.ReadFile(asn)
	os.WriteFile(asn+".tmp", good[:len(good)/2], 0o644)
	os.Rename(asn+".tmp", asn)
	err := l.Reload()
	if err == nil || !strings.Contains(err.Error(), asn) || !strings.Contains(err.Error(), "still serving") {
		t.Errorf("broken file: %v", err)
	}
	if info, err := l.Lookup(a); err != nil || info.ASN != 64999 {
		t.Errorf("after a refused file: %+v %v", info, err)
	}
	if err := l.Reload(); !errors.Is(err, geo.ErrUnchanged) {
		t.Errorf("the same broken file is reported once: %v", err)
	}
	// A missing file (mid-replacement) keeps the old one too.
	os.Remove(asn)
	if err := l.Reload(); err == nil || !strings.Contains(err.Error(), "still serving") {
		t.Errorf("missing file: %v", err)
	}
	version(t, dir, 64777, "FI")
	if err := l.Reload(); err != nil {
		t.Fatal(err)
	}
	if info, _ := l.Lookup(a); info.ASN != 64777 || !l.Contains(a) {
		t.Errorf("v3: %+v", info)
	}
}

// Lookups running while the files are swapped never fail and always see one
// whole version: the ASN and the constituency of one snapshot agree.
func TestLiveSwapUnderLoad(t *testing.T) {
	dir := t.TempDir()
	version(t, dir, 64500, "FI")
	l := openLive(t, dir)
	var stop atomic.Bool
	var lookups, failed, torn atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := netip.MustParseAddr("2001:db8:1::5")
			for !stop.Load() {
				snap := l.Current()
				info, err := snap.DB.Lookup(a)
				lookups.Add(1)
				if err != nil || (info.ASN != 64500 && info.ASN != 64999) {
					failed.Add(1)
					continue
				}
				if (info.ASN == 64500) != snap.Constituency.Contains(a) {
					torn.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if i%2 == 0 {
			version(t, dir, 64999, "SE")
		} else {
			version(t, dir, 64500, "FI")
		}
		// Renames inside one second can leave size and mtime equal; the
		// inode still changes.
		if err := l.Reload(); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if lookups.Load() == 0 || failed.Load() != 0 || torn.Load() != 0 {
		t.Errorf("%d lookups, %d failed, %d saw two versions", lookups.Load(), failed.Load(), torn.Load())
	}
}

func TestIPinfoLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipinfo_lite.mmdb")
	if err := mmdbgen.WriteIPinfo(path, testNets); err != nil {
		t.Fatal(err)
	}
	db, err := geo.Open(path, path, geo.LayoutAuto)
	if err != nil {
		t.Fatal(err)
	}
	info, err := db.Lookup(netip.MustParseAddr("203.0.113.200"))
	if err != nil || info.ASN != 64503 || info.ASOrg != "Carrier" || info.Country != "DE" || info.RegisteredCountry != "" {
		t.Errorf("ipinfo lookup: %+v %v", info, err)
	}
	c, err := geo.Compile(db, geo.ConstituencySpec{Countries: []string{"FI"}, ASNs: []uint32{64510}})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{"192.0.2.1": true, "203.0.113.1": true, "203.0.113.200": false, "100.64.1.1": true, "198.51.100.1": false, "2001:db8:1::1": true} {
		if c.Contains(netip.MustParseAddr(ip)) != want {
			t.Errorf("ipinfo constituency %s: want %v", ip, want)
		}
	}
	// Read as MaxMind's layout, IPinfo's flat country cannot be decoded: the
	// error names the file.
	if _, err := geo.Open(path, path, geo.LayoutMaxMind); err != nil {
		t.Fatal(err)
	}
	mm, _ := geo.Open(path, path, geo.LayoutMaxMind)
	if _, err := mm.Lookup(netip.MustParseAddr("192.0.2.1")); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("wrong layout: %v", err)
	}
}

// A new version of the wrong kind (geoipupdate told to fetch the country
// edition into the ASN file's place) is refused; the old one keeps serving.
func TestLiveRefusesWrongKind(t *testing.T) {
	dir := t.TempDir()
	version(t, dir, 64500, "FI")
	l := openLive(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, "country.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "asn.mmdb.new")
	os.WriteFile(tmp, b, 0o644)
	os.Rename(tmp, filepath.Join(dir, "asn.mmdb"))
	err = l.Reload()
	var ke *geo.KindError
	if !errors.As(err, &ke) || ke.Type != "GeoLite2-Country" || ke.Want != geo.ASN {
		t.Fatalf("reload of a country file as the ASN database: %v", err)
	}
	if info, _ := l.Lookup(netip.MustParseAddr("192.0.2.1")); info.ASN != 64500 {
		t.Errorf("old version not serving: %+v", info)
	}
}
