package sign

import (
	"bufio"
	"bytes"
	"flag"
	"mime"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// t0 is the report's creation time in the fixtures.
var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// needTool finds a tool that verifies from outside, or skips the test
// with how to install it. Under CI=true a missing tool fails: CI must
// never pass by skipping.
func needTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " not found: install it (apt-get install " + debianPackage + ") to verify signatures with a real tool"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// fixture reads a message that reporter/mail built (testdata/report.eml:
// multipart/mixed with a quoted-printable Finnish text and a base64 CSV;
// testdata/report-inline.eml: one text/plain part with the CSV inline).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readTestdata(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdata(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reporter/mail/sign -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update after checking):\n%s", path, got)
	}
}

// assertCRLF fails on a bare CR or LF: the transport sends the bytes as
// they are.
func assertCRLF(t *testing.T, b []byte) {
	t.Helper()
	for i, c := range b {
		if (c == '\n' && (i == 0 || b[i-1] != '\r')) || (c == '\r' && (i+1 == len(b) || b[i+1] != '\n')) {
			t.Fatalf("bare CR or LF at byte %d: %q", i, b[max(0, i-20):min(len(b), i+20)])
		}
	}
}

// readHeader reads a header with the standard library, independently of
// the package's own parser, and returns it with the body.
func readHeader(t *testing.T, b []byte) (textproto.MIMEHeader, []byte) {
	t.Helper()
	src := bytes.NewReader(b)
	r := bufio.NewReader(src)
	h, err := textproto.NewReader(r).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("read header: %v", err)
	}
	unread := src.Len() + r.Buffered()
	return h, b[len(b)-unread:]
}

// signedParts takes a multipart/signed message apart the way RFC 3156
// section 5 and RFC 8551 section 3.5 tell a verifier to: the first part is
// every byte between the first delimiter line and the CRLF before the
// next one; the second is the signature.
func signedParts(t *testing.T, msg []byte, protocol string) (h textproto.MIMEHeader, signed, sigPart []byte) {
	t.Helper()
	h, body := readHeader(t, msg)
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/signed" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	if params["protocol"] != protocol {
		t.Fatalf("protocol %q, want %q", params["protocol"], protocol)
	}
	delim := "--" + params["boundary"]
	start := bytes.Index(body, []byte(delim+"\r\n"))
	if start < 0 || (start > 0 && body[start-1] != '\n') {
		t.Fatalf("no first delimiter %q in body", delim)
	}
	rest := body[start+len(delim)+2:]
	end := bytes.Index(rest, []byte("\r\n"+delim+"\r\n"))
	if end < 0 {
		t.Fatalf("no second delimiter %q", delim)
	}
	signed = rest[:end]
	rest = rest[end+len(delim)+4:]
	end = bytes.Index(rest, []byte("\r\n"+delim+"--"))
	if end < 0 {
		t.Fatalf("no close delimiter %q--", delim)
	}
	return h, signed, rest[:end]
}

// sameFields checks that every header field of raw that is not Content-*
// is in signed, with the same value.
func sameFields(t *testing.T, raw, signed []byte) {
	t.Helper()
	orig, _ := readHeader(t, raw)
	got, _ := readHeader(t, signed)
	for k, v := range orig {
		if strings.HasPrefix(k, "Content-") {
			continue
		}
		if strings.Join(got[k], "\n") != strings.Join(v, "\n") {
			t.Errorf("header %s: %q, want %q", k, got[k], v)
		}
	}
}
