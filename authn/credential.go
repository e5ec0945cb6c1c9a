package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/op"
	"github.com/bias-iot/bias/sdcwt"
	"github.com/bias-iot/bias/sdjwt"
)

// Selective disclosure: a challenge names the claims it needs of the
// device's credential (an SD-JWT, RFC 9901, that the device's provider
// issued it off the ledger), and the device's proof carries the credential
// with only those disclosures. The proof is the presentation's key
// binding: a JWS proof is the KB-JWT (typ kb+jwt, sd_hash over the
// presentation, aud the service, nonce the challenge's, and the origin), so
// that one device signature binds the presentation, the service, the
// origin and the nonce.

// Claim request bounds.
const (
	MaxClaimNames = 8  // names a challenge may ask, required and optional together
	MaxClaimName  = 32 // bytes of a name: lower-case letters, digits, _
	// MaxPresentation bounds a proof that carries a credential.
	MaxPresentation = 6144
	// TypKB is the JWS typ of a proof that carries a credential: the
	// presentation's KB-JWT (RFC 9901 section 4.3).
	TypKB = "kb+jwt"
)

// ClaimRequest is what a challenge asks of the device's credential.
type ClaimRequest struct {
	Required []string `json:"required,omitempty"`
	Optional []string `json:"optional,omitempty"`
}

// Empty reports whether the request asks nothing.
func (r ClaimRequest) Empty() bool { return len(r.Required) == 0 && len(r.Optional) == 0 }

// Names are the names asked, required first.
func (r ClaimRequest) Names() []string {
	return append(append([]string(nil), r.Required...), r.Optional...)
}

// Check holds a request to its bounds: at most MaxClaimNames names in
// all, each of 1 to MaxClaimName lower-case letters, digits and _, none
// twice.
func (r ClaimRequest) Check() error {
	names := r.Names()
	if len(names) > MaxClaimNames {
		return fmt.Errorf("at most %d claim names", MaxClaimNames)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || len(n) > MaxClaimName {
			return fmt.Errorf("a claim name is 1 to %d bytes", MaxClaimName)
		}
		for _, c := range n {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
				return fmt.Errorf("a claim name is lower-case letters, digits and _: %.40q", n)
			}
		}
		if seen[n] {
			return fmt.Errorf("claim %q named twice", n)
		}
		seen[n] = true
	}
	return nil
}

// Credential is what a device keeps of the credential its provider issued
// it: the issuer-signed JWT and all its disclosures (a JWS device), or
// the SD-CWT with all its disclosures (a COSE device).
type Credential struct {
	JWT            string
	Disclosures    []*sdjwt.Disclosure
	CWT            []byte
	CWTDisclosures []*sdcwt.Disclosure
}

// TypCredential is the JWS typ of a bias credential's issuer-signed JWT.
const TypCredential = "bias-credential+sd-jwt" //nolint:gosec // a media type, no secret

// MaxCredentialSeconds bounds a credential's life (a year).
const MaxCredentialSeconds = 366 * 24 * 3600

// IssueCredential is a provider's credential for its device: an SD-JWT
// signed with the provider's token key kid (one it publishes on the
// ledger), iss the provider, sub the device, a random jti (the id its
// status is revoked by), iat now and exp now+ttl, and each attribute a
// selectively disclosable claim, with decoys. It returns the SD-JWT with
// all its disclosures (<jwt>~<d1>~...~), for the device to keep: none
// of it goes on the ledger.
func IssueCredential(s cose.Signer, kid string, provider, device did.DID, attrs map[string]string, now, ttl int64, rand io.Reader) (string, string, error) {
	if ttl < 1 || ttl > MaxCredentialSeconds {
		return "", "", fmt.Errorf("a credential lives 1 to %d seconds", MaxCredentialSeconds)
	}
	if len(attrs) == 0 || len(attrs) > sdjwt.MaxDisclosures-4 {
		return "", "", fmt.Errorf("a credential holds 1 to %d attributes", sdjwt.MaxDisclosures-4)
	}
	id := make([]byte, 16)
	if _, err := io.ReadFull(rand, id); err != nil {
		return "", "", err
	}
	claims := map[string]any{"iss": provider.Base().String(), "sub": device.Base().String(), "jti": b64.EncodeToString(id), "iat": now, "exp": now + ttl}
	for k, v := range attrs {
		if err := (ClaimRequest{Required: []string{k}}).Check(); err != nil {
			return "", "", err
		}
		if _, ok := claims[k]; ok {
			return "", "", fmt.Errorf("%q is a claim of the credential itself", k)
		}
		claims[k] = sdjwt.SD{Value: v}
	}
	jwt, ds, err := sdjwt.Issue(s, kid, TypCredential, claims, rand, 2)
	if err != nil {
		return "", "", err
	}
	out := sdjwt.Present(jwt, ds)
	if len(out) > MaxPresentation-MaxMessage {
		return "", "", fmt.Errorf("%w: a credential of more than %d bytes", sdjwt.ErrOversized, MaxPresentation-MaxMessage)
	}
	return out, b64.EncodeToString(id), nil
}

