// Command mkday writes a national day to try autoreporter at real size: a
// constituency of N ISPs (one ASN, one /24 block each, one contact each),
// Shadowserver reports with a share of their rows inside it, optionally
// abuse.ch's Feodo Tracker and ThreatFox exports (-abusech-rows), the .mmdb
// files, and a config that ingests them from spool folders and writes the
// mails to an outbox (or sends them by SMTP with -smtp host:port).
//
// With -pg DSN it also writes config-pg.yaml: the same day on PostgreSQL,
// in a schema of its own (autoreporter_mkday, emptied first), from its own
// spool folders (spool-pg, hard links to the same files) to outbox-pg.
//
//	go run ./examples/mkday -dir /tmp/day -rows 1000000 -kept 0.1 -isps 1000
//	/usr/bin/time -v ./bin/autoreporter run --once --config /tmp/day/config.yaml
//
// make bench-system runs it at a national day's size (examples/bench-system.sh).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

// options are the command line's.
type options struct {
	dir         string
	rows        int
	kept        float64
	isps        int
	reports     int
	one         bool
	smtp        string
	seed        uint64
	abusechRows int
	pg          string
}

func main() {
	dir := flag.String("dir", "var/day", "folder to write into")
	rows := flag.Int("rows", 1_000_000, "rows over all reports")
	kept := flag.Float64("kept", 0.1, "share of the rows inside the constituency")
	isps := flag.Int("isps", 1000, "ISPs in the constituency (one ASN, one contact each)")
	reports := flag.Int("reports", 10, "report files (scan types) the rows are spread over")
	one := flag.Bool("one-isp", false, "every kept row belongs to the first ISP (one big report)")
	smtp := flag.String("smtp", "", "send to this SMTP server (host:port, no TLS) instead of the outbox")
	seed := flag.Uint64("seed", 1, "random seed")
	abusech := flag.Int("abusech-rows", 0, "rows in each of two abuse.ch exports (Feodo Tracker, ThreatFox); 0: none")
	pg := flag.String("pg", "", "also write config-pg.yaml, on this PostgreSQL DSN")
	flag.Parse()
	o := options{dir: *dir, rows: *rows, kept: *kept, isps: *isps, reports: *reports, one: *one, smtp: *smtp, seed: *seed,
		abusechRows: *abusech, pg: *pg}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "mkday:", err)
		os.Exit(1)
	}
}

// The constituency's ISPs get 100.64.0.0/10's /24s (4,096 of them); the
// rest of the world is 172.16.0.0/12, in another country.
func ispNet(i int) (a, b int) { return 64 + i/256, i % 256 }

