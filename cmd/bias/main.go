// Command bias runs a bias node (`bias node`) and its clients.
package main

import (
	"context"
	"os"

	"github.com/bias-iot/bias/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), cli.OS(), os.Args[1:]))
}