// ParseCredential reads a credential in the form the provider hands it
// over: an SD-JWT with all its disclosures and no KB-JWT.
func ParseCredential(s string) (*Credential, error) {
	p, err := sdjwt.Parse(s)
	if err != nil {
		return nil, err
	}
	if p.KB != "" {
		return nil, fmt.Errorf("%w: a credential is held without a KB-JWT", ErrMalformed)
	}
	return &Credential{JWT: p.IssuerJWT, Disclosures: p.Disclosures}, nil
}

// Present returns the presentation of the top-level claims named: the
// issuer-signed JWT and the disclosures of those names only.
func (c *Credential) Present(names []string) *Presentation {
	if c.CWT != nil {
		var chosen []*sdcwt.Disclosure
		for _, d := range c.CWTDisclosures {
			if name, ok := d.Key.(string); ok && slices.Contains(names, name) {
				chosen = append(chosen, d)
			}
		}
		b, err := sdcwt.Present(c.CWT, chosen)
		if err != nil {
			return &Presentation{CWT: c.CWT} // unparsable: the verifier refuses it
		}
		return &Presentation{CWT: b}
	}
	p := &Presentation{JWT: c.JWT}
	for _, d := range c.Disclosures {
		if !d.IsArray && slices.Contains(names, d.Name) {
			p.Disclosures = append(p.Disclosures, d)
		}
	}
	return p
}

// Presentation is the credential as a proof carries it: the issuer-signed
// JWT and the disclosures chosen.
type Presentation struct {
	JWT         string
	Disclosures []*sdjwt.Disclosure
	parsed      *sdjwt.SDJWT // when decoded
	// CWT is the SD-CWT with the disclosures chosen (a COSE device).
	CWT []byte
	cwt *sdcwt.SDCWT // when decoded
}

// Issuers finds the keys that sign the credentials a provider issues: the
// token keys it publishes on the ledger (op.Publish). A View that
// implements it lets the verifier check credentials; IssuerKey returns
// nil, nil when the provider publishes no key of that id.
type Issuers interface {
	IssuerKey(ctx context.Context, provider, kid string) (*op.Key, error)
}

// Statuses reads a credential's status on the ledger (operation
// credential.status): whether its provider revoked it.
type Statuses interface {
	CredentialRevoked(ctx context.Context, provider, id string) (bool, error)
}

