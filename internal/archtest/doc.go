// Package archtest checks rules of the code's shape that the compiler
// does not: public packages stay free of the node and the consensus
// engine, and every package says what it is for, in one doc comment.
package archtest
