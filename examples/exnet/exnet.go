// Package exnet starts the examples' multi-operator network in process:
// four validators (operators A, B, C, D, each with its provider) and edge
// full nodes, on loopback, in a temporary directory; and helps the
// examples register entities and deploy contracts.
package exnet

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

// Operator is a provider with its admin key and its validator's API.
type Operator struct {
	Name     string
	Provider did.DID
	Admin    cose.Signer
	Kid      did.DID
	Node     *sdk.Client
}

// Net is a running network.
type Net struct {
	Ops   []*Operator   // A, B, C, D
	Edges []*sdk.Client // edge full nodes
	nodes []*node.Node
	dir   string
}

// Start starts four validators and edges edge nodes.
func Start(edges int) (*Net, error) {
	dir, err := os.MkdirTemp("", "bias-example")
	if err != nil {
		return nil, err
	}
	hb, err := node.FreePortBase("127.0.0.1", 4+edges)
	if err != nil {
		return nil, err
	}
	pb, err := node.FreePortBase("127.0.0.1", 4+edges)
	if err != nil {
		return nil, err
	}
	nodes, err := node.InitTestnet(node.TestnetConfig{Dir: dir, Network: "testnet", Validators: 4, FullNodes: edges,
		Host: "127.0.0.1", HTTPBase: hb, P2PBase: pb, TimeoutCommit: 200 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	n := &Net{dir: dir}
	// Warnings and errors only (a stalled network says so), on stderr.
	logs := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for i, tn := range nodes {
		run, err := node.Start(tn.Config, logs.With("node", tn.Config.Moniker))
		if err != nil {
			n.Stop()
			return nil, err
		}
		n.nodes = append(n.nodes, run)
		c := sdk.NewClient(run.URL())
		if !tn.Validator {
			n.Edges = append(n.Edges, c)
			continue
		}
		s, err := keyfile.Load(tn.AdminKey)
		if err != nil {
			n.Stop()
			return nil, err
		}
		p := did.MustParse(tn.ProviderDID)
		n.Ops = append(n.Ops, &Operator{Name: string(rune('A' + i)), Provider: p, Admin: s, Kid: p.WithFragment(node.AdminKeyID), Node: c})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, run := range n.nodes {
		if err := run.WaitHeight(ctx, 1); err != nil {
			n.Stop()
			return nil, err
		}
	}
	return n, nil
}

// Stop stops every node and removes the network's directory; what fails is
// reported on stderr.
func (n *Net) Stop() {
	for _, run := range n.nodes {
		if err := run.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop node:", err)
		}
	}
	if err := os.RemoveAll(n.dir); err != nil {
		fmt.Fprintln(os.Stderr, "remove the network's directory:", err)
	}
}

// Submit signs a payload with the operator's admin key and submits it at
// its node.
func (o *Operator) Submit(p op.Payload) (*sdk.SubmitResult, error) {
	p.Network = o.Provider.Network
	tx, err := op.Sign(o.Admin, o.Kid, p)
	if err != nil {
		return nil, err
	}
	return o.Node.Submit(context.Background(), tx)
}

// Deploy deploys a contract of the operator and waits until every node of
// the network has it; binders are the other operators whose services may
// bind it (an access contract).
func (n *Net) Deploy(o *Operator, name, kind, src string, binders ...*Operator) error {
	var bs []string
	for _, b := range binders {
		bs = append(bs, b.Provider.String())
	}
	if _, err := o.Submit(op.Payload{Type: op.TypeDeploy, Contract: &op.Contract{Provider: o.Provider.String(), Name: name, Kind: kind, Source: src, Binders: bs}}); err != nil {
		return err
	}
	for _, run := range n.nodes {
		url := run.URL() + "/v1/providers/" + o.Provider.String() + "/contracts/" + name
		for i := 0; ; i++ {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if i > 200 {
				return fmt.Errorf("contract %s never reached %s", name, run.URL())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Entity is a registered device or service with its key.
type Entity struct {
	DID    did.DID
	Key    cose.Signer
	Status string
}

// Register registers an entity under the operator (self-signed by its new
// key), with doc's attributes and access bindings; the operator's
// registration contract, if any, decides in the block.
func (o *Operator) Register(kind string, doc op.Document) (*Entity, error) {
	s, _, err := cose.GenerateKey(cose.AlgEdDSA)
	if err != nil {
		return nil, err
	}
	doc.Keys = []op.Key{op.KeyFrom("k1", s.Public())}
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: o.Provider.Network, Register: &op.Register{Kind: kind, Provider: o.Provider.String(), Doc: doc}})
	if err != nil {
		return nil, err
	}
	r, err := o.Node.Submit(context.Background(), tx)
	if err != nil {
		return nil, err
	}
	return &Entity{DID: id, Key: s, Status: r.EntityStatus}, nil
}

// Validate has the operator validate one of its entities.
func (o *Operator) Validate(e *Entity) error {
	v, err := o.Node.Entity(context.Background(), e.DID.String())
	if err != nil {
		return err
	}
	_, err = o.Submit(op.Payload{Type: op.TypeValidate, Status: &op.Status{DID: e.DID.String(), Version: v.Version}})
	return err
}

// WaitFor waits until client c has committed entity e at its latest version.
func WaitFor(c *sdk.Client, e *Entity, status string) error {
	for i := 0; i < 200; i++ {
		if v, err := c.Entity(context.Background(), e.DID.String()); err == nil && v.Status == status {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s never reached %s", e.DID, status)
}
