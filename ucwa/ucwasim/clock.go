package ucwasim

import (
	"math"
	"sync"
	"time"
)

// clock is the simulated clock: simulated time runs TimeScale times faster than real time,
// or, when manual, moves only when Server.Advance moves it.
type clock struct {
	scale     float64
	simStart  time.Time
	realStart time.Time

	manual bool
	mu     sync.Mutex    // guards offset
	offset time.Duration // manual: simulated time elapsed since simStart
}

func newClock(scale float64, manual bool) *clock {
	if scale <= 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		scale = 1
	}
	now := time.Now()
	return &clock{scale: scale, simStart: now.Round(0), realStart: now, manual: manual}
}

// now returns the simulated time.
func (c *clock) now() time.Time {
	if c.manual {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.simStart.Add(c.offset)
	}
	return c.simStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.scale))
}

// advance moves a manual clock forward by d (negative d is ignored).
func (c *clock) advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// real converts a simulated duration to the real duration that elapses meanwhile.
func (c *clock) real(d time.Duration) time.Duration {
	r := time.Duration(float64(d) / c.scale)
	if d > 0 && r <= 0 {
		r = 1
	}
	return r
}

// ucwaDate formats t the way UCWA JSON does: "/Date(<ms since epoch>)/".
func ucwaDate(t time.Time) string {
	return "/Date(" + itoa(t.UnixMilli()) + ")/"
}
