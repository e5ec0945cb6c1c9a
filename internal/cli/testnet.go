package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bias-iot/bias/internal/node"
	"github.com/bias-iot/bias/sdk"
)

func (a *app) testnetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Generate and run a multi-validator network on this machine",
		Long: `Generate the homes of an N-validator network on loopback ports (one provider
per validator, "operator-a", "operator-b", ...) and run it: one node process
per node. init picks free ports (or checks the bases given), so a testnet
runs beside a running bias node; status shows which nodes run, stop stops
them.`,
		Example: example("bias testnet init --validators 4 --dir ./testnet", "bias testnet start --dir ./testnet", "bias testnet status --dir ./testnet", "bias testnet stop --dir ./testnet"),
	}
	tc := node.TestnetConfig{}
	var timeout time.Duration
	initCmd := &cobra.Command{
		Use:     "init --dir DIR",
		Short:   "Generate the homes of a validator network",
		Example: example("bias testnet init --validators 4 --dir ./testnet --http-base 18080 --p2p-base 36656", "bias testnet init --validators 4 --full-nodes 2 --dir ./testnet"),
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			tc.TimeoutCommit = timeout
			nodes, err := node.InitTestnet(tc)
			if err != nil {
				return err
			}
			type view struct {
				Home        string `json:"home"`
				API         string `json:"api"`
				P2P         string `json:"p2p"`
				Validator   bool   `json:"validator"`
				ProviderDID string `json:"providerDID,omitempty"`
				AdminKey    string `json:"adminKey,omitempty"`
			}
			var views []view
			for _, n := range nodes {
				views = append(views, view{n.Config.Home, "http://" + n.Config.HTTP, n.Config.P2P, n.Validator, n.ProviderDID, n.AdminKey})
			}
			return a.emit(views, func() {
				for _, n := range views {
					if !n.Validator {
						a.out("%s  api %s  full node (edge site)\n", n.Home, n.API)
						continue
					}
					a.out("%s  api %s  provider %s  admin key %s\n", n.Home, n.API, n.ProviderDID, n.AdminKey)
				}
			})
		},
	}
	initCmd.Flags().StringVar(&tc.Dir, "dir", "testnet", "directory for the node homes")
	initCmd.Flags().StringVar(&tc.Network, "network", "testnet", "network name (chain id)")
	initCmd.Flags().IntVar(&tc.Validators, "validators", 4, "number of validators")
	initCmd.Flags().IntVar(&tc.FullNodes, "full-nodes", 0, "number of non-validating full nodes (edge/MEC sites)")
	initCmd.Flags().IntVar(&tc.HTTPBase, "http-base", 0, "API port of node0; node i uses base+i (0: free ports)")
	initCmd.Flags().IntVar(&tc.P2PBase, "p2p-base", 0, "p2p port of node0; node i uses base+i (0: free ports)")
	initCmd.Flags().StringVar(&tc.Host, "host", "127.0.0.1", "loopback address to listen on")
	initCmd.Flags().DurationVar(&timeout, "timeout-commit", 200*time.Millisecond, "pause after each block")

	cmd.AddCommand(initCmd, a.testnetStartCmd(), a.testnetStatusCmd(), a.testnetStopCmd())
	return cmd
}

// testnetHomes lists the node homes of a generated network.
func testnetHomes(dir string) ([]string, error) {
	homes, err := filepath.Glob(filepath.Join(dir, "node*", "config", "bias.json"))
	if err != nil {
		return nil, err
	}
	for i, h := range homes {
		homes[i] = filepath.Dir(filepath.Dir(h))
	}
	sort.Slice(homes, func(i, j int) bool { return nodeIndex(homes[i]) < nodeIndex(homes[j]) })
	if len(homes) == 0 {
		return nil, usageError(fmt.Errorf("%s holds no node homes: run bias testnet init --dir %s first", dir, dir))
	}
	return homes, nil
}

// nodeIndex is i of a home named nodei (node10 after node9).
func nodeIndex(home string) int {
	i, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(home), "node"))
	if err != nil {
		return -1
	}
	return i
}

func (a *app) testnetStartCmd() *cobra.Command {
	var dir, logLevel string
	cmd := &cobra.Command{
		Use:   "start --dir DIR",
		Short: "Run the nodes of a generated network that are not running, until interrupted",
		Long: `Start one bias node process per home of DIR, except those already running (a
second start after a node died starts that one alone), and relay their
output prefixed with the node's name. A node that exits is reported and the
others keep running; Ctrl-C (or bias testnet stop) stops the nodes this
command started.`,
		Example: example("bias testnet start --dir ./testnet", "bias testnet start --dir ./testnet --log-level warn"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			homes, err := testnetHomes(dir)
			if err != nil {
				return err
			}
			var todo []string
			for _, h := range homes {
				if pid := runningPID(h); pid > 0 {
					name := filepath.Base(h)
					if err := a.emit(map[string]any{"node": name, "event": "already-running", "pid": pid}, func() {
						a.out("%-6s already running (pid %d)\n", name, pid)
					}); err != nil {
						return err
					}
					continue
				}
				todo = append(todo, h)
			}
			if len(todo) == 0 {
				return nil
			}
			return a.runProcesses(cmd.Context(), dir, todo, logLevel)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "testnet", "directory of the node homes")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level of the nodes: debug, info, warn, error")
	return cmd
}

// nodeState is one node of a testnet as `testnet status` reports it.
type nodeState struct {
	Name   string `json:"name"`
	Home   string `json:"home"`
	State  string `json:"state"` // running, starting (its API does not answer yet) or stopped
	PID    int    `json:"pid,omitempty"`
	API    string `json:"api"`
	Height int64  `json:"height,omitempty"`
}

func (a *app) testnetStatusCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "status --dir DIR",
		Short: "Show which nodes of a generated network run, and their heights",
		Long: `For each node of DIR: running (with its pid and its last committed height),
starting (its process holds the home but its API does not answer yet) or
stopped.`,
		Example: example("bias testnet status --dir ./testnet"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			homes, err := testnetHomes(dir)
			if err != nil {
				return err
			}
			var states []nodeState
			for _, h := range homes {
				states = append(states, probeNode(cmd.Context(), h))
			}
			return a.emit(states, func() {
				for _, s := range states {
					switch s.State {
					case "running":
						a.out("%-6s running   pid %-7d height %-7d %s\n", s.Name, s.PID, s.Height, s.API)
					case "starting":
						a.out("%-6s starting  pid %-7d %s\n", s.Name, s.PID, s.API)
					default:
						a.out("%-6s stopped   %s\n", s.Name, s.API)
					}
				}
			})
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "testnet", "directory of the node homes")
	return cmd
}

