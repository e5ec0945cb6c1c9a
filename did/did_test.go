package did

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	d := New("local", []byte("inception"))
	if len(d.Suffix) != SuffixLen {
		t.Fatalf("suffix length %d, want %d", len(d.Suffix), SuffixLen)
	}
	for _, s := range []string{d.String(), d.WithFragment("k1").String(), d.WithFragment("a.B_c-9").String()} {
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got.String() != s {
			t.Fatalf("round trip %q -> %q", s, got.String())
		}
	}
	if New("local", []byte("a")) == New("local", []byte("b")) {
		t.Fatal("different inceptions gave one DID")
	}
}

func TestParseRejects(t *testing.T) {
	good := New("local", []byte("x")).Suffix
	cases := map[string]string{
		"empty":            "",
		"other method":     "did:web:local:" + good,
		"no suffix":        "did:bias:local",
		"empty network":    "did:bias::" + good,
		"upper network":    "did:bias:Local:" + good,
		"network digit":    "did:bias:1local:" + good,
		"network dash end": "did:bias:local-:" + good,
		"long network":     "did:bias:" + strings.Repeat("a", 33) + ":" + good,
		"short suffix":     "did:bias:local:" + good[:31],
		"upper suffix":     "did:bias:local:" + strings.ToUpper(good),
		"bad base32":       "did:bias:local:" + good[:31] + "1",
		"extra segment":    "did:bias:local:x:" + good,
		"empty fragment":   "did:bias:local:" + good + "#",
		"bad fragment":     "did:bias:local:" + good + "#a/b",
		"long fragment":    "did:bias:local:" + good + "#" + strings.Repeat("k", 65),
		"path":             "did:bias:local:" + good + "/path",
		"query":            "did:bias:local:" + good + "?versionId=1",
		"too long":         strings.Repeat("d", MaxLen+1),
		"percent":          "did:bias:local:" + good[:30] + "%41",
		"space":            "did:bias:local: " + good[1:],
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) = %v, want ErrSyntax", s, err)
			}
		})
	}
	if _, err := ParseNoFragment("did:bias:local:" + good + "#k1"); !errors.Is(err, ErrSyntax) {
		t.Fatalf("ParseNoFragment accepted a fragment: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	d := New("local", []byte("seed"))
	f.Add(d.String())
	f.Add(d.WithFragment("k1").String())
	f.Add("did:bias:a:")
	f.Add("did:bias:net-1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#x")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever parses renders back to exactly the input: one spelling per DID.
		if got.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, got.String())
		}
		if _, err := Parse(got.Base().String()); err != nil {
			t.Fatalf("base of %q does not parse: %v", s, err)
		}
	})
}
