// Package redistest runs a private redis-server for tests that must stop
// and restart Redis (outages) or measure its memory without other users.
//
//	srv := redistest.NewServer(t) // on a free 127.0.0.1 port, stopped when t ends
//	s, _ := redisstore.Open(ctx, srv.URL(), opts)
//	srv.Stop()  // Redis is down: calls fail
//	srv.Start() // back on the same port with the same data
//
// NewSentinel and NewCluster start replicated deployments (a primary, a
// replica and three sentinels; three primaries with a replica each) whose
// primaries a test kills with SIGKILL and whose promotion it waits for:
//
//	d := redistest.NewSentinel(t)
//	s, _ := redisstore.Open(ctx, d.URL(), opts)
//	took := d.Failover(45 * time.Second) // kill the primary, wait for the replica
//
// Every process listens on 127.0.0.1 only, on a free port, works in
// t.TempDir() and is killed by pid when t ends. It needs Redis 7.0 or
// later (--cluster-port, CLUSTER ADDSLOTSRANGE); redis-cli is not used.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server process the test owns.
type Server struct {
	t    testing.TB
	port int
	dir  string
	// args builds the command line after "redis-server".
	args func() []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// NewServer starts redis-server on a free 127.0.0.1 port with persistence
// off (--save "" --appendonly no) and stops it when t ends. It fails the
// test when redis-server is not on PATH.
func NewServer(t testing.TB) *Server {
	t.Helper()
	return newServer(t, nil)
}

// newServer starts redis-server on a free port with the standard flags
// followed by extra(s), a function of the server so that its flags can
// name its port or directory.
func newServer(t testing.TB, extra func(*Server) []string) *Server {
	t.Helper()
	return newProcess(t, func(s *Server) []string {
		args := []string{
			"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
			"--save", "", "--appendonly", "no",
			"--dir", s.dir, "--dbfilename", "dump.rdb",
			"--protected-mode", "yes", "--daemonize", "no",
			// A replica's first sync starts at once instead of after 5 s.
			"--repl-diskless-sync-delay", "0",
		}
		if extra != nil {
			args = append(args, extra(s)...)
		}
		return args
	})
}

// newProcess starts redis-server with the command line args(s) on a free
// port and in a directory of its own, and kills it when t ends.
func newProcess(t testing.TB, args func(*Server) []string) *Server {
	t.Helper()
	return newProcessOn(t, freePort(t), args)
}

// newProcessOn is newProcess on the given port.
func newProcessOn(t testing.TB, port int, args func(*Server) []string) *Server {
	t.Helper()
	needServer(t)
	s := &Server{t: t, port: port, dir: t.TempDir()}
	s.args = func() []string { return args(s) }
	s.Start()
	t.Cleanup(s.kill)
	return s
}

// needServer fails the test when redis-server is not on PATH.
func needServer(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redistest: redis-server not found on PATH (install Debian's redis-server package: apt-get install redis-server): %v", err)
	}
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory (its log is redis.log).
func (s *Server) Dir() string { return s.dir }

// Running reports whether the process runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the redis:// URL of database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Start starts the server (again) on its port, loading the data the last
// Stop saved, and waits until it answers PING.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatalf("redistest: start: server on %s is already running", s.Addr())
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
	cmd := exec.Command("redis-server", s.args()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		s.t.Fatalf("redistest: redis-server on %s: %v\n%s", s.Addr(), err, log)
	}
}

func (s *Server) waitReady(exited <-chan struct{}) error {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before answering")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within 10s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down as an operator would (SHUTDOWN SAVE: the data
// is written to the test's directory) and waits for the process to exit.
// Until Start, every call to it fails.
func (s *Server) Stop() {
	s.t.Helper()
	s.shutdown(func(rdb *redis.Client) error { return rdb.ShutdownSave(context.Background()).Err() })
}

// StopEmpty shuts the server down without saving and removes the last
// saved data, so the next Start comes back empty, as a Redis without
// persistence does after a crash.
func (s *Server) StopEmpty() {
	s.t.Helper()
	s.shutdown(func(rdb *redis.Client) error { return rdb.ShutdownNoSave(context.Background()).Err() })
	if err := os.Remove(filepath.Join(s.dir, "dump.rdb")); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.t.Fatalf("redistest: remove saved data: %v", err)
	}
}

// shutdown sends the SHUTDOWN variant cmd and waits for the process to exit.
func (s *Server) shutdown(cmd func(*redis.Client) error) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatalf("redistest: stop: server on %s is not running", s.Addr())
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	_ = cmd(rdb) // the connection closes: an error is expected
	_ = rdb.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Fatalf("redistest: redis-server on %s did not shut down within 10s", s.Addr())
	}
	s.cmd, s.done = nil, nil
}

// Kill ends the process with SIGKILL, as a crash would: nothing is saved
// and its clients see their connections reset. Until Start, every call
// to it fails.
func (s *Server) Kill() {
	s.t.Helper()
	if !s.Running() {
		s.t.Fatalf("redistest: kill: server on %s is not running", s.Addr())
	}
	s.kill()
}

// kill ends the process if it still runs (test cleanup).
func (s *Server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}
