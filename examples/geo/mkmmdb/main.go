// Command mkmmdb builds the demo's ASN and country .mmdb files from a
// readable network list (see examples/geo/networks.txt for the format).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/autoreporter/autoreporter/geo/mmdbgen"
)

func main() {
	src := flag.String("src", "examples/geo/networks.txt", "network list")
	asn := flag.String("asn", "examples/geo/asn.mmdb", "ASN database to write")
	country := flag.String("country", "examples/geo/country.mmdb", "country database to write")
	flag.Parse()
	n, err := mmdbgen.BuildFromFile(*src, *asn, *country)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkmmdb:", err)
		os.Exit(1)
	}
	fmt.Printf("mkmmdb: %d networks from %s -> %s, %s\n", n, *src, *asn, *country)
}
