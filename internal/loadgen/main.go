package loadgen

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bias-iot/bias/cose"
	"github.com/bias-iot/bias/did"
	"github.com/bias-iot/bias/keyfile"
	"github.com/bias-iot/bias/sdk"
)

// Main is the biasload command: it parses args, runs, prints the table
// to stdout and progress to stderr, and returns the exit code: 0, 1 when
// an operation failed or a bound was broken, 2 for bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("biasload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		url      = fs.String("node", "", "the node's API URL (required)")
		home     = fs.String("home", "", "the node's home: its provider admin key and DID, and the disk measured (required)")
		pid      = fs.Int("pid", 0, "the node's process id, for its RSS (0: not measured)")
		devices  = fs.Int("devices", 10_000_000, "devices the node holds at the end of the enrollment")
		existing = fs.Int("existing", 0, "devices the node holds already (a node kept from an earlier run): --devices minus these are enrolled")
		marks    = fs.String("marks", "10000,100000,1000000", "device counts at which to measure, besides --devices")
		inFlight = fs.Int("in-flight", 4, "bulk enrollments in flight")
		soak     = fs.Duration("soak", time.Hour, "how long the mixed soak runs (0: none)")
		rate     = fs.Int("rate", 200, "soak operations a second")
		auth     = fs.Int("auth", 0, "authentications of the authentication benchmark after the enrollment, half at full load, half at half load (0: none)")
		maxRSS   = fs.Int("max-rss-mb", 0, "fail when the node's RSS passes this (MiB; 0: unchecked)")
		maxDisk  = fs.Float64("max-disk-per-device", 0, "fail when the home's bytes per device pass this at a mark of --disk-from devices or more (0: unchecked)")
		diskFrom = fs.Int("disk-from", 100_000, "the least mark whose disk per device is checked")
		progress = fs.Duration("progress", 30*time.Second, "how often the enrollment's progress is reported")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: biasload --node URL --home DIR [flags]\n\n"+
			"Enrolls --devices devices in bulk into a running node, measures it at each mark\n"+
			"(RSS, disk bytes per device, resolution p50/p99 over HTTP), soaks it with mixed load\n"+
			"and prints a table; exits 1 when an operation fails or a bound is broken.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var ms []int
	for _, f := range strings.Split(*marks, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "biasload: --marks: %q is not a device count\n", f)
			return 2
		}
		ms = append(ms, n)
	}
	if *url == "" || *home == "" || *devices < 1 || *rate < 1 || *inFlight < 1 {
		fmt.Fprintln(stderr, "biasload: --node and --home are required; --devices, --rate and --in-flight are at least 1")
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := sdk.NewClient(*url)
	admin, kid, err := adminKey(ctx, c, *home)
	if err != nil {
		fmt.Fprintf(stderr, "biasload: %v\n", err)
		return 1
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
	}
	rep, err := Run(ctx, Config{Client: c, Admin: admin, AdminKid: kid, PID: *pid, Home: *home, Devices: *devices,
		Marks: ms, InFlight: *inFlight, Soak: *soak, Rate: *rate, Auth: *auth, Log: logf, Progress: *progress, Existing: *existing})
	rep.Table(stdout)
	if err == nil {
		err = rep.Check(Bounds{MaxRSS: int64(*maxRSS) << 20, MaxDiskPerDevice: *maxDisk, DiskFrom: *diskFrom})
	}
	if err != nil {
		fmt.Fprintf(stderr, "biasload: FAILED: %v\n", err)
		return 1
	}
	return 0
}

// adminKey loads the node home's provider admin key and names it by the
// provider's key id on the ledger.
func adminKey(ctx context.Context, c *sdk.Client, home string) (cose.Signer, did.DID, error) {
	b, err := os.ReadFile(filepath.Join(home, "provider", "did"))
	if err != nil {
		return nil, did.DID{}, fmt.Errorf("the home's provider: %w", err)
	}
	s, err := keyfile.Load(filepath.Join(home, "provider", "admin.key"))
	if err != nil {
		return nil, did.DID{}, err
	}
	p, err := c.Provider(ctx, strings.TrimSpace(string(b)))
	if err != nil {
		return nil, did.DID{}, fmt.Errorf("the home's provider: %w", err)
	}
	pub := base64.RawURLEncoding.EncodeToString(s.Public().Bytes())
	for _, k := range p.Keys {
		if k.PublicKey == pub {
			id, err := did.Parse(p.DID)
			return s, id.WithFragment(k.ID), err
		}
	}
	return nil, did.DID{}, fmt.Errorf("the home's admin key is not a key of %s", p.DID)
}
