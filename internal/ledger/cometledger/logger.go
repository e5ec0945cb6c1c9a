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
func (a slogAdapter) Info(msg string, kv ...any) { a.l.Debug(msg, kv...) }
func (a slogAdapter) Error(msg string, kv ...any) {
	if routine[msg] {
		a.l.Debug(msg, kv...)
		return
	}
	a.l.Error(msg, kv...)
}

// routine lists CometBFT errors that are a normal part of peers coming
// and going or of a shutdown: logged at Debug, not Error.
var routine = map[string]bool{
	"Stopped accept routine, as transport is closed": true,
	"Error stopping pool":                            true,
	"error while stopping peer":                      true,
	"Stopping peer for error":                        true,
	"dialing failed":                                 true,
	"Error dialing peer":                             true,
	"Error reconnecting to peer. Trying again":       true,
	"Won't start a peer - switch is not running":     true,
	// Block sync's request timers fire after it has handed over to
	// consensus; the pool is stopped and drops them.
	"SendTimeout": true,
}

func (a slogAdapter) With(kv ...any) cmtlog.Logger {
	return slogAdapter{a.l.With(kv...)}
}
