package jws

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	e := base64.RawURLEncoding.EncodeToString
	good := e([]byte(`{"alg":"EdDSA"}`)) + "." + e([]byte(`{"a":1}`)) + "." + e([]byte{1, 2})
	c, err := Split(good)
	if err != nil || string(c.Header) != `{"alg":"EdDSA"}` || string(c.Payload) != `{"a":1}` || !bytes.Equal(c.Signature, []byte{1, 2}) ||
		c.SigningInput != good[:strings.LastIndex(good, ".")] {
		t.Fatalf("Split(%q) = %+v, %v", good, c, err)
	}
	if c, err := Split(".."); err != nil || len(c.Header)+len(c.Payload)+len(c.Signature) != 0 || c.SigningInput != "." {
		t.Errorf("three empty parts: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"fail/one-part", e([]byte("x")), ErrParts},
		{"fail/two-parts", "a.b", ErrParts},
		{"fail/four-parts", good + ".", ErrParts},
		{"fail/padding", good + "=", ErrEncoding},
		{"fail/std-alphabet", "a+b." + e([]byte("x")) + "." + e([]byte("y")), ErrEncoding},
		{"fail/line-break", good[:4] + "\n" + good[4:], ErrEncoding},
		{"fail/non-canonical-last-char", good[:len(good)-1] + "J", ErrEncoding}, // AQI and AQJ both decode to 01 02
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Split(tc.in); !errors.Is(err, tc.want) {
				t.Errorf("Split(%q): %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

// FuzzSplit: what Split accepts is three parts whose canonical encodings
// give back the input.
func FuzzSplit(f *testing.F) {
	f.Add("eyJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.AQID")
	f.Add("..")
	f.Add("a.b.c.d")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Split(s)
		if err != nil {
			return
		}
		e := base64.RawURLEncoding.EncodeToString
		if got := e(c.Header) + "." + e(c.Payload) + "." + e(c.Signature); got != s || c.SigningInput != s[:strings.LastIndex(s, ".")] {
			t.Fatalf("Split(%q) accepted a form that re-encodes as %q", s, got)
		}
	})
}
