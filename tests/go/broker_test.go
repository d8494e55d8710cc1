package e2e

// A real `blazemq` process per test, on a free port and a fresh data directory, found the way the
// Rust and Python suites find it: $BLAZEMQ_BIN, else $CARGO_TARGET_DIR/debug/blazemq, else
// <repo>/target/debug/blazemq (scripts/test.sh builds it first). BLAZEMQ_TEST_BROKER_CMD replaces
// the command line ({port} and {dir} are substituted; readiness is then an accepted connection).
// BLAZEMQ_BOOTSTRAP=host:port runs every test against a broker that is already running there,
// such as a real Kafka from scripts/kafka-reference.sh.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	readyLine    = "Broker ready"
	readyTimeout = 10 * time.Second
)

// broker is where a test's clients connect; logs explains a failure.
type broker struct {
	addr   string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	out    []string
}

func (b *broker) logs() string {
	if b.cmd == nil {
		return "(the broker at " + b.addr + " was started outside the tests)"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.out, "\n")
}

// external reports whether the tests run against a broker they did not start.
func external() bool { return os.Getenv("BLAZEMQ_BOOTSTRAP") != "" }

// startBroker gives the test a broker and stops it (with its whole process group) at cleanup.
func startBroker(t *testing.T) *broker {
	t.Helper()
	if addr := os.Getenv("BLAZEMQ_BOOTSTRAP"); addr != "" {
		return &broker{addr: addr}
	}
	var lastErr error
	// A free port can be taken by another process between the probe and the bind: retry.
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		b, err := spawn(t, port, t.TempDir())
		if err == nil {
			t.Cleanup(func() {
				b.kill()
				if t.Failed() {
					t.Logf("broker output:\n%s", b.logs())
				}
			})
			return b
		}
		lastErr = err
	}
	t.Fatalf("broker did not start: %v", lastErr)
	return nil
}

func spawn(t *testing.T, port int, dir string) (*broker, error) {
	b := &broker{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir}
	if err := b.launch(t); err != nil {
		return nil, err
	}
	return b, nil
}

// launch runs the broker process on b's port and directory and waits until it is ready.
func (b *broker) launch(t *testing.T) error {
	port, err := strconv.Atoi(b.addr[strings.LastIndexByte(b.addr, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	args, waitLine, err := command(port, b.dir)
	if err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(args[0], args[1:]...)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("cannot run %v: %v", args, err)
	}
	ready := make(chan struct{}, 1)
	cmd, exited := b.cmd, make(chan struct{})
	b.exited = exited
	go b.drain(stdout, ready)
	go b.drain(stderr, nil)
	go func() {
		_ = cmd.Wait() // the exit status is read from ProcessState once exited is closed
		close(exited)
	}()
	if b.waitReady(ready, exited, waitLine) {
		return nil
	}
	b.kill()
	<-exited
	return fmt.Errorf("%v on port %d:\n%s", args, port, b.logs())
}

func (b *broker) waitReady(ready, exited chan struct{}, waitLine bool) bool {
	deadline := time.After(readyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ready:
			return true
		case <-exited:
			return false
		case <-deadline:
			return false
		case <-tick.C:
			if !waitLine && accepts(b.addr) {
				return true
			}
		}
	}
}

func command(port int, dir string) ([]string, bool, error) {
	if tmpl := os.Getenv("BLAZEMQ_TEST_BROKER_CMD"); tmpl != "" {
		words := strings.Fields(tmpl)
		for i, w := range words {
			w = strings.ReplaceAll(w, "{port}", strconv.Itoa(port))
			words[i] = strings.ReplaceAll(w, "{dir}", dir)
		}
		return words, false, nil
	}
	bin, err := binary()
	if err != nil {
		return nil, false, err
	}
	return []string{bin, "--bind-address", "127.0.0.1", "--port", strconv.Itoa(port),
		"--log-dir", dir}, true, nil
}

func binary() (string, error) {
	if bin := os.Getenv("BLAZEMQ_BIN"); bin != "" {
		return bin, nil
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	target := os.Getenv("CARGO_TARGET_DIR")
	if target == "" {
		target = filepath.Join(repo, "target")
	} else if !filepath.IsAbs(target) {
		target = filepath.Join(repo, target)
	}
	bin := filepath.Join(target, "debug", "blazemq")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s is missing: run `cargo build -p blazemq` first (scripts/test.sh does)", bin)
	}
	return bin, nil
}

// drain reads a pipe until it closes, so the broker never blocks on a full pipe.
func (b *broker) drain(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		b.mu.Lock()
		b.out = append(b.out, line)
		if len(b.out) > 200 {
			b.out = b.out[len(b.out)-200:]
		}
		b.mu.Unlock()
		if ready != nil && strings.Contains(line, readyLine) {
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	}
}

// restart stops the broker with SIGTERM, checks that it exits 0, and starts it again on the same
// port and data directory. Only for a broker the test started (see external).
func (b *broker) restart(t *testing.T) {
	t.Helper()
	if b.cmd == nil {
		t.Fatal("restart needs a broker started by the test")
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-b.exited:
	case <-time.After(readyTimeout):
		t.Fatalf("the broker did not stop within %v of SIGTERM:\n%s", readyTimeout, b.logs())
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("the broker exited %d after SIGTERM:\n%s", code, b.logs())
	}
	// The port can stay busy a moment after the process is gone: retry until it binds.
	deadline := time.Now().Add(readyTimeout)
	for {
		err := b.launch(t)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not start again: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill sends SIGKILL to the broker's process group (it leads its own).
func (b *broker) kill() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) // already gone is fine
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// name is a topic or group name unique to the test and this run, valid for Kafka, so tests that
// share one external broker do not see each other's topics.
func name(t *testing.T, suffix string) string {
	base := nameUnsafe.ReplaceAllString(t.Name(), "-")
	return fmt.Sprintf("%s-%s-%d", base, suffix, time.Now().UnixNano()%1_000_000_000)
}
