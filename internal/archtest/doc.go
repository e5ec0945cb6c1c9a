// Package archtest checks rules of the code's shape that the compiler
// does not: public packages stay free of the node and the consensus
// engine, the registry core stays free of every engine (only cometledger
// speaks CometBFT's ABCI), and every package says what it is for, in one
// doc comment.
package archtest
