package sdjwt

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/jws"
)

// SD marks a value as selectively disclosable where Issue meets it: as an
// object's property (its name is disclosed with it) or as an array
// element. Its value may hold SD values itself (recursive disclosure).
type SD struct{ Value any }

// Header is the issuer-signed JWT's protected header.
type Header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// Issue makes an SD-JWT: the issuer-signed JWT over claims, in which each
// SD value is replaced by its digest (in the object's _sd array, or as
// {"...": digest} in an array), with decoys decoy digests added to each
// _sd array it makes, sorted; and the disclosures, in the order met
// (depth first). typ is the JWT's typ header ("" for none), kid its kid.
func Issue(s cose.Signer, kid, typ string, claims map[string]any, rand io.Reader, decoys int) (string, []*Disclosure, error) {
	var discs []*Disclosure
	payload, err := conceal(claims, rand, decoys, &discs, 0)
	if err != nil {
		return "", nil, err
	}
	obj := payload.(map[string]any)
	if _, ok := obj["_sd_alg"]; ok {
		return "", nil, fmt.Errorf("%w: _sd_alg is the issuer's to set", ErrReserved)
	}
	obj["_sd_alg"] = AlgSHA256
	h, err := json.Marshal(Header{Alg: s.Public().Alg().String(), Typ: typ, Kid: kid})
	if err != nil {
		return "", nil, err
	}
	c, err := json.Marshal(obj)
	if err != nil {
		return "", nil, err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sig, err := s.SignMessage([]byte(input))
	if err != nil {
		return "", nil, err
	}
	jwt := input + "." + b64.EncodeToString(sig)
	if len(Present(jwt, discs)) > MaxSDJWT {
		return "", nil, fmt.Errorf("%w: an SD-JWT of more than %d bytes", ErrOversized, MaxSDJWT)
	}
	return jwt, discs, nil
}

func conceal(v any, rand io.Reader, decoys int, out *[]*Disclosure, depth int) (any, error) {
	if depth > 6 {
		return nil, fmt.Errorf("%w: claims nested too deeply", ErrMalformed)
	}
	switch v := v.(type) {
	case SD:
		return nil, fmt.Errorf("%w: a disclosable value must be a property or an element", ErrMalformed)
	case map[string]any:
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		slices.Sort(names)
		obj := map[string]any{}
		var digests []string
		for _, k := range names {
			if k == "_sd" || k == "..." {
				return nil, fmt.Errorf("%w: %q", ErrReserved, k)
			}
			sd, ok := v[k].(SD)
			val := v[k]
			if ok {
				val = sd.Value
			}
			inner, err := conceal(val, rand, decoys, out, depth+1)
			if err != nil {
				return nil, err
			}
			if !ok {
				obj[k] = inner
				continue
			}
			d, err := NewDisclosure(rand, k, inner, false)
			if err != nil {
				return nil, err
			}
			*out = append(*out, d)
			digests = append(digests, d.Digest())
		}
		if len(digests) > 0 {
			for range decoys {
				decoy := make([]byte, SaltLen)
				if _, err := io.ReadFull(rand, decoy); err != nil {
					return nil, err
				}
				digests = append(digests, Digest(b64.EncodeToString(decoy)))
			}
			slices.Sort(digests)
			obj["_sd"] = digests
		}
		return obj, nil
	case []any:
		arr := make([]any, 0, len(v))
		for _, e := range v {
			sd, ok := e.(SD)
			val := e
			if ok {
				val = sd.Value
			}
			inner, err := conceal(val, rand, decoys, out, depth+1)
			if err != nil {
				return nil, err
			}
			if !ok {
				arr = append(arr, inner)
				continue
			}
			d, err := NewDisclosure(rand, "", inner, true)
			if err != nil {
				return nil, err
			}
			*out = append(*out, d)
			arr = append(arr, map[string]any{"...": d.Digest()})
		}
		return arr, nil
	}
	return v, nil
}

// Present serializes an SD-JWT with the disclosures chosen (no KB-JWT):
// <issuer-signed JWT>~<disclosure>~...~ (RFC 9901 section 4). It is also
// the input of the KB-JWT's sd_hash.
func Present(jwt string, ds []*Disclosure) string {
	var b strings.Builder
	b.WriteString(jwt)
	b.WriteByte('~')
	for _, d := range ds {
		b.WriteString(d.Encoded)
		b.WriteByte('~')
	}
	return b.String()
}

// SDJWT is a parsed SD-JWT (or SD-JWT+KB): not yet verified.
type SDJWT struct {
	Header      Header
	IssuerJWT   string
	Disclosures []*Disclosure
	// KB is the Key Binding JWT ("" for none).
	KB string
	// Prefix is the presentation up to and including its last ~: what
	// the KB-JWT's sd_hash digests.
	Prefix string

	input   string
	sig     []byte
	payload []byte
}

// SDHash is the KB-JWT's sd_hash of the presentation (RFC 9901 section
// 4.3.1).
func (p *SDJWT) SDHash() string { return Digest(p.Prefix) }

// Parse reads an SD-JWT or SD-JWT+KB in the compact serialization: at
// most MaxSDJWT bytes and MaxDisclosures disclosures, none presented
// twice.
func Parse(s string) (*SDJWT, error) {
	if len(s) > MaxSDJWT {
		return nil, fmt.Errorf("%w: an SD-JWT of more than %d bytes", ErrOversized, MaxSDJWT)
	}
	parts := strings.Split(s, "~")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%w: an SD-JWT has a ~ after its issuer-signed JWT", ErrMalformed)
	}
	if len(parts)-2 > MaxDisclosures {
		return nil, fmt.Errorf("%w: more than %d disclosures", ErrOversized, MaxDisclosures)
	}
	p := &SDJWT{IssuerJWT: parts[0], KB: parts[len(parts)-1]}
	p.Prefix = s[:len(s)-len(p.KB)]
	c, err := jws.Split(p.IssuerJWT)
	if err != nil {
		return nil, fmt.Errorf("%w: the issuer-signed JWT: %w", ErrMalformed, err)
	}
	hb, pb := c.Header, c.Payload
	if err := checkJSON(hb); err != nil {
		return nil, fmt.Errorf("%w: JWS header: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(hb, &p.Header); err != nil {
		return nil, fmt.Errorf("%w: JWS header", ErrMalformed)
	}
	if _, err := cose.ParseAlg(p.Header.Alg); err != nil {
		return nil, fmt.Errorf("%w: alg: %v", ErrMalformed, err)
	}
	if err := checkJSON(pb); err != nil {
		return nil, fmt.Errorf("%w: JWT claims: %v", ErrMalformed, err)
	}
	p.input, p.sig, p.payload = c.SigningInput, c.Signature, pb
	seen := map[string]bool{}
	for _, enc := range parts[1 : len(parts)-1] {
		if seen[enc] {
			return nil, fmt.Errorf("%w: a disclosure presented twice", ErrDuplicate)
		}
		seen[enc] = true
		d, err := ParseDisclosure(enc)
		if err != nil {
			return nil, err
		}
		p.Disclosures = append(p.Disclosures, d)
	}
	return p, nil
}

// Payload decodes the issuer-signed JWT's claims as signed (digests in
// place): for a verifier that reads iss and kid before it knows the key.
func (p *SDJWT) Payload() (map[string]any, error) {
	v, err := decodeValue(p.payload)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil, fmt.Errorf("%w: the JWT claims are an object", ErrMalformed)
	}
	return m, nil
}

