package cli

// exitError gives an error its exit code class.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a command line that cannot work as given.
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

const exitUsage = 2
