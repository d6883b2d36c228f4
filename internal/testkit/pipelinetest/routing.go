// Package pipelinetest loads the pipeline's behaviour table
// (filters/pipeline/testdata/routing.json), which runs natively in
// filters/pipeline and through plugin.wasm in e2e. Used only by tests.
package pipelinetest

import (
	"encoding/json"
	"os"
)

// RoutingTable is a policy and what each request must come to.
type RoutingTable struct {
	// Policy is filter JSON.
	Policy json.RawMessage `json:"policy"`
	Cases  []RoutingCase   `json:"cases"`
}

// RoutingCase is one request and its expected outcome.
type RoutingCase struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	Path   string `json:"path"`
	// Authority and Scheme are the :authority and :scheme; empty is
	// DefaultAuthority and "https", as the e2e host sends.
	Authority string `json:"authority"`
	Scheme    string `json:"scheme"`
	// Status the client gets; Reason the denial's code ("" when allowed);
	// Route the matched route; Allow the 405's Allow header; UpstreamPath
	// the :path the upstream receives.
	Status       int    `json:"status"`
	Reason       string `json:"reason"`
	Route        string `json:"route"`
	Allow        string `json:"allow"`
	UpstreamPath string `json:"upstream_path"`
}

// DefaultAuthority is the :authority of a case that names none.
const DefaultAuthority = "api.example.com"

// Target returns the case's :authority and :scheme, defaults applied.
func (c RoutingCase) Target() (authority, scheme string) {
	authority, scheme = c.Authority, c.Scheme
	if authority == "" {
		authority = DefaultAuthority
	}
	if scheme == "" {
		scheme = "https"
	}
	return authority, scheme
}

// Load reads a table.
func Load(path string) (*RoutingTable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t RoutingTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}