// Verify checks the issuer's signature with k (of the header's alg) and
// returns the processed payload (RFC 9901 section 7.1): each presented
// disclosure in place of its digest, the undisclosed digests and decoys
// removed, _sd_alg removed. It refuses a digest that occurs twice, a
// disclosure that no digest references (tampered, or of another
// credential), an array element's disclosure where a property is due or
// the reverse, and a disclosure of a name the object already holds.
func (p *SDJWT) Verify(k cose.PublicKey) (map[string]any, error) {
	if k.Alg().String() != p.Header.Alg || !k.Verify([]byte(p.input), p.sig) {
		return nil, ErrBadSignature
	}
	obj, err := p.Payload()
	if err != nil {
		return nil, err
	}
	if alg, ok := obj["_sd_alg"]; ok && alg != AlgSHA256 {
		return nil, fmt.Errorf("%w: _sd_alg %.20v (only sha-256)", ErrMalformed, alg)
	}
	delete(obj, "_sd_alg")
	w := walker{byDigest: map[string]*Disclosure{}, seen: map[string]bool{}, used: map[string]bool{}}
	for _, d := range p.Disclosures {
		w.byDigest[d.Digest()] = d
	}
	out, err := w.walk(obj, 0)
	if err != nil {
		return nil, err
	}
	for _, d := range p.Disclosures {
		if !w.used[d.Encoded] {
			return nil, ErrUnreferenced
		}
	}
	return out.(map[string]any), nil
}

type walker struct {
	byDigest map[string]*Disclosure
	seen     map[string]bool // digests met
	used     map[string]bool // disclosures placed
}

func (w *walker) digest(v any) (*Disclosure, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%w: a digest is a string", ErrMalformed)
	}
	if w.seen[s] {
		return nil, fmt.Errorf("%w: digest %.44s", ErrDuplicate, s)
	}
	w.seen[s] = true
	d := w.byDigest[s]
	if d != nil {
		w.used[d.Encoded] = true
	}
	return d, nil
}

func (w *walker) walk(v any, depth int) (any, error) {
	if depth > 8 {
		return nil, fmt.Errorf("%w: nested too deeply", ErrMalformed)
	}
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		var sd []any
		if raw, ok := v["_sd"]; ok {
			if sd, ok = raw.([]any); !ok {
				return nil, fmt.Errorf("%w: _sd is an array", ErrMalformed)
			}
		}
		if _, ok := v["..."]; ok {
			return nil, fmt.Errorf("%w: ... outside an array element", ErrMalformed)
		}
		names := make([]string, 0, len(v))
		for k := range v {
			if k != "_sd" {
				names = append(names, k)
			}
		}
		slices.Sort(names) // one order, so that one input gets one refusal
		for _, k := range names {
			inner, err := w.walk(v[k], depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = inner
		}
		for _, e := range sd {
			d, err := w.digest(e)
			if err != nil || d == nil {
				if err != nil {
					return nil, err
				}
				continue
			}
			if d.IsArray {
				return nil, fmt.Errorf("%w: an array element's disclosure in _sd", ErrMalformed)
			}
			if _, ok := out[d.Name]; ok {
				return nil, fmt.Errorf("%w: %.40q", ErrReserved, d.Name)
			}
			inner, err := w.walk(d.Value, depth+1)
			if err != nil {
				return nil, err
			}
			out[d.Name] = inner
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if m, ok := e.(map[string]any); ok && len(m) == 1 {
				if dig, ok := m["..."]; ok {
					d, err := w.digest(dig)
					if err != nil {
						return nil, err
					}
					if d == nil {
						continue
					}
					if !d.IsArray {
						return nil, fmt.Errorf("%w: a property's disclosure as an array element", ErrMalformed)
					}
					inner, err := w.walk(d.Value, depth+1)
					if err != nil {
						return nil, err
					}
					out = append(out, inner)
					continue
				}
			}
			inner, err := w.walk(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, inner)
		}
		return out, nil
	}
	return v, nil
}
