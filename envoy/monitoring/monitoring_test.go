package monitoring

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/apiguard/apiguard/e2e/envoystats"
	"github.com/apiguard/apiguard/e2e/gateway"
)

// envoyOwn are the series of Envoy itself that the alerts read, for the
// plugin named "apiguard" and the stat_prefix "ingress" of envoy/envoy.yaml:
// the connection manager's request count (Envoy's default tag extraction
// gives envoy_http_conn_manager_prefix) and, in Envoy 1.36 and later, the
// plugin's FAIL_RELOAD counters (wasm.<plugin name>.vm_reload_*, in Envoy's
// docs/root/configuration/other_features/wasm.rst). The gateway cannot
// show them: they are Envoy's, not the plugin's.
var envoyOwn = []string{"envoy_http_downstream_rq_total", "envoy_wasm_apiguard_vm_reload_success", "envoy_wasm_apiguard_vm_reload_failure"}

var (
	exportedOnce sync.Once
	exported     []string
	exportedErr  error
)

// exportedFamilies are the Prometheus families the plugin exports, read
// from the gateway's /stats/prometheus with a policy that uses every stage
// that counts (testdata/every-metric.json): every counter is defined when a
// worker starts, so a scrape before any request lists them all.
func exportedFamilies(t *testing.T) []string {
	t.Helper()
	exportedOnce.Do(func() {
		module, err := os.ReadFile("../../build/plugin.wasm")
		if err != nil {
			exportedErr = err
			return
		}
		policy, err := os.ReadFile("testdata/every-metric.json")
		if err != nil {
			exportedErr = err
			return
		}
		bootstrap, err := os.ReadFile("../envoy.yaml")
		if err != nil {
			exportedErr = err
			return
		}
		tagger, err := envoystats.LoadTagger(bootstrap)
		if err != nil {
			exportedErr = err
			return
		}
		g, err := gateway.New(gateway.Options{Module: module, Config: policy, Workers: 1})
		if err != nil {
			exportedErr = err
			return
		}
		defer g.Close()
		rec := httptest.NewRecorder()
		g.Admin(tagger).ServeHTTP(rec, httptest.NewRequest("GET", "/stats/prometheus", nil))
		sc := bufio.NewScanner(rec.Body)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok {
				name, _, _ := strings.Cut(rest, " ")
				exported = append(exported, name)
			}
		}
	})
	if exportedErr != nil {
		t.Fatalf("%v (run `make build` first)", exportedErr)
	}
	if len(exported) == 0 {
		t.Fatal("the gateway's /stats/prometheus listed no family")
	}
	return exported
}

// selectors are the metric names an expression's selectors name.
func selectors(t *testing.T, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// promtool runs Prometheus's own checker, which `make prometheus` installs
// from the distribution's packages.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not in PATH: `make prometheus` installs it (Debian's prometheus package)")
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAlertRulesPassPromtool: the rules load in Prometheus and their unit
// tests (alerts_test.yaml: series fed minute by minute, the alerts that
// must fire, with labels and annotations) pass.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool(t, "check", "rules", "alerts.yaml")
	promtool(t, "test", "rules", "alerts_test.yaml")
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertsNameOnlySeriesThatExist: every series an alert reads is one
// the plugin exports (as the gateway renders it) or one of Envoy's own
// (envoyOwn); every alert has a summary and a runbook, and is tested.
func TestAlertsNameOnlySeriesThatExist(t *testing.T) {
	families := exportedFamilies(t)
	raw, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			for _, name := range selectors(t, r.Expr) {
				if !slices.Contains(families, name) && !slices.Contains(envoyOwn, name) {
					t.Errorf("%s reads %s, which neither the plugin nor Envoy exports", r.Alert, name)
				}
			}
			if r.Annotations["summary"] == "" || r.Annotations["runbook"] == "" {
				t.Errorf("%s: want a summary and a runbook annotation", r.Alert)
			}
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("%s has no unit test in alerts_test.yaml", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("alerts.yaml has no rule")
	}
}

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name, Type, Query string
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// grafanaVars are the variables Grafana replaces in a query before
// Prometheus parses it, with a value of their kind.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h")

// TestDashboardQueriesParseAndShowEveryFamily loads dashboard.json: every
// panel queries the dashboard's Prometheus data source, every query parses
// as PromQL (once Grafana's interval variables are replaced) and names only
// families the plugin exports, and every family it exports is on a panel.
func TestDashboardQueriesParseAndShowEveryFamily(t *testing.T) {
	families := exportedFamilies(t)
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Title == "" || d.UID == "" || len(d.Templating.List) != 1 || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Query != "prometheus" {
		t.Fatalf("want a titled dashboard with a uid and one Prometheus data source variable, got %q %q %+v", d.Title, d.UID, d.Templating.List)
	}
	shown := map[string]bool{}
	queries := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: want a title and a place on the 24-column grid, got %+v", p.Title, p.GridPos)
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: want the ${datasource} Prometheus data source", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if refs[q.RefID] || q.RefID == "" {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			queries++
			for _, name := range selectors(t, grafanaVars.Replace(q.Expr)) {
				if !slices.Contains(families, name) {
					t.Errorf("panel %q queries %s, which the plugin does not export", p.Title, name)
				}
				shown[name] = true
			}
		}
	}
	for _, f := range families {
		if !shown[f] {
			t.Errorf("the plugin exports %s, which no panel shows", f)
		}
	}
	t.Logf("%d queries over %d families", queries, len(families))
}
