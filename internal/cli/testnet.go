package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/node"
)

func (a *app) testnetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Generate and run a multi-validator network on this machine",
		Long: `Generate the homes of an N-validator network on loopback ports (one provider
per validator, "operator-a", "operator-b", ...) and run it: one node process
per validator.`,
		Example: example("bias testnet init --validators 4 --dir ./testnet", "bias testnet start --dir ./testnet"),
	}
	tc := node.TestnetConfig{}
	var timeout time.Duration
	initCmd := &cobra.Command{
		Use:     "init --dir DIR",
		Short:   "Generate the homes of a validator network",
		Example: example("bias testnet init --validators 4 --dir ./testnet --http-base 8080 --p2p-base 26656", "bias testnet init --validators 4 --full-nodes 2 --dir ./testnet"),
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			tc.TimeoutCommit = timeout
			nodes, err := node.InitTestnet(tc)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if !n.Validator {
					a.out("%s  api http://%s  full node (edge site)\n", n.Config.Home, n.Config.HTTP)
					continue
				}
				a.out("%s  api http://%s  provider %s  admin key %s\n", n.Config.Home, n.Config.HTTP, n.ProviderDID, n.AdminKey)
			}
			return nil
		},
	}
	initCmd.Flags().StringVar(&tc.Dir, "dir", "testnet", "directory for the node homes")
	initCmd.Flags().StringVar(&tc.Network, "network", "testnet", "network name (chain id)")
	initCmd.Flags().IntVar(&tc.Validators, "validators", 4, "number of validators")
	initCmd.Flags().IntVar(&tc.FullNodes, "full-nodes", 0, "number of non-validating full nodes (edge/MEC sites)")
	initCmd.Flags().IntVar(&tc.HTTPBase, "http-base", 8080, "API port of node0; node i uses base+i")
	initCmd.Flags().IntVar(&tc.P2PBase, "p2p-base", 26656, "p2p port of node0; node i uses base+i")
	initCmd.Flags().StringVar(&tc.Host, "host", "127.0.0.1", "loopback address to listen on")
	initCmd.Flags().DurationVar(&timeout, "timeout-commit", 200*time.Millisecond, "pause after each block")

	var dir string
	startCmd := &cobra.Command{
		Use:     "start --dir DIR",
		Short:   "Run every node of a generated network, until interrupted",
		Example: example("bias testnet start --dir ./testnet"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			homes, _ := filepath.Glob(filepath.Join(dir, "node*"))
			sort.Strings(homes)
			if len(homes) == 0 {
				return fmt.Errorf("%s holds no node homes: run bias testnet init first", dir)
			}
			return a.runProcesses(cmd.Context(), homes)
		},
	}
	startCmd.Flags().StringVar(&dir, "dir", "testnet", "directory of the node homes")
	cmd.AddCommand(initCmd, startCmd)
	return cmd
}

// runProcesses starts `bias node --home H` for each home and relays their
// output, prefixed with the node's name, until interrupted.
func (a *app) runProcesses(ctx context.Context, homes []string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var cmds []*exec.Cmd
	relay := func(name string, r io.Reader) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			mu.Lock()
			fmt.Fprintf(a.env.Stdout, "%-6s %s\n", name, sc.Text())
			mu.Unlock()
		}
	}
	stopAll := func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM) // one that has exited already needs none
		}
		for _, c := range cmds {
			_ = c.Wait() // a node stopped by the signal exits with its status; the log said why
		}
		wg.Wait()
	}
	exited := make(chan string, len(homes))
	for _, h := range homes {
		c := exec.Command(exe, "node", "--home", h)
		out, err := c.StdoutPipe()
		if err == nil {
			c.Stderr = c.Stdout
			err = c.Start()
		}
		if err != nil {
			stopAll()
			return fmt.Errorf("start %s: %w", h, err)
		}
		cmds = append(cmds, c)
		wg.Add(1)
		go func() {
			relay(filepath.Base(h), out)
			exited <- filepath.Base(h)
		}()
	}
	select {
	case <-ctx.Done():
		stopAll()
		return nil
	case name := <-exited:
		// A node that stops on its own (a port taken, a bad home) stops
		// the network: say which.
		stopAll()
		return fmt.Errorf("%s exited; stopped the others", name)
	}
}
