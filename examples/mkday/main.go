// Command mkday writes a national day to try autoreporter at real size: a
// constituency of N ISPs (one ASN, one /24 block each, one contact each),
// Shadowserver reports with a share of their rows inside it, the .mmdb
// files, and a config that ingests them from a spool folder and writes the
// mails to an outbox (or sends them by SMTP with -smtp host:port).
//
//	go run ./examples/mkday -dir /tmp/day -rows 1000000 -kept 0.1 -isps 1000
//	/usr/bin/time -v ./bin/autoreporter run --once --config /tmp/day/config.yaml
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

func main() {
	dir := flag.String("dir", "var/day", "folder to write into")
	rows := flag.Int("rows", 1_000_000, "rows over all reports")
	kept := flag.Float64("kept", 0.1, "share of the rows inside the constituency")
	isps := flag.Int("isps", 1000, "ISPs in the constituency (one ASN, one contact each)")
	reports := flag.Int("reports", 10, "report files (scan types) the rows are spread over")
	one := flag.Bool("one-isp", false, "every kept row belongs to the first ISP (one big report)")
	smtp := flag.String("smtp", "", "send to this SMTP server (host:port, no TLS) instead of the outbox")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*dir, *rows, *kept, *isps, *reports, *one, *smtp, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "mkday:", err)
		os.Exit(1)
	}
}

// The constituency's ISPs get 100.64.0.0/10's /24s (4,096 of them); the
// rest of the world is 172.16.0.0/12, in another country.
func ispNet(i int) (a, b int) { return 64 + i/256, i % 256 }

func run(dir string, rows int, kept float64, isps, reports int, one bool, smtp string, seed uint64) error {
	if isps < 1 || isps > 4096 {
		return fmt.Errorf("-isps must be from 1 to 4096")
	}
	spool := filepath.Join(dir, "spool")
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
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `cert: {name: CERT-DAY, from: autoreporter@cert.example, fallback_contact: soc@cert.example}
constituency: {countries: [FI]}
geo: {asn_db: asn.mmdb, country_db: country.mmdb}
store: {driver: sqlite, dsn: state.db}
`)
	if smtp != "" {
		host, port, err := net.SplitHostPort(smtp)
		if err != nil {
			return fmt.Errorf("-smtp: %w", err)
		}
		fmt.Fprintf(&cfg, "mail: {mode: smtp, smtp: {host: %s, port: %s, tls: none}}\n", host, port)
	} else {
		fmt.Fprintf(&cfg, "mail: {mode: outbox, outbox: outbox}\n")
	}
	fmt.Fprintf(&cfg, "feeds:\n  - {name: shadowserver, format: shadowserver, source: {spool: spool}, repeat: 24h, max_age: 3d}\ncontacts:\n")
	for i := 0; i < isps; i++ {
		fmt.Fprintf(&cfg, "  - {asn: %d, to: [abuse@isp%d.example]}\n", 65000+i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("mkday: %d rows in %d reports, %d inside %d ISPs; %s\n", rows, reports, inside, isps, filepath.Join(dir, "config.yaml"))
	return nil
}
