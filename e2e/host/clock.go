package host

import (
	"sync"
	"time"
)

// Clock is the host's time source: WASI clock_time_get and tick scheduling.
type Clock interface {
	Now() time.Time
	// Monotonic is nanoseconds since an arbitrary fixed point.
	Monotonic() int64
}

// RealClock is the wall clock.
type RealClock struct{}

var processStart = time.Now()

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) Monotonic() int64 { return int64(time.Since(processStart)) }

// FakeClock moves only when Env.Advance is called, so tests control token
// expiry and refresh schedules without sleeping.
type FakeClock struct {
	mu    sync.Mutex
	now   time.Time
	start time.Time
}

// NewFakeClock starts a fake clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t, start: t} }

func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// fakeUptime offsets the fake monotonic clock: a real one (time since boot)
// is never near zero, and the Go runtime treats a zero nanotime as unset.
const fakeUptime = time.Hour

func (c *FakeClock) Monotonic() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(fakeUptime + c.now.Sub(c.start))
}

func (c *FakeClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
