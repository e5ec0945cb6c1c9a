package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/bias-iot/bias/sdk"
	"github.com/spf13/cobra"
)

// reasonPruned is the API's refusal of blocks below the first the node
// holds (api.ReasonPruned; the CLI speaks only the wire format).
const reasonPruned = "pruned"

func (a *app) eventsCmd() *cobra.Command {
	var decisions bool
	var from int64
	var after, didFilter, provider string
	var count int
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the committed entity events (or, with --decisions, the authentication decisions)",
		Long: `Follow the node's stream of committed entity events (GET /v1/events): one line
per event, "ID HEIGHT OP DID STATUS vVERSION", or one JSON object per line
with --output json (jq-friendly). --from H replays from block H (within the
node's last 1000 blocks), --after ID resumes after an event's id; --from 1
starts at the first block the node holds, on a node that pruned older
blocks or joined by state sync after them (a higher --from below that
block is refused as pruned, naming it). With
--decisions, the node's authentication decisions (GET /v1/authn/events)
instead. Runs until interrupted, or until --count events.`,
		Example: example("bias events", "bias events --from 1 --provider did:bias:local:... --output json | jq .did",
			"bias events --decisions --did did:bias:local:..."),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 0 {
				return usageError(errors.New("--count must be 0 (no end) or more"))
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if decisions {
				return a.followDecisions(ctx, didFilter, after, count)
			}
			c := a.client()
			var evs <-chan sdk.Event
			if after != "" {
				ch, err := c.EventsAfter(ctx, after, 0, didFilter, provider)
				if err != nil {
					return err
				}
				evs = ch
			} else {
				ch, err := c.Events(ctx, from, didFilter, provider)
				var ae *sdk.APIError
				if from == 1 && errors.As(err, &ae) && ae.Reason == reasonPruned && ae.First > 1 {
					// From the beginning: from the first block the node
					// holds (it pruned older ones, or joined after them).
					a.note("the node holds the blocks from height %d on: following from there\n", ae.First)
					ch, err = c.Events(ctx, ae.First, didFilter, provider)
				}
				if err != nil {
					return err
				}
				evs = ch
			}
			for n := 0; count == 0 || n < count; n++ {
				select {
				case <-ctx.Done():
					return nil
				case e, ok := <-evs:
					if !ok {
						return fmt.Errorf("the node closed the event stream")
					}
					if err := a.emit(e, func() {
						a.out("%s %d %s %s %s v%d\n", e.ID, e.Height, e.Op, e.DID, e.Status, e.Version)
					}); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&decisions, "decisions", false, "follow the authentication decisions instead")
	cmd.Flags().Int64Var(&from, "from", 0, "replay from this height (default: the next block)")
	cmd.Flags().StringVar(&after, "after", "", "resume after this event id")
	cmd.Flags().StringVar(&didFilter, "did", "", "only the events of this DID")
	cmd.Flags().StringVar(&provider, "provider", "", "only the events of this provider's entities")
	cmd.Flags().IntVar(&count, "count", 0, "stop after this many events (0: run until interrupted)")
	return cmd
}

func (a *app) followDecisions(ctx context.Context, didFilter, after string, count int) error {
	ch, err := a.client().Decisions(ctx, didFilter, after)
	if err != nil {
		return err
	}
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-ch:
			if !ok {
				return fmt.Errorf("the node closed the decision stream")
			}
			d := e.Decision
			v := map[string]any{"id": e.ID, "decision": d}
			if err := a.emit(v, func() {
				a.out("%s %d %s device=%s service=%s %s\n", e.ID, d.At, d.Reason, d.Device, d.Service, d.Detail)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}
