package stage

import "strings"

// Counter is a counter a stage adds to, declared when the stage compiles
// (NewCounter) and listed by it (Counting). Its name comes from
// configuration (a route's or a rule's name, a fixed kind), never from
// request data. The pipeline numbers every stage's counters once (Counters)
// and each worker defines them all when it starts (Worker.Define): every
// series exists, at zero, from the first scrape, so a rate over it sees the
// first increment, and adding to one costs an index, not a lookup by name.
type Counter struct {
	name string
	// id is the counter's place in Counters.Names, -1 until numbered.
	id int
	// route is set on a counter of one route (NewRouteCounter).
	route bool
}

// NewCounter declares the counter named name.
func NewCounter(name string) *Counter { return &Counter{name: name, id: -1} }

// NewRouteCounter declares a counter of one route, whose name holds the
// route's MetricSegment after a prefix of the stage's own: the pipeline
// refuses two routes that share a segment, so no other counter has the
// name, and numbering it needs no lookup (Counters.Add). A stage counting
// 4 reasons on each of 1,000 routes would otherwise hash 4,000 names into
// a map, without AES instructions in wasm. The stage keeps the counter in
// its own struct, not in an allocation of its own, and lists it by
// pointer.
func NewRouteCounter(name string) Counter { return Counter{name: name, id: -1, route: true} }

// Counting is a Stage that adds to counters: AppendCounters appends every
// one it may add to, so that they are defined before the first request. A
// stage that adds to a counter it does not list fails that stream closed
// (the glue recovers the panic): tests that count through the pipeline find
// it. Appending to the caller's list, not returning one, spares a
// throwaway allocation per route at start.
type Counting interface {
	Stage
	AppendCounters(dst []*Counter) []*Counter
}

// Counters numbers the counters of compiled stages. Counters of one name
// (a rule shared by routes, a kind every route's validation counts) are one
// counter.
type Counters struct {
	names []string
	// byName numbers the counters NewCounter declared.
	byName map[string]int
	// scratch is the list Add has a stage append its counters to, reused:
	// a buffer on the stack would escape through the interface call.
	scratch []*Counter
}

// Add numbers st's counters, if it counts.
func (cs *Counters) Add(st Stage) {
	c, ok := st.(Counting)
	if !ok {
		return
	}
	cs.scratch = c.AppendCounters(cs.scratch[:0])
	for _, ctr := range cs.scratch {
		if ctr.id >= 0 {
			continue
		}
		if ctr.route {
			ctr.id = len(cs.names)
			cs.names = append(cs.names, ctr.name)
			continue
		}
		id, ok := cs.byName[ctr.name]
		if !ok {
			if cs.byName == nil {
				cs.byName = map[string]int{}
			}
			id = len(cs.names)
			cs.byName[ctr.name] = id
			cs.names = append(cs.names, ctr.name)
		}
		ctr.id = id
	}
}

// Names are the counters' names, in the order of their ids.
func (cs *Counters) Names() []string { return cs.names }

// Define defines names, the pipeline's counters (Counters.Names), on the
// worker's host, once, when the worker starts.
func (w *Worker) Define(names []string) {
	w.counters = make([]uint32, len(names))
	for i, name := range names {
		w.counters[i] = w.Host.DefineCounter(name)
	}
}

// Count adds n to c.
func (w *Worker) Count(c *Counter, n uint64) { w.Host.Count(w.counters[c.id], n) }

// MetricSegment is name as one part of a counter's name. Envoy's stats_tags
// split names on dots, so a dot inside a route's name would move the split:
// it becomes "_", and the pipeline refuses two routes whose names would then
// share counters. Most names have no dot: IndexByte, assembly in Go's
// wasm port, finds that sooner than ReplaceAll's count, a loop over the
// bytes, which configure ran three times for each route.
func MetricSegment(name string) string {
	if strings.IndexByte(name, '.') < 0 {
		return name
	}
	return strings.ReplaceAll(name, ".", "_")
}
