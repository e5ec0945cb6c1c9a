package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// The exit codes, by class of failure (docs/operations.md, Exit codes).
const (
	exitOK          = 0
	exitInternal    = 1 // the command or the node failed (HTTP 5xx): a retry may work
	exitUsage       = 2 // the command line cannot work as given: fix it
	exitUnreachable = 3 // no node answers at --node: start one, or fix --node
	exitRefused     = 4 // the node or the ledger answered no (a refused operation, an unknown DID)
	exitAuth        = 5 // an authentication failed (a refused proof, token or certificate request)
	exitNotReady    = 6 // the node answers but is not ready (bias status: /readyz)
)

// exitClasses names the classes in --output json errors.
var exitClasses = map[int]string{
	exitInternal: "internal", exitUsage: "usage", exitUnreachable: "unreachable", exitRefused: "refused", exitAuth: "authentication", exitNotReady: "not-ready",
}

// exitError gives an error its exit code class.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a command line that cannot work as given.
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// refusedError marks a refusal by the ledger.
func refusedError(err error) error { return &exitError{code: exitRefused, err: err} }

// notReadyError marks a node that is not ready.
func notReadyError(err error) error { return &exitError{code: exitNotReady, err: err} }

// authError marks a failed authentication.
func authError(err error) error { return &exitError{code: exitAuth, err: err} }

// exitCode is the exit code of a command's error, and the stable reason
// the node gave, if any.
func exitCode(err error) (int, string) {
	var ae *sdk.APIError
	var re *sdk.ResolutionError
	var oe *op.Error
	reason := ""
	switch {
	case errors.As(err, &ae):
		reason = ae.Reason
	case errors.As(err, &re):
		reason = string(re.Keyword)
	case errors.As(err, &oe):
		reason = string(oe.Reason)
	}
	if unreachable(err) {
		return exitUnreachable, reason
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code, reason
	}
	switch {
	case ae != nil && ae.Status == http.StatusUnauthorized:
		return exitAuth, reason
	case ae != nil && ae.Status >= 400 && ae.Status < 500, re != nil && re.Status >= 400 && re.Status < 500:
		return exitRefused, reason
	case oe != nil:
		// An operation that breaks a rule of the ledger before it is
		// sent (a key that signed it already): refused, as the ledger
		// would refuse it, with the ledger's reason.
		return exitRefused, reason
	}
	return exitInternal, reason
}

// unreachable tells a failure to reach the node (no process listens, no
// such host, a network down) from others.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ue *url.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &oe) && oe.Op == "dial" || errors.As(err, &de) ||
		errors.As(err, &ue) && errors.Is(ue.Err, syscall.ECONNRESET)
}
