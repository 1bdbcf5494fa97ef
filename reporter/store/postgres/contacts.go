package postgres

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/autoreporter/autoreporter/abuse"
	"github.com/autoreporter/autoreporter/reporter"
)

// PendingContacts implements reporter.Store: the addresses whose events
// wait for RDAP, oldest first. Uses events_held.
func (s *Store) PendingContacts(ctx context.Context, n int) ([]reporter.PendingContact, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT ip, max(asn), count(*), min(ingested) FROM events
		WHERE state = 'new' AND hold_reason = $1
		GROUP BY ip ORDER BY min(ingested), ip LIMIT $2`, reporter.WaitingContact.String(), limit(n))
	if err != nil {
		return nil, fmt.Errorf("pending contacts: %w", err)
	}
	defer rows.Close()
	var out []reporter.PendingContact
	for rows.Next() {
		var p reporter.PendingContact
		var asn int64
		if err := rows.Scan(&p.IP, &asn, &p.Events, at(&p.Since)); err != nil {
			return nil, fmt.Errorf("pending contacts: %w", err)
		}
		p.ASN = uint32(asn)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending contacts: %w", err)
	}
	return out, nil
}

// Held implements reporter.Store. Uses events_held.
func (s *Store) Held(ctx context.Context) ([]reporter.HeldCount, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT feed, hold_reason, count(*), min(ingested) FROM events
		WHERE state = 'new' AND hold_reason <> ''
		GROUP BY feed, hold_reason ORDER BY feed COLLATE "C", hold_reason COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("held events: %w", err)
	}
	defer rows.Close()
	var out []reporter.HeldCount
	for rows.Next() {
		var h reporter.HeldCount
		if err := rows.Scan(&h.Feed, &h.Reason, &h.Events, at(&h.Oldest)); err != nil {
			return nil, fmt.Errorf("held events: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("held events: %w", err)
	}
	return out, nil
}

// Overrides implements reporter.Store, ordered by rule.
func (s *Store) Overrides(ctx context.Context) ([]abuse.Override, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT cidr, asn, addrs, language, format, inhibit, until, note, set_by, set_at, names, max_events, sign
		FROM contact_overrides ORDER BY rule COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("overrides: %w", err)
	}
	defer rows.Close()
	var out []abuse.Override
	for rows.Next() {
		var o abuse.Override
		var asn pgtype.Int8
		if err := rows.Scan(&o.CIDR, &asn, &o.To, &o.Language, &o.Format, &o.Inhibit, at(&o.Until), &o.Note, &o.By,
			at(&o.Set), &o.Names, &o.MaxEvents, &o.Sign); err != nil {
			return nil, fmt.Errorf("overrides: %w", err)
		}
		if len(o.Names) == 0 {
			o.Names = nil
		}
		o.ASN, o.To, o.Origin = uint32(asn.Int64), addrs(o.To), "store"
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("overrides: %w", err)
	}
	return out, nil
}

// SetOverride implements reporter.Store: the override replaces the one for
// its rule.
func (s *Store) SetOverride(ctx context.Context, o abuse.Override) error {
	names := map[string]string{} // NOT NULL: {} when none
	for a, n := range o.Names {
		names[text(a)] = text(n)
	}
	var cidr netip.Prefix // NULL unless the rule is by CIDR
	var asn pgtype.Int8   // NULL unless the rule is by ASN
	if o.CIDR.IsValid() {
		cidr = o.CIDR.Masked()
	} else {
		asn = pgtype.Int8{Int64: int64(o.ASN), Valid: true}
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO contact_overrides (rule, cidr, asn, addrs, language, format, inhibit, until, note, set_by, set_at, names, max_events, sign)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (rule) DO UPDATE SET cidr = excluded.cidr, asn = excluded.asn, addrs = excluded.addrs,
			language = excluded.language, format = excluded.format, inhibit = excluded.inhibit,
			until = excluded.until, note = excluded.note, set_by = excluded.set_by, set_at = excluded.set_at,
			names = excluded.names, max_events = excluded.max_events, sign = excluded.sign`,
		o.Key(), cidr, asn, texts(o.To), text(o.Language), text(o.Format), o.Inhibit, maybe(o.Until), text(o.Note),
		text(o.By), maybe(o.Set), names, o.MaxEvents, text(o.Sign))
	if err != nil {
		return fmt.Errorf("set override %s: %w", o.Key(), err)
	}
	return nil
}

// UnsetOverride implements reporter.Store.
func (s *Store) UnsetOverride(ctx context.Context, rule string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM contact_overrides WHERE rule = $1`, text(rule))
	if err != nil {
		return false, fmt.Errorf("unset override %s: %w", rule, err)
	}
	return tag.RowsAffected() > 0, nil
}

// RDAPCache implements reporter.Store: every cached answer, expired ones
// included, IPv4 networks first.
func (s *Store) RDAPCache(ctx context.Context) ([]abuse.RDAPEntry, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT first_ip, last_ip, handle, entity, addrs, server, fetched, expires FROM rdap_cache ORDER BY first_ip, last_ip`)
	if err != nil {
		return nil, fmt.Errorf("rdap cache: %w", err)
	}
	defer rows.Close()
	var out []abuse.RDAPEntry
	for rows.Next() {
		var e abuse.RDAPEntry
		if err := rows.Scan(&e.First, &e.Last, &e.Handle, &e.Entity, &e.To, &e.Server, at(&e.Fetched), at(&e.Expires)); err != nil {
			return nil, fmt.Errorf("rdap cache: %w", err)
		}
		e.To = addrs(e.To)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rdap cache: %w", err)
	}
	return out, nil
}

// PutRDAP implements reporter.Store: the answer replaces the one for its
// network.
func (s *Store) PutRDAP(ctx context.Context, e abuse.RDAPEntry) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO rdap_cache (first_ip, last_ip, handle, entity, addrs, server, fetched, expires)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (first_ip, last_ip) DO UPDATE SET handle = excluded.handle, entity = excluded.entity,
			addrs = excluded.addrs, server = excluded.server, fetched = excluded.fetched, expires = excluded.expires`,
		e.First.Unmap(), e.Last.Unmap(), text(e.Handle), text(e.Entity), texts(e.To), text(e.Server), maybe(e.Fetched),
		maybe(e.Expires))
	if err != nil {
		return fmt.Errorf("rdap cache %s-%s: %w", e.First, e.Last, err)
	}
	return nil
}