func run(o options) error {
	dir, rows, kept, isps, reports, one, seed := o.dir, o.rows, o.kept, o.isps, o.reports, o.one, o.seed
	if isps < 1 || isps > 4096 {
		return fmt.Errorf("-isps must be from 1 to 4096")
	}
	// Each feed has a spool folder of its own under spool/.
	spool := filepath.Join(dir, "spool", "shadowserver")
	if err := os.RemoveAll(filepath.Join(dir, "spool")); err != nil {
		return err
	}
	if err := os.MkdirAll(spool, 0o755); err != nil {
		return err
	}
	var nets strings.Builder
	for i := 0; i < isps; i++ {
		a, b := ispNet(i)
		fmt.Fprintf(&nets, "100.%d.%d.0/24 %d FI FI ISP %d Oy\n", a, b, 65000+i, i)
	}
	nets.WriteString("172.16.0.0/12 64999 US US Elsewhere Inc\n")
	n, err := mmdbgen.Parse(strings.NewReader(nets.String()), "mkday")
	if err != nil {
		return err
	}
	if err := mmdbgen.WriteASN(filepath.Join(dir, "asn.mmdb"), n); err != nil {
		return err
	}
	if err := mmdbgen.WriteCountry(filepath.Join(dir, "country.mmdb"), n); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, seed+1))
	day := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	types := []string{"scan_rdp", "scan_telnet", "scan_smb", "scan_vnc", "scan_ssh", "scan_ftp", "scan_mysql", "scan_redis", "scan_elasticsearch", "scan_mongodb"}
	inside := 0
	for f := 0; f < reports; f++ {
		typ := types[f%len(types)]
		if f >= len(types) {
			typ = fmt.Sprintf("%s_%d", typ, f/len(types)) // still a scan_ type
		}
		path := filepath.Join(spool, fmt.Sprintf("%s-%s-finland-geo.csv", day, typ))
		fh, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		fmt.Fprintln(w, `"timestamp","ip","port","hostname","tag","asn","geo","region","city","naics","sic","sector"`)
		per := rows / reports
		if f == reports-1 {
			per = rows - per*(reports-1)
		}
		for i := 0; i < per; i++ {
			var ip net.IP
			if r.Float64() < kept {
				isp := r.IntN(isps)
				if one {
					isp = 0
				}
				a, b := ispNet(isp)
				ip = net.IPv4(100, byte(a), byte(b), byte(1+r.IntN(254)))
				inside++
			} else {
				ip = net.IPv4(172, byte(16+r.IntN(16)), byte(r.IntN(256)), byte(1+r.IntN(254)))
			}
			ts := fmt.Sprintf("%s %02d:%02d:%02d", day, r.IntN(24), r.IntN(60), r.IntN(60))
			fmt.Fprintf(w, "\"%s\",\"%s\",%d,\"host-%d.example\",\"%s\",%d,\"XX\",\"REGION\",\"CITY\",517311,0,\"Communications\"\n",
				ts, ip, 1000+r.IntN(60000), i, strings.TrimPrefix(typ, "scan_"), 1)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	feeds := []string{"  - {name: shadowserver, format: shadowserver, source: {spool: %s/shadowserver}, repeat: 24h, max_age: 3d}\n"}
	if o.abusechRows > 0 {
		if err := abusech(dir, o.abusechRows, kept, isps, r); err != nil {
			return err
		}
		feeds = append(feeds,
			"  - {name: feodo, format: feodo, source: {spool: %s/feodo}, repeat: 24h, max_age: 3d}\n",
			"  - {name: threatfox, format: threatfox, source: {spool: %s/threatfox}, repeat: 24h, max_age: 3d}\n")
	}
	if err := writeConfig(filepath.Join(dir, "config.yaml"), "store: {driver: sqlite, dsn: state.db}\n", "spool", "outbox", feeds, o); err != nil {
		return err
	}
	if o.pg != "" {
		dsn, err := emptySchema(o.pg, "autoreporter_mkday")
		if err != nil {
			return fmt.Errorf("-pg: %w", err)
		}
		if err := linkTree(filepath.Join(dir, "spool"), filepath.Join(dir, "spool-pg")); err != nil {
			return err
		}
		if err := writeConfig(filepath.Join(dir, "config-pg.yaml"), fmt.Sprintf("store: {driver: postgres, dsn: %q}\n", dsn),
			"spool-pg", "outbox-pg", feeds, o); err != nil {
			return err
		}
	}
	fmt.Printf("mkday: %d rows in %d reports, %d inside %d ISPs; %s\n", rows, reports, inside, isps, filepath.Join(dir, "config.yaml"))
	if o.abusechRows > 0 {
		fmt.Printf("mkday: abuse.ch: %d rows each in feodo and threatfox\n", o.abusechRows)
	}
	if o.pg != "" {
		fmt.Printf("mkday: the same day on PostgreSQL: %s\n", filepath.Join(dir, "config-pg.yaml"))
	}
	return nil
}

// writeConfig writes a config for the day: the store, where the feeds'
// spool folders are, and where mails go.
func writeConfig(path, store, spool, outbox string, feeds []string, o options) error {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `cert: {name: CERT-DAY, from: autoreporter@cert.example, fallback_contact: soc@cert.example}
constituency: {countries: [FI]}
geo: {asn_db: asn.mmdb, country_db: country.mmdb}
`)
	cfg.WriteString(store)
	if o.smtp != "" {
		host, port, err := net.SplitHostPort(o.smtp)
		if err != nil {
			return fmt.Errorf("-smtp: %w", err)
		}
		fmt.Fprintf(&cfg, "mail: {mode: smtp, smtp: {host: %s, port: %s, tls: none}}\n", host, port)
	} else {
		fmt.Fprintf(&cfg, "mail: {mode: outbox, outbox: %s}\n", outbox)
	}
	cfg.WriteString("feeds:\n")
	for _, f := range feeds {
		fmt.Fprintf(&cfg, f, spool)
	}
	cfg.WriteString("contacts:\n")
	for i := 0; i < o.isps; i++ {
		fmt.Fprintf(&cfg, "  - {asn: %d, to: [abuse@isp%d.example]}\n", 65000+i, i)
	}
	return os.WriteFile(path, []byte(cfg.String()), 0o644)
}

