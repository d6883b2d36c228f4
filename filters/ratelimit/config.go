package ratelimit

import (
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
)

// Defaults and ranges of the section.
const (
	// DefaultSlots is a rule's table size when it names none: about 0.6 MB
	// of shared data per rule.
	DefaultSlots = 16384
	maxSlots     = 1 << 22
	maxRate      = 1_000_000_000
	maxBurst     = 1_000_000_000
	// maxHops bounds trusted_hops: no deployment has more proxies in front.
	maxHops = 16
)

// headerMode is which rate-limit headers responses carry.
type headerMode uint8

const (
	// headersDraft: RateLimit-Policy and RateLimit
	// (draft-ietf-httpapi-ratelimit-headers-11), the default.
	headersDraft headerMode = iota
	// headersDraftAndX adds X-RateLimit-Limit, -Remaining and -Reset.
	headersDraftAndX
	// headersNone: only Retry-After, on a 429.
	headersNone
)

// settings are the top-level "rate_limit": rules for every route, and the
// defaults a route's own section starts from.
type settings struct {
	rules   []*rule
	global  []*globalRule
	hops    int
	headers headerMode
	seeds   *seeds
}

// Global reads the document's top-level "rate_limit".
func Global(r *config.Reader, path string, v gjson.Result) any {
	g := &settings{seeds: &seeds{}}
	g.read(r, path, v, true)
	return g
}

// Compile reads a route's "rate_limit": "none" turns rate limiting off on
// the route, an object adds its rules to the global ones. It returns nil
// for a route without rules.
func Compile(r *config.Reader, path string, v gjson.Result, global any) stage.Stage {
	g, _ := global.(*settings)
	if g == nil {
		g = &settings{seeds: &seeds{}}
	}
	if v.Type == gjson.String && v.Str == "none" {
		return nil
	}
	route := &settings{rules: g.rules, global: g.global, hops: g.hops, headers: g.headers, seeds: g.seeds}
	if v.Exists() {
		route.rules = append([]*rule(nil), g.rules...)
		route.global = append([]*globalRule(nil), g.global...)
		route.read(r, path, v, false)
	}
	if len(route.rules) == 0 && len(route.global) == 0 {
		return nil
	}
	return newStage(route)
}

func (g *settings) read(r *config.Reader, path string, v gjson.Result, global bool) {
	if v.Type == gjson.String {
		r.Errorf(path, `must be an object or "none"`)
		return
	}
	fields := config.Fields{
		"global": {Read: func(p string, v gjson.Result) { g.readGlobal(r, p, v) }},
		"rules": {Read: func(p string, v gjson.Result) {
			r.Array(p, v, func(p string, _ int, v gjson.Result) {
				if ru := readRule(r, p, v); ru != nil {
					for _, prev := range g.rules {
						if prev.name == ru.name {
							r.Errorf(config.Join(p, "name"), "%q names another rule of this route", ru.name)
						}
					}
					g.rules = append(g.rules, ru)
				}
			})
		}},
		"headers": {Read: func(p string, v gjson.Result) {
			s, _ := r.Enum(p, v, "draft", "draft_and_x", "none")
			g.headers = map[string]headerMode{"draft": headersDraft, "draft_and_x": headersDraftAndX, "none": headersNone}[s]
		}},
	}
	if global {
		fields["trusted_hops"] = config.Field{Read: func(p string, v gjson.Result) { g.hops = int(r.Count(p, v, 0, maxHops)) }}
	}
	r.Object(path, v, fields)
	if !global && !v.Get("rules").Exists() && !v.Get("global").Exists() {
		r.Errorf(path, `needs "rules" or "global"`)
	}
	for _, ru := range g.rules {
		ru.hops = g.hops
	}
	for i, gr := range g.global {
		if gr.fallback == nil {
			continue
		}
		gr.fallback.hops = g.hops
		for _, ru := range g.rules {
			if ru.name == gr.fallback.name {
				r.Errorf(path+".global["+strconv.Itoa(i)+"].fallback.name", "%q names a rule of this route: a fallback has its own budget", ru.name)
			}
		}
	}
}

// rule is one compiled limit.
type rule struct {
	name string
	// key is read first; fallback when a part of key is missing.
	key, fallback []part
	// identity rules run after authentication (a claim in the key, or
	// tiers by claim); the others before it.
	identity bool
	base     limit
	tiers    []tier
	shadow   bool
	// failOpen admits requests when the limiter cannot decide (the host's
	// shared data fails, or CAS retries run out); the default denies.
	failOpen bool
	slots    uint64
	hops     int
	// prefix names the rule's slots in shared data.
	prefix string
	// counters: a shadow rule has shadowLimited, an enforced one limited.
	allowed, limited, shadowLimited, casRetries, errors *stage.Counter
	// audit names the rule in the audit record.
	audit string
}

// limit is a rate with its GCRA and its RateLimit-Policy item.
type limit struct {
	gcra   GCRA
	rate   int64
	period time.Duration
	policy string
}

// tier overrides a rule's rate and burst for requests whose claim names a
// value (a role, a plan).
type tier struct {
	claim claims.Pointer
	value string
	limit limit
}

var periods = map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour}

