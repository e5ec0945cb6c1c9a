package authn

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxOrigin bounds an origin's serialization, in bytes.
const MaxOrigin = 256

// ErrNotOrigin is wrapped by the errors of ParseOrigin and OriginOf.
var ErrNotOrigin = errors.New("not an origin")

// defaultPorts are the schemes an origin may have, with their default
// ports (elided in the serialization): HTTP services, and CoAP ones for
// constrained devices (RFC 7252).
var defaultPorts = map[string]string{"http": "80", "https": "443", "coap": "5683", "coaps": "5684"}

// ParseOrigin reads an origin, scheme://host[:port], and returns its
// normalized ASCII serialization (RFC 6454 section 6.2): scheme and host in
// lower case, an IPv6 literal in its canonical form (RFC 5952), the
// scheme's default port elided. The scheme is http, https, coap or coaps;
// the host a DNS name (in ASCII: an internationalized name in its A-label
// form), an IPv4 address or a bracketed IPv6 address; nothing else (no
// user information, path, query or fragment, not even a trailing "/"), at
// most MaxOrigin bytes.
func ParseOrigin(s string) (string, error) {
	if len(s) > MaxOrigin {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrNotOrigin, MaxOrigin)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: not a URL", ErrNotOrigin)
	}
	if u.Path != "" || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" || u.OmitHost {
		return "", fmt.Errorf("%w: a path, query or fragment", ErrNotOrigin)
	}
	return OriginOf(u)
}

// OriginOf returns the origin of an absolute URL (its path, query and
// fragment are not part of it), normalized as ParseOrigin does: the origin
// a device sent a request to, or of a service's base URL. A URL with user
// information is refused: "https://service.example@other.example" names
// other.example, and one that a reader could mistake is not a service's.
func OriginOf(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	def, ok := defaultPorts[scheme]
	if !ok {
		return "", fmt.Errorf("%w: the scheme must be http, https, coap or coaps", ErrNotOrigin)
	}
	if u.Opaque != "" || u.User != nil {
		return "", fmt.Errorf("%w: user information or an opaque part", ErrNotOrigin)
	}
	host, err := originHost(u.Hostname(), strings.HasPrefix(u.Host, "["))
	if err != nil {
		return "", err
	}
	out := scheme + "://" + host
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return "", fmt.Errorf("%w: a port is 1 to 65535", ErrNotOrigin)
		}
		if p := strconv.FormatUint(n, 10); p != def {
			out += ":" + p
		}
	}
	if len(out) > MaxOrigin {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrNotOrigin, MaxOrigin)
	}
	return out, nil
}

var errLabel = fmt.Errorf("%w: a host's label is 1 to 63 ASCII letters, digits and inner hyphens", ErrNotOrigin)

// originHost normalizes an origin's host: a bracketed IPv6 address (no
// zone), or a DNS name or IPv4 address of LDH labels.
func originHost(h string, bracketed bool) (string, error) {
	if bracketed {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("%w: a bracketed host must be an IPv6 address without a zone", ErrNotOrigin)
		}
		return "[" + a.String() + "]", nil
	}
	h = strings.ToLower(h)
	if h == "" || len(h) > 253 {
		return "", fmt.Errorf("%w: a host is 1 to 253 characters", ErrNotOrigin)
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errLabel
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return "", errLabel
			}
		}
	}
	return h, nil
}
