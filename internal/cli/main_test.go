package cli

import (
	"context"
	"os"
	"testing"
)

// asBias, set in the environment, makes the test binary run as `bias`:
// `bias testnet start` starts its nodes as processes of its own
// executable, which in these tests is the test binary.
const asBias = "CLI_TEST_RUN_AS_BIAS" // not BIAS_: the nodes do not inherit those

func TestMain(m *testing.M) {
	if os.Getenv(asBias) == "1" {
		os.Exit(Run(context.Background(), OS(), os.Args[1:]))
	}
	if err := os.Setenv(asBias, "1"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
