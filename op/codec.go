package op

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/legacyid"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		MaxNestedLevels:   12,
		MaxArrayElements:  MaxEnrollItems,
		MaxMapPairs:       16,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		TagsMd:            cbor.TagsForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v in RFC 8949 core deterministic CBOR.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes strictly and requires b to be the deterministic
// encoding of what it decodes to: one encoding per value, so that the hash
// of the bytes names the value.
func Unmarshal(b []byte, v any) error {
	if err := decMode.Unmarshal(b, v); err != nil {
		return err
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, b) {
		return errors.New("not in deterministic CBOR encoding (sorted keys, shortest forms, empty fields omitted)")
	}
	return nil
}

var looseDec, _ = cbor.DecOptions{
	DupMapKey:       cbor.DupMapKeyEnforcedAPF,
	IndefLength:     cbor.IndefLengthForbidden,
	MaxNestedLevels: 12,
	UTF8:            cbor.UTF8RejectInvalid,
}.DecMode()

// UnmarshalLoose decodes CBOR strictly in form (no duplicate keys, definite
// lengths) but ignores fields v does not name: for reading a part of a
// record.
func UnmarshalLoose(b []byte, v any) error { return looseDec.Unmarshal(b, v) }

// Signed is a decoded operation whose form has been checked; its signature
// has not: that needs the key that Kid names, from the ledger.
type Signed struct {
	Msg     *cose.Message
	Kid     did.DID
	Payload Payload
	// Cosigners are the further signatures of a COSE_Sign (a provider's
	// threshold of admin keys), each by another key of Kid's signer;
	// none for a COSE_Sign1.
	Cosigners []Cosigner
	// PayloadHash is SHA-256 of the signed payload: the operation's identity
	// for replay detection (a re-encoded signature does not change it).
	PayloadHash [32]byte
}

// Decode parses a signed operation and checks its shape and limits. The
// error is an *Error with a stable reason.
func Decode(tx []byte) (*Signed, error) {
	if len(tx) > MaxEnrollBytes {
		return nil, Reject(ReasonOversized, fmt.Sprintf("operation is %d bytes, limit %d", len(tx), MaxEnrollBytes))
	}
	ms, err := cose.DecodeAll(tx)
	if err != nil {
		return nil, Reject(ReasonMalformed, err.Error())
	}
	kid, co, err := signers(ms)
	if err != nil {
		return nil, err
	}
	m := ms[0]
	s := &Signed{Msg: m, Kid: kid, Cosigners: co, PayloadHash: sha256.Sum256(m.Payload)}
	if err := Unmarshal(m.Payload, &s.Payload); err != nil {
		return nil, Reject(ReasonMalformed, "payload: "+err.Error())
	}
	limit := MaxOpBytes
	if s.Payload.Type == TypeEnroll {
		limit = MaxEnrollBytes
	}
	if len(tx) > limit {
		return nil, Reject(ReasonOversized, fmt.Sprintf("%s is %d bytes, limit %d", s.Payload.Type, len(tx), limit))
	}
	if err := s.Payload.Validate(); err != nil {
		return nil, err
	}
	if kid.Network != s.Payload.Network {
		return nil, Reject(ReasonWrongNetwork, "kid and payload name different networks")
	}
	return s, nil
}

