package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/e2e/host"
)

// Limits are the HTTP/1 codec's request header limits, Envoy's
// max_request_headers_kb and max_headers_count.
type Limits struct {
	// HeaderBytes bounds the request's header block: the request line, every
	// header line and the blank line that ends them, CRLFs included. Envoy's
	// default HTTP/1 parser (balsa) counts exactly these bytes against
	// max_request_headers_kb (BalsaFrame::ProcessInput, GetReadableBytesFromHeaderStream;
	// the codec's own checkMaxHeadersSize, URL plus names plus values, is then
	// always the smaller count). 60 KiB if zero.
	HeaderBytes int
	// Headers bounds the number of header lines (max_headers_count, checked
	// in ConnectionImpl::completeCurrentHeader). 100 if zero.
	Headers int
}

func (l Limits) withDefaults() Limits {
	if l.HeaderBytes <= 0 {
		l.HeaderBytes = 60 << 10
	}
	if l.Headers <= 0 {
		l.Headers = 100
	}
	return l
}

// codecError is a request the codec refused, answered as Envoy's HTTP/1
// codec does (sendProtocolError): a local reply with the status's reason
// phrase as body, the response code details naming the check, and the
// connection closed.
type codecError struct {
	status  int
	details string
	cause   string
}

func (e *codecError) Error() string {
	return fmt.Sprintf("http/1.1 protocol error: %s (%d %s)", e.cause, e.status, e.details)
}

func badRequest(details, format string, args ...any) *codecError {
	return &codecError{status: 400, details: details, cause: fmt.Sprintf(format, args...)}
}

// Envoy's Http1ResponseCodeDetails.
const (
	detailsCodecError      = "http1.codec_error"
	detailsInvalidChars    = "http1.invalid_characters"
	detailsHeadersTooLarge = "http1.headers_too_large"
	detailsTooManyHeaders  = "http1.too_many_headers"
	detailsChunkedAndCL    = "http1.content_length_and_chunked_not_allowed"
	detailsTransferEnc     = "http1.invalid_transfer_encoding"
)

// request is a parsed request head. The target is kept as sent: Envoy's codec
// accepts any visible byte in it (invalid percent-encodings included) and
// leaves judging the path to the filters.
type request struct {
	method, target, proto string
	// headers have lower-cased names, in the order sent.
	headers host.Headers
	// length is the body's size; -1 for a chunked body.
	length int64
	// keepAlive is whether the connection may carry another request.
	keepAlive bool
}

func (r *request) hasBody() bool { return r.length != 0 }

// lineReader reads CRLF-terminated lines against a byte budget.
type lineReader struct {
	br     *bufio.Reader
	budget int
	// tooLarge is what exceeding the budget is.
	tooLarge *codecError
}

