package legacyid_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bias-iot/bias/legacyid"
)

func FuzzNormalize(f *testing.F) {
	for _, c := range validCases {
		f.Add(c.in)
	}
	for _, c := range failCases {
		f.Add(c.in)
	}
	kinds := map[legacyid.Kind]bool{
		legacyid.KindIMEI: true, legacyid.KindE164: true, legacyid.KindEPC: true,
		legacyid.KindOID: true, legacyid.KindDevURN: true, legacyid.KindIP: true,
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, k, err := legacyid.Normalize(s)
		if err != nil {
			if !errors.Is(err, legacyid.ErrSyntax) {
				t.Fatalf("Normalize(%q): error %v does not wrap ErrSyntax", s, err)
			}
			if c != "" || k != "" {
				t.Fatalf("Normalize(%q) returned %q, %q with an error", s, c, k)
			}
			checkErrorBounded(t, s, err)
			return
		}
		if !kinds[k] {
			t.Fatalf("Normalize(%q): unknown kind %q", s, k)
		}
		if c == "" || len(c) > legacyid.MaxLen {
			t.Fatalf("Normalize(%q) = %q: length %d", s, c, len(c))
		}
		for i := 0; i < len(c); i++ {
			if c[i] <= ' ' || c[i] > '~' {
				t.Fatalf("Normalize(%q) = %q: byte %d is a space, control or non-ASCII", s, c, i)
			}
		}
		if strings.ContainsRune(c, ' ') {
			t.Fatalf("Normalize(%q) = %q contains a space", s, c)
		}
		c2, k2, err := legacyid.Normalize(c)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q, but the canonical form is rejected: %v", s, c, err)
		}
		if c2 != c || k2 != k {
			t.Fatalf("Normalize(%q) = %q, %q; Normalize(%q) = %q, %q", s, c, k, c, c2, k2)
		}
	})
}
