package did

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URL is a parsed DID URL (DID Core section 3.2): a did:bias DID with an
// optional path, query and fragment.
type URL struct {
	DID      DID    // without fragment
	Path     string // "" or beginning with "/", still percent-encoded
	Query    Params // the DID parameters, decoded
	Fragment string // decoded, without "#"
}

// Params are the DID parameters of a query, each given at most once.
type Params map[string]string

// ErrURLSyntax is wrapped by every DID URL parse error.
var ErrURLSyntax = errors.New("invalid DID URL")

// MaxURL bounds a DID URL.
const MaxURL = 2048

// ParseURL parses a DID URL of the generic syntax (did path-abempty
// ["?" query] ["#" fragment], RFC 3986 characters) whose DID is a did:bias
// DID. A parameter given twice is an error (DID Resolution: an ambiguous
// input). A fragment that is valid RFC 3986 but no bias fragment parses:
// it names nothing.
func ParseURL(s string) (URL, error) {
	if len(s) > MaxURL {
		return URL{}, fmt.Errorf("%w: longer than %d bytes", ErrURLSyntax, MaxURL)
	}
	rest, frag, hasFrag := strings.Cut(s, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	base, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		base, path = rest[:i], rest[i:]
	}
	d, err := ParseNoFragment(base)
	if err != nil {
		return URL{}, fmt.Errorf("%w: %v", ErrURLSyntax, err)
	}
	u := URL{DID: d, Path: path}
	if err := checkChars("path", path, "/"); err != nil {
		return URL{}, err
	}
	if hasQuery {
		if err := checkChars("query", query, "/?"); err != nil {
			return URL{}, err
		}
		if u.Query, err = parseParams(query); err != nil {
			return URL{}, err
		}
	}
	if hasFrag {
		if err := checkChars("fragment", frag, "/?"); err != nil {
			return URL{}, err
		}
		if u.Fragment, err = url.PathUnescape(frag); err != nil || u.Fragment == "" {
			return URL{}, fmt.Errorf("%w: empty or badly encoded fragment", ErrURLSyntax)
		}
	}
	return u, nil
}

// IsDID reports whether u is a DID alone: no path, query or fragment.
func (u URL) IsDID() bool { return u.Path == "" && u.Query == nil && u.Fragment == "" }

// ParseQuery splits a query (a DID URL's, or a request's resolution
// options) into its parameters, percent-decoded as RFC 3986 has it ("+"
// stays a plus: not HTML forms). A parameter given twice, one without a
// name or a value, and a bad percent-encoding are errors.
func ParseQuery(q string) (Params, error) { return parseParams(q) }

func parseParams(q string) (Params, error) {
	p := Params{}
	if q == "" {
		return p, nil
	}
	for _, part := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		name, err1 := url.PathUnescape(k)
		val, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil || name == "" {
			return nil, fmt.Errorf("%w: query parameter %.64q", ErrURLSyntax, part)
		}
		if val == "" {
			return nil, fmt.Errorf("%w: parameter %.64q has no value", ErrURLSyntax, name)
		}
		if _, dup := p[name]; dup {
			return nil, fmt.Errorf("%w: parameter %.64q given twice", ErrURLSyntax, name)
		}
		p[name] = val
	}
	return p, nil
}

// checkChars checks that s has only pchar (RFC 3986: unreserved,
// pct-encoded, sub-delims, ":", "@") and the extra characters.
func checkChars(part, s, extra string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0, strings.IndexByte(extra, c) >= 0:
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			i += 2
		default:
			return fmt.Errorf("%w: character %q not allowed in the %s", ErrURLSyntax, c, part)
		}
	}
	return nil
}