func (lr *lineReader) line() (string, error) {
	var buf []byte
	for {
		chunk, err := lr.br.ReadSlice('\n')
		lr.budget -= len(chunk)
		if lr.budget < 0 {
			return "", lr.tooLarge
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			if len(buf) < 2 || buf[len(buf)-2] != '\r' {
				return "", badRequest(detailsCodecError, "line not ended by CRLF")
			}
			return string(buf[:len(buf)-2]), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// readRequest parses one request head. An error is a *codecError for a
// request Envoy's codec would refuse, or the connection's read error.
func readRequest(br *bufio.Reader, lim Limits) (*request, error) {
	lr := &lineReader{br: br, budget: lim.HeaderBytes,
		tooLarge: &codecError{status: 431, details: detailsHeadersTooLarge, cause: "headers size exceeds limit"}}
	first, err := lr.line()
	if err != nil {
		return nil, err
	}
	r, err := parseRequestLine(first)
	if err != nil {
		return nil, err
	}
	for {
		l, err := lr.line()
		if err != nil {
			return nil, err
		}
		if l == "" {
			break
		}
		name, value, err := parseHeaderLine(l)
		if err != nil {
			return nil, err
		}
		r.headers.Add(name, value)
		if len(r.headers) > lim.Headers {
			return nil, &codecError{status: 431, details: detailsTooManyHeaders, cause: "headers count exceeds limit"}
		}
	}
	return r, r.frame()
}

func parseRequestLine(l string) (*request, error) {
	method, rest, ok1 := strings.Cut(l, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !isToken(method) || target == "" {
		return nil, badRequest(detailsCodecError, "malformed request line")
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return nil, badRequest(detailsCodecError, "invalid character in request target")
		}
	}
	switch proto {
	case "HTTP/1.1":
	case "HTTP/1.0":
		// Envoy's default (accept_http_10: false), in
		// ServerConnectionImpl::checkProtocolVersion.
		return nil, &codecError{status: 426, details: "low_version", cause: "Upgrade required for HTTP/1.0"}
	default:
		return nil, badRequest(detailsCodecError, "unsupported protocol %q", proto)
	}
	return &request{method: method, target: target, proto: proto, keepAlive: true}, nil
}

func parseHeaderLine(l string) (name, value string, err error) {
	name, value, ok := strings.Cut(l, ":")
	if !ok || !isToken(name) {
		// Obsolete line folding and whitespace before the colon land here too:
		// both are refused (RFC 9112 section 5.1 and 5.2).
		return "", "", badRequest(detailsCodecError, "malformed header line")
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == 0 || c == '\r' || c == '\n' {
			return "", "", badRequest(detailsInvalidChars, "header value contains invalid chars")
		}
	}
	return strings.ToLower(name), value, nil
}

// frame decides how the body is delimited (RFC 9112 section 6.3) and whether
// the connection stays open, refusing what Envoy refuses.
func (r *request) frame() error {
	for _, kv := range r.headers {
		if kv[0] == "connection" {
			for _, tok := range strings.Split(kv[1], ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "close") {
					r.keepAlive = false
				}
			}
		}
	}
	te, hasTE := r.headers.Get("transfer-encoding")
	cls := r.headers.Values("content-length")
	switch {
	case hasTE && len(cls) > 0:
		return badRequest(detailsChunkedAndCL, "both Content-Length and Transfer-Encoding are set")
	case hasTE:
		if !strings.EqualFold(te, "chunked") || len(r.headers.Values("transfer-encoding")) > 1 {
			return &codecError{status: 501, details: detailsTransferEnc, cause: "unsupported transfer encoding"}
		}
		r.length = -1
	case len(cls) > 0:
		n, err := strconv.ParseInt(cls[0], 10, 64)
		if err != nil || strings.Trim(cls[0], "0123456789") != "" {
			return badRequest(detailsCodecError, "invalid Content-Length")
		}
		for _, v := range cls[1:] {
			if v != cls[0] {
				return badRequest(detailsCodecError, "conflicting Content-Length values")
			}
		}
		r.length = n
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// bodyReader reads a request body as its framing says. Its errors are
// *codecError for a malformed body, or the connection's read error.
type bodyReader struct {
	br *bufio.Reader
	// left is what remains of the body (Content-Length) or of the current
	// chunk; chunked tells which.
	left    int64
	chunked bool
	done    bool
	// trailerBudget bounds the trailers Envoy would parse, then drop.
	trailerBudget int
}

func newBodyReader(br *bufio.Reader, r *request, lim Limits) *bodyReader {
	if r.length < 0 {
		return &bodyReader{br: br, chunked: true, trailerBudget: lim.HeaderBytes}
	}
	return &bodyReader{br: br, left: r.length, done: r.length == 0}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.chunked && b.left == 0 {
		if err := b.nextChunk(); err != nil {
			return 0, err
		}
		if b.done {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	if errors.Is(err, io.EOF) {
		return n, io.ErrUnexpectedEOF
	}
	if b.left == 0 && !b.chunked {
		b.done = true
	}
	if b.left == 0 && b.chunked && err == nil {
		err = b.chunkEnd()
	}
	return n, err
}

// nextChunk reads a chunk-size line (RFC 9112 section 7.1); a last chunk also
// reads the trailer section, which Envoy drops by default.
func (b *bodyReader) nextChunk() error {
	lr := &lineReader{br: b.br, budget: 1024, tooLarge: badRequest(detailsCodecError, "chunk size line too long")}
	l, err := lr.line()
	if err != nil {
		return err
	}
	size, _, _ := strings.Cut(l, ";")
	size = strings.TrimRight(size, " \t")
	n, err := strconv.ParseUint(size, 16, 63)
	if err != nil {
		return badRequest(detailsCodecError, "invalid chunk size %q", size)
	}
	b.left = int64(n)
	if n > 0 {
		return nil
	}
	lr = &lineReader{br: b.br, budget: b.trailerBudget, tooLarge: &codecError{status: 431, details: detailsHeadersTooLarge, cause: "trailers size exceeds limit"}}
	for {
		l, err := lr.line()
		if err != nil {
			return err
		}
		if l == "" {
			b.done = true
			return nil
		}
		if _, _, err := parseHeaderLine(l); err != nil {
			return err
		}
	}
}

func (b *bodyReader) chunkEnd() error {
	var crlf [2]byte
	if _, err := io.ReadFull(b.br, crlf[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if !bytes.Equal(crlf[:], []byte("\r\n")) {
		return badRequest(detailsCodecError, "chunk data not followed by CRLF")
	}
	return nil
}
