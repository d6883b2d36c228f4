package jwks

import (
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
)

// Remote locates a provider's JWKS (fetched through an Envoy cluster) and
// bounds its fetching.
type Remote struct {
	Cluster, Path, Authority string
	Refresh, Timeout, Wait   time.Duration
	MaxStale                 time.Duration
}

// ReadRemote reads "jwks.remote", its defaults applied.
func ReadRemote(r *config.Reader, path string, v gjson.Result) *Remote {
	rj := &Remote{Refresh: 5 * time.Minute, Timeout: 5 * time.Second, Wait: 5 * time.Second, MaxStale: 24 * time.Hour}
	r.Object(path, v, config.Fields{
		"cluster":   {Required: true, Read: func(p string, v gjson.Result) { rj.Cluster, _ = r.Str(p, v) }},
		"authority": {Required: true, Read: func(p string, v gjson.Result) { rj.Authority, _ = r.Str(p, v) }},
		"path": {Required: true, Read: func(p string, v gjson.Result) {
			if rj.Path, _ = r.Str(p, v); !strings.HasPrefix(rj.Path, "/") {
				r.Errorf(p, "must start with /")
			}
		}},
		"refresh_s": {Read: func(p string, v gjson.Result) { rj.Refresh = time.Duration(r.Count(p, v, 10, 86400)) * time.Second }},
		"timeout_ms": {Read: func(p string, v gjson.Result) {
			rj.Timeout = time.Duration(r.Count(p, v, 100, 60000)) * time.Millisecond
		}},
		"wait_ms": {Read: func(p string, v gjson.Result) { rj.Wait = time.Duration(r.Count(p, v, 0, 60000)) * time.Millisecond }},
		"max_stale_s": {Read: func(p string, v gjson.Result) {
			rj.MaxStale = time.Duration(r.Count(p, v, 60, 30*86400)) * time.Second
		}},
	})
	// Keys must outlive the interval that refreshes them, or a healthy IdP
	// would see the provider fail closed between fetches.
	switch {
	case !v.Get("max_stale_s").Exists():
		rj.MaxStale = max(rj.MaxStale, 2*rj.Refresh)
	case rj.MaxStale > 0 && rj.MaxStale <= rj.Refresh:
		r.Errorf(path+".max_stale_s", "must be longer than refresh_s (%d)", int(rj.Refresh/time.Second))
	}
	return rj
}

// Policy is when this JWKS is fetched: retries back off from a second to
// a minute (or the refresh interval, if shorter), unknown kids refresh early
// at most once a minute, and a fetch's lease outlasts its timeout by a second.
func (rj *Remote) Policy() Policy {
	return Policy{
		Refresh: rj.Refresh, MinBackoff: time.Second, MaxBackoff: min(rj.Refresh, time.Minute),
		EarlyCooldown: time.Minute, Lease: rj.Timeout + time.Second, MaxStale: rj.MaxStale,
	}
}
