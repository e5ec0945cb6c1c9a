package cometledger

import (
	"sync"

	"github.com/cometbft/cometbft/blocksync"
	cmtcfg "github.com/cometbft/cometbft/config"
	cs "github.com/cometbft/cometbft/consensus"
	mempl "github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/proxy"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/statesync"
	"github.com/prometheus/client_golang/prometheus"
)

// Observer hears of the ledger's own events, for metrics; its methods
// must not block.
type Observer interface {
	Resent(operations int) // a round of re-sending operations to the peers
	Stalled()              // a stall warning: operations wait but no block commits
}

// defaultRegisterer serialises the swaps of prometheus.DefaultRegisterer
// (see metricsProvider).
var defaultRegisterer sync.Mutex

// metricsProvider builds CometBFT's instrumentation in reg, with the
// namespace cometbft. CometBFT's metrics are go-kit Prometheus metrics,
// which register themselves on prometheus.DefaultRegisterer as they are
// made (go-kit's NewCounterFrom and the like call prometheus.MustRegister):
// the provider points that default at reg while it makes them, under a
// lock, so that each node (several run in one test process) has its
// metrics in its own registry and the process's default registry stays
// as it was. CometBFT opens no listener of its own: the node serves reg.
// With reg nil, CometBFT's metrics are no-ops.
func metricsProvider(cfg *cmtcfg.InstrumentationConfig, reg *prometheus.Registry) nm.MetricsProvider {
	cfg.Prometheus = reg != nil
	cfg.Namespace = "cometbft"
	cfg.PrometheusListenAddr = ""
	inner := nm.DefaultMetricsProvider(cfg)
	if reg == nil {
		return inner
	}
	return func(chainID string) (*cs.Metrics, *p2p.Metrics, *mempl.Metrics, *sm.Metrics, *proxy.Metrics, *blocksync.Metrics, *statesync.Metrics) {
		defaultRegisterer.Lock()
		defer defaultRegisterer.Unlock()
		saved := prometheus.DefaultRegisterer
		prometheus.DefaultRegisterer = reg
		defer func() { prometheus.DefaultRegisterer = saved }()
		return inner(chainID)
	}
}
