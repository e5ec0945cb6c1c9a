package cometledger

import (
	"context"
	"log/slog"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// slogAdapter adapts CometBFT's logger to slog. CometBFT's Info level
// (every block) becomes Debug; its errors stay errors.
type slogAdapter struct{ l *slog.Logger }

var _ cmtlog.Logger = slogAdapter{}

func (a slogAdapter) Debug(msg string, kv ...any) {
	a.l.Log(context.Background(), slog.LevelDebug-4, msg, kv...)
}
func (a slogAdapter) Info(msg string, kv ...any)  { a.l.Debug(msg, kv...) }
func (a slogAdapter) Error(msg string, kv ...any) { a.l.Error(msg, kv...) }
func (a slogAdapter) With(kv ...any) cmtlog.Logger {
	return slogAdapter{a.l.With(kv...)}
}
