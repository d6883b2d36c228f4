// Package monitoring holds the shipped Prometheus alerting rules
// (alerts.yaml, with their promtool unit tests in alerts_test.yaml) and the
// Grafana dashboard (dashboard.json). It is a module of its own: its tests
// parse PromQL with the Prometheus module, whose dependencies must not
// move the versions the plugin and the e2e host build with.
package monitoring
