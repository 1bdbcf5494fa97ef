package flow

import (
	"strings"
	"testing"
	"time"
)

// A template whose records are 0 bytes long would make goflow2 loop for
// ever on its data; such a datagram is refused before goflow2 reads it,
// and the templates exporters really send pass.
func TestCheckTemplates(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		version uint16
		dgram   []byte
		want    string // "" passes
	}{
		{"v9 templates", 9, netflowV9(at, 1, v9Templates()...), ""},
		{"ipfix templates", 10, ipfix(at, 1, append([]be{ipfixTemplates()}, ipfixSampling(100)...)...), ""},
		{"v9 template of a 0-length field", 9, netflowV9(at, 1, set(0, templateBody(256, [][2]uint16{{ieSrcV4, 0}})), set(256, be{}.u32(1))), "template 256: records of 0 bytes"},
		{"v9 options template of 0-length fields", 9, netflowV9(at, 1, set(1, be{}.u16(257).u16(4).u16(4).u16(1).u16(0).u16(ieSampling).u16(0))), "options template 257"},
		// goflow2 divides the lengths by 4: a scope of 6 bytes is one field.
		{"v9 options template of odd lengths", 9, netflowV9(at, 1, set(1, be{}.u16(257).u16(6).u16(4).u16(1).u16(0).u16(ieSampling).u16(0))), "options template 257"},
		{"ipfix template withdrawal", 10, ipfix(at, 1, set(2, templateBody(300, nil))), "template 300: records of 0 bytes"},
		{"ipfix options template of 0-length fields", 10, ipfix(at, 1, set(3, be{}.u16(302).u16(2).u16(1).u16(149).u16(0).u16(ieSamplingPI).u16(0))), "options template 302"},
		{"ipfix variable-length field", 10, ipfix(at, 1, set(2, templateBody(303, [][2]uint16{{ieSrcV4, 65535}}))), ""},
		{"truncated: left to goflow2", 9, netflowV9(at, 1, v9Templates()...)[:30], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkTemplates(tt.version, tt.dgram)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
