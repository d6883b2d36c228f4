package stage

import (
	"time"

	"github.com/apiguard/apiguard/filters/verdict"
)

// LastStage is a Stage with a part that runs after every other stage of its
// route: a check that costs a callout (a global rate limit), which a request
// that authentication, authorization or validation refuses must never cost.
// Its RequestHeaders runs in its usual place; AfterOthers runs once all of
// the route's stages allowed the request.
type LastStage interface {
	Stage
	AfterOthers(s *Stream, in *Input) verdict.Decision
}

// Call is a unary gRPC call a stage asks the glue to make (Stream.Call): the
// stream pauses until it is answered, and the stage resumes with the answer
// (CallStage.OnCallResponse). A stream makes one call at a time.
type Call struct {
	// Cluster is the proxy's cluster of the service (an Envoy cluster,
	// HTTP/2).
	Cluster string
	// Service and Method name the RPC, e.g.
	// "envoy.service.ratelimit.v3.RateLimitService" and "ShouldRateLimit".
	Service, Method string
	// Message is the request, protobuf-encoded, without gRPC's framing.
	Message []byte
	// Timeout bounds the call (> 0); past it Envoy answers UNAVAILABLE
	// ("upstream request timeout").
	Timeout time.Duration
}

// CallStage is a Stage that asks for calls: in a request-headers part it
// sets Stream.Call and returns an allowing decision, and the pipeline stops
// there until the glue brings the answer.
type CallStage interface {
	Stage
	// OnCallResponse decides on the call's answer. It may ask for another
	// call (Stream.Call again); when it allows, the route's next stages run.
	OnCallResponse(s *Stream, in *Input, res CallResult) verdict.Decision
}

// CallResult is a call's answer.
type CallResult struct {
	// Status is the gRPC status code: CallOK when Message is the answer.
	Status uint32
	// Message is the response, protobuf-encoded, without gRPC's framing.
	Message []byte
}

// gRPC status codes the glue reports for calls that failed before the
// service answered (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
const (
	CallOK          uint32 = 0
	CallUnknown     uint32 = 2
	CallInternal    uint32 = 13
	CallUnavailable uint32 = 14
)
