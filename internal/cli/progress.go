package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress bar on a terminal stream.
type progress struct {
	w     io.Writer
	label string
	total int
	start time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: total, start: time.Now()}
	p.set(0)
	return p
}

func (p *progress) set(n int) {
	const width = 30
	fill := width * n / max(p.total, 1)
	rate := float64(n) / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%s %d/%d [%s%s] %3d%% %.0f/s", p.label, n, p.total,
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*n/max(p.total, 1), rate)
}

func (p *progress) done() { fmt.Fprintln(p.w) }
