// Command biasload is the load generator of scripts/scale.sh: it enrolls
// devices into a running node, measures it and soaks it with mixed load
// (`biasload -h`; docs/benchmarks.md, Scale script).
package main

import (
	"context"
	"os"

	"github.com/bias-iot/bias/internal/loadgen"
)

func main() {
	os.Exit(loadgen.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
