package ucwa

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDate parses the ASP.NET AJAX date form UCWA uses in JSON (PROTOCOL.md §1):
// "/Date(1383784870271)/" is milliseconds since the Unix epoch. A trailing offset such as
// "/Date(1383784870271+0100)/" is accepted; the milliseconds are UTC regardless of it. The
// escaped form "\/Date(...)\/" is accepted as well.
func ParseDate(s string) (time.Time, error) {
	in := s
	s = strings.ReplaceAll(strings.TrimSpace(s), `\/`, "/")
	if !strings.HasPrefix(s, "/Date(") || !strings.HasSuffix(s, ")/") {
		return time.Time{}, fmt.Errorf("ucwa: date %q: want /Date(ms)/", in)
	}
	body := s[len("/Date(") : len(s)-len(")/")]
	if i := strings.LastIndexAny(body, "+-"); i > 0 {
		off := body[i+1:]
		if len(off) != 4 || strings.Trim(off, "0123456789") != "" {
			return time.Time{}, fmt.Errorf("ucwa: date %q: bad offset", in)
		}
		body = body[:i]
	}
	ms, err := strconv.ParseInt(body, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("ucwa: date %q: %w", in, err)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// FormatDate writes t in the "/Date(ms)/" form.
func FormatDate(t time.Time) string {
	return "/Date(" + strconv.FormatInt(t.UnixMilli(), 10) + ")/"
}