// probeNode reports a home's node: its pid from the lock, its height from
// its API.
func probeNode(ctx context.Context, home string) nodeState {
	s := nodeState{Name: filepath.Base(home), Home: home, State: "stopped"}
	if cfg, err := node.LoadConfig(home); err == nil {
		s.API = "http://" + cfg.HTTP
	}
	if s.PID = runningPID(home); s.PID == 0 {
		return s
	}
	s.State = "starting"
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if st, err := sdk.NewClient(s.API).Status(ctx); err == nil {
		s.State, s.Height = "running", st.Height
	}
	return s
}

func (a *app) testnetStopCmd() *cobra.Command {
	var dir string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "stop --dir DIR",
		Short:   "Stop the running nodes of a generated network",
		Long:    `Send SIGTERM to each running node of DIR (its pid is in HOME/node.lock) and wait for it to release its home.`,
		Example: example("bias testnet stop --dir ./testnet"),
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			homes, err := testnetHomes(dir)
			if err != nil {
				return err
			}
			var errs []error
			for _, h := range homes {
				if err := a.stopNode(cmd.Context(), h, timeout); err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "testnet", "directory of the node homes")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for each node to stop")
	return cmd
}

// stopNode sends SIGTERM to the node running on home, if any, and waits
// until its lock is free.
func (a *app) stopNode(ctx context.Context, home string, timeout time.Duration) error {
	name := filepath.Base(home)
	pid := runningPID(home)
	if pid == 0 {
		return a.emit(map[string]any{"name": name, "state": "not-running"}, func() { a.out("%-6s not running\n", name) })
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("%s: signal pid %d: %w", name, pid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for runningPID(home) != 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: pid %d still runs after %s: kill -9 %d", name, pid, timeout, pid)
		case <-t.C:
		}
	}
	return a.emit(map[string]any{"name": name, "state": "stopped", "pid": pid}, func() { a.out("%-6s stopped (pid %d)\n", name, pid) })
}

// childEnv is this process's environment without the BIAS_ variables of
// node flags: each node takes its addresses from its own home.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BIAS_") {
			env = append(env, kv)
		}
	}
	return env
}

// runProcesses starts `bias node --home H` for each home and relays their
// output, prefixed with the node's name. A node that exits is reported and
// the others run on; it returns when every node has exited, or stops them
// when ctx ends.
func (a *app) runProcesses(ctx context.Context, dir string, homes []string, logLevel string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	// say reports a node's line (or event) as text, or as a JSON line.
	say := func(name, event, line string) {
		mu.Lock()
		defer mu.Unlock()
		_ = a.emit(map[string]string{"node": name, "event": event, "line": line}, func() { a.out("%-6s %s\n", name, line) })
	}
	var cmds []*exec.Cmd
	type exit struct {
		name string
		err  error
	}
	exited := make(chan exit, len(homes))
	stopAll := func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM) // one that has exited already needs none
		}
	}
	for _, h := range homes {
		c := exec.Command(exe, "node", "--home", h, "--log-level", logLevel)
		c.Env = childEnv()
		out, err := c.StdoutPipe()
		if err == nil {
			c.Stderr = c.Stdout
			err = c.Start()
		}
		if err != nil {
			stopAll()
			for range cmds {
				<-exited
			}
			return fmt.Errorf("start %s: %w", h, err)
		}
		cmds = append(cmds, c)
		name := filepath.Base(h)
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				say(name, "output", sc.Text())
			}
			exited <- exit{name, c.Wait()}
		}()
	}
	var failed []string
	stopping, done := false, ctx.Done()
	for remaining := len(cmds); remaining > 0; {
		select {
		case <-done:
			stopAll()
			stopping, done = true, nil
		case e := <-exited:
			remaining--
			switch {
			case stopping:
			case e.err != nil:
				failed = append(failed, e.name)
				say(e.name, "exited", fmt.Sprintf("exited (%v); the others keep running: bias testnet status --dir %s shows them, bias testnet start --dir %s restarts it", e.err, dir, dir))
			default:
				say(e.name, "stopped", "stopped")
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s exited with an error", strings.Join(failed, ", "))
	}
	return nil
}
