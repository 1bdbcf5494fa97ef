package fieldjson

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/autoreporter/autoreporter/reporter"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name   string
		fields []reporter.Field
		nul    NUL
		want   string
	}{
		{"none", nil, KeepNUL, `[]`},
		{"order kept", []reporter.Field{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}}, KeepNUL, `[{"k":"z","v":"1"},{"k":"a","v":"2"}]`},
		{"escapes", []reporter.Field{{Key: "q\"\\", Value: "\t\n\x01"}}, KeepNUL, `[{"k":"q\"\\","v":"\u0009\u000a\u0001"}]`},
		{"nul kept", []reporter.Field{{Key: "n", Value: "a\x00b"}}, KeepNUL, `[{"k":"n","v":"a\u0000b"}]`},
		{"nul replaced", []reporter.Field{{Key: "n", Value: "a\x00b"}}, ReplaceNUL, `[{"k":"n","v":"a\ufffdb"}]`},
		{"not UTF-8", []reporter.Field{{Key: "caf\xe9", Value: "\xff\xfe"}}, KeepNUL, `[{"k":"caf\ufffd","v":"\ufffd\ufffd"}]`},
		{"UTF-8 as is", []reporter.Field{{Key: "ü", Value: "😀\u2028"}}, KeepNUL, "[{\"k\":\"ü\",\"v\":\"😀\u2028\"}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Append(nil, tt.fields, tt.nul)); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// FuzzAppend: what Append writes reads back as what encoding/json would
// have stored, whatever the bytes; with ReplaceNUL, without NUL.
func FuzzAppend(f *testing.F) {
	for _, s := range [][2]string{{"tag", "rdp"}, {"", ""}, {"q\"uote", `back\slash`}, {"nul\x00", "\x01\x1f\x7f"},
		{"latin1\xe9", "\xff\xfe"}, {"<>&", "\u2028\u2029"}, {"ünï", "😀"}, {"trunc\xf0\x9f", "\xed\xa0\x80"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		in := []reporter.Field{{Key: k, Value: v}, {Key: v, Value: k}}
		ref, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var want []reporter.Field
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		for _, nul := range []NUL{KeepNUL, ReplaceNUL} {
			out := Append(nil, in, nul)
			var got []reporter.Field
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			w := want
			if nul == ReplaceNUL {
				w = slices.Clone(want)
				for i := range w {
					w[i].Key = strings.ReplaceAll(w[i].Key, "\x00", "\uFFFD")
					w[i].Value = strings.ReplaceAll(w[i].Value, "\x00", "\uFFFD")
				}
				if strings.Contains(string(out), `\u0000`) {
					t.Errorf("%q has \\u0000", out)
				}
			}
			if !slices.Equal(got, w) {
				t.Errorf("%q read back as %q, want %q", out, got, w)
			}
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	fields := []reporter.Field{{Key: "tag", Value: "rdp"}, {Key: "naics", Value: "517311"}, {Key: "sector", Value: "Communications"},
		{Key: "subject_common_name", Value: "WIN-1234"}}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], fields, KeepNUL)
	}
}
