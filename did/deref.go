package did

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The DID parameters of DID Resolution that bias dereferences.
const (
	ParamService     = "service"
	ParamServiceType = "serviceType"
	ParamRelativeRef = "relativeRef"
	ParamVersionID   = "versionId"
	ParamVersionTime = "versionTime"
)

// Fragment returns the verification method or the service of d whose id
// is d's DID with fragment f; false if there is none.
func (d *Document) Fragment(f string) (any, bool) {
	id := d.ID + "#" + f
	for _, vm := range d.VerificationMethod {
		if vm.ID == id {
			return vm, true
		}
	}
	for _, s := range d.Service {
		if s.ID == id {
			return s, true
		}
	}
	return nil, false
}

// SelectServices returns a copy of d with only the services that match
// service (an id, absolute or relative to d's DID: "api", "#api") and
// serviceType; an empty selector matches every service. The copy has no
// services if none matched.
func (d *Document) SelectServices(service, serviceType string) *Document {
	c := *d
	c.Service = nil
	want := service
	if service != "" && !strings.HasPrefix(service, "did:") {
		want = d.ID + "#" + strings.TrimPrefix(service, "#")
	}
	for _, s := range d.Service {
		if (service == "" || s.ID == want) && (serviceType == "" || s.Type == serviceType) {
			c.Service = append(c.Service, s)
		}
	}
	return &c
}

// ErrEndpoint is wrapped when a service endpoint cannot be dereferenced.
var ErrEndpoint = errors.New("service endpoint cannot be dereferenced")

// ServiceURLs returns the endpoint URLs of services, each resolved with
// relativeRef (RFC 3986 section 5, when it is not empty) and given
// fragment (when it is not empty), as DID Resolution's dereferencing of
// a service has it. An endpoint that already has a fragment cannot take
// another.
func ServiceURLs(services []Service, relativeRef, fragment string) ([]string, error) {
	var ref *url.URL
	if relativeRef != "" {
		var err error
		// A relative reference names a resource under the endpoint: not
		// another host (a network-path reference, "//host/...") or scheme.
		if ref, err = url.Parse(relativeRef); err != nil || ref.IsAbs() || ref.Host != "" || strings.HasPrefix(relativeRef, "//") {
			return nil, fmt.Errorf("%w: relativeRef %.64q is not a relative reference under the endpoint", ErrEndpoint, relativeRef)
		}
	}
	var out []string
	for _, s := range services {
		u, err := url.Parse(s.ServiceEndpoint)
		if err != nil || !u.IsAbs() {
			return nil, fmt.Errorf("%w: %s is not an absolute URL", ErrEndpoint, s.ID)
		}
		if ref != nil {
			if u.Opaque != "" {
				// RFC 3986 resolves against a path; urn:x:y has none
				// that Go's resolution would keep.
				return nil, fmt.Errorf("%w: the endpoint of %s is not hierarchical; it takes no relativeRef", ErrEndpoint, s.ID)
			}
			u = u.ResolveReference(ref)
		}
		if fragment != "" {
			if u.Fragment != "" {
				return nil, fmt.Errorf("%w: the endpoint of %s has a fragment already", ErrEndpoint, s.ID)
			}
			u.Fragment = fragment
		}
		out = append(out, u.String())
	}
	return out, nil
}
