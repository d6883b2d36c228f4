package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/envoystats"
	"github.com/apiguard/apiguard/e2e/gateway"
	"github.com/apiguard/apiguard/e2e/jose"
)

// TestARealPrometheusScrapesTheGatewayAndAlerts runs Prometheus (the
// distribution's, which `make prometheus` installs) against the gateway's
// /stats/prometheus with alerts.yaml loaded, while the identity provider's
// JWKS is unreachable: requests with a token are refused keys_unavailable,
// the alert's expression, queried from Prometheus, names the provider, and
// ApiguardIdPKeysUnavailable fires. The series exist at zero from the first
// scrape (every counter is defined at start), so increase() sees the first
// refusals.
func TestARealPrometheusScrapesTheGatewayAndAlerts(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is not in PATH: `make prometheus` installs it (Debian's prometheus package)")
	}
	module, err := os.ReadFile("../../build/plugin.wasm")
	if err != nil {
		t.Fatalf("%v (run `make build` first)", err)
	}
	bootstrap, err := os.ReadFile("../envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tagger, err := envoystats.LoadTagger(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	policy := `{"providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["orders-api"],
    "jwks": {"remote": {"cluster": "idp_jwks", "authority": "idp.example.com", "path": "/jwks.json", "wait_ms": 200}}}},
  "routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": {"providers": ["idp"]}}]}`
	// No request reaches the upstream: every one is refused.
	upstream, _ := url.Parse("http://" + closedAddr(t))
	g, err := gateway.New(gateway.Options{Module: module, Config: []byte(policy), Workers: 1, Upstream: upstream,
		Clusters: map[string]string{"idp_jwks": "http://" + closedAddr(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Env().RunTicks(ctx, 50*time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	defer func() { _ = g.Shutdown(context.Background()) }()
	admin := httptest.NewServer(g.Admin(tagger))
	defer admin.Close()

	dir := t.TempDir()
	rules, err := filepath.Abs("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
- job_name: envoy
  metrics_path: /stats/prometheus
  static_configs: [{targets: [%q]}]
`, rules, strings.TrimPrefix(admin.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	web := closedAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web, "--log.level=warn")
	logs, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	}()

	query := func(q string) []map[string]string {
		resp, err := http.Get("http://" + web + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &r) != nil {
			return nil
		}
		var out []map[string]string
		for _, s := range r.Data.Result {
			out = append(out, s.Metric)
		}
		return out
	}
	// A scrape at zero first, then the refusals.
	waitFor(t, "the first scrape", func() bool {
		return len(query(`apiguard_authn_denied{reason="keys_unavailable",provider="idp"}`)) == 1
	})
	key, err := jose.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	token, err := key.Sign("", fmt.Appendf(nil, `{"iss":"https://idp.example.com/","aud":"orders-api","exp":%d,"sub":"u"}`, time.Now().Add(time.Hour).Unix()))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/orders", nil)
		req.Header.Set("authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(body), "keys_unavailable") {
			t.Fatalf("with the JWKS unreachable: %d %s, want 401 keys_unavailable", resp.StatusCode, body)
		}
	}
	expr := `sum by (provider) (increase(apiguard_authn_denied{reason="keys_unavailable"}[5m])) > 0`
	waitFor(t, "the alert's expression to name the provider", func() bool {
		r := query(expr)
		return len(r) == 1 && r[0]["provider"] == "idp"
	})
	waitFor(t, "ApiguardIdPKeysUnavailable to fire", func() bool {
		r := query(`ALERTS{alertname="ApiguardIdPKeysUnavailable",alertstate="firing"}`)
		return len(r) == 1 && r[0]["provider"] == "idp" && r[0]["severity"] == "critical"
	})
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
