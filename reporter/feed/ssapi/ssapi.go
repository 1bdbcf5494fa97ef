// Package ssapi talks to the Shadowserver Reports API: reports/list, signed
// with the HMAC2 header, names the reports of a date window, and each listed
// report is downloaded by its id. Which reports were already fetched is the
// caller's bookkeeping (the store), so that each is downloaded once.
package ssapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/autoreporter/autoreporter/reporter/feed/httpsrc"
)

// Defaults of the public service.
const (
	DefaultAPI      = "https://transform.shadowserver.org/api2/"
	DefaultDownload = "https://dl.shadowserver.org/"
)

// Client lists and downloads reports.
type Client struct {
	API      string // base URL of the API, ending in /
	Download string // base URL of downloads by id, ending in /
	Key      string
	Secret   string
	// Reports narrows the list to these report (mailing list) names, Types
	// to these report types; empty lists all the key may see.
	Reports []string
	Types   []string
	// HTTP is the template for every request: timeouts, retries, caps,
	// client and user agent. Its URL, Method and Body are set per request.
	HTTP httpsrc.Source
}

// Listed is one report named by reports/list.
type Listed struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Report    string `json:"report"`
	Timestamp string `json:"timestamp"`
	File      string `json:"file"`
	URL       string `json:"url"`
}

// Name is the file name to parse the report under: the listed file name,
// which carries the report type, reduced to a base name because it comes
// from the network.
func (l Listed) Name() string {
	if b := path.Base(strings.ReplaceAll(l.File, `\`, "/")); b != "." && b != "/" && b != "" {
		return b
	}
	// Without a file name the type still decides the parser.
	return l.Timestamp + "-" + l.Type + ".csv"
}

// Sign is the HMAC2 header: the hex HMAC-SHA256 of the request body under
// the API secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// maxList caps the answer of reports/list; a day of a national CERT's
// reports is a few hundred entries of about 200 bytes.
const maxList = 16 << 20

// List names the reports dated from..to (whole days, UTC).
func (c *Client) List(ctx context.Context, from, to time.Time) ([]Listed, error) {
	req := map[string]any{
		"apikey": c.Key,
		"date":   from.UTC().Format(time.DateOnly) + ":" + to.UTC().Format(time.DateOnly),
	}
	if len(c.Reports) > 0 {
		req["reports"] = c.Reports
	}
	if len(c.Types) == 1 {
		req["type"] = c.Types[0]
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	src := c.HTTP
	src.URL, src.Method, src.Body = strings.TrimSuffix(c.API, "/")+"/reports/list", "POST", body
	src.Headers = map[string]string{"HMAC2": Sign(c.Secret, body), "Content-Type": "application/json"}
	src.MaxBytes = maxList
	res, err := src.Fetch(ctx, httpsrc.State{})
	if err != nil {
		return nil, fmt.Errorf("reports/list: %w", err)
	}
	if res.NotModified || res.Body == nil {
		return nil, errors.New("reports/list: empty answer")
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("reports/list: %w", err)
	}
	return c.ParseList(raw)
}

// ParseList reads the answer of reports/list.
func (c *Client) ParseList(raw []byte) ([]Listed, error) {
	var list []Listed
	if err := json.Unmarshal(raw, &list); err != nil {
		// The API answers a bad key or a bad signature with an object
		// holding an error message.
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &e) == nil && (e.Error != "" || e.Message != "") {
			return nil, fmt.Errorf("reports/list: the API said: %s", clip(e.Error+e.Message, 200))
		}
		return nil, fmt.Errorf("reports/list: not a list of reports: %w", err)
	}
	out := list[:0]
	for _, l := range list {
		if l.ID == "" {
			continue
		}
		if len(c.Types) > 1 && !slices.Contains(c.Types, l.Type) {
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// Fetch downloads one listed report; the body is unpacked and capped as
// any HTTP feed is.
func (c *Client) Fetch(ctx context.Context, l Listed) (*httpsrc.Result, error) {
	src := c.HTTP
	src.URL, src.Method, src.Body = strings.TrimSuffix(c.Download, "/")+"/"+url.PathEscape(l.ID), "", nil
	src.Headers, src.Query = nil, nil
	res, err := src.Fetch(ctx, httpsrc.State{})
	if err != nil {
		return nil, fmt.Errorf("report %s (%s): %w", l.ID, l.Name(), err)
	}
	if res.Body == nil {
		return nil, fmt.Errorf("report %s (%s): empty answer", l.ID, l.Name())
	}
	res.Name = strings.TrimSuffix(l.Name(), ".gz")
	return res, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
