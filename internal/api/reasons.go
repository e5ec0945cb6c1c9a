package api

import (
	"net/http"

	"github.com/bias-iot/bias/op"
)

// Reason is a stable reason code that the API produces itself; an
// operation's rejection carries its op.Reason, with the status statusOf
// gives it.
type Reason string

// The API's own reasons (an append-only list; docs in openapi.yaml).
const (
	ReasonNotFound         Reason = "not-found"              // no such route, block or record
	ReasonNotImplemented   Reason = "not-implemented"        // the ledger engine does not offer it
	ReasonMethodNotAllowed Reason = "method-not-allowed"     // the path exists with other methods
	ReasonInvalidDID       Reason = "invalid-did"            // a DID in the request does not parse
	ReasonUnhealthy        Reason = "unhealthy"              // the ledger does not answer
	ReasonCanceled         Reason = "canceled"               // the client went away (never seen by it)
	ReasonUnsupportedMedia Reason = "unsupported-media-type" // a body of another Content-Type
	ReasonTooManyRequests  Reason = "too-many-requests"      // a bound on concurrent work of this kind is reached
	ReasonHeadersTooLarge  Reason = "headers-too-large"      // the request's header is over HeaderLimit
	ReasonPruned           Reason = "pruned"                 // the blocks asked for are below the first this node holds (first says which it holds)
)

// Reasons lists the API's own reasons with their HTTP statuses: the list
// that the OpenAPI document is checked against.
func Reasons() []struct {
	Reason Reason
	Status int
} {
	return append([]struct {
		Reason Reason
		Status int
	}{
		{ReasonNotFound, http.StatusNotFound},
		{ReasonNotImplemented, http.StatusNotImplemented},
		{ReasonMethodNotAllowed, http.StatusMethodNotAllowed},
		{ReasonInvalidDID, http.StatusBadRequest},
		{ReasonUnhealthy, http.StatusServiceUnavailable},
		{ReasonCanceled, 499},
		{ReasonUnsupportedMedia, http.StatusUnsupportedMediaType},
		{ReasonTooManyRequests, http.StatusTooManyRequests},
		{ReasonHeadersTooLarge, http.StatusRequestHeaderFieldsTooLarge},
		{ReasonPruned, http.StatusGone},
	}, x509Reasons()...)
}

// Status is the HTTP status of an API reason.
func (r Reason) Status() int {
	for _, x := range Reasons() {
		if x.Reason == r {
			return x.Status
		}
	}
	return http.StatusInternalServerError
}

// fail is an error the API answers with one of its own reasons.
func fail(r Reason, msg string) *Error {
	return &Error{Status: r.Status(), Reason: string(r), Msg: msg}
}

// unhealthy is the error of a ledger that does not answer (the cause is
// logged, never sent).
func unhealthy(cause error) *Error {
	e := fail(ReasonUnhealthy, "the ledger does not answer")
	e.Err = cause
	return e
}

// rejection is an error the API answers with an operation's reason.
func rejection(r op.Reason, msg string) *Error {
	return &Error{Status: statusOf(r), Reason: string(r), Msg: msg}
}

// statusOf maps an operation's rejection reason to an HTTP status.
func statusOf(r op.Reason) int {
	switch r {
	case op.ReasonOK:
		return http.StatusOK
	case op.ReasonMalformed, op.ReasonInvalidField, op.ReasonUnsupportedAlg, op.ReasonWrongNetwork, op.ReasonDuplicateSigner:
		return http.StatusBadRequest
	case op.ReasonOversized:
		return http.StatusRequestEntityTooLarge
	case op.ReasonBadSignature, op.ReasonUnknownSigner:
		return http.StatusUnauthorized
	case op.ReasonUnauthorized, op.ReasonBelowThreshold:
		return http.StatusForbidden
	case op.ReasonUnknownEntity, op.ReasonUnknownProvider, op.ReasonUnknownProposal:
		return http.StatusNotFound
	case op.ReasonReplayed, op.ReasonStaleVersion, op.ReasonInvalidTransition, op.ReasonAliasTaken,
		op.ReasonAlreadyVoted, op.ReasonProposalClosed, op.ReasonUnsafeChange, op.ReasonGovTooManyOpen:
		return http.StatusConflict
	case op.ReasonBadTicket, op.ReasonBadContract:
		return http.StatusUnprocessableEntity
	case op.ReasonMempoolFull:
		return http.StatusServiceUnavailable
	case op.ReasonTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}
