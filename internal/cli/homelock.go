package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// homeLock is the lock a running `bias node` holds on its home: an
// exclusive flock on HOME/node.lock, whose content is the holder's pid, so
// that a second node on the same home, `testnet status` and `testnet stop`
// can name the process.
type homeLock struct{ f *os.File }

func lockPath(home string) string { return filepath.Join(home, "node.lock") }

// errHomeInUse is returned when another process holds a home's lock.
var errHomeInUse = errors.New("home in use")

// lockHome takes home's lock and writes this process's pid into it.
func lockHome(home string) (*homeLock, error) {
	f, err := os.OpenFile(lockPath(home), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", home, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close() // the lock was not taken: nothing was written
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid := homePID(home); pid > 0 {
				return nil, fmt.Errorf("%w: %s is used by bias node pid %d: stop it (kill %d) or pass another --home", errHomeInUse, home, pid, pid)
			}
			return nil, fmt.Errorf("%w: %s is used by another bias node: stop it or pass another --home", errHomeInUse, home)
		}
		return nil, fmt.Errorf("lock %s: %w", home, err)
	}
	if err := f.Truncate(0); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return &homeLock{f: f}, nil
}

// release empties the pid and drops the lock.
func (l *homeLock) release() error {
	return errors.Join(l.f.Truncate(0), l.f.Close())
}

// homePID is the pid written in home's lock file, 0 if none.
func homePID(home string) int {
	b, err := os.ReadFile(lockPath(home))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// runningPID is the pid of the node that holds home's lock now, 0 if no
// node runs there (a pid left by a killed node is not running: its lock
// went with it).
func runningPID(home string) int {
	f, err := os.OpenFile(lockPath(home), os.O_RDWR, 0)
	if err != nil {
		return 0
	}
	defer f.Close() //nolint:errcheck // only probed
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) // free: nobody runs there
		return 0
	}
	return homePID(home)
}
