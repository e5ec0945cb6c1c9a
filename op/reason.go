package op

// Reason is a stable, machine-readable reason code for the outcome of an
// operation. The list is append-only: codes are never renumbered or reused,
// so clients may branch on them. Code is the ABCI result code that carries
// the reason on the ledger.
type Reason string

// The reason codes, in the order of their ABCI codes (ReasonOK is 0).
const (
	ReasonOK                Reason = "ok"
	ReasonMalformed         Reason = "malformed"          // not a COSE_Sign1, not deterministic CBOR, wrong shape
	ReasonOversized         Reason = "oversized"          // larger than the limit for its type
	ReasonUnsupportedAlg    Reason = "unsupported-alg"    // algorithm other than EdDSA or ES256
	ReasonInvalidField      Reason = "invalid-field"      // a field breaks its rule (the message says which)
	ReasonWrongNetwork      Reason = "wrong-network"      // made for another network
	ReasonBadSignature      Reason = "bad-signature"      // signature does not verify with the named key
	ReasonUnknownSigner     Reason = "unknown-signer"     // kid names no current key
	ReasonUnauthorized      Reason = "unauthorized"       // the signer may not make this operation
	ReasonUnknownEntity     Reason = "unknown-entity"     // the target DID is not registered
	ReasonUnknownProvider   Reason = "unknown-provider"   // the named provider does not exist
	ReasonReplayed          Reason = "replayed"           // this operation was already applied
	ReasonStaleVersion      Reason = "stale-version"      // names a version that is not the current one
	ReasonInvalidTransition Reason = "invalid-transition" // not allowed from the entity's status
	ReasonBadTicket         Reason = "bad-ticket"         // enrollment ticket invalid, expired, used or not for this key
	ReasonInternal          Reason = "internal"           // the node failed; the operation may be retried
	ReasonMempoolFull       Reason = "mempool-full"       // the node is overloaded; retry later
	ReasonTimeout           Reason = "timeout"            // not committed in time; it may still commit
	ReasonAliasTaken        Reason = "alias-taken"        // a legacy identifier is held by another live entity
	ReasonBadContract       Reason = "bad-contract"       // a contract does not compile, has the wrong type or costs too much
	ReasonUnknownProposal   Reason = "unknown-proposal"   // a vote names no proposal on the ledger
	ReasonAlreadyVoted      Reason = "already-voted"      // the provider already approved this proposal
	ReasonProposalClosed    Reason = "proposal-closed"    // the proposal was executed or expired
	ReasonUnsafeChange      Reason = "unsafe-change"      // the change would remove the last provider or leave an unsafe validator set
	ReasonBelowThreshold    Reason = "below-threshold"    // fewer distinct admin keys signed than the provider's threshold
	ReasonDuplicateSigner   Reason = "duplicate-signer"   // one key signs an operation twice
	ReasonGovTooManyOpen    Reason = "gov-too-many-open"  // the provider has as many open proposals as params.maxOpen allows (app version 2)
)

var reasons = []Reason{
	ReasonOK, ReasonMalformed, ReasonOversized, ReasonUnsupportedAlg, ReasonInvalidField,
	ReasonWrongNetwork, ReasonBadSignature, ReasonUnknownSigner, ReasonUnauthorized,
	ReasonUnknownEntity, ReasonUnknownProvider, ReasonReplayed, ReasonStaleVersion,
	ReasonInvalidTransition, ReasonBadTicket, ReasonInternal, ReasonMempoolFull, ReasonTimeout,
	ReasonAliasTaken, ReasonBadContract, ReasonUnknownProposal, ReasonAlreadyVoted, ReasonProposalClosed,
	ReasonUnsafeChange, ReasonBelowThreshold, ReasonDuplicateSigner, ReasonGovTooManyOpen,
}

// Reasons returns every reason code in code order.
func Reasons() []Reason { return append([]Reason(nil), reasons...) }

// Refusals returns the reasons for which the registry refuses an
// operation, in code order: every reason but ok and those of the node or
// the ledger (internal, mempool-full, timeout).
func Refusals() []Reason {
	var out []Reason
	for _, r := range reasons {
		switch r {
		case ReasonOK, ReasonInternal, ReasonMempoolFull, ReasonTimeout:
		default:
			out = append(out, r)
		}
	}
	return out
}

// Code returns the ABCI result code of r (its index in the list).
func (r Reason) Code() uint32 {
	for i, x := range reasons {
		if x == r {
			return uint32(i)
		}
	}
	return uint32(indexOf(ReasonInternal))
}

// ReasonFromCode maps an ABCI result code back to its reason.
func ReasonFromCode(c uint32) Reason {
	if int(c) < len(reasons) {
		return reasons[c]
	}
	return ReasonInternal
}

func indexOf(r Reason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return -1
}

// Error is a rejected operation: a stable reason and a safe message.
type Error struct {
	Reason Reason
	Msg    string
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Msg
}

// Is matches any *Error with the same reason, so that
// errors.Is(err, &op.Error{Reason: op.ReasonReplayed}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// Reject builds an *Error.
func Reject(r Reason, msg string) *Error { return &Error{Reason: r, Msg: msg} }
