package reporter

import "testing"

func TestRejectClass(t *testing.T) {
	tests := []struct{ in, want string }{
		{`ip: not an IP address: "10.0.0.x"`, "ip: not an IP address"},
		{`ip: not an IP address: "a\"b"`, "ip: not an IP address"},
		{`timestamp: timestamp "yesterday" is in no known format`, "timestamp: timestamp is in no known format"},
		{`port "99999" is not a number from 0 to 65535`, "port is not a number from 0 to 65535"},
		{"record longer than 4 MiB", "record longer than 4 MiB"},
		{`"only a value"`, "unreadable"},
		{"", "unreadable"},
	}
	for _, tt := range tests {
		if got := RejectClass(tt.in); got != tt.want {
			t.Errorf("RejectClass(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if a, b := RejectClass(`ip: not an IP address: "1"`), RejectClass(`ip: not an IP address: "2"`); a != b {
		t.Errorf("two values of one reason: %q != %q", a, b)
	}
}
