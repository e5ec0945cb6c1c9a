package sdcwt

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/bias-iot/bias/cose"
)

// SDCWT is a parsed SD-CWT (issued or presented): not yet verified.
type SDCWT struct {
	Msg         *cose.Message
	Disclosures []*Disclosure
}

// Parse reads an SD-CWT of at most MaxSDCWT bytes: a COSE_Sign1 whose
// protected typ is 293 (application/sd-cwt), sd_alg absent or SHA-256,
// and whose unprotected sd_claims, when present, is a non-empty array of
// at most MaxDisclosures disclosures, none twice.
func Parse(b []byte) (*SDCWT, error) {
	if len(b) > MaxSDCWT {
		return nil, fmt.Errorf("%w: an SD-CWT of more than %d bytes", ErrOversized, MaxSDCWT)
	}
	m, err := cose.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var prot map[int64]cbor.RawMessage
	if err := dec.Unmarshal(m.Protected, &prot); err != nil {
		return nil, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
	}
	var typ any
	if err := dec.Unmarshal(prot[HeaderTyp], &typ); err != nil || (typ != int64(TypSDCWT) && typ != "application/sd-cwt") {
		return nil, fmt.Errorf("%w: typ is 293 (application/sd-cwt)", ErrMalformed)
	}
	if raw, ok := prot[HeaderSDAlg]; ok {
		var alg int64
		if err := dec.Unmarshal(raw, &alg); err != nil || alg != AlgSHA256 {
			return nil, fmt.Errorf("%w: sd_alg is SHA-256 (-16)", ErrMalformed)
		}
	}
	p := &SDCWT{Msg: m}
	raw, ok := m.Unprotected[HeaderSDClaims]
	if !ok {
		return p, nil
	}
	var arr []cbor.RawMessage
	if err := dec.Unmarshal(raw, &arr); err != nil || len(arr) == 0 {
		return nil, fmt.Errorf("%w: sd_claims is a non-empty array", ErrMalformed)
	}
	if len(arr) > MaxDisclosures {
		return nil, fmt.Errorf("%w: more than %d disclosures", ErrOversized, MaxDisclosures)
	}
	seen := map[string]bool{}
	for _, e := range arr {
		var enc []byte
		if len(e) == 0 || e[0]>>5 != 2 || dec.Unmarshal(e, &enc) != nil {
			return nil, fmt.Errorf("%w: a disclosure is a byte string", ErrMalformed)
		}
		if seen[string(enc)] {
			return nil, fmt.Errorf("%w: a disclosure presented twice", ErrDuplicate)
		}
		seen[string(enc)] = true
		d, err := ParseDisclosure(enc)
		if err != nil {
			return nil, err
		}
		p.Disclosures = append(p.Disclosures, d)
	}
	return p, nil
}

// Present returns the issued token tok with only the disclosures chosen
// in sd_claims (none: sd_claims omitted). The issuer's signature does not
// cover the unprotected header, so it still verifies.
func Present(tok []byte, chosen []*Disclosure) ([]byte, error) {
	var tag cbor.RawTag
	if err := dec.Unmarshal(tok, &tag); err != nil || tag.Number != cose.TagSign1 {
		return nil, fmt.Errorf("%w: an SD-CWT is a tagged COSE_Sign1", ErrMalformed)
	}
	var arr []cbor.RawMessage
	if err := dec.Unmarshal(tag.Content, &arr); err != nil || len(arr) != 4 {
		return nil, fmt.Errorf("%w: a COSE_Sign1 is an array of 4", ErrMalformed)
	}
	unprot, err := enc.Marshal(sdClaims(chosen))
	if err != nil {
		return nil, err
	}
	if len(chosen) == 0 {
		unprot = []byte{0xa0} // {}
	}
	arr[1] = unprot
	return enc.Marshal(cbor.Tag{Number: cose.TagSign1, Content: arr})
}

// Verify checks the issuer's signature with k and returns the processed
// claims (Unverified).
func (p *SDCWT) Verify(k cose.PublicKey) (map[any]any, error) {
	if err := p.Msg.Verify(k, nil); err != nil {
		return nil, ErrBadSignature
	}
	return p.Unverified()
}

