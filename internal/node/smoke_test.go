package node

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdk"
)

func TestSmoke(t *testing.T) {
	home := t.TempDir()
	cfg := Test(home)
	info, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	c := sdk.NewClient(n.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitHeight(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s, _, _ := cose.GenerateKey(cose.AlgEdDSA)
	tx, id, err := op.SignRegister(s, "k1", op.Payload{Network: "local", Register: &op.Register{
		Kind: op.KindDevice, Provider: info.ProviderDID, Doc: op.Document{Keys: []op.Key{op.KeyFrom("k1", s.Public())}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	res, err := c.Submit(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v in %v", res, time.Since(t0))
	e, err := c.Entity(ctx, id.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", e)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
