package evmledger

// anchor.go is generated from contracts/Anchor.sol (solc-js from npm and
// abigen, both pinned in contracts/gen.sh) and committed: building and
// testing need neither Node nor solc.
//go:generate bash contracts/gen.sh
