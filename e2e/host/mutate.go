package host

import (
	"net"
	"net/netip"
	"slices"
)

// MutateRequestHeaders is SanitizeRequest without the header limits, for a
// caller whose own HTTP codec applies them (the local gateway, where they are
// flags): the connection manager's edits of the request headers before any
// filter runs.
func (e *Env) MutateRequestHeaders(h Headers, source string) Headers {
	out := h.Clone()
	scheme, _ := out.Get(":scheme")
	proto := "http"
	if scheme == "https" {
		proto = "https"
	}
	internal, edge := false, false
	if e.cfg.UseRemoteAddress {
		ip := source
		if host, _, err := net.SplitHostPort(source); err == nil {
			ip = host
		}
		xff, hadXFF := out.Get("x-forwarded-for")
		if hadXFF && xff != "" {
			out.Set("x-forwarded-for", xff+","+ip)
		} else {
			out.Set("x-forwarded-for", ip)
		}
		out.Set("x-forwarded-proto", proto)
		addr, err := netip.ParseAddr(ip)
		internal = !hadXFF && err == nil && slices.ContainsFunc(e.cfg.InternalAddresses, func(p netip.Prefix) bool { return p.Contains(addr) })
		edge = !internal
	}
	if _, ok := out.Get("x-forwarded-proto"); !ok {
		out.Set("x-forwarded-proto", proto)
	}
	if internal {
		out.Set("x-envoy-internal", "true")
	} else {
		for _, k := range envoyControlHeaders {
			out.Del(k)
		}
		if edge {
			for _, k := range envoyEdgeHeaders {
				out.Del(k)
			}
			ip, _, err := net.SplitHostPort(source)
			if err != nil {
				ip = source
			}
			out.Set("x-envoy-external-address", ip)
		}
	}
	if _, ok := out.Get("x-request-id"); !ok || edge {
		out.Set("x-request-id", uuid4())
	}
	return out
}
