package jwks

import "time"

// Waiters are the streams of one worker paused until a provider's fetch is
// over. Adding and removing a stream cost O(1), so thousands of clients that
// give up while waiting cost linear, not quadratic, work. Not safe for
// concurrent use (a proxy-wasm VM is single-threaded).
type Waiters[S comparable] struct {
	list []waiter[S]
	at   map[S]int
}

type waiter[S comparable] struct {
	stream  S
	attempt uint64
	until   time.Time
}

// Add makes s wait for fetch attempt until deadline. A stream waits once:
// adding it again replaces its entry.
func (w *Waiters[S]) Add(s S, attempt uint64, deadline time.Time) {
	if w.at == nil {
		w.at = map[S]int{}
	}
	if i, ok := w.at[s]; ok {
		w.list[i] = waiter[S]{s, attempt, deadline}
		return
	}
	w.at[s] = len(w.list)
	w.list = append(w.list, waiter[S]{s, attempt, deadline})
}

// Remove drops s (a stream that ended while waiting) and reports whether it
// was there. The last entry takes its slot.
func (w *Waiters[S]) Remove(s S) bool {
	i, ok := w.at[s]
	if !ok {
		return false
	}
	last := len(w.list) - 1
	if i != last {
		w.list[i] = w.list[last]
		w.at[w.list[i].stream] = i
	}
	var zero waiter[S]
	w.list[last] = zero
	w.list = w.list[:last]
	delete(w.at, s)
	return true
}

// Len is the number of waiting streams.
func (w *Waiters[S]) Len() int { return len(w.list) }

// Take removes and returns the streams whose fetch is over (its attempt is
// at most finished) or whose deadline passed at now: each is then answered
// with whatever keys its provider has.
func (w *Waiters[S]) Take(now time.Time, finished uint64) []S {
	var out []S
	for i := 0; i < len(w.list); {
		if e := w.list[i]; e.attempt <= finished || !now.Before(e.until) {
			out = append(out, e.stream)
			w.Remove(e.stream)
			continue
		}
		i++
	}
	return out
}
