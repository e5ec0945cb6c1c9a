package authn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// strictJSON decodes a JWS header or claims set into v (a pointer to a
// struct) as strictly as the compact form deserves: exactly one JSON
// object, every member named exactly (case-sensitively, as JOSE names
// are: Go's decoder would also match "ALG" to alg) by a field of v, and
// no member twice (RFC 7515 section 4: a duplicate must be rejected, or
// two parsers could read different headers from one signed input).
// Nested objects (cnf) are held to the same rule.
func strictJSON(b []byte, v any) error { return checkedJSON(b, v, false) }

// lenientJSON is strictJSON for a JWT another implementation made (an
// OAuth client's assertion): a member that no field names is ignored
// (RFC 7519: a JWT may hold claims its recipient does not know), unless it
// is a case variant of one that does (Go's decoder would read it as that
// field); none twice.
func lenientJSON(b []byte, v any) error { return checkedJSON(b, v, true) }

func checkedJSON(b []byte, v any, lenient bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := checkObject(dec, reflect.TypeOf(v).Elem(), 0, lenient); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("trailing data")
	}
	return json.Unmarshal(b, v)
}

// checkObject reads one JSON value of Go type t from dec and checks every
// object in it against t's JSON field names.
func checkObject(dec *json.Decoder, t reflect.Type, depth int, lenient bool) error {
	if depth > 4 {
		return errors.New("nested too deeply")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%.120s", err.Error())
	}
	switch tok {
	case json.Delim('{'):
		if t.Kind() != reflect.Struct {
			return fmt.Errorf("an object where %s is due", t.Kind())
		}
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%.120s", err.Error())
			}
			name, _ := k.(string)
			if seen[name] {
				return fmt.Errorf("member %.40q twice", name)
			}
			seen[name] = true
			ft, ok := fields[name]
			if !ok {
				if !lenient {
					return fmt.Errorf("unknown member %.40q", name)
				}
				for known := range fields {
					if strings.EqualFold(known, name) {
						return fmt.Errorf("member %.40q is a case variant of %q", name, known)
					}
				}
				if err := skipValue(dec, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := checkObject(dec, ft, depth+1, lenient); err != nil {
				return err
			}
		}
		_, err := dec.Token() // }
		return err
	case json.Delim('['):
		et := t
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			et = t.Elem()
		}
		for dec.More() {
			if err := checkObject(dec, et, depth+1, lenient); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ]
		return err
	}
	return nil // a scalar: json.Unmarshal checks its type
}

// skipValue reads one JSON value of a member nobody reads, bounded in
// depth like the rest.
func skipValue(dec *json.Decoder, depth int) error {
	if depth > 4 {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%.120s", err.Error())
	}
	if tok == json.Delim('{') || tok == json.Delim('[') {
		for dec.More() {
			if tok == json.Delim('{') {
				if _, err := dec.Token(); err != nil { // the key
					return fmt.Errorf("%.120s", err.Error())
				}
			}
			if err := skipValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}

// jsonFields maps the JSON names of a struct's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
