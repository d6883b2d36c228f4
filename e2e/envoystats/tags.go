// Package envoystats renders a proxy's stats the way Envoy's admin
// interface does, so the local gateway shows on a laptop the series a
// Prometheus scraping Envoy will see: the tag extraction of
// stats_config.stats_tags (TagExtractorStdRegexImpl), /stats/prometheus
// (source/server/admin/prometheus_stats.cc) with the custom stat
// namespaces wasm registers, and the plain /stats text. RATIONALE.md cites
// the sources.
package envoystats

import (
	"fmt"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"
)

// Tagger extracts tags from stat names, as the stats_tags of a bootstrap.
type Tagger struct {
	specs []tagSpec
}

type tagSpec struct {
	name string
	re   *regexp.Regexp
}

// Tag is one tag of a stat: a Prometheus label.
type Tag struct{ Name, Value string }

// LoadTagger reads stats_config.stats_tags from an Envoy bootstrap (YAML).
// Only regex specifiers are read; a fixed_value one, or a regex Go cannot
// compile, is an error naming it.
func LoadTagger(bootstrap []byte) (*Tagger, error) {
	var doc struct {
		StatsConfig struct {
			StatsTags []struct {
				Name       string `yaml:"tag_name"`
				Regex      string `yaml:"regex"`
				FixedValue string `yaml:"fixed_value"`
			} `yaml:"stats_tags"`
		} `yaml:"stats_config"`
	}
	if err := yaml.Unmarshal(bootstrap, &doc); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	t := &Tagger{}
	for i, s := range doc.StatsConfig.StatsTags {
		if s.Regex == "" {
			return nil, fmt.Errorf("stats_config.stats_tags[%d] (%s): only regex specifiers are supported", i, s.Name)
		}
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			return nil, fmt.Errorf("stats_config.stats_tags[%d] (%s): %w", i, s.Name, err)
		}
		t.specs = append(t.specs, tagSpec{name: s.Name, re: re})
	}
	return t, nil
}

// Extract is Envoy's tag extraction of a stat name: each specifier whose
// regex matches the name (searched, not anchored unless the regex is)
// gives a tag, the value of its second group (or its first when it has
// one); the text of every match's first group is then cut from the name,
// all positions counted in the original name. Tags are in the order of the
// specifiers: Envoy applies its configured extractors in order, and its
// default ones match none of the names a wasm plugin defines (they look
// for Envoy's own prefixes, or a trailing _rq_<code>).
func (t *Tagger) Extract(name string) (extracted string, tags []Tag) {
	var cuts [][2]int
	for _, s := range t.specs {
		m := s.re.FindStringSubmatchIndex(name)
		if m == nil || len(m) < 4 || m[2] < 0 {
			continue
		}
		value := name[m[2]:m[3]]
		if s.re.NumSubexp() >= 2 {
			// A second group that took no part is an empty value, as
			// std::regex's unmatched sub_match.
			value = ""
			if m[4] >= 0 {
				value = name[m[4]:m[5]]
			}
		}
		tags = append(tags, Tag{Name: s.name, Value: value})
		cuts = append(cuts, [2]int{m[2], m[3]})
	}
	if len(cuts) == 0 {
		return name, nil
	}
	// Envoy removes the union of the cut characters.
	remove := make([]bool, len(name))
	for _, c := range cuts {
		for i := c[0]; i < c[1]; i++ {
			remove[i] = true
		}
	}
	out := make([]byte, 0, len(name))
	for i := range len(name) {
		if !remove[i] {
			out = append(out, name[i])
		}
	}
	return string(out), slices.Clip(tags)
}
