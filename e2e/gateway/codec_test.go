package gateway

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func parse(raw string, lim Limits) (*request, string, error) {
	br := bufio.NewReaderSize(strings.NewReader(raw), 16)
	r, err := readRequest(br, lim.withDefaults())
	if err != nil {
		return nil, "", err
	}
	if !r.hasBody() {
		return r, "", nil
	}
	body, err := io.ReadAll(newBodyReader(br, r, lim.withDefaults()))
	return r, string(body), err
}

func TestCodecRefusesWhatEnvoyRefuses(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		wantStatus  int
		wantDetails string
	}{
		{name: "bare LF line end", raw: "GET / HTTP/1.1\nhost: x\r\n\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "unknown protocol", raw: "GET / HTTP/2.0\r\n\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "HTTP/1.0, which Envoy refuses by default", raw: "GET / HTTP/1.0\r\n\r\n", wantStatus: 426, wantDetails: "low_version"},
		{name: "space in target", raw: "GET /a b HTTP/1.1\r\n\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "control byte in target", raw: "GET /a\x01 HTTP/1.1\r\n\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "space before colon", raw: "GET / HTTP/1.1\r\nhost : x\r\n\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "obsolete line folding", raw: "GET / HTTP/1.1\r\nx-a: 1\r\n  2\r\n\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "NUL in a value", raw: "GET / HTTP/1.1\r\nx-a: 1\x002\r\n\r\n", wantStatus: 400, wantDetails: detailsInvalidChars},
		{name: "chunked and content-length", raw: "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n", wantStatus: 400, wantDetails: detailsChunkedAndCL},
		{name: "unknown transfer coding", raw: "POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n", wantStatus: 501, wantDetails: detailsTransferEnc},
		{name: "signed content-length", raw: "POST / HTTP/1.1\r\ncontent-length: +3\r\n\r\nabc", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "conflicting content-lengths", raw: "POST / HTTP/1.1\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabc", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "bad chunk size", raw: "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "chunk longer than its size", raw: "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", wantStatus: 400, wantDetails: detailsCodecError},
		{name: "huge trailers", raw: "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\nx-t: " + strings.Repeat("t", 61<<10) + "\r\n\r\n", wantStatus: 431, wantDetails: detailsHeadersTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parse(tc.raw, Limits{})
			var ce *codecError
			if !errors.As(err, &ce) || ce.status != tc.wantStatus || ce.details != tc.wantDetails {
				t.Errorf("error %v, want %d %s", err, tc.wantStatus, tc.wantDetails)
			}
		})
	}
}

func TestCodecKeepsWhatTheClientSent(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		wantTarget string
		wantBody   string
		wantKeep   bool
		wantHeader [2]string
	}{
		{name: "invalid escapes stay in the target for the filter to judge", raw: "GET /a/%zz/% HTTP/1.1\r\n\r\n",
			wantTarget: "/a/%zz/%", wantKeep: true},
		{name: "header names lower-cased, values trimmed", raw: "GET / HTTP/1.1\r\nX-Mixed-Case: \t v \r\n\r\n",
			wantTarget: "/", wantKeep: true, wantHeader: [2]string{"x-mixed-case", "v"}},
		{name: "connection: close", raw: "GET / HTTP/1.1\r\nconnection: keep-alive, close\r\n\r\n", wantTarget: "/"},
		{name: "content-length body", raw: "POST /u HTTP/1.1\r\ncontent-length: 5\r\n\r\nhelloEXTRA", wantTarget: "/u", wantBody: "hello", wantKeep: true},
		{name: "chunked body with extensions and trailers", raw: "POST /u HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nx-t: 1\r\n\r\n",
			wantTarget: "/u", wantBody: "hello", wantKeep: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, body, err := parse(tc.raw, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if r.target != tc.wantTarget || body != tc.wantBody || r.keepAlive != tc.wantKeep {
				t.Errorf("target %q body %q keep-alive %v", r.target, body, r.keepAlive)
			}
			if tc.wantHeader[0] != "" {
				if v, _ := r.headers.Get(tc.wantHeader[0]); v != tc.wantHeader[1] {
					t.Errorf("headers %v", r.headers)
				}
			}
		})
	}
}

// FuzzReadRequest: any bytes give a request or an error, never a panic, and a
// request never exceeds the limits it was read under.
func FuzzReadRequest(f *testing.F) {
	f.Add("GET /a?b HTTP/1.1\r\nhost: x\r\n\r\n")
	f.Add("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nt: 1\r\n\r\n")
	f.Add("POST / HTTP/1.1\r\ncontent-length: 2\r\n\r\nab")
	f.Add("GET /% HTTP/1.1\r\na: b\r\nc:\r\n\r\n")
	f.Add("GET / HTTP/1.0\r\n\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		lim := Limits{HeaderBytes: 256, Headers: 4}
		r, _, err := parse(raw, lim)
		if err != nil {
			return
		}
		if len(r.headers) > lim.Headers {
			t.Errorf("%d headers past a limit of %d", len(r.headers), lim.Headers)
		}
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		if len(head)+4 > lim.HeaderBytes {
			t.Errorf("a %d-byte head past a limit of %d", len(head)+4, lim.HeaderBytes)
		}
	})
}

// FuzzReadResponse: any upstream bytes give a response or an error, never a
// panic, and a response's body reads to an end or an error.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", false)
	f.Add("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false)
	f.Add("HTTP/1.0 200 OK\r\n\r\nuntil close", false)
	f.Add("HTTP/1.1 204 No Content\r\n\r\n", true)
	f.Fuzz(func(t *testing.T, raw string, head bool) {
		u := &cluster{limits: Limits{HeaderBytes: 256, Headers: 4}}
		c := &upConn{br: bufio.NewReaderSize(strings.NewReader(raw), 16)}
		r, err := u.readResponse(c, head, time.Now())
		if err != nil {
			return
		}
		if r.status < 200 || r.status > 999 {
			t.Errorf("final status %d", r.status)
		}
		if !r.endStream {
			_, _ = io.Copy(io.Discard, r.body)
		}
	})
}
