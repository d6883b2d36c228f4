package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/apiguard/apiguard/e2e/jose"
)

// demoIdPCluster is the cluster envoy/apiguard.json fetches its JWKS from.
const demoIdPCluster = "idp_jwks"

// startDemoIdP stands in for envoy/apiguard.json's identity provider: it
// serves the JWKS of a key made at start, and returns a token that key signed.
func startDemoIdP() (url, token string, stop func(), err error) {
	key, err := jose.NewKey("demo-" + time.Now().Format("20060102"))
	if err != nil {
		return "", "", nil, err
	}
	jwks := jose.JWKS(key)
	token, err = key.Sign("", fmt.Appendf(nil, `{"iss":"https://idp.example.com/","aud":"orders-api","exp":%d,"sub":"demo-user"}`, time.Now().Add(time.Hour).Unix()))
	if err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		_, _ = w.Write(jwks)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), token, func() { _ = srv.Close() }, nil
}
