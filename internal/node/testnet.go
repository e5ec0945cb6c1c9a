package node

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bias-iot/bias/internal/ledger/cometledger"
	"github.com/bias-iot/bias/internal/registry"
)

// TestnetConfig describes a network of validators on one machine.
type TestnetConfig struct {
	Dir        string
	Network    string
	Validators int
	// HTTPBase and P2PBase are the first ports; node i uses base+i.
	// 0 picks free ones; InitTestnet refuses ports in use.
	HTTPBase, P2PBase int
	// Host is the loopback address the nodes listen on.
	Host          string
	TimeoutCommit time.Duration
	// FullNodes adds non-validating nodes (edge/MEC sites: read replicas
	// that serve resolution and authentication from their own state),
	// after the validators.
	FullNodes int
}

// TestnetNode is one generated node.
type TestnetNode struct {
	Config      Config
	ProviderDID string // "" for a full node
	AdminKey    string
	Validator   bool
}

// InitTestnet generates the homes of a validator network in Dir/node0 …
// Dir/nodeN-1: each validator with its own provider ("operator-a", …),
// all with the same genesis, each with the others as persistent peers.
func InitTestnet(tc TestnetConfig) ([]TestnetNode, error) {
	if tc.Validators < 1 || tc.Validators > 26 {
		return nil, fmt.Errorf("validators must be 1 to 26")
	}
	if tc.FullNodes < 0 || tc.FullNodes > 16 {
		return nil, fmt.Errorf("full nodes must be 0 to 16")
	}
	if _, err := os.Stat(tc.Dir); err == nil {
		entries, _ := os.ReadDir(tc.Dir)
		if len(entries) > 0 {
			return nil, fmt.Errorf("%s exists and is not empty", tc.Dir)
		}
	}
	if err := tc.ports(); err != nil {
		return nil, err
	}
	var (
		nodes []TestnetNode
		vals  []cometledger.GenesisValidator
		peers []string
		g     = registry.Genesis{Network: tc.Network}
	)
	for i := 0; i < tc.Validators; i++ {
		name := "operator-" + string(rune('a'+i))
		cfg := Config{
			Home: filepath.Join(tc.Dir, fmt.Sprintf("node%d", i)), Network: tc.Network,
			HTTP:    fmt.Sprintf("%s:%d", tc.Host, tc.HTTPBase+i),
			P2P:     fmt.Sprintf("tcp://%s:%d", tc.Host, tc.P2PBase+i),
			Moniker: name, TimeoutCommit: Duration(tc.TimeoutCommit), AllowDuplicateIP: true,
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		id, err := cometledger.InitKeys(cfg.Home)
		if err != nil {
			return nil, err
		}
		gp, err := NewProviderKey(cfg.Home, name)
		if err != nil {
			return nil, err
		}
		pid, err := registry.ProviderDID(tc.Network, *gp)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cfg.Home, "provider", "did"), []byte(pid.String()+"\n"), 0o644); err != nil {
			return nil, err
		}
		if _, err := ensureCA(cfg.Home); err != nil {
			return nil, err
		}
		gp.Validator = id.ValidatorPubKey.Bytes() // each operator runs its validator
		g.Providers = append(g.Providers, *gp)
		vals = append(vals, cometledger.GenesisValidator{Name: name, PubKey: id.ValidatorPubKey, Power: 10})
		peers = append(peers, fmt.Sprintf("%s@%s:%d", id.NodeID, tc.Host, tc.P2PBase+i))
		nodes = append(nodes, TestnetNode{Config: cfg, ProviderDID: pid.String(), AdminKey: AdminKeyPath(cfg.Home), Validator: true})
	}
	for j := 0; j < tc.FullNodes; j++ {
		i := tc.Validators + j
		cfg := Config{
			Home: filepath.Join(tc.Dir, fmt.Sprintf("node%d", i)), Network: tc.Network,
			HTTP:    fmt.Sprintf("%s:%d", tc.Host, tc.HTTPBase+i),
			P2P:     fmt.Sprintf("tcp://%s:%d", tc.Host, tc.P2PBase+i),
			Moniker: fmt.Sprintf("edge-%d", j), TimeoutCommit: Duration(tc.TimeoutCommit), AllowDuplicateIP: true,
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		// A full node has keys, but its validator key is not in the genesis.
		if _, err := cometledger.InitKeys(cfg.Home); err != nil {
			return nil, err
		}
		nodes = append(nodes, TestnetNode{Config: cfg})
	}
	app, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	t := time.Now().UTC()
	for i := range nodes {
		var others []string
		for j, p := range peers { // the validators; a full node dials them all
			if j != i {
				others = append(others, p)
			}
		}
		nodes[i].Config.PersistentPeers = strings.Join(others, ",")
		if err := nodes[i].Config.Save(); err != nil {
			return nil, err
		}
		if err := cometledger.WriteGenesis(nodes[i].Config.Home, tc.Network, t, vals, app); err != nil {
			return nil, err
		}
	}
	return nodes, nil
}

// ports picks free ports when none are given, and refuses ports that a
// running process (a `bias node`, another testnet) listens on.
func (tc *TestnetConfig) ports() error {
	n := tc.Validators + tc.FullNodes
	if tc.HTTPBase == 0 || tc.P2PBase == 0 {
		base, err := FreePortBase(tc.Host, 2*n)
		if err != nil {
			return err
		}
		if tc.HTTPBase == 0 {
			tc.HTTPBase = base
		}
		if tc.P2PBase == 0 {
			tc.P2PBase = base + n
		}
	}
	if tc.HTTPBase < 1 || tc.P2PBase < 1 || tc.HTTPBase+n > 65536 || tc.P2PBase+n > 65536 {
		return fmt.Errorf("ports: http base %d and p2p base %d must leave %d ports each below 65536", tc.HTTPBase, tc.P2PBase, n)
	}
	if tc.HTTPBase < tc.P2PBase+n && tc.P2PBase < tc.HTTPBase+n {
		return fmt.Errorf("ports: the http ports %d-%d and the p2p ports %d-%d overlap", tc.HTTPBase, tc.HTTPBase+n-1, tc.P2PBase, tc.P2PBase+n-1)
	}
	for i := range n {
		for _, p := range []int{tc.HTTPBase + i, tc.P2PBase + i} {
			l, err := net.Listen("tcp", net.JoinHostPort(tc.Host, strconv.Itoa(p)))
			if err != nil {
				return fmt.Errorf("port %d on %s is in use (a running bias node?): pass other bases, or none to pick free ports: %w", p, tc.Host, err)
			}
			if err := l.Close(); err != nil {
				return err
			}
		}
	}
	return nil
}

// FreePortBase finds n consecutive free TCP ports on host, for a
// generated network on one machine (there is a small race: another
// process may take them before the nodes start).
func FreePortBase(host string, n int) (int, error) {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, err
		}
		base := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, err
		}
		ok := true
		for i := 0; i < n && ok; i++ {
			li, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(base+i)))
			if err != nil {
				ok = false
				continue
			}
			if err := li.Close(); err != nil {
				return 0, err
			}
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d free consecutive ports on %s", n, host)
}
