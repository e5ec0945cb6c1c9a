package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bias-iot/bias/record"
)

// ProposalView is a governance proposal as GET /v1/gov/proposals/{id}
// shows it: the record, its status as a vote submitted now would find it
// (open, executed, expired), and its approvals counted as the vote
// counts them (current providers only) against the threshold.
type ProposalView struct {
	record.Proposal
	Status string `json:"status"`
	// Time is the block time of the block that made it.
	Time time.Time `json:"time"`
	// Counted is the number of approvals by current providers; it passes
	// when Counted/Providers > Threshold.
	Counted   int    `json:"counted"`
	Providers int    `json:"providers"`
	Threshold string `json:"threshold"` // voteNum/voteDen
}

// ProposalViewOf is the view of p in a state at height (a vote would be
// in block height+1), under the governance record g.
func ProposalViewOf(p *record.Proposal, g *record.Governance, height int64) *ProposalView {
	v := &ProposalView{Proposal: *p, Status: p.StatusAt(height + 1), Time: time.Unix(0, p.Created).UTC()}
	if g != nil {
		v.Providers = len(g.Providers)
		v.Threshold = fmt.Sprintf("%d/%d", g.Params.VoteNum, g.Params.VoteDen)
		for _, a := range p.Approvals {
			if g.IsProvider(a.Provider) {
				v.Counted++
			}
		}
	}
	return v
}

// Governance reads the network's providers, validator set and
// parameters (GET /v1/gov).
func (c *Client) Governance(ctx context.Context) (*record.Governance, error) {
	var out record.Governance
	return &out, c.do(ctx, http.MethodGet, "/v1/gov", "", nil, &out)
}

// Proposals lists the governance proposals (GET /v1/gov/proposals).
func (c *Client) Proposals(ctx context.Context) ([]ProposalView, error) {
	var out []ProposalView
	return out, c.do(ctx, http.MethodGet, "/v1/gov/proposals", "", nil, &out)
}

// Proposal reads a governance proposal (GET /v1/gov/proposals/{id}).
func (c *Client) Proposal(ctx context.Context, id string) (*ProposalView, error) {
	var out ProposalView
	return &out, c.do(ctx, http.MethodGet, "/v1/gov/proposals/"+id, "", nil, &out)
}

// GovEvent is a committed governance event (GET /v1/events?types=gov),
// with its position in the stream.
type GovEvent struct {
	ID string `json:"id"` // height.tx.event: resume after it
	record.GovEvent
}

// GovEvents streams committed governance events after the event lastID,
// or from height from when lastID is "" (0: from the next block), about
// provider only when it is not "".
func (c *Client) GovEvents(ctx context.Context, lastID string, from int64, provider string) (<-chan GovEvent, error) {
	q := url.Values{"types": {"gov"}}
	if from > 0 {
		q.Set("from", strconv.FormatInt(from, 10))
	}
	if provider != "" {
		q.Set("provider", provider)
	}
	return streamOf(ctx, c, "/v1/events?"+q.Encode(), lastID, func(id, data string) (GovEvent, error) {
		ev := GovEvent{ID: id}
		return ev, json.Unmarshal([]byte(data), &ev.GovEvent)
	})
}
