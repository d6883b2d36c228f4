package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The real global rate-limit stack: a redis-server from the distribution's
// packages and envoyproxy/ratelimit's service_cmd, which `make test`
// installs and builds (into build/ratelimit) when they are missing.
const ratelimitBinary = "../build/ratelimit"

// rlsStack is a Redis and a rate limit service on free loopback ports, with
// a generated service configuration, stopped when the test ends.
type rlsStack struct {
	t                       testing.TB
	dir                     string
	redisPort               int
	port, grpcPort, dbgPort int
	redis, service          *exec.Cmd
	redisLog, serviceLog    bytes.Buffer
}

// startRLS starts Redis and the service with serviceConfig as the
// service's limits (ratelimit/config/config.yaml).
func startRLS(t testing.TB, serviceConfig string) *rlsStack {
	t.Helper()
	for _, bin := range []string{"redis-server", ratelimitBinary} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s: %v: run `make test`, which installs redis-server and builds the rate limit service", bin, err)
		}
	}
	ports := freePorts(t, 4)
	st := &rlsStack{t: t, dir: t.TempDir(), redisPort: ports[0], port: ports[1], grpcPort: ports[2], dbgPort: ports[3]}
	cfgDir := filepath.Join(st.dir, "ratelimit", "config")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte(serviceConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.stop)
	st.startRedis()
	st.startService()
	return st
}

// cluster is the service's gRPC port as a host cluster (HTTP/2).
func (st *rlsStack) cluster() string { return "h2c://127.0.0.1:" + strconv.Itoa(st.grpcPort) }

func (st *rlsStack) startRedis() {
	st.t.Helper()
	st.redis = exec.Command("redis-server", "--port", strconv.Itoa(st.redisPort), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", st.dir)
	st.redis.Stdout, st.redis.Stderr = &st.redisLog, &st.redisLog
	if err := st.redis.Start(); err != nil {
		st.t.Fatal(err)
	}
	waitFor(st.t, "redis", func() bool { return dial(st.redisPort) })
}

func (st *rlsStack) stopRedis() { stopProcess(st.redis) }

func (st *rlsStack) startService() {
	st.t.Helper()
	st.service = exec.Command(ratelimitBinary)
	st.service.Env = append(os.Environ(),
		"USE_STATSD=false", "LOG_LEVEL=warn", "REDIS_SOCKET_TYPE=tcp", "REDIS_URL=127.0.0.1:"+strconv.Itoa(st.redisPort),
		"RUNTIME_ROOT="+st.dir, "RUNTIME_SUBDIRECTORY=ratelimit", "RUNTIME_WATCH_ROOT=false", "RUNTIME_IGNOREDOTFILES=true",
		"HOST=127.0.0.1", "GRPC_HOST=127.0.0.1", "DEBUG_HOST=127.0.0.1",
		"PORT="+strconv.Itoa(st.port), "GRPC_PORT="+strconv.Itoa(st.grpcPort), "DEBUG_PORT="+strconv.Itoa(st.dbgPort))
	// Its stdout is the stats sink (USE_STATSD=false): one line per metric every 10s.
	st.service.Stdout, st.service.Stderr = io.Discard, &st.serviceLog
	if err := st.service.Start(); err != nil {
		st.t.Fatal(err)
	}
	waitFor(st.t, "the rate limit service", func() bool {
		res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(st.port) + "/healthcheck")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200 && dial(st.grpcPort)
	})
}

func (st *rlsStack) killService() { stopProcess(st.service) }

// freeze and thaw stop and continue the service's process: it accepts
// connections (the kernel does) and answers nothing, a service slower
// than any timeout.
// freeze stops the service and returns once the kernel has stopped it:
// SIGSTOP takes effect when the process is next scheduled, and on a busy
// machine a request sent at once could still be answered.
func (st *rlsStack) freeze() {
	_ = st.service.Process.Signal(syscall.SIGSTOP)
	stat := fmt.Sprintf("/proc/%d/stat", st.service.Process.Pid)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return
		}
		// The state follows the parenthesized command name: "T" is stopped.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'T' {
			return
		}
	}
	st.t.Fatalf("the rate limit service did not stop")
}

func (st *rlsStack) thaw() { _ = st.service.Process.Signal(syscall.SIGCONT) }

func (st *rlsStack) stop() {
	if st.service != nil {
		st.thaw()
	}
	stopProcess(st.service)
	stopProcess(st.redis)
	if st.t.Failed() {
		st.t.Logf("redis:\n%s\nratelimit:\n%s", st.redisLog.String(), st.serviceLog.String())
	}
}

func stopProcess(c *exec.Cmd) {
	if c == nil || c.Process == nil || c.ProcessState != nil {
		return
	}
	_ = c.Process.Kill()
	_ = c.Wait()
}

// freePorts are n distinct free ports: each listener stays open until all
// are picked, since the kernel may hand a just-closed port out again (a
// service whose gRPC and debug ports were one answered 503 in CI).
func freePorts(t testing.TB, n int) []int {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

func dial(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func waitFor(t testing.TB, what string, ready func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ready() {
			return
		}
	}
	t.Fatal(fmt.Sprintf("%s did not start within 30s", what))
}