// credentialClaims are the claims a bias credential must carry in the
// clear (RFC 9901 processed payload).
type credentialClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Jti string `json:"jti"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
}

// sdReason names the refusal of an sdjwt error.
func sdReason(err error) Reason {
	switch {
	case errors.Is(err, sdjwt.ErrOversized), errors.Is(err, sdcwt.ErrOversized):
		return FailOversizedCredential
	case errors.Is(err, sdjwt.ErrDuplicate), errors.Is(err, sdcwt.ErrDuplicate):
		return FailDuplicateDisclosure
	case errors.Is(err, sdjwt.ErrUnreferenced), errors.Is(err, sdjwt.ErrReserved), errors.Is(err, sdcwt.ErrUnreferenced), errors.Is(err, sdcwt.ErrReserved):
		return FailBadDisclosure
	case errors.Is(err, sdjwt.ErrBadSignature), errors.Is(err, sdcwt.ErrBadSignature):
		return FailBadCredential
	}
	return FailMalformed
}

// checkCredential decides the credential of an accepted proof from
// device e for challenge c: issued by e's provider with a key it
// publishes, of e itself, unexpired and not revoked, each disclosure's
// digest in place, every claim the challenge requires disclosed. It
// returns the disclosed values the challenge asked for.
func checkCredential(ctx context.Context, v View, e *Entity, p *Proof, ask ClaimRequest, now int64) (map[string]string, Decision) {
	if p.Presentation == nil {
		if len(ask.Required) > 0 {
			return nil, deny(FailCredentialMissing, "the challenge requires %v and the proof carries no credential", ask.Required)
		}
		return nil, Decision{OK: true}
	}
	issuers, ok := v.(Issuers)
	if !ok {
		return nil, deny(FailUnavailable, "this verifier reads no credential issuers")
	}
	cred, d := openCredential(p.Presentation)
	if !d.OK {
		return nil, d
	}
	cl := cred.claims
	if cl.Iss != e.Provider {
		return nil, deny(FailWrongIssuer, "the credential is issued by %.80s, not the device's provider %s", cl.Iss, e.Provider)
	}
	if sub, err := did.ParseNoFragment(cl.Sub); err != nil || sub.String() != e.DID {
		return nil, deny(FailWrongSubject, "the credential is of %.80s, not %s", cl.Sub, e.DID)
	}
	key, err := issuers.IssuerKey(ctx, cl.Iss, cred.kid)
	if err != nil {
		return nil, deny(FailUnavailable, "the ledger view failed")
	}
	if key == nil {
		return nil, deny(FailBadCredential, "%s publishes no key %.40q", cl.Iss, cred.kid)
	}
	pk, err := key.Public()
	if err != nil {
		return nil, deny(FailBadCredential, "the issuer's key: %v", err)
	}
	claims, err := cred.verify(pk)
	if err != nil {
		return nil, deny(sdReason(err), "%v", err)
	}
	if cl.Exp == 0 || now >= cl.Exp || cl.Jti == "" {
		return nil, deny(FailBadCredential, "the credential has a jti and an exp after now (exp %d, now %d)", cl.Exp, now)
	}
	// Only a credential its provider can revoke, and one that lives no
	// longer than any provider may let it, stands.
	if !op.ValidCredentialID(cl.Jti) {
		return nil, deny(FailBadCredential, "the credential's id is not one credential.status can name (16 bytes, base64url)")
	}
	if cl.Iat == 0 || cl.Iat > now+clockSkew || cl.Exp-cl.Iat > MaxCredentialSeconds {
		return nil, deny(FailBadCredential, "the credential is issued at %d for %d s: at most %d s, not in the future", cl.Iat, cl.Exp-cl.Iat, MaxCredentialSeconds)
	}
	st, ok := v.(Statuses)
	if !ok {
		return nil, deny(FailUnavailable, "this verifier reads no credential status")
	}
	revoked, err := st.CredentialRevoked(ctx, cl.Iss, cl.Jti)
	if err != nil {
		return nil, deny(FailUnavailable, "the ledger view failed")
	}
	if revoked {
		return nil, deny(FailCredentialRevoked, "%s revoked the credential", cl.Iss)
	}
	disclosed := map[string]string{}
	for _, name := range cred.names {
		if v, ok := claims[name]; ok && slices.Contains(ask.Names(), name) {
			disclosed[name] = valueText(v) // a top-level claim the challenge asked
		}
	}
	for _, n := range ask.Required {
		if _, ok := disclosed[n]; !ok {
			return nil, deny(FailClaimMissing, "the challenge requires %q and the proof does not disclose it", n)
		}
	}
	return disclosed, Decision{OK: true}
}

// valueText is a disclosed value as contracts see it: a string as it is,
// a number or boolean in its JSON form, anything else as its JSON.
func valueText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// opened is a presented credential, read in either form.
type opened struct {
	claims credentialClaims
	kid    string   // the issuer's key
	names  []string // the top-level claim names disclosed
	verify func(cose.PublicKey) (map[string]any, error)
}

// openCredential reads a presentation's clear claims and issuer key id.
func openCredential(p *Presentation) (*opened, Decision) {
	if p.cwt != nil {
		return openCWT(p.cwt)
	}
	sd := p.parsed
	if sd.Header.Typ != TypCredential {
		return nil, deny(FailBadCredential, "the credential's typ is %.40q, not %s", sd.Header.Typ, TypCredential)
	}
	raw, err := sd.Payload()
	if err != nil {
		return nil, deny(FailBadCredential, "%v", err)
	}
	o := &opened{kid: sd.Header.Kid, verify: sd.Verify}
	if b, err := json.Marshal(map[string]any{"iss": raw["iss"], "sub": raw["sub"], "jti": raw["jti"], "exp": raw["exp"], "iat": raw["iat"]}); err != nil || json.Unmarshal(b, &o.claims) != nil {
		return nil, deny(FailBadCredential, "iss, sub and jti are strings, exp and iat integers")
	}
	for _, d := range sd.Disclosures {
		if !d.IsArray {
			o.names = append(o.names, d.Name)
		}
	}
	return o, Decision{OK: true}
}

func openCWT(sd *sdcwt.SDCWT) (*opened, Decision) {
	var m map[any]cbor.RawMessage // claim keys, and simple(59)
	var cl cwtCredentialClaims
	err := cwtDec.Unmarshal(sd.Msg.Payload, &m)
	for k, dst := range map[uint64]any{1: &cl.Iss, 2: &cl.Sub, 4: &cl.Exp, 6: &cl.Iat, 7: &cl.Cti} {
		if err == nil {
			raw, ok := m[k]
			if !ok {
				raw, ok = m[int64(k)] //nolint:gosec // claim keys 1 to 7
			}
			if ok {
				err = cwtDec.Unmarshal(raw, dst)
			}
		}
	}
	if err != nil || len(cl.Cti) != 16 {
		return nil, deny(FailBadCredential, "iss and sub are text, exp and iat integers, cti 16 bytes")
	}
	o := &opened{
		claims: credentialClaims{Iss: cl.Iss, Sub: cl.Sub, Jti: b64.EncodeToString(cl.Cti), Exp: cl.Exp, Iat: cl.Iat},
		kid:    string(sd.Msg.Kid),
		verify: func(k cose.PublicKey) (map[string]any, error) {
			claims, err := sd.Verify(k)
			if err != nil {
				return nil, err
			}
			out := map[string]any{}
			for k, v := range claims {
				if name, ok := k.(string); ok {
					out[name] = v
				}
			}
			return out, nil
		},
	}
	for _, d := range sd.Disclosures {
		if name, ok := d.Key.(string); ok {
			o.names = append(o.names, name)
		}
	}
	return o, Decision{OK: true}
}
