package ucwasim

import (
	"math"
	"time"
)

// clock is the simulated clock: simulated time runs TimeScale times faster than real time.
type clock struct {
	scale     float64
	simStart  time.Time
	realStart time.Time
}

func newClock(scale float64) *clock {
	if scale <= 0 || math.IsNaN(scale) || math.IsInf(scale, 0) {
		scale = 1
	}
	now := time.Now()
	return &clock{scale: scale, simStart: now.Round(0), realStart: now}
}

// now returns the simulated time.
func (c *clock) now() time.Time {
	return c.simStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.scale))
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
