package feed

import (
	"fmt"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/reporter"
)

func TestExtras(t *testing.T) {
	long := strings.Repeat("v", MaxExtraValue)
	tests := []struct {
		name    string
		start   []reporter.Field
		add     func(x *Extras)
		kept    int // fields before the truncated one
		dropped int
	}{
		{"empty values skipped", nil, func(x *Extras) { x.Add("a", ""); x.Add("b", "1") }, 1, 0},
		{"exactly MaxExtraFields", nil, func(x *Extras) {
			for i := 0; i < MaxExtraFields; i++ {
				x.Add(fmt.Sprint("c", i), "v")
			}
		}, MaxExtraFields, 0},
		{"over MaxExtraFields", nil, func(x *Extras) {
			for i := 0; i < MaxExtraFields+10; i++ {
				x.Add(fmt.Sprint("c", i), "v")
				x.Add("blank", "")
			}
		}, MaxExtraFields, 10},
		{"a starting field counts", []reporter.Field{{Key: "network", Value: "192.0.2.0/24"}}, func(x *Extras) {
			for i := 0; i < MaxExtraFields; i++ {
				x.Add(fmt.Sprint("c", i), "v")
			}
		}, MaxExtraFields, 1},
		{"over MaxExtraBytes", nil, func(x *Extras) {
			for i := 0; i < 20; i++ { // 20 KiB of values
				x.Add(fmt.Sprint("c", i), long)
			}
		}, 15, 5},
		{"after a cut, nothing more, even small", nil, func(x *Extras) {
			for i := 0; i < 16; i++ {
				x.Add("k", long)
			}
			x.Add("small", "1")
		}, 15, 2},
		{"values are cleaned and cut", nil, func(x *Extras) { x.Add("a", "x\r\ny"+long) }, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := NewExtras(tt.start)
			tt.add(&x)
			got := x.Fields()
			if x.Dropped() != tt.dropped {
				t.Errorf("dropped %d, want %d", x.Dropped(), tt.dropped)
			}
			want := tt.kept
			if tt.dropped > 0 {
				want++
				if last := got[len(got)-1]; last.Key != TruncatedKey || last.Value != fmt.Sprintf("%d columns dropped", tt.dropped) {
					t.Errorf("last field %+v", last)
				}
			}
			if len(got) != want {
				t.Fatalf("%d fields, want %d", len(got), want)
			}
			size := 0
			for _, f := range got[:tt.kept] {
				size += len(f.Key) + len(f.Value)
				if len(f.Value) > MaxExtraValue || strings.ContainsAny(f.Value, "\r\n") {
					t.Errorf("value not cleaned: %q", f.Value)
				}
			}
			if size > MaxExtraBytes {
				t.Errorf("%d bytes kept", size)
			}
		})
	}
}