// Validate checks the payload's shape and limits, statelessly.
func (p *Payload) Validate() error {
	if err := did.ValidateNetwork(p.Network); err != nil {
		return Reject(ReasonInvalidField, "network: "+err.Error())
	}
	bodies := 0
	for _, set := range []bool{p.Register != nil, p.Update != nil, p.Status != nil, p.Enroll != nil, p.Contract != nil, p.Publish != nil, p.Gov != nil, p.Pairwise != nil, p.Credential != nil, p.Keys != nil} {
		if set {
			bodies++
		}
	}
	var want bool
	switch p.Type {
	case TypeRegister:
		want = p.Register != nil
	case TypeUpdate:
		want = p.Update != nil
	case TypeDeactivate, TypeValidate, TypeReject, TypeRevoke:
		want = p.Status != nil
	case TypeEnroll:
		want = p.Enroll != nil
	case TypeDeploy, TypeContractUp:
		want = p.Contract != nil
	case TypePublish:
		want = p.Publish != nil
	case TypePropose, TypeVote:
		want = p.Gov != nil
	case TypePairwise:
		want = p.Pairwise != nil
	case TypeCredentialStatus:
		want = p.Credential != nil
	case TypeKeys:
		want = p.Keys != nil
	default:
		return Reject(ReasonMalformed, fmt.Sprintf("unknown operation type %.64q", p.Type))
	}
	if !want || bodies != 1 {
		return Reject(ReasonMalformed, "the body must match the operation type")
	}
	switch {
	case p.Register != nil:
		return p.Register.validate(p.Network)
	case p.Update != nil:
		if err := checkDID("update.did", p.Update.DID, p.Network); err != nil {
			return err
		}
		return p.Update.Doc.validate("update.doc")
	case p.Status != nil:
		if err := checkDID("status.did", p.Status.DID, p.Network); err != nil {
			return err
		}
		if err := checkText("status.reason", p.Status.Reason, MaxReasonLen, true); err != nil {
			return err
		}
		return p.Status.validatePairwise(p.Type, p.Network)
	case p.Contract != nil:
		return p.Contract.validate(p.Network, p.Type)
	case p.Publish != nil:
		return p.Publish.validate(p.Network)
	case p.Gov != nil:
		return p.Gov.validate(p.Network, p.Type)
	case p.Pairwise != nil:
		return p.Pairwise.validate(p.Network)
	case p.Credential != nil:
		return p.Credential.validate(p.Network)
	case p.Keys != nil:
		return p.Keys.validate(p.Network)
	default:
		return p.Enroll.validate(p.Network)
	}
}

// MaxContractSource bounds a contract's source.
const MaxContractSource = 4096

func (c *Contract) validate(network, typ string) error {
	if err := checkDID("contract.provider", c.Provider, network); err != nil {
		return err
	}
	if err := did.ValidateFragment(c.Name); err != nil {
		return Reject(ReasonInvalidField, "contract.name: "+err.Error())
	}
	if len(c.Source) == 0 || len(c.Source) > MaxContractSource || !utf8.ValidString(c.Source) {
		return Reject(ReasonInvalidField, fmt.Sprintf("contract.source must be 1 to %d bytes of UTF-8", MaxContractSource))
	}
	if len(c.Binders) > MaxBinders {
		return Reject(ReasonInvalidField, fmt.Sprintf("contract.binders: at most %d", MaxBinders))
	}
	for i, b := range c.Binders {
		if err := checkDID(fmt.Sprintf("contract.binders[%d]", i), b, network); err != nil {
			return err
		}
		if b == c.Provider || slices.Contains(c.Binders[:i], b) {
			return Reject(ReasonInvalidField, fmt.Sprintf("contract.binders[%d] repeats a provider or names the owner", i))
		}
	}
	if len(c.Binders) > 0 && typ == TypeDeploy && c.Kind != ContractAccess {
		return Reject(ReasonInvalidField, "contract.binders: only an access contract is bound")
	}
	if typ == TypeDeploy {
		if c.Kind != ContractRegistration && c.Kind != ContractAccess {
			return Reject(ReasonInvalidField, "contract.kind must be registration or access")
		}
		if c.Version != 0 {
			return Reject(ReasonInvalidField, "a deployment names no version")
		}
		return nil
	}
	if c.Kind != "" || c.Version == 0 {
		return Reject(ReasonInvalidField, "an update names the current version and no kind")
	}
	return nil
}

func (r *Register) validate(network string) error {
	if r.Kind != KindDevice && r.Kind != KindService {
		return Reject(ReasonInvalidField, "register.kind must be device or service")
	}
	if err := checkDID("register.provider", r.Provider, network); err != nil {
		return err
	}
	if len(r.Nonce) > MaxNonceLen {
		return Reject(ReasonInvalidField, fmt.Sprintf("register.nonce longer than %d bytes", MaxNonceLen))
	}
	if len(r.Ticket) > 2048 {
		return Reject(ReasonInvalidField, "register.ticket longer than 2048 bytes")
	}
	return r.Doc.validate("register.doc")
}

func (e *Enroll) validate(network string) error {
	if err := checkDID("enroll.provider", e.Provider, network); err != nil {
		return err
	}
	if len(e.Items) == 0 || len(e.Items) > MaxEnrollItems {
		return Reject(ReasonInvalidField, fmt.Sprintf("enroll.items must hold 1 to %d devices", MaxEnrollItems))
	}
	for i := range e.Items {
		if len(e.Items[i].Nonce) > MaxNonceLen {
			return Reject(ReasonInvalidField, fmt.Sprintf("enroll.items[%d].nonce longer than %d bytes", i, MaxNonceLen))
		}
		if err := e.Items[i].Doc.validate(fmt.Sprintf("enroll.items[%d].doc", i)); err != nil {
			return err
		}
	}
	return nil
}

