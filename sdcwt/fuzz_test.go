package sdcwt_test

import (
	"errors"
	"testing"

	"github.com/bias-iot/bias/sdcwt"
)

// FuzzDisclosure: the disclosure decoder never panics, names each
// refusal, and what it accepts has a 16-byte salt.
func FuzzDisclosure(f *testing.F) {
	f.Add(read(f, "first-disclosure.cborseq"))
	f.Add([]byte{0x82, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := sdcwt.ParseDisclosure(b)
		if err != nil {
			if !errors.Is(err, sdcwt.ErrMalformed) && !errors.Is(err, sdcwt.ErrOversized) {
				t.Fatalf("unnamed refusal: %v", err)
			}
			return
		}
		if len(d.Salt) != sdcwt.SaltLen || (d.Key == nil) != d.IsArray {
			t.Fatalf("accepted %x", b)
		}
	})
}

// FuzzPresentation: the SD-CWT decoder and its digest processing never
// panic and name each refusal.
func FuzzPresentation(f *testing.F) {
	f.Add(read(f, "issuer_cwt.cbor"))
	f.Add(read(f, "kbt.cbor"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := sdcwt.Parse(b)
		if err == nil {
			_, err = p.Unverified()
		}
		if err == nil {
			return
		}
		for _, e := range []error{sdcwt.ErrMalformed, sdcwt.ErrOversized, sdcwt.ErrUnreferenced, sdcwt.ErrDuplicate, sdcwt.ErrReserved} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("unnamed refusal: %v", err)
	})
}