func readRule(r *config.Reader, path string, v gjson.Result) *rule {
	ru := &rule{slots: DefaultSlots}
	var rate, burst int64
	var per string
	var tiers []gjson.Result
	var tierPaths []string
	before := len(r.Errors())
	r.Object(path, v, config.Fields{
		"name":     {Required: true, Read: func(p string, v gjson.Result) { ru.name = readName(r, p, v) }},
		"key":      {Required: true, Read: func(p string, v gjson.Result) { ru.key = readKey(r, p, v) }},
		"fallback": {Read: func(p string, v gjson.Result) { ru.fallback = readKey(r, p, v) }},
		"rate":     {Required: true, Read: func(p string, v gjson.Result) { rate = r.Count(p, v, 1, maxRate) }},
		"per":      {Required: true, Read: func(p string, v gjson.Result) { per, _ = r.Enum(p, v, "second", "minute", "hour") }},
		"burst":    {Read: func(p string, v gjson.Result) { burst = r.Count(p, v, 0, maxBurst) }},
		"tiers": {Read: func(p string, v gjson.Result) {
			r.Array(p, v, func(p string, _ int, v gjson.Result) { tiers, tierPaths = append(tiers, v), append(tierPaths, p) })
		}},
		"shadow": {Read: func(p string, v gjson.Result) { ru.shadow = r.Bool(p, v) }},
		"on_error": {Read: func(p string, v gjson.Result) {
			s, _ := r.Enum(p, v, "deny", "allow")
			ru.failOpen = s == "allow"
		}},
		"slots": {Read: func(p string, v gjson.Result) { ru.slots = uint64(r.Count(p, v, 1, maxSlots)) }},
	})
	if ru.fallback == nil {
		ru.fallback = []part{{kind: partPeer}}
	}
	for i, p := range ru.fallback {
		if p.identity() || p.kind == partHeader || p.kind == partPeerIdentity {
			r.Errorf(config.Join(path, "fallback")+"["+strconv.Itoa(i)+"]", "a fallback must be present on every request: peer, x_forwarded_for or route")
		}
	}
	for _, p := range ru.key {
		ru.identity = ru.identity || p.identity()
	}
	if len(r.Errors()) > before {
		return nil
	}
	ru.base = newLimit(r, path, ru.name, rate, periods[per], burst)
	for i, t := range tiers {
		tr := tier{}
		trate, tburst := rate, burst
		r.Object(tierPaths[i], t, config.Fields{
			"claim": {Required: true, Read: func(p string, v gjson.Result) {
				if s, ok := r.Str(p, v); ok {
					var err error
					if tr.claim, err = claims.Parse(s); err != nil {
						r.Errorf(p, "%v", err)
					}
				}
			}},
			"has":   {Required: true, Read: func(p string, v gjson.Result) { tr.value, _ = r.Str(p, v) }},
			"rate":  {Read: func(p string, v gjson.Result) { trate = r.Count(p, v, 1, maxRate) }},
			"burst": {Read: func(p string, v gjson.Result) { tburst = r.Count(p, v, 0, maxBurst) }},
		})
		tr.limit = newLimit(r, tierPaths[i], ru.name, trate, periods[per], tburst)
		ru.tiers = append(ru.tiers, tr)
		ru.identity = true
	}
	// The slot count is in the prefix: rules of one name share one table,
	// and a table read with another size would mix keys.
	ru.prefix = slotPrefix + ru.name + "." + strconv.FormatUint(ru.slots, 10) + "."
	m := "apiguard.ratelimit." + ru.name + "."
	ru.allowed, ru.casRetries, ru.errors = stage.NewCounter(m+"allowed"), stage.NewCounter(m+"cas_retries"), stage.NewCounter(m+"errors")
	if ru.shadow {
		ru.shadowLimited = stage.NewCounter(m + "shadow_limited")
	} else {
		ru.limited = stage.NewCounter(m + "limited")
	}
	ru.audit = "rate_limit:" + ru.name
	return ru
}

func newLimit(r *config.Reader, path, name string, rate int64, period time.Duration, burst int64) limit {
	g, err := NewGCRA(rate, period, burst)
	if err != nil {
		r.Errorf(path, "%v", err)
	}
	return limit{gcra: g, rate: rate, period: period,
		policy: strconv.Quote(name) + ";q=" + strconv.FormatInt(rate, 10) + ";w=" + strconv.FormatInt(int64(period/time.Second), 10)}
}

func readKey(r *config.Reader, path string, v gjson.Result) []part {
	var parts []part
	r.Array(path, v, func(p string, _ int, v gjson.Result) {
		if s, ok := r.Str(p, v); ok {
			pt, err := parsePart(s)
			if err != nil {
				r.Errorf(p, "%v", err)
				return
			}
			parts = append(parts, pt)
		}
	})
	if v.IsArray() && len(v.Array()) == 0 {
		r.Errorf(path, "must name at least one part")
	}
	return parts
}

// readName reads a rule's name (validName).
func readName(r *config.Reader, path string, v gjson.Result) string {
	s, ok := r.Str(path, v)
	if ok && !validName(s) {
		r.Errorf(path, "must be 1 to 64 of a-z, 0-9, _ and -")
		return ""
	}
	return s
}

// validName keeps a rule's name fit for metric names, shared-data keys and
// the quoted policy names of RateLimit headers.
func validName(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == ""
}