func (d *Document) validate(field string) error {
	if len(d.Keys) == 0 || len(d.Keys) > MaxKeys {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s.keys must hold 1 to %d keys", field, MaxKeys))
	}
	ids := map[string]bool{}
	for i, k := range d.Keys {
		f := fmt.Sprintf("%s.keys[%d]", field, i)
		if err := did.ValidateFragment(k.ID); err != nil {
			return Reject(ReasonInvalidField, f+".id: "+err.Error())
		}
		if strings.HasSuffix(k.ID, did.JWKSuffix) {
			return Reject(ReasonInvalidField, f+".id must not end in "+did.JWKSuffix+" (reserved for the key's JWK method)")
		}
		if ids[k.ID] {
			return Reject(ReasonInvalidField, f+".id is not unique")
		}
		ids[k.ID] = true
		if _, err := k.Public(); err != nil {
			if errors.Is(err, cose.ErrUnsupportedAlg) {
				return Reject(ReasonUnsupportedAlg, f+": "+err.Error())
			}
			return Reject(ReasonInvalidField, f+": "+err.Error())
		}
	}
	if err := d.validateAgreement(field, ids); err != nil {
		return err
	}
	if len(d.Endpoints) > MaxEndpoints {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s.endpoints: at most %d", field, MaxEndpoints))
	}
	for i, e := range d.Endpoints {
		f := fmt.Sprintf("%s.endpoints[%d]", field, i)
		if err := did.ValidateFragment(e.ID); err != nil {
			return Reject(ReasonInvalidField, f+".id: "+err.Error())
		}
		if strings.HasSuffix(e.ID, did.JWKSuffix) {
			return Reject(ReasonInvalidField, f+".id must not end in "+did.JWKSuffix)
		}
		if ids[e.ID] {
			return Reject(ReasonInvalidField, f+".id is not unique")
		}
		ids[e.ID] = true
		if err := checkServiceType(f+".type", e.Type); err != nil {
			return err
		}
		u, err := url.Parse(e.URI)
		if len(e.URI) > MaxURILen || err != nil || u.Scheme == "" || strings.ContainsAny(e.URI, " \t\r\n") {
			return Reject(ReasonInvalidField, fmt.Sprintf("%s.uri must be an absolute URI of at most %d characters", f, MaxURILen))
		}
	}
	if len(d.Aliases) > MaxAliases {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s.aliases: at most %d", field, MaxAliases))
	}
	seen := map[string]bool{}
	for i, a := range d.Aliases {
		f := fmt.Sprintf("%s.aliases[%d]", field, i)
		canon, _, err := legacyid.Normalize(a)
		if err != nil {
			return Reject(ReasonInvalidField, f+": "+err.Error())
		}
		if seen[canon] {
			return Reject(ReasonInvalidField, f+" repeats an earlier identifier ("+canon+")")
		}
		seen[canon] = true
	}
	if len(d.Access) > MaxAccess {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s.access: at most %d contracts", field, MaxAccess))
	}
	for i, ref := range d.Access {
		prov, name, ok := strings.Cut(ref, "/")
		_, perr := did.ParseNoFragment(prov)
		if !ok || perr != nil || did.ValidateFragment(name) != nil || slices.Contains(d.Access[:i], ref) {
			return Reject(ReasonInvalidField, fmt.Sprintf("%s.access[%d] must be a distinct <provider DID>/<contract name>", field, i))
		}
	}
	return checkAttrs(field+".attrs", d.Attrs, MaxAttrs)
}

