package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

// PendingContacts implements reporter.Store. Uses events_held.
func (s *Store) PendingContacts(ctx context.Context, limit int) ([]reporter.PendingContact, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT ip, max(asn), count(*), min(ingested) FROM events
		WHERE state = 'new' AND hold_reason = $1
		GROUP BY ip_bytes ORDER BY min(ingested), ip_bytes LIMIT $2`, reporter.WaitingContact.String(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.PendingContact
	for rows.Next() {
		var (
			p        reporter.PendingContact
			ip       string
			asn, ing int64
		)
		if err := rows.Scan(&ip, &asn, &p.Events, &ing); err != nil {
			return nil, err
		}
		if p.IP, err = netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("pending contact: address %q: %w", ip, err)
		}
		p.ASN, p.Since = uint32(asn), fromUS(ing)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Held implements reporter.Store. Uses events_held.
func (s *Store) Held(ctx context.Context) ([]reporter.HeldCount, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT feed, hold_reason, count(*), min(ingested) FROM events
		WHERE state = 'new' AND hold_reason <> ''
		GROUP BY feed, hold_reason ORDER BY feed, hold_reason`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reporter.HeldCount
	for rows.Next() {
		var h reporter.HeldCount
		var ing int64
		if err := rows.Scan(&h.Feed, &h.Reason, &h.Events, &ing); err != nil {
			return nil, err
		}
		h.Oldest = fromUS(ing)
		out = append(out, h)
	}
	return out, rows.Err()
}

// Overrides implements reporter.Store.
func (s *Store) Overrides(ctx context.Context) ([]abuse.Override, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT cidr, asn, addrs, language, format, inhibit, until, note, set_by, set_at, names, max_events, sign
		FROM contact_overrides ORDER BY rule`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abuse.Override
	for rows.Next() {
		var (
			o                abuse.Override
			cidr, addrs, nms string
			asn, until, at   int64
		)
		if err := rows.Scan(&cidr, &asn, &addrs, &o.Language, &o.Format, &o.Inhibit, &until, &o.Note, &o.By, &at,
			&nms, &o.MaxEvents, &o.Sign); err != nil {
			return nil, err
		}
		if nms != "" {
			if err := json.Unmarshal([]byte(nms), &o.Names); err != nil {
				return nil, fmt.Errorf("override %s%d: names: %w", cidr, asn, err)
			}
		}
		if cidr != "" {
			if o.CIDR, err = netip.ParsePrefix(cidr); err != nil {
				return nil, fmt.Errorf("override %q: %w", cidr, err)
			}
		}
		o.ASN, o.Until, o.Set, o.Origin = uint32(asn), fromUS(until), fromUS(at), "store"
		if addrs != "" {
			o.To = strings.Split(addrs, ",")
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SetOverride implements reporter.Store.
func (s *Store) SetOverride(ctx context.Context, o abuse.Override) error {
	nms := ""
	if len(o.Names) > 0 {
		b, err := json.Marshal(o.Names) // a map of strings: no error
		if err != nil {
			return fmt.Errorf("set override %s: names: %w", o.Key(), err)
		}
		nms = string(b)
	}
	cidr := ""
	if o.CIDR.IsValid() {
		cidr = o.CIDR.Masked().String()
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO contact_overrides (rule, cidr, asn, addrs, language, format, inhibit, until, note, set_by, set_at, names, max_events, sign)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (rule) DO UPDATE SET cidr = excluded.cidr, asn = excluded.asn, addrs = excluded.addrs,
			language = excluded.language, format = excluded.format, inhibit = excluded.inhibit,
			until = excluded.until, note = excluded.note, set_by = excluded.set_by, set_at = excluded.set_at,
			names = excluded.names, max_events = excluded.max_events, sign = excluded.sign`,
		o.Key(), cidr, int64(o.ASN), strings.Join(o.To, ","), o.Language, o.Format, o.Inhibit, us(o.Until), o.Note, o.By, us(o.Set),
		nms, o.MaxEvents, o.Sign)
	if err != nil {
		return fmt.Errorf("set override %s: %w", o.Key(), err)
	}
	return nil
}

// UnsetOverride implements reporter.Store.
func (s *Store) UnsetOverride(ctx context.Context, rule string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM contact_overrides WHERE rule = $1`, rule)
	if err != nil {
		return false, fmt.Errorf("unset override %s: %w", rule, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// RDAPCache implements reporter.Store.
func (s *Store) RDAPCache(ctx context.Context) ([]abuse.RDAPEntry, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT first, last, handle, entity, addrs, server, fetched, expires FROM rdap_cache ORDER BY first_ip, last_ip`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []abuse.RDAPEntry
	for rows.Next() {
		var (
			e                  abuse.RDAPEntry
			first, last, addrs string
			fetched, expires   int64
		)
		if err := rows.Scan(&first, &last, &e.Handle, &e.Entity, &addrs, &e.Server, &fetched, &expires); err != nil {
			return nil, err
		}
		if e.First, err = netip.ParseAddr(first); err != nil {
			return nil, fmt.Errorf("rdap cache: %q: %w", first, err)
		}
		if e.Last, err = netip.ParseAddr(last); err != nil {
			return nil, fmt.Errorf("rdap cache: %q: %w", last, err)
		}
		if addrs != "" {
			e.To = strings.Split(addrs, ",")
		}
		e.Fetched, e.Expires = fromUS(fetched), fromUS(expires)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PutRDAP implements reporter.Store.
func (s *Store) PutRDAP(ctx context.Context, e abuse.RDAPEntry) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO rdap_cache (first_ip, last_ip, first, last, handle, entity, addrs, server, fetched, expires)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (first_ip, last_ip) DO UPDATE SET handle = excluded.handle, entity = excluded.entity,
			addrs = excluded.addrs, server = excluded.server, fetched = excluded.fetched, expires = excluded.expires`,
		ipBytes(e.First), ipBytes(e.Last), e.First.Unmap().String(), e.Last.Unmap().String(), e.Handle, e.Entity,
		strings.Join(e.To, ","), e.Server, us(e.Fetched), us(e.Expires))
	if err != nil {
		return fmt.Errorf("rdap cache %s-%s: %w", e.First, e.Last, err)
	}
	return nil
}
