package mail

import (
	"context"
	"fmt"
	"io/fs"
	netmail "net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/autoreporter/autoreporter/reporter"
	"github.com/autoreporter/autoreporter/reporter/mail/sign"
)

// Transport delivers a built message.
type Transport interface {
	// Deliver sends msg (name tells it apart from the report's other
	// parts). It returns the recipients refused for good, with the
	// relay's answer, when the others took it.
	Deliver(ctx context.Context, name string, msg *Message) (refused []string, err error)
}

// Mailer is a reporter.Mailer: build, then deliver.
type Mailer struct {
	Builder   *Builder
	Transport Transport
	// Limits gives a report's size limits (mail.max_size, the contact's
	// max_events); nil sends every report whole.
	Limits func(rep reporter.Report) Limits
	// Signer signs each mail as Method says for its contact, after it is
	// built and before it leaves; nil signs nothing.
	Signer *sign.Signer
	Method func(rep reporter.Report) sign.Method
}

// signError is a mail that cannot be signed: the same mail fails the same
// way, so it is not tried again.
type signError struct{ err error }

func (e *signError) Error() string   { return e.err.Error() }
func (e *signError) Unwrap() error   { return e.err }
func (e *signError) Permanent() bool { return true }

var _ reporter.Mailer = (*Mailer)(nil)

// sizeLimiter is a transport that knows the largest mail its server takes
// (SMTP's SIZE); 0 when it does not say.
type sizeLimiter interface {
	MaxSize(ctx context.Context) (int64, error)
}

// Send implements reporter.Mailer: a report too large for one mail goes
// out in parts, each a whole mail under one ref and one thread; parts that
// left before (rep.PartsSent) are not sent again. The events are read
// twice, a page at a time: once to cut the parts and sum up the subject,
// once to build and send each part; only one part is held at a time.
func (m *Mailer) Send(ctx context.Context, rep reporter.Report, events reporter.EventReader, sent func(part, parts int) error) (reporter.Sent, error) {
	var out reporter.Sent
	var lim Limits
	if m.Limits != nil {
		lim = m.Limits(rep)
	}
	if sl, ok := m.Transport.(sizeLimiter); ok {
		n, err := sl.MaxSize(ctx)
		if err != nil {
			return out, err
		}
		if n > 0 && (lim.MaxBytes <= 0 || n < lim.MaxBytes) {
			lim.MaxBytes = n
		}
	}
	sp := m.Builder.newSplitter(lim, rep.Contact.Format)
	var sum Summary
	if err := events(func(page []reporter.Event) error {
		for i := range page {
			sp.add(&page[i])
			sum.Add(&page[i])
		}
		return nil
	}); err != nil {
		return out, err
	}
	subject := sum.Subject(rep)
	out.Subject = subject
	sizes := sp.sizes()
	p := Part{N: 1, Of: len(sizes), Total: sum.total, Subject: subject}
	var buf []reporter.Event
	send := func() error {
		defer func() { buf, p.N = buf[:0], p.N+1 }()
		if p.N <= rep.PartsSent {
			return nil
		}
		msg, err := m.Builder.BuildPart(rep, buf, p)
		if err != nil {
			return err
		}
		if m.Signer != nil && m.Method != nil {
			// Signed at the report's creation time: a resend is the same
			// bytes.
			if msg.Raw, err = m.Signer.Sign(msg.Raw, m.Method(rep), rep.Created); err != nil {
				return &signError{fmt.Errorf("report %s: sign: %w", rep.Ref, err)}
			}
		}
		if lim.MaxBytes > 0 && int64(len(msg.Raw)) > lim.MaxBytes && len(buf) > 1 {
			return fmt.Errorf("report %s: part %d is %d bytes, over the limit of %d (please report this)", rep.Ref, p.N, len(msg.Raw), lim.MaxBytes)
		}
		name := rep.Ref
		if p.Of > 1 {
			name = fmt.Sprintf("%s-part%d", rep.Ref, p.N)
		}
		refused, err := m.Transport.Deliver(ctx, name, msg)
		if err != nil {
			return err
		}
		for _, r := range refused {
			if !slices.Contains(out.Refused, r) {
				out.Refused = append(out.Refused, r)
			}
		}
		if p.Of > 1 && sent != nil {
			if err := sent(p.N, p.Of); err != nil {
				return fmt.Errorf("report %s: part %d sent, but not recorded: %w", rep.Ref, p.N, err)
			}
		}
		return nil
	}
	n := 0 // events of the current part read so far
	err := events(func(page []reporter.Event) error {
		for i := range page {
			// Parts sent before are counted through, not held.
			if p.N > rep.PartsSent {
				buf = append(buf, page[i])
			}
			if n++; p.N <= len(sizes) && n == sizes[p.N-1] {
				if err := send(); err != nil {
					return err
				}
				n = 0
			}
		}
		return nil
	})
	if err == nil && n > 0 {
		err = send() // the report lost events between the two reads
	}
	return out, err
}

// Outbox writes each mail as an .eml file into a folder, for a first run,
// for review before going live, or for another program to send.
type Outbox struct {
	Dir string
	// Mode is the permission of each file; zero is DefaultOutboxMode. The
	// program that sends them often runs as another user of the group.
	Mode fs.FileMode
}

// path is where msg goes: REF.eml, unless that holds another mail (another
// Message-ID), then REF.2.eml, REF.3.eml, ...
func (o *Outbox) path(ref string, msg *Message) (string, error) {
	base := strings.TrimSuffix(FileName(ref), ".eml")
	for n := 1; ; n++ {
		name := base + ".eml"
		if n > 1 {
			name = fmt.Sprintf("%s.%d.eml", base, n)
		}
		path := filepath.Join(o.Dir, name)
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			return path, nil
		}
		if err != nil {
			return "", fmt.Errorf("outbox %s: %w", path, err)
		}
		m, err := netmail.ReadMessage(f)
		id := ""
		if err == nil {
			id = m.Header.Get("Message-Id")
		}
		f.Close()
		if id == msg.MessageID {
			return path, nil // the same mail again: replaced by the same bytes
		}
	}
}

// DefaultOutboxMode lets the owner write and the group read an outbox file.
const DefaultOutboxMode fs.FileMode = 0o640

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileName is the outbox file of a report ref.
func FileName(ref string) string { return unsafeName.ReplaceAllString(ref, "_") + ".eml" }

// Deliver implements Transport. The file appears whole or not at all (write
// then rename); a resend of the same report replaces it with the same bytes,
// and another mail that has the same ref (another store's, or one started
// anew) is written beside it, never over it.
func (o *Outbox) Deliver(ctx context.Context, ref string, msg *Message) ([]string, error) {
	return nil, o.write(ref, msg)
}

func (o *Outbox) write(ref string, msg *Message) error {
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	path, err := o.path(ref, msg)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(o.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if _, err := tmp.Write(msg.Raw); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; the mode is set before the rename so
	// that the file never appears under its name unreadable to the relay.
	// Chmod is not subject to the umask.
	mode := o.Mode
	if mode == 0 {
		mode = DefaultOutboxMode
	}
	if err := tmp.Chmod(mode.Perm()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("outbox %s: %w", path, err)
	}
	return nil
}
