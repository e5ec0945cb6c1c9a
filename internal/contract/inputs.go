package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// RegistrationInputs are a registration contract's inputs, as JSON (for a
// dry run).
type RegistrationInputs struct {
	Kind      string              `json:"kind"`
	Provider  string              `json:"provider"`
	Keys      []map[string]string `json:"keys"`
	Aliases   []string            `json:"aliases"`
	Attrs     map[string]string   `json:"attrs"`
	Endpoints []map[string]string `json:"endpoints"`
	Ticket    map[string]string   `json:"ticket"`
	Height    int64               `json:"height"`
	Time      time.Time           `json:"time"`
}

// AccessInputs are an access contract's inputs, as JSON (for a dry run).
type AccessInputs struct {
	Device       map[string]string `json:"device"`
	DeviceAttrs  map[string]string `json:"device_attrs"`
	Service      map[string]string `json:"service"`
	ServiceAttrs map[string]string `json:"service_attrs"`
	Request      map[string]string `json:"request"`
	Time         time.Time         `json:"time"`
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// InputsFromJSON decodes a kind's inputs from JSON, strictly, into the
// values a Program evaluates.
func InputsFromJSON(kind Kind, b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	switch kind {
	case Registration:
		var in RegistrationInputs
		if err := dec.Decode(&in); err != nil {
			return nil, fmt.Errorf("registration inputs: %w", err)
		}
		keys := make([]string, 0, len(in.Attrs))
		for k := range in.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ticket := orEmptyMap(in.Ticket)
		return map[string]any{
			"kind": in.Kind, "provider": in.Provider, "keys": orEmpty(in.Keys), "aliases": orEmpty(in.Aliases),
			"attrs": orEmptyMap(in.Attrs), "attr_keys": keys, "endpoints": orEmpty(in.Endpoints), "ticket": ticket,
			"has_ticket": in.Ticket != nil, "height": in.Height, "time": in.Time.UTC(),
		}, nil
	case Access:
		var in AccessInputs
		if err := dec.Decode(&in); err != nil {
			return nil, fmt.Errorf("access inputs: %w", err)
		}
		return map[string]any{
			"device": orEmptyMap(in.Device), "device_attrs": orEmptyMap(in.DeviceAttrs), "service": orEmptyMap(in.Service),
			"service_attrs": orEmptyMap(in.ServiceAttrs), "request": orEmptyMap(in.Request), "time": in.Time.UTC(),
		}, nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}