// abusech writes a Feodo Tracker blocklist and a ThreatFox export of n rows
// each, in abuse.ch's layouts (the header a comment), with the same share
// inside the constituency as the Shadowserver reports. A tenth of
// ThreatFox's rows are domains, which its preset leaves out.
func abusech(dir string, n int, kept float64, isps int, r *rand.Rand) error {
	day := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	malware := []string{"QakBot", "Emotet", "Dridex", "TrickBot", "Pikabot"}
	addr := func() string {
		if r.Float64() < kept {
			a, b := ispNet(r.IntN(isps))
			return fmt.Sprintf("100.%d.%d.%d", a, b, 1+r.IntN(254))
		}
		return fmt.Sprintf("172.%d.%d.%d", 16+r.IntN(16), r.IntN(256), 1+r.IntN(254))
	}
	write := func(path string, fn func(w *bufio.Writer)) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		fh, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(fh, 1<<20)
		fn(w)
		if err := w.Flush(); err != nil {
			fh.Close()
			return err
		}
		return fh.Close()
	}
	err := write(filepath.Join(dir, "spool", "feodo", "ipblocklist.csv"), func(w *bufio.Writer) {
		fmt.Fprintln(w, "################################################################\n# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #\n################################################################\n#\n# \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"")
		for i := 0; i < n; i++ {
			fmt.Fprintf(w, "\"%s %02d:%02d:%02d\",\"%s\",%d,\"online\",\"%s\",\"%s\"\n",
				day, r.IntN(24), r.IntN(60), r.IntN(60), addr(), []int{443, 447, 449, 8080, 2222}[r.IntN(5)], day, malware[r.IntN(len(malware))])
		}
		fmt.Fprintln(w, "# END")
	})
	if err != nil {
		return err
	}
	return write(filepath.Join(dir, "spool", "threatfox", "full.csv"), func(w *bufio.Writer) {
		fmt.Fprintln(w, "################################################################\n# ThreatFox IOCs: CSV export                                   #\n################################################################\n#\n# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"reference\",\"tags\",\"anonymous\",\"reporter\"")
		for i := 0; i < n; i++ {
			value, typ := fmt.Sprintf("%s:%d", addr(), 1024+r.IntN(60000)), "ip:port"
			if i%10 == 9 {
				value, typ = fmt.Sprintf("c2-%d.example", i), "domain"
			}
			m := malware[r.IntN(len(malware))]
			fmt.Fprintf(w, "\"%s %02d:%02d:%02d\", \"%d\", \"%s\", \"%s\", \"botnet_cc\", \"win.%s\", \"None\", \"%s\", \"\", \"100\", \"\", \"None\", \"0\", \"abuse_ch\"\n",
				day, r.IntN(24), r.IntN(60), r.IntN(60), 1000000+i, value, typ, strings.ToLower(m), m)
		}
	})
}

// emptySchema makes an empty schema on the server dsn names (dropping one
// left by an earlier run) and returns dsn with its search_path set to it.
func emptySchema(dsn, schema string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		return "", fmt.Errorf("schema %s: %w", schema, err)
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema, nil
}

// linkTree copies the folder tree at src to dst with hard links: a second
// spool of the same files, which the store run from it moves on its own.
func linkTree(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		return os.Link(path, to)
	})
}
