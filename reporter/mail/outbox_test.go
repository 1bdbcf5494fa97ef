package mail

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A relay that picks the files up as another user of the group must be
// able to read them: os.CreateTemp alone makes them 0600.
func TestOutboxFileMode(t *testing.T) {
	tests := []struct {
		name string
		mode fs.FileMode
		want fs.FileMode
	}{
		{"default", 0, 0o640},
		{"group and others read", 0o644, 0o644},
		{"owner only", 0o600, 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := &Outbox{Dir: dir, Mode: tt.mode}
			if _, err := o.Deliver(context.Background(), "CERT-XX#20261123-0001", &Message{Raw: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(dir, FileName("CERT-XX#20261123-0001")))
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != tt.want {
				t.Errorf("mode %04o, want %04o", got, tt.want)
			}
		})
	}
}

// A resend replaces the file with the same mode: the rename carries the
// new file's, not the old one's.
func TestOutboxResendKeepsMode(t *testing.T) {
	dir := t.TempDir()
	o := &Outbox{Dir: dir, Mode: 0o644}
	for i := 0; i < 2; i++ {
		if _, err := o.Deliver(context.Background(), "r", &Message{Raw: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(filepath.Join(dir, FileName("r")))
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("%v %v", st.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// Another mail with a ref already in the outbox (another store's, or one
// started anew) goes beside it, never over it; the same mail again
// replaces its own file.
func TestOutboxKeepsAnotherMailWithTheSameRef(t *testing.T) {
	dir := t.TempDir()
	o := &Outbox{Dir: dir}
	mail := func(id string) *Message {
		return &Message{MessageID: id, Raw: []byte("Message-ID: " + id + "\r\nSubject: x\r\n\r\nbody " + id + "\r\n")}
	}
	for _, m := range []*Message{mail("<a@x>"), mail("<b@x>"), mail("<a@x>"), mail("<b@x>")} {
		if _, err := o.Deliver(context.Background(), "CERT#20261123-0001", m); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{"CERT_20261123-0001.eml": "body <a@x>", "CERT_20261123-0001.2.eml": "body <b@x>"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v %q", name, err, b)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("%d files, want 2", len(ents))
	}
}
