package record

import (
	"slices"
	"strconv"
	"strings"
)

// Contract is a deployed contract version.
type Contract struct {
	Provider string `cbor:"1,keyasint" json:"provider"`
	Name     string `cbor:"2,keyasint" json:"name"`
	Kind     string `cbor:"3,keyasint" json:"kind"`
	Version  uint64 `cbor:"4,keyasint" json:"version"`
	Source   string `cbor:"5,keyasint" json:"source"`
	Height   int64  `cbor:"6,keyasint" json:"height"` // when this version was deployed
	LastOp   []byte `cbor:"7,keyasint" json:"lastOp"`
	// Binders: the other providers whose services may bind it (access).
	Binders []string `cbor:"8,keyasint,omitempty" json:"binders,omitempty"`
}

// DecodeContract decodes a contract record (the value of ContractKey or
// ContractVersionKey).
func DecodeContract(b []byte) (*Contract, error) { return decode[Contract]("contract", b) }

// Admits reports whether a service of provider may bind the contract: its
// owner's services, and those of the providers its owner lists in Binders.
func (c *Contract) Admits(provider string) bool {
	return provider == c.Provider || slices.Contains(c.Binders, provider)
}

// Ref is the contract's reference as a service binds it: "<provider
// DID>/<name>".
func (c *Contract) Ref() string { return c.Provider + "/" + c.Name }

// ID names this version: "<provider DID>/<name>@<version>".
func (c *Contract) ID() string { return c.Ref() + "@" + strconv.FormatUint(c.Version, 10) }

// SplitRef splits a contract reference "<provider DID>/<name>" (a bound
// access contract) into its provider and name; false if it is not one.
func SplitRef(ref string) (provider, name string, ok bool) {
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 || i == len(ref)-1 {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}
