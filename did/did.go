// Package did implements the syntax of bias's decentralized identifiers:
//
//	did:bias:<network>:<suffix>[#<fragment>]
//
// The network names the ledger (its chain id); the suffix is derived from the
// hash of the entity's inception operation, which makes the identifier
// self-certifying: nobody can claim a suffix without the operation that
// hashes to it. The package is pure: no I/O, no dependency on the node.
//
//	d, err := did.Parse("did:bias:local:abcdefghijklmnopqrstuvwxyz234567")
//	if err != nil { ... }
//	kid := d.WithFragment("k1") // did:bias:local:...#k1
package did

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Method is the DID method name.
const Method = "bias"

const (
	prefix = "did:" + Method + ":"
	// MaxNetworkLen bounds the network segment.
	MaxNetworkLen = 32
	// SuffixBytes is the number of hash bytes the suffix encodes.
	SuffixBytes = 20
	// SuffixLen is the length of an encoded suffix (base32, no padding).
	SuffixLen = 32
	// MaxFragmentLen bounds a DID URL fragment (a key or service id).
	MaxFragmentLen = 64
	// MaxLen bounds the whole DID URL.
	MaxLen = len(prefix) + MaxNetworkLen + 1 + SuffixLen + 1 + MaxFragmentLen
)

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid did")

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DID is a parsed bias DID, optionally with a fragment (a DID URL).
type DID struct {
	Network  string
	Suffix   string
	Fragment string
}

// New derives the DID of an inception: the suffix is the base32 encoding of
// the first SuffixBytes of SHA-256(inception).
func New(network string, inception []byte) DID {
	h := sha256.Sum256(inception)
	return DID{Network: network, Suffix: b32.EncodeToString(h[:SuffixBytes])}
}

// String renders the DID URL.
func (d DID) String() string {
	if d.Fragment != "" {
		return prefix + d.Network + ":" + d.Suffix + "#" + d.Fragment
	}
	return prefix + d.Network + ":" + d.Suffix
}

// Base returns the DID without its fragment.
func (d DID) Base() DID { return DID{Network: d.Network, Suffix: d.Suffix} }

// WithFragment returns the DID URL naming fragment f.
func (d DID) WithFragment(f string) DID {
	return DID{Network: d.Network, Suffix: d.Suffix, Fragment: f}
}

// IsZero reports whether d is the zero DID.
func (d DID) IsZero() bool { return d == DID{} }

// Parse parses a DID or a DID URL with a fragment. Paths and queries are
// not part of the bias syntax and are rejected.
func Parse(s string) (DID, error) {
	if len(s) > MaxLen {
		return DID{}, fmt.Errorf("%w: longer than %d characters", ErrSyntax, MaxLen)
	}
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return DID{}, fmt.Errorf("%w: must start with %q", ErrSyntax, prefix)
	}
	var d DID
	rest, frag, hasFrag := strings.Cut(rest, "#")
	if hasFrag {
		if err := ValidateFragment(frag); err != nil {
			return DID{}, err
		}
		d.Fragment = frag
	}
	network, suffix, ok := strings.Cut(rest, ":")
	if !ok {
		return DID{}, fmt.Errorf("%w: missing network or suffix", ErrSyntax)
	}
	if err := ValidateNetwork(network); err != nil {
		return DID{}, err
	}
	if err := validateSuffix(suffix); err != nil {
		return DID{}, err
	}
	d.Network, d.Suffix = network, suffix
	return d, nil
}

// ParseNoFragment parses a DID and rejects a DID URL with a fragment.
func ParseNoFragment(s string) (DID, error) {
	d, err := Parse(s)
	if err == nil && d.Fragment != "" {
		return DID{}, fmt.Errorf("%w: unexpected fragment", ErrSyntax)
	}
	return d, err
}

// ValidateNetwork checks a network name: 1 to 32 characters of a-z, 0-9
// and '-', starting with a letter and not ending with '-'.
func ValidateNetwork(n string) error {
	if n == "" || len(n) > MaxNetworkLen {
		return fmt.Errorf("%w: network must be 1 to %d characters", ErrSyntax, MaxNetworkLen)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z':
		case (c >= '0' && c <= '9' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: network must be lowercase letters, digits and '-', starting with a letter", ErrSyntax)
		}
	}
	if n[len(n)-1] == '-' {
		return fmt.Errorf("%w: network must not end with '-'", ErrSyntax)
	}
	return nil
}

func validateSuffix(s string) error {
	if len(s) != SuffixLen {
		return fmt.Errorf("%w: suffix must be %d characters", ErrSyntax, SuffixLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return fmt.Errorf("%w: suffix must be lowercase base32 (a-z, 2-7)", ErrSyntax)
		}
	}
	// The last character carries 160 mod 5 = 0 spare bits: every
	// 32-character string decodes, but check anyway so that a change of
	// SuffixBytes cannot admit two spellings of one hash.
	if _, err := b32.DecodeString(s); err != nil {
		return fmt.Errorf("%w: suffix is not valid base32", ErrSyntax)
	}
	return nil
}

// ValidateFragment checks a fragment (key id, service id): 1 to 64
// characters of A-Z, a-z, 0-9, '.', '_' and '-'.
func ValidateFragment(f string) error {
	if f == "" || len(f) > MaxFragmentLen {
		return fmt.Errorf("%w: fragment must be 1 to %d characters", ErrSyntax, MaxFragmentLen)
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: fragment must be letters, digits, '.', '_' or '-'", ErrSyntax)
		}
	}
	return nil
}

// MustParse is Parse for constants and tests: it panics on an invalid DID.
func MustParse(s string) DID {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// SuffixBytes returns the hash bytes that the suffix encodes.
func (d DID) SuffixBytes() []byte {
	b, err := b32.DecodeString(d.Suffix)
	if err != nil {
		return nil
	}
	return b
}

// FromSuffixBytes rebuilds a DID from its network and suffix bytes.
func FromSuffixBytes(network string, b []byte) (DID, error) {
	if len(b) != SuffixBytes {
		return DID{}, fmt.Errorf("%w: suffix must be %d bytes", ErrSyntax, SuffixBytes)
	}
	if err := ValidateNetwork(network); err != nil {
		return DID{}, err
	}
	return DID{Network: network, Suffix: b32.EncodeToString(b)}, nil
}

// MethodOf reads the method of any DID, as DID Core's syntax has it
// ("did:" method-name ":" method-specific-id; method-name of a-z and
// 0-9; the specific id of ALPHA, DIGIT, ".", "-", "_", ":" and
// percent-encodings, not ending in ":"); false if s is not a DID of that
// syntax. A fragment, query or path after it is ignored.
func MethodOf(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "did:")
	if !ok {
		return "", false
	}
	if i := strings.IndexAny(rest, "#?/"); i >= 0 {
		rest = rest[:i]
	}
	m, id, ok := strings.Cut(rest, ":")
	if !ok || m == "" || id == "" || strings.HasSuffix(id, ":") {
		return "", false
	}
	for _, c := range m {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return "", false
		}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_', c == ':':
		case c == '%' && i+2 < len(id) && isHex(id[i+1]) && isHex(id[i+2]):
			i += 2
		default:
			return "", false
		}
	}
	return m, true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
