package sdjwt_test

import (
	"errors"
	"testing"

	"github.com/bias-iot/bias/sdjwt"
)

// FuzzDisclosure holds the disclosure decoder to its rules: it never
// panics, and what it accepts is a 2- or 3-element disclosure of no
// reserved name, within its bound.
func FuzzDisclosure(f *testing.F) {
	f.Add("WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd")
	f.Add("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0")
	f.Add(encode([]any{"s", "_sd", 1}))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := sdjwt.ParseDisclosure(s)
		if err != nil {
			if !errors.Is(err, sdjwt.ErrMalformed) && !errors.Is(err, sdjwt.ErrOversized) && !errors.Is(err, sdjwt.ErrReserved) {
				t.Fatalf("unnamed refusal: %v", err)
			}
			return
		}
		if len(s) > sdjwt.MaxDisclosure || d.Name == "_sd" || d.Name == "..." {
			t.Fatalf("accepted %q", s)
		}
		if d.Digest() != sdjwt.Digest(s) {
			t.Fatal("digest of another encoding")
		}
	})
}

// FuzzPresentation holds the SD-JWT decoder and verifier to theirs: no
// panic, every refusal named, and whatever verifies is signed by the key.
func FuzzPresentation(f *testing.F) {
	issued, presented, keys := vectors(f)
	f.Add(issued)
	f.Add(presented)
	f.Add("e.e.e~~")
	key := p256(f, keys.Issuer)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := sdjwt.Parse(s)
		if err == nil {
			_, err = p.Verify(key)
		}
		if err == nil {
			return
		}
		for _, e := range []error{sdjwt.ErrMalformed, sdjwt.ErrOversized, sdjwt.ErrBadSignature, sdjwt.ErrUnreferenced, sdjwt.ErrDuplicate, sdjwt.ErrReserved} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("unnamed refusal: %v", err)
	})
}
