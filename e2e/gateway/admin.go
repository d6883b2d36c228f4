package gateway

import (
	"net/http"

	"github.com/apiguard/apiguard/e2e/envoystats"
)

// Admin is the gateway's admin interface, the part of Envoy's that serves
// stats: /stats/prometheus, the plugin's counters as Envoy's Prometheus
// endpoint renders them with the tags t extracts (a bootstrap's
// stats_tags), and /stats, Envoy's plain "name: value" list. Envoy's query
// parameters (usedonly, filter) are not read.
func (g *Gateway) Admin(t *envoystats.Tagger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats/prometheus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=UTF-8")
		_, _ = w.Write(envoystats.Prometheus(g.env.Stats(), t, envoystats.WasmNamespace))
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=UTF-8")
		_, _ = w.Write(envoystats.Text(g.env.Stats()))
	})
	return mux
}
