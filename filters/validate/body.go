package validate

import (
	"strings"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// begin checks what the headers say of the body and asks for the body
// phase: reading the body of a JSON request, capping any other.
func (b *bodyRules) begin(s *stage.Stream, in *stage.Input, p *Policy) verdict.Decision {
	if !s.HasBody {
		if b.required {
			return invalid([]verdict.Violation{{In: "body", Rule: "required"}})
		}
		return verdict.Decision{}
	}
	if enc := in.Get("content-encoding"); enc != "" && !strings.EqualFold(enc, "identity") && !b.acceptsEncoding(enc) {
		return verdict.Deny(verdict.UnsupportedMediaType, "the body's content-encoding is not accepted")
	}
	ct := in.Get("content-type")
	if ct == "" {
		return verdict.Deny(verdict.UnsupportedMediaType, "a body needs a content-type")
	}
	isJSON, ok := b.mediaType(ct)
	if !ok {
		return verdict.Deny(verdict.UnsupportedMediaType, "the body's content-type is not accepted")
	}
	if isJSON && b.json {
		s.ReadBody(p, b.maxBytes)
	} else {
		s.LimitBody(b.maxBytes)
	}
	return verdict.Decision{}
}

// RequestBody checks a JSON body's text and schema.
func (p *Policy) RequestBody(_ *stage.Stream, body []byte, in *stage.Input) verdict.Decision {
	d := p.checkBody(body)
	if d.Denied() {
		return p.failed.count(in.Worker(), d)
	}
	return d
}

func (p *Policy) checkBody(body []byte) verdict.Decision {
	b := p.body
	if len(body) == 0 {
		if b.required {
			return invalid([]verdict.Violation{{In: "body", Rule: "required"}})
		}
		return verdict.Decision{}
	}
	vs := b.schema.Check(body, b.limits)
	if len(vs) == 0 {
		return verdict.Decision{}
	}
	out := make([]verdict.Violation, len(vs))
	for i, v := range vs {
		out[i] = verdict.Violation{In: "body", Pointer: v.Pointer, Rule: v.Rule}
	}
	return invalid(out)
}

// mediaType matches a content-type against the accepted types. A JSON type
// (application/json, or a +json suffix) carries no charset but UTF-8
// (RFC 8259 section 8.1); parameters are compared case-insensitively.
func (b *bodyRules) mediaType(ct string) (isJSON, ok bool) {
	mt, charset, good := parseMediaType(ct)
	if !good {
		return false, false
	}
	isJSON = mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
	if charset != "" && isJSON && !strings.EqualFold(charset, "utf-8") {
		return false, false
	}
	for _, t := range b.types {
		if t == mt || t == "application/json" && isJSON {
			return isJSON, true
		}
	}
	return false, false
}

func (b *bodyRules) hasJSONType() bool {
	for _, t := range b.types {
		if t == "application/json" || strings.HasSuffix(t, "+json") {
			return true
		}
	}
	return false
}

func (b *bodyRules) acceptsEncoding(enc string) bool {
	enc = strings.ToLower(strings.TrimSpace(enc))
	for _, e := range b.encodings {
		if e == enc {
			return true
		}
	}
	return false
}