// checkServiceType checks a service endpoint's type: a term of letters,
// digits, "-", ".", "_" and "~" starting with a letter, or an absolute IRI
// (a scheme, ":", and characters an IRI may hold), at most MaxTypeLen
// bytes. Either expands to an IRI in the document's JSON-LD form (the
// bias context's vocabulary, docs/did-method.md section 4.1); a space,
// "@", "#" in a term or a blank-node "_:" would not.
func checkServiceType(field, t string) error {
	bad := Reject(ReasonInvalidField, fmt.Sprintf("%s must be a term (a letter, then letters, digits, - . _ ~) or an absolute IRI, of at most %d bytes", field, MaxTypeLen))
	if t == "" || len(t) > MaxTypeLen || !utf8.ValidString(t) {
		return bad
	}
	isAlpha := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isTerm := func(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 }
	scheme, rest, isIRI := strings.Cut(t, ":")
	if !isIRI {
		if !isAlpha(t[0]) || t == "id" || t == "type" {
			return bad
		}
		for i := 0; i < len(t); i++ {
			if !isTerm(t[i]) {
				return bad
			}
		}
		return nil
	}
	if scheme == "" || !isAlpha(scheme[0]) || rest == "" || scheme == "_" {
		return bad
	}
	for i := 0; i < len(scheme); i++ {
		if c := scheme[i]; !isAlpha(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return bad
		}
	}
	for _, r := range rest {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("<>\"{}|^`\\", r) {
			return bad
		}
	}
	return nil
}

// Public parses the key.
func (k Key) Public() (cose.PublicKey, error) {
	pk, err := cose.ParsePublicKey(cose.Alg(k.Alg), k.Pub)
	if err != nil {
		return cose.PublicKey{}, err
	}
	if !bytes.Equal(pk.Bytes(), k.Pub) {
		return cose.PublicKey{}, fmt.Errorf("%w: P-256 keys must be SEC1 compressed (33 bytes)", cose.ErrBadKey)
	}
	return pk, nil
}

// KeyFrom makes a Key from a public key and an id.
func KeyFrom(id string, pk cose.PublicKey) Key {
	return Key{ID: id, Alg: int64(pk.Alg()), Pub: append([]byte(nil), pk.Bytes()...)}
}

// ValidateAttrs checks a list of attributes or claims: at most MaxAttrs,
// sorted by key, keys unique, printable text within bounds.
func ValidateAttrs(field string, attrs []Attr) error { return checkAttrs(field, attrs, MaxAttrs) }

func checkAttrs(field string, attrs []Attr, max int) error {
	if len(attrs) > max {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s: at most %d", field, max))
	}
	for i, a := range attrs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := checkText(f+".k", a.K, MaxAttrKeyLen, false); err != nil {
			return err
		}
		if err := checkText(f+".v", a.V, MaxAttrValueLen, true); err != nil {
			return err
		}
		if i > 0 && attrs[i-1].K >= a.K {
			return Reject(ReasonInvalidField, field+" must be sorted by key, keys unique")
		}
	}
	return nil
}

func checkDID(field, s, network string) error {
	d, err := did.ParseNoFragment(s)
	if err != nil {
		return Reject(ReasonInvalidField, field+": "+err.Error())
	}
	if d.Network != network {
		return Reject(ReasonWrongNetwork, field+" is a DID of another network")
	}
	return nil
}

// checkText bounds a string and keeps it to printable UTF-8.
func checkText(field, s string, max int, emptyOK bool) error {
	if (!emptyOK && s == "") || len(s) > max {
		return Reject(ReasonInvalidField, fmt.Sprintf("%s must be 1 to %d bytes", field, max))
	}
	if !utf8.ValidString(s) {
		return Reject(ReasonInvalidField, field+" is not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return Reject(ReasonInvalidField, field+" holds a control character")
		}
	}
	return nil
}

// PeekType reads the operation type of a signed operation without
// checking it: the label a node counts a submission under (metrics). It
// parses the COSE envelope and only the payload's type field, so it costs
// a fraction of Decode; "" when tx is not a signed operation.
func PeekType(tx []byte) string {
	if len(tx) > MaxEnrollBytes {
		return ""
	}
	// COSE_Sign1 and COSE_Sign alike: [protected, unprotected, payload, ...].
	var env struct {
		_           struct{} `cbor:",toarray"`
		Protected   cbor.RawMessage
		Unprotected cbor.RawMessage
		Payload     []byte
		Rest        cbor.RawMessage
	}
	var tag cbor.RawTag
	if looseDec.Unmarshal(tx, &tag) != nil || (tag.Number != cose.TagSign1 && tag.Number != cose.TagSign) ||
		looseDec.Unmarshal(tag.Content, &env) != nil {
		return ""
	}
	var p struct {
		Type string `cbor:"1,keyasint"`
	}
	if UnmarshalLoose(env.Payload, &p) != nil {
		return ""
	}
	return p.Type
}
