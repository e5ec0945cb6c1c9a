package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// RegistrationInputs are a registration contract's inputs: what the
// registry gives it in a block, and what a dry run decodes from JSON.
// Values turns them into the variables the program sees.
type RegistrationInputs struct {
	Kind      string              `json:"kind"`
	Provider  string              `json:"provider"`
	Keys      []map[string]string `json:"keys"`      // [{id, alg}]
	Aliases   []string            `json:"aliases"`   // canonical legacy identifiers
	Attrs     map[string]string   `json:"attrs"`     // public attributes
	Endpoints []map[string]string `json:"endpoints"` // [{id, type, uri}]
	Ticket    map[string]string   `json:"ticket"`    // verified ticket claims
	// HasTicket is has_ticket; from JSON, whether ticket was given.
	HasTicket bool      `json:"-"`
	Height    int64     `json:"height"`
	Time      time.Time `json:"time"`
}

// Values returns the program's variables (documented in docs/contracts.md).
func (in RegistrationInputs) Values() map[string]any {
	attrs := orEmptyMap(in.Attrs)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return map[string]any{
		"kind": in.Kind, "provider": in.Provider, "keys": orEmpty(in.Keys), "aliases": orEmpty(in.Aliases),
		"attrs": attrs, "attr_keys": keys, "endpoints": orEmpty(in.Endpoints), "ticket": orEmptyMap(in.Ticket),
		"has_ticket": in.HasTicket, "height": in.Height, "time": in.Time.UTC(),
	}
}

// AccessInputs are an access contract's inputs: what a node gives it when
// it decides on an authenticated device, and what a dry run decodes.
type AccessInputs struct {
	Device      map[string]string `json:"device"` // {did, provider, kind}
	DeviceAttrs map[string]string `json:"device_attrs"`
	// Disclosed are the claims the device disclosed from its credential,
	// each verified (device.disclosed.<name>): never from the ledger.
	Disclosed    map[string]string `json:"disclosed"`
	Service      map[string]string `json:"service"` // {did, provider, kind}
	ServiceAttrs map[string]string `json:"service_attrs"`
	Request      map[string]string `json:"request"` // what the service passes: operation, area...
	Time         time.Time         `json:"time"`
}

// Values returns the program's variables (documented in docs/contracts.md).
func (in AccessInputs) Values() map[string]any {
	device := map[string]any{"disclosed": orEmptyMap(in.Disclosed)}
	for k, v := range in.Device {
		if k != "disclosed" {
			device[k] = v
		}
	}
	return map[string]any{
		"device": device, "device_attrs": orEmptyMap(in.DeviceAttrs), "service": orEmptyMap(in.Service),
		"service_attrs": orEmptyMap(in.ServiceAttrs), "request": orEmptyMap(in.Request), "time": in.Time.UTC(),
	}
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
		in.HasTicket = in.Ticket != nil
		return in.Values(), nil
	case Access:
		var in AccessInputs
		if err := dec.Decode(&in); err != nil {
			return nil, fmt.Errorf("access inputs: %w", err)
		}
		return in.Values(), nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}
