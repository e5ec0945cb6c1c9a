package did

import "time"

// Options select a version of the document.
type Options struct {
	VersionID   uint64    // 0: the current version
	VersionTime time.Time // zero: now
}

// Result is a DID resolution result (W3C DID Resolution; the DIF Universal
// Resolver driver form).
type Result struct {
	Context            string              `json:"@context,omitempty"`
	Document           *Document           `json:"didDocument"`
	ResolutionMetadata ResolutionMetadata  `json:"didResolutionMetadata"`
	DocumentMetadata   *DocumentMetadata   `json:"didDocumentMetadata"`
	Identifier         *IdentifierMetadata `json:"identifierMetadata,omitempty"`
}

// ResolutionMetadata describes the resolution. On failure Error holds the
// DID Core 1.0 keyword and Problem the DID Resolution error object.
type ResolutionMetadata struct {
	ContentType string   `json:"contentType,omitempty"`
	Error       string   `json:"error,omitempty"`
	Problem     *Problem `json:"problemDetails,omitempty"`
}

// Problem is a DID Resolution error object (RFC 9457 problem details).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

// DocumentMetadata describes the document: the DID Core properties and
// bias's own (provider, status).
type DocumentMetadata struct {
	Created       string `json:"created,omitempty"`
	Updated       string `json:"updated,omitempty"`
	VersionID     string `json:"versionId,omitempty"`
	NextVersionID string `json:"nextVersionId,omitempty"`
	Deactivated   bool   `json:"deactivated,omitempty"`
	Provider      string `json:"provider,omitempty"`
	// Status is pending, validated, rejected, revoked or deactivated; only
	// validated presents a valid entity.
	// A versioned resolution (versionId, versionTime) still gives the
	// entity's current status here: an old version of a revoked entity
	// is not presented as valid. VersionStatus is the status the version
	// had, when the version asked for is not the current one.
	Status        string `json:"status,omitempty"`
	StatusReason  string `json:"statusReason,omitempty"`
	VersionStatus string `json:"versionStatus,omitempty"`
	Kind          string `json:"kind,omitempty"`
	// Height is the ledger height the answer was read at, in decimal (a
	// metadata value is a string, map, list, set, boolean or null: DID
	// Core section 7.3).
	Height string `json:"height,omitempty"`
}

// IdentifierMetadata tells which legacy identifier an identification
// started from.
type IdentifierMetadata struct {
	Identifier string `json:"identifier"`
	Canonical  string `json:"canonical"`
	Kind       string `json:"kind"`
}

// Error keywords (DID Core 1.0) and their DID Resolution type URIs.
const (
	ErrInvalidDID                = "invalidDid"
	ErrNotFound                  = "notFound"
	ErrRepresentationUnsupported = "representationNotSupported"
	ErrInternal                  = "internalError"
	ErrInvalidOptions            = "invalidOptions"
	ErrMethodNotSupported        = "methodNotSupported"
)

var problemTypes = map[string]string{
	ErrInvalidDID:                "https://www.w3.org/ns/did#INVALID_DID",
	ErrNotFound:                  "https://www.w3.org/ns/did#NOT_FOUND",
	ErrRepresentationUnsupported: "https://www.w3.org/ns/did#REPRESENTATION_NOT_SUPPORTED",
	ErrInternal:                  "https://www.w3.org/ns/did#INTERNAL_ERROR",
	ErrInvalidOptions:            "https://www.w3.org/ns/did#INVALID_OPTIONS",
	ErrMethodNotSupported:        "https://www.w3.org/ns/did#METHOD_NOT_SUPPORTED",
}

// NewProblem returns the error metadata of keyword with a detail.
func NewProblem(keyword, detail string) ResolutionMetadata {
	return ResolutionMetadata{Error: keyword, Problem: &Problem{Type: problemTypes[keyword], Title: keyword, Detail: detail}}
}
