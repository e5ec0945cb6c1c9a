package cli

import "errors"

// exitCode is the exit code of a command's error.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitInternal
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

const (
	exitInternal = 1
	exitUsage    = 2
	exitRefused  = 4
)
