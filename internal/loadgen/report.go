package loadgen

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"
)

// Bounds are what a run must stay within (zero fields: unchecked).
type Bounds struct {
	// MaxRSS bounds the node's resident memory at every sample (bytes).
	MaxRSS int64
	// MaxDiskPerDevice bounds the home's bytes per device at the marks
	// of at least DiskFrom devices (below, the fixed part of the home
	// (the consensus WAL, the genesis, keys) is most of it).
	MaxDiskPerDevice float64
	DiskFrom         int
}

// Check says which bounds the run broke (nil: none).
func (r *Report) Check(b Bounds) error {
	var errs []error
	for _, m := range r.Marks {
		if b.MaxRSS > 0 && m.RSS > b.MaxRSS {
			errs = append(errs, fmt.Errorf("at %d devices the node's RSS is %d MiB, over the bound of %d MiB", m.Devices, m.RSS>>20, b.MaxRSS>>20))
		}
		if b.MaxDiskPerDevice > 0 && m.Devices >= b.DiskFrom && m.DiskPerDevice() > b.MaxDiskPerDevice {
			errs = append(errs, fmt.Errorf("at %d devices the home takes %.0f bytes per device, over the bound of %.0f", m.Devices, m.DiskPerDevice(), b.MaxDiskPerDevice))
		}
	}
	for _, s := range r.Soak.RSS {
		if b.MaxRSS > 0 && s.RSS > b.MaxRSS {
			errs = append(errs, fmt.Errorf("%v into the soak the node's RSS is %d MiB, over the bound of %d MiB", s.At.Round(time.Second), s.RSS>>20, b.MaxRSS>>20))
			break
		}
	}
	return errors.Join(errs...)
}

// Growth is the soak's RSS growth in MiB per hour: the mean of its last
// third of samples less that of its first third, over the time between.
func (s SoakReport) Growth() float64 {
	n := len(s.RSS) / 3
	if n == 0 {
		return 0
	}
	mean := func(x []Sample) (float64, float64) {
		var r, t float64
		for _, v := range x {
			r += float64(v.RSS)
			t += v.At.Hours()
		}
		return r / float64(len(x)), t / float64(len(x))
	}
	r0, t0 := mean(s.RSS[:n])
	r1, t1 := mean(s.RSS[len(s.RSS)-n:])
	if t1 <= t0 {
		return 0
	}
	return (r1 - r0) / (1 << 20) / (t1 - t0)
}

// Table prints the report.
func (r *Report) Table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "devices\tenrolled/s\tRSS MiB\tdisk B/device\tresolve p50\tresolve p99\t\n")
	for _, m := range r.Marks {
		fmt.Fprintf(tw, "%d\t%.0f\t%d\t%.0f\t%v\t%v\t\n", m.Devices, m.Rate, m.RSS>>20, m.DiskPerDevice(),
			m.P50.Round(time.Microsecond), m.P99.Round(time.Microsecond))
	}
	_ = tw.Flush()
	if a := r.Auth; a.Full > 0 {
		fmt.Fprintf(w, "\nauthentication over HTTP: %.0f decisions/s at full load (%d callers); at half load p50 %v, p99 %v (the load generator's start lag p99 %v; %d not sent, as they would have started late)\n",
			a.Full, a.Workers, a.P50.Round(time.Microsecond), a.P99.Round(time.Microsecond), a.Lag99.Round(time.Microsecond), a.Skipped)
		if a.NodeP99 > 0 {
			fmt.Fprintf(w, "the node's own time to serve them: p50 <= %v, p99 <= %v, %.2f%% within 5 ms (its request histogram)\n",
				a.NodeP50, a.NodeP99, 100*a.NodeWithin5ms)
		}
	}
	s := r.Soak
	if s.Duration == 0 {
		return
	}
	fmt.Fprintf(w, "\nsoak %v:", s.Duration.Round(time.Second))
	for _, k := range slices.Sorted(maps.Keys(s.Ops)) {
		fmt.Fprintf(w, " %s %d,", k, s.Ops[k])
	}
	fmt.Fprintf(w, " failed %d; authentication p50 %v p99 %v\n", s.Failed, s.AuthP50.Round(time.Microsecond), s.AuthP99.Round(time.Microsecond))
	if len(s.RSS) > 0 {
		first, last, top := s.RSS[0].RSS, s.RSS[len(s.RSS)-1].RSS, int64(0)
		for _, v := range s.RSS {
			top = max(top, v.RSS)
		}
		fmt.Fprintf(w, "soak RSS MiB: first %d, max %d, last %d; growth %.0f MiB/h (last third against first)\n", first>>20, top>>20, last>>20, s.Growth())
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "failure: %s\n", f)
	}
}
