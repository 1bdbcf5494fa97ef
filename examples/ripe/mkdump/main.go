// Command mkdump writes RIPE-style split dumps of a given size, for
// measuring the import (`autoreporter contacts import ripe DIR`) at the
// scale of the real database without downloading it. The objects have the
// shapes of the real dumps: roles with dummified personal data and real-
// shaped abuse-mailbox lines, organisations with abuse-c, allocations with
// abuse-c and assignments below them that mostly inherit.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

func main() {
	objects := flag.Int("objects", 5_000_000, "objects in all dumps together")
	out := flag.String("out", "ripe-dumps", "folder to write ripe.db.*.gz into")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	n := *objects
	roles, orgs, autnums := n/50, n/50, n/50
	inet6 := n / 10
	inet4 := n - roles - orgs - autnums - inet6
	write(*out, "role", func(w *bufio.Writer) {
		for i := 0; i < roles; i++ {
			fmt.Fprintf(w, "role:           Abuse team %d\naddress:        Dummy address for AR%d-RIPE\nphone:          +0 000 000 000\n"+
				"e-mail:         unread@ripe.net\nabuse-mailbox:  \"Abuse %d\" <abuse@isp%d.example>, noc@isp%d.example\n"+
				"nic-hdl:        AR%d-RIPE\nmnt-by:         ISP%d-MNT\ncreated:        2010-01-01T00:00:00Z\n"+
				"last-modified:  2026-01-01T00:00:00Z\nsource:         RIPE # Filtered\n\n", i, i, i, i, i, i, i)
		}
	})
	write(*out, "organisation", func(w *bufio.Writer) {
		for i := 0; i < orgs; i++ {
			fmt.Fprintf(w, "organisation:   ORG-I%d-RIPE\norg-name:       ISP %d\norg-type:       LIR\naddress:        Dummy address for ORG-I%d-RIPE\n"+
				"abuse-c:        AR%d-RIPE\nmnt-ref:        ISP%d-MNT\nmnt-by:         RIPE-NCC-HM-MNT\nsource:         RIPE # Filtered\n\n", i, i, i, i%roles, i)
		}
	})
	write(*out, "aut-num", func(w *bufio.Writer) {
		for i := 0; i < autnums; i++ {
			fmt.Fprintf(w, "aut-num:        AS%d\nas-name:        ISP-%d\norg:            ORG-I%d-RIPE\nimport:         from AS1 accept ANY\n"+
				"export:         to AS1 announce AS%d\nsource:         RIPE\n\n", 64512+i, i, i%orgs, 64512+i)
		}
	})
	// IPv4: one allocation (/16, with abuse-c) per 256 assignments (/24),
	// of which one in ten has an org of its own and the rest inherit.
	write(*out, "inetnum", func(w *bufio.Writer) {
		for i := 0; i < inet4; i++ {
			block := i / 257
			a, b := 1+block/256, block%256
			if i%257 == 0 {
				fmt.Fprintf(w, "inetnum:        %d.%d.0.0 - %d.%d.255.255\nnetname:        ISP-%d\ncountry:        FI\norg:            ORG-I%d-RIPE\n"+
					"abuse-c:        AR%d-RIPE\nstatus:         ALLOCATED PA\nmnt-by:         RIPE-NCC-HM-MNT\nsource:         RIPE\n\n", a, b, a, b, block, block%orgs, block%roles)
				continue
			}
			c := i%257 - 1
			fmt.Fprintf(w, "inetnum:        %d.%d.%d.0 - %d.%d.%d.255\nnetname:        CUSTOMER-%d\ndescr:          Customer %d\n"+
				"                of ISP %d\ncountry:        FI\n", a, b, c, a, b, c, i, i, block)
			if i%10 == 0 {
				fmt.Fprintf(w, "org:            ORG-I%d-RIPE\n", (i/10)%orgs)
			}
			fmt.Fprintf(w, "status:         ASSIGNED PA\nmnt-by:         ISP%d-MNT\nsource:         RIPE\n\n", block)
		}
	})
	write(*out, "inet6num", func(w *bufio.Writer) {
		for i := 0; i < inet6; i++ {
			fmt.Fprintf(w, "inet6num:       2001:db8:%x:%x::/64\nnetname:        V6-%d\ncountry:        FI\n", i>>16, i&0xffff, i)
			if i%3 == 0 {
				fmt.Fprintf(w, "abuse-c:        AR%d-RIPE\n", i%roles)
			}
			fmt.Fprintf(w, "status:         ASSIGNED\nsource:         RIPE\n\n")
		}
	})
	fmt.Printf("%d objects: %d roles, %d organisations, %d aut-nums, %d inetnums, %d inet6nums in %s\n",
		n, roles, orgs, autnums, inet4, inet6, *out)
}

func write(dir, kind string, fill func(*bufio.Writer)) {
	path := filepath.Join(dir, "ripe.db."+kind+".gz")
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	w := bufio.NewWriterSize(zw, 1<<20)
	fmt.Fprintf(w, "%% This is a generated RIPE Database dump for testing.\n%% Personal data has been dummified.\n\n")
	fill(w)
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
