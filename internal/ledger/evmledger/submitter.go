package evmledger

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi/bind"
)

// submitLoop posts the pool in batches whenever it is not empty, until
// Close.
func (l *Ledger) submitLoop(ctx context.Context) {
	defer l.stopped.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		for {
			batch := l.take()
			if len(batch) == 0 {
				break
			}
			l.send(ctx, batch)
		}
	}
}

// take removes from the pool what fits in one batch, in submission order.
func (l *Ledger) take() []*pending {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.usable() != nil {
		return nil
	}
	n, size := 0, 0
	for n < len(l.pool) && n < l.cfg.MaxBatchOps {
		if EncodedSize(l.cfg.Network, n+1, size+len(l.pool[n].tx)) > MaxBatchBytes {
			break
		}
		size += len(l.pool[n].tx)
		n++
	}
	batch := l.pool[:n:n]
	l.pool = l.pool[n:]
	return batch
}

// send posts one batch in an anchor transaction; its submitters learn
// their results from the follower, or the error here.
func (l *Ledger) send(ctx context.Context, batch []*pending) {
	b := Batch{Network: l.cfg.Network, Ops: make([][]byte, len(batch))}
	for i, p := range batch {
		b.Ops[i] = p.tx
	}
	data, err := EncodeBatch(b)
	if err == nil {
		err = l.post(ctx, data, batch)
	}
	if err == nil {
		return
	}
	err = fmt.Errorf("evmledger: anchor transaction: %w", err)
	l.log.Warn("anchor transaction failed", "ops", len(batch), "err", err)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range batch {
		if l.waiting[p.hash] == p {
			delete(l.waiting, p.hash)
			p.done <- outcome{err: err}
		}
	}
}

// post signs the anchor transaction of data, records it as this node's,
// then sends it (so that the follower knows it whenever it sees it). Its
// nonce is the endpoint's pending nonce, or the one after this node's
// last sent transaction if that is higher: an endpoint's pool may report
// a stale pending nonce right after a new block, and the same nonce
// again would be refused as an underpriced replacement.
func (l *Ledger) post(ctx context.Context, data []byte, batch []*pending) error {
	pending, err := l.chain.PendingNonceAt(ctx, l.auth.From)
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	l.mu.Lock()
	nonce := max(pending, l.nonce)
	l.mu.Unlock()
	opts := bind.TransactOpts{From: l.auth.From, Signer: l.auth.Signer, Context: ctx, NoSend: true, Nonce: new(big.Int).SetUint64(nonce)}
	tx, err := l.anchor.Anchor(&opts, data)
	if err != nil {
		return err
	}
	head := l.head(ctx)
	l.mu.Lock()
	l.inflight[tx.Hash()] = &flight{ops: batch, sent: head}
	l.mu.Unlock()
	err = l.chain.SendTransaction(ctx, tx)
	l.mu.Lock()
	if err != nil {
		delete(l.inflight, tx.Hash())
	} else {
		l.nonce = max(l.nonce, nonce+1)
	}
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.log.Debug("anchor sent", "tx", tx.Hash(), "ops", len(batch), "bytes", len(data))
	return nil
}

// head is the number of the chain's latest block, from which DropAfter
// counts; if the endpoint does not answer, the last final block the
// follower saw plus the confirmations.
func (l *Ledger) head(ctx context.Context) uint64 {
	if h, err := l.chain.HeaderByNumber(ctx, nil); err == nil {
		return h.Number.Uint64()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.final + l.cfg.Confirmations
}
