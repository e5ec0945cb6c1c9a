package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// The output formats of --output.
const (
	outputText = "text"
	outputJSON = "json"
)

// emit writes a command's result: with --output json, v as one line of
// JSON (the shape the golden tests fix); with --quiet, nothing; else what
// text writes.
func (a *app) emit(v any, text func()) error {
	if a.output == outputJSON {
		return json.NewEncoder(a.env.Stdout).Encode(v)
	}
	text() // writes with out, which --quiet silences
	return nil
}

// printJSON writes a result that is JSON in either format: indented as
// text, one line with --output json.
func (a *app) printJSON(v any) error {
	return a.emit(v, func() {
		if b, err := json.MarshalIndent(v, "", "  "); err == nil {
			a.out("%s\n", b)
		}
	})
}

// note writes a remark for the operator on stderr (a verification, a
// count), which --quiet silences.
func (a *app) note(format string, args ...any) {
	if !a.quiet {
		fmt.Fprintf(a.env.Stderr, format, args...)
	}
}

// progressOut is where a progress bar goes: stderr, unless --quiet or
// --output json.
func (a *app) progressOut() io.Writer {
	if a.quiet || a.output == outputJSON {
		return io.Discard
	}
	return a.env.Stderr
}

// errorBody is an error as --output json writes it on stderr.
type errorBody struct {
	Error struct {
		Class   string `json:"class"`
		Code    int    `json:"code"`
		Reason  string `json:"reason,omitempty"`
		Message string `json:"message"`
	} `json:"error"`
}
