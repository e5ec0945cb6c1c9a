package node_test

import (
	"testing"

	"github.com/bias-iot/bias/internal/node/nodetest"
)

// eachEngine runs test as a subtest per ledger engine (nodetest.Engines),
// each on a node of its own: the same cases, the same expected reasons.
func eachEngine(t *testing.T, test func(t *testing.T, h *nodetest.Harness)) {
	t.Helper()
	for _, e := range nodetest.Engines {
		t.Run(e, func(t *testing.T) { test(t, nodetest.StartEngine(t, e)) })
	}
}
