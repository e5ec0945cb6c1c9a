package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/sdk"
)

// histogram is a cumulative Prometheus histogram read from a node's
// /metrics: the count of observations at or under each bucket's bound.
type histogram struct {
	le    []float64 // bounds in seconds, ascending (+Inf last)
	count []uint64
}

// maxMetricsBytes bounds what is read of /metrics.
const maxMetricsBytes = 16 << 20

// scrapeHistogram reads the node's bias_http_request_duration_seconds
// for route (a route pattern, "POST /v1/authn/verify"): the node's own
// time to serve each request, from its handler's start to the end of
// the response, without the network or the load generator.
func scrapeHistogram(ctx context.Context, c *sdk.Client, route string) (histogram, error) {
	var h histogram
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/metrics", nil)
	if err != nil {
		return h, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close() //nolint:errcheck // a read-only body
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("/metrics: %s", resp.Status)
	}
	prefix := `bias_http_request_duration_seconds_bucket{`
	want := `route="` + route + `"`
	sc := bufio.NewScanner(io.LimitReader(resp.Body, maxMetricsBytes))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) || !strings.Contains(line, want) {
			continue
		}
		i := strings.Index(line, `le="`)
		j := strings.LastIndexByte(line, ' ')
		if i < 0 || j < i {
			continue
		}
		bound := line[i+4:]
		bound = bound[:strings.IndexByte(bound, '"')]
		le, err1 := strconv.ParseFloat(bound, 64) // "+Inf" parses as +Inf
		n, err2 := strconv.ParseFloat(line[j+1:], 64)
		if err1 != nil || err2 != nil {
			return h, fmt.Errorf("/metrics: bad bucket line %q", line)
		}
		h.le, h.count = append(h.le, le), append(h.count, uint64(n))
	}
	if err := sc.Err(); err != nil {
		return h, err
	}
	if !slices.IsSorted(h.le) {
		return h, fmt.Errorf("/metrics: %s buckets out of order", route)
	}
	return h, nil
}

// since is the histogram of what was observed after earlier.
func (h histogram) since(earlier histogram) histogram {
	out := histogram{le: h.le, count: slices.Clone(h.count)}
	for i, le := range h.le {
		if k := slices.Index(earlier.le, le); k >= 0 {
			out.count[i] -= min(earlier.count[k], out.count[i])
		}
	}
	return out
}

// total is the number of observations.
func (h histogram) total() uint64 {
	if len(h.count) == 0 {
		return 0
	}
	return h.count[len(h.count)-1]
}

// quantile is the upper bound of the bucket that holds quantile q (0 to
// 1): the quantile is at most that (0 when empty; +Inf past the last
// finite bound).
func (h histogram) quantile(q float64) time.Duration {
	n := h.total()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	for i, c := range h.count {
		if c >= rank {
			if math.IsInf(h.le[i], 1) {
				return time.Duration(math.MaxInt64)
			}
			return time.Duration(h.le[i] * float64(time.Second))
		}
	}
	return time.Duration(math.MaxInt64)
}

// within is the fraction of observations at or under bound (a bucket's
// bound; 0 when empty or when no bucket has that bound).
func (h histogram) within(bound time.Duration) float64 {
	n := h.total()
	if n == 0 {
		return 0
	}
	for i, le := range h.le {
		if time.Duration(le*float64(time.Second)) == bound {
			return float64(h.count[i]) / float64(n)
		}
	}
	return 0
}
