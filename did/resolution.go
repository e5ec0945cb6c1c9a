package did

import (
	"net/http"
	"time"
)

// Options select a version of the document.
type Options struct {
	VersionID   uint64    // 0: the current version
	VersionTime time.Time // zero: now
}

// Result is a DID resolution result (W3C DID Resolution v1.0, media type
// application/did-resolution). Context is set only in its JSON-LD form
// (application/ld+json;profile="https://w3id.org/did-resolution").
type Result struct {
	Context            []string            `json:"@context,omitempty"`
	Document           *Document           `json:"didDocument"`
	ResolutionMetadata ResolutionMetadata  `json:"didResolutionMetadata"`
	DocumentMetadata   *DocumentMetadata   `json:"didDocumentMetadata"`
	Identifier         *IdentifierMetadata `json:"identifierMetadata,omitempty"`
}

// Dereferencing is a DID URL dereferencing result (W3C DID Resolution
// v1.0, media type application/did-url-dereferencing). Content is a DID
// document, a verification method or a service.
type Dereferencing struct {
	Metadata        ResolutionMetadata `json:"dereferencingMetadata"`
	Content         any                `json:"contentStream"`
	ContentMetadata *DocumentMetadata  `json:"contentMetadata"`
}

// ResolutionMetadata describes a resolution or a dereferencing: the media
// type of the document or content returned, or the error.
type ResolutionMetadata struct {
	ContentType string   `json:"contentType,omitempty"`
	Error       *Problem `json:"error,omitempty"`
}

// Problem is a DID Resolution error: an RFC 9457 problem details object
// whose type is a URL under https://www.w3.org/ns/did#.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

// DocumentMetadata describes the document: the DID Core properties and
// bias's own (provider, status). Every value is a string or a boolean
// (DID Core section 7.3).
type DocumentMetadata struct {
	Created       string `json:"created,omitempty"`
	Updated       string `json:"updated,omitempty"`
	VersionID     string `json:"versionId,omitempty"`
	NextVersionID string `json:"nextVersionId,omitempty"`
	NextUpdate    string `json:"nextUpdate,omitempty"`
	Deactivated   bool   `json:"deactivated,omitempty"`
	Provider      string `json:"provider,omitempty"`
	// Status is pending, validated, rejected, revoked or deactivated; only
	// validated presents a valid entity. A provider has none.
	// A versioned resolution (versionId, versionTime) still gives the
	// entity's current status here: an old version of a revoked entity
	// is not presented as valid. VersionStatus is the status the version
	// had, when the version asked for is not the current one.
	Status        string `json:"status,omitempty"`
	StatusReason  string `json:"statusReason,omitempty"`
	VersionStatus string `json:"versionStatus,omitempty"`
	// Kind is the entity's kind (device, service, ...), or "provider".
	Kind string `json:"kind,omitempty"`
	// Height is the ledger height the answer was read at, in decimal.
	Height string `json:"height,omitempty"`
}

// IdentifierMetadata tells which legacy identifier an identification
// started from.
type IdentifierMetadata struct {
	Identifier string `json:"identifier"`
	Canonical  string `json:"canonical"`
	Kind       string `json:"kind"`
}

// Error keywords (the DID Core 1.0 names). Each maps to a DID Resolution
// error type URL, a title and an HTTP status (NewProblem, Problem.Status).
const (
	ErrInvalidDID                = "invalidDid"
	ErrInvalidDIDURL             = "invalidDidUrl"
	ErrNotFound                  = "notFound"
	ErrRepresentationUnsupported = "representationNotSupported"
	ErrInternal                  = "internalError"
	ErrInvalidOptions            = "invalidOptions"
	ErrMethodNotSupported        = "methodNotSupported"
	ErrFeatureNotSupported       = "featureNotSupported"
)

// ProblemTypeBase prefixes every DID Resolution error type.
const ProblemTypeBase = "https://www.w3.org/ns/did#"

// problems is DID Resolution's error table: type, title, HTTP status.
var problems = map[string]struct {
	typ, title string
	status     int
}{
	ErrInvalidDID:                {"INVALID_DID", "Invalid DID", http.StatusBadRequest},
	ErrInvalidDIDURL:             {"INVALID_DID_URL", "Invalid DID URL", http.StatusBadRequest},
	ErrInvalidOptions:            {"INVALID_OPTIONS", "Invalid options", http.StatusBadRequest},
	ErrNotFound:                  {"NOT_FOUND", "Not found", http.StatusNotFound},
	ErrRepresentationUnsupported: {"REPRESENTATION_NOT_SUPPORTED", "Representation not supported", http.StatusNotAcceptable},
	ErrMethodNotSupported:        {"METHOD_NOT_SUPPORTED", "DID method not supported", http.StatusNotImplemented},
	ErrFeatureNotSupported:       {"FEATURE_NOT_SUPPORTED", "Feature not supported", http.StatusNotImplemented},
	ErrInternal:                  {"INTERNAL_ERROR", "Internal error", http.StatusInternalServerError},
}

// NewProblem returns the error of keyword, with a detail.
func NewProblem(keyword, detail string) *Problem {
	p, ok := problems[keyword]
	if !ok {
		p = problems[ErrInternal]
	}
	return &Problem{Type: ProblemTypeBase + p.typ, Title: p.title, Detail: detail}
}

// Keyword returns the DID Core keyword of the error's type ("" for a type
// outside DID Resolution's table).
func (p *Problem) Keyword() string {
	if p == nil {
		return ""
	}
	for k, v := range problems {
		if ProblemTypeBase+v.typ == p.Type {
			return k
		}
	}
	return ""
}

// Status is the HTTP status of the error (DID Resolution's HTTP binding:
// 500 for a type outside its table).
func (p *Problem) Status() int {
	if v, ok := problems[p.Keyword()]; ok {
		return v.status
	}
	return http.StatusInternalServerError
}

// More media types of DID Resolution v1.0.
const (
	// MediaTypeDereferencing is a DID URL dereferencing result.
	MediaTypeDereferencing = "application/did-url-dereferencing"
	// MediaTypeDID is a DID document in the DID 1.1 media type (its
	// JSON-LD form).
	MediaTypeDID = "application/did"
	// MediaTypeURIList is a list of service endpoint URLs (RFC 2483).
	MediaTypeURIList = "text/uri-list"
)