// Unverified returns the claims with each presented disclosure in place
// of its digest and the undisclosed digests and decoys removed, checking
// that no digest occurs twice, that every disclosure is referenced, of
// its kind (a claim key's in a simple(59) array, an element's in a tag
// 60), and that no disclosed key is already in its map. It does not check
// the issuer's signature: Verify does; this is for a token whose
// algorithm this package does not verify (the draft's examples sign with
// ES384).
func (p *SDCWT) Unverified() (map[any]any, error) {
	var payload any
	if err := dec.Unmarshal(p.Msg.Payload, &payload); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if _, ok := payload.(map[any]any); !ok {
		return nil, fmt.Errorf("%w: the payload is a map", ErrMalformed)
	}
	w := walker{by: map[string]*Disclosure{}, seen: map[string]bool{}, used: map[string]bool{}}
	for _, d := range p.Disclosures {
		w.by[string(d.Digest())] = d
	}
	out, err := w.walk(payload, 0)
	if err != nil {
		return nil, err
	}
	for _, d := range p.Disclosures {
		if !w.used[string(d.Encoded)] {
			return nil, ErrUnreferenced
		}
	}
	return out.(map[any]any), nil
}

type walker struct {
	by         map[string]*Disclosure
	seen, used map[string]bool
}

func (w *walker) digest(v any) (*Disclosure, error) {
	b, ok := v.([]byte)
	if !ok || len(b) != 32 {
		return nil, fmt.Errorf("%w: a redacted claim hash is 32 bytes", ErrMalformed)
	}
	if w.seen[string(b)] {
		return nil, fmt.Errorf("%w: digest %x", ErrDuplicate, b[:8])
	}
	w.seen[string(b)] = true
	d := w.by[string(b)]
	if d != nil {
		w.used[string(d.Encoded)] = true
	}
	return d, nil
}

func (w *walker) walk(v any, depth int) (any, error) {
	if depth > 10 {
		return nil, fmt.Errorf("%w: nested too deeply", ErrMalformed)
	}
	switch v := v.(type) {
	case map[any]any:
		out := map[any]any{}
		var redacted []any
		keys := make([]any, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sortKeys(keys) // one order, so that one input gets one refusal
		for _, k := range keys {
			if k == RedactedKeys {
				arr, ok := v[k].([]any)
				if !ok {
					return nil, fmt.Errorf("%w: simple(59) holds an array", ErrMalformed)
				}
				redacted = arr
				continue
			}
			if err := checkClaimKey(k); err != nil {
				return nil, err
			}
			inner, err := w.walk(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = inner
		}
		for _, e := range redacted {
			d, err := w.digest(e)
			if err != nil {
				return nil, err
			}
			if d == nil {
				continue
			}
			if d.IsArray {
				return nil, fmt.Errorf("%w: an element's disclosure among redacted keys", ErrMalformed)
			}
			if _, ok := out[d.Key]; ok {
				return nil, fmt.Errorf("%w: %v", ErrReserved, d.Key)
			}
			inner, err := w.walk(d.Value, depth+1)
			if err != nil {
				return nil, err
			}
			out[d.Key] = inner
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if t, ok := e.(cbor.Tag); ok && t.Number == TagRedactedElement {
				d, err := w.digest(t.Content)
				if err != nil {
					return nil, err
				}
				if d == nil {
					continue
				}
				if !d.IsArray {
					return nil, fmt.Errorf("%w: a claim key's disclosure as an element", ErrMalformed)
				}
				inner, err := w.walk(d.Value, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, inner)
				continue
			}
			inner, err := w.walk(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, inner)
		}
		return out, nil
	case cbor.Tag:
		if v.Number == TagRedactedElement {
			return nil, fmt.Errorf("%w: tag 60 outside an array", ErrMalformed)
		}
	}
	return v, nil
}

// sortKeys orders claim keys: integers first, by value, then strings.
func sortKeys(keys []any) {
	rank := func(k any) (int, int64, string) {
		switch k := k.(type) {
		case int64:
			return 0, k, ""
		case string:
			return 1, 0, k
		}
		return 2, 0, fmt.Sprint(k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0; j-- {
			ra, na, sa := rank(keys[j-1])
			rb, nb, sb := rank(keys[j])
			if ra < rb || (ra == rb && (na < nb || (na == nb && sa <= sb))) {
				break
			}
			keys[j-1], keys[j] = keys[j], keys[j-1]
		}
	}
}
