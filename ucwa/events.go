package ucwa

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pollGrace is added to the P-GET timeout for the HTTP request's deadline (PROTOCOL.md §6.1).
const pollGrace = 60 * time.Second

// Poll issues one P-GET of href: app.EventsURL first, then Batch.Continue() of the previous
// batch. When timeout > 0 it sets the timeout= parameter (whole seconds, at least 1; a real
// server wants 180..1800) with a URL builder, keeping the server's own parameters; the HTTP
// request's deadline is timeout+60s. Empty batches are normal. A replaced P-GET gives
// ErrPGetReplaced; a deleted or expired application ErrApplicationGone. The caller owns
// ordering: one Poll at a time per application.
func (c *Client) Poll(ctx context.Context, href string, timeout time.Duration) (*Batch, error) {
	if href == "" {
		return nil, fmt.Errorf("ucwa: poll: empty href: %w", ErrNoLink)
	}
	u, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("ucwa: poll %s: %w", redactURL(href), err)
	}
	wait := 180 * time.Second // the server's default
	if timeout > 0 {
		secs := max(int64(timeout/time.Second), 1)
		u.RawQuery = setQueryParam(u.RawQuery, "timeout", strconv.FormatInt(secs, 10))
		wait = time.Duration(secs) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, longPollKey{}, true), wait+pollGrace)
	defer cancel()
	target := u.String()
	_, data, err := c.do(ctx, http.MethodGet, target, "", nil, scopeAny)
	if err != nil {
		return nil, fmt.Errorf("ucwa: poll: %w", err)
	}
	b, err := DecodeBatch(data, u)
	if err != nil {
		return nil, fmt.Errorf("%w (%d bytes): %w", ErrUndecodable, len(data), err)
	}
	if b.Continue() == "" {
		return nil, fmt.Errorf("ucwa: poll %s: answer has no next, resync or resume link", redactURL(target))
	}
	return b, nil
}

// setQueryParam sets key=value in a raw query, leaving every other parameter byte for byte as
// the server wrote it (PROTOCOL.md §1: never alter server-supplied parameter values).
func setQueryParam(rawQuery, key, value string) string {
	var parts []string
	for _, p := range strings.Split(rawQuery, "&") {
		k, _, _ := strings.Cut(p, "=")
		if p == "" || k == key {
			continue
		}
		parts = append(parts, p)
	}
	parts = append(parts, url.QueryEscape(key)+"="+url.QueryEscape(value))
	return strings.Join(parts, "&")
}
