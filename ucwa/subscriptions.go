package ucwa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// Presence subscription durations allowed by the server (PROTOCOL.md §7.1).
const (
	MinSubscription = 10 * time.Minute
	MaxSubscription = 30 * time.Minute
)

// ErrDuration is a subscription duration outside 10–30 minutes; returned before sending.
var ErrDuration = errors.New("ucwa: presence subscription duration must be 10 to 30 minutes")

// Subscription is a presence subscription.
type Subscription struct {
	// URL is the subscription's self href.
	URL string
	// Duration is the duration last requested.
	Duration time.Duration
	// Resource is the subscription as the server returned it (links memberships,
	// addToPresenceSubscription).
	Resource *Resource
}

func durationMinutes(d time.Duration) (int64, error) {
	if d < MinSubscription || d > MaxSubscription {
		return 0, fmt.Errorf("%w (got %s)", ErrDuration, d)
	}
	return int64(d / time.Minute), nil
}

// Subscribe creates a presence subscription for uris lasting d (§7.1). Presence changes then
// arrive as contactPresence events on sender people; the server warns with a
// presenceSubscription updated event before the end, when ExtendSubscription is due.
func (c *Client) Subscribe(ctx context.Context, app *Application, uris []string, d time.Duration) (*Subscription, error) {
	mins, err := durationMinutes(d)
	if err != nil {
		return nil, err
	}
	href := app.Link("presenceSubscriptions")
	if err := requireLink("people", "presenceSubscriptions", href); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]any{"duration": mins, "uris": nonNil(uris)})
	resp, data, err := c.post(ctx, href, body, scopeAny)
	if err != nil {
		return nil, fmt.Errorf("ucwa: subscribe: %w", err)
	}
	var r *Resource
	if len(data) > 0 {
		r, err = decodeAt(data, href)
	} else if loc := location(resp, href); loc != "" {
		r, err = c.getScoped(ctx, loc, scopeSubscription)
	} else {
		err = errors.New("answer with neither body nor Location")
	}
	if err != nil {
		return nil, fmt.Errorf("ucwa: subscribe: %w", err)
	}
	if r.Self() == "" {
		return nil, errors.New("ucwa: subscribe: subscription without self link")
	}
	return &Subscription{URL: r.Self(), Duration: d, Resource: r}, nil
}

// ExtendSubscription adds d to the subscription's remaining time, capped by the server at 30
// minutes (§7.3). An expired subscription gives ErrSubscriptionGone (the server's 404 says
// ApplicationNotFound, §13.8): create a new one.
func (c *Client) ExtendSubscription(ctx context.Context, s *Subscription, d time.Duration) error {
	mins, err := durationMinutes(d)
	if err != nil {
		return err
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Errorf("ucwa: extend subscription: %w", err)
	}
	u.RawQuery = setQueryParam(u.RawQuery, "duration", strconv.FormatInt(mins, 10))
	// Any 2xx is success: the walkthrough answers 200, the reference 201 (PROTOCOL.md §13.9).
	_, data, err := c.do(ctx, http.MethodPost, u.String(), "", nil, scopeSubscription)
	if err != nil {
		return fmt.Errorf("ucwa: extend subscription: %w", err)
	}
	s.Duration = d
	if len(data) > 0 {
		if r, err := decodeAt(data, s.URL); err == nil {
			s.Resource = r
		}
	}
	return nil
}

func (s *Subscription) link(rel string) string {
	if h := s.Resource.Links.Href(rel); h != "" {
		return h
	}
	return ""
}

// AddMembers adds contacts to the subscription (§7.4).
func (c *Client) AddMembers(ctx context.Context, s *Subscription, uris []string) error {
	href := s.link("addToPresenceSubscription")
	if href == "" {
		href = s.link("memberships")
	}
	if err := requireLink("presenceSubscription", "addToPresenceSubscription", href); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"contactUris": nonNil(uris)})
	if _, _, err := c.post(ctx, href, body, scopeSubscription); err != nil {
		return fmt.Errorf("ucwa: add members: %w", err)
	}
	return nil
}

// membership is one presenceSubscriptionMembership: the member's URI and its self href.
type membership struct{ uri, href string }

func (c *Client) memberships(ctx context.Context, s *Subscription) ([]membership, error) {
	href := s.link("memberships")
	if err := requireLink("presenceSubscription", "memberships", href); err != nil {
		return nil, err
	}
	r, err := c.getScoped(ctx, href, scopeSubscription)
	if err != nil {
		return nil, err
	}
	var out []membership
	for _, m := range r.Embedded["presenceSubscriptionMembership"] {
		uri := m.String("uri")
		if uri == "" {
			uri = uriFromHref(m.Links.Href("contact"))
		}
		out = append(out, membership{uri: uri, href: m.Self()})
	}
	return out, nil
}

// uriFromHref derives a SIP URI from a contact href keyed by address (".../people/a@x.com").
func uriFromHref(href string) string {
	u, err := url.Parse(href)
	if err != nil {
		return ""
	}
	last := path.Base(u.Path)
	if !strings.Contains(last, "@") {
		return ""
	}
	return "sip:" + last
}

// Members lists the SIP URIs of the subscription's members.
func (c *Client) Members(ctx context.Context, s *Subscription) ([]string, error) {
	ms, err := c.memberships(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("ucwa: members: %w", err)
	}
	uris := make([]string, 0, len(ms))
	for _, m := range ms {
		uris = append(uris, m.uri)
	}
	return uris, nil
}

// RemoveMember removes one contact from the subscription by deleting its membership (§7.4).
func (c *Client) RemoveMember(ctx context.Context, s *Subscription, uri string) error {
	ms, err := c.memberships(ctx, s)
	if err != nil {
		return fmt.Errorf("ucwa: remove member: %w", err)
	}
	want := strings.ToLower(strings.TrimPrefix(uri, "sip:"))
	for _, m := range ms {
		if strings.ToLower(strings.TrimPrefix(m.uri, "sip:")) == want && m.href != "" {
			if _, _, err := c.do(ctx, http.MethodDelete, m.href, "", nil, scopeSubscription); err != nil {
				return fmt.Errorf("ucwa: remove member: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("ucwa: remove member: %s is not a member", uri)
}

// Unsubscribe deletes the subscription (§7.4). One already expired counts as deleted.
func (c *Client) Unsubscribe(ctx context.Context, s *Subscription) error {
	_, _, err := c.do(ctx, http.MethodDelete, s.URL, "", nil, scopeSubscription)
	if err != nil && !errors.Is(err, ErrSubscriptionGone) {
		return fmt.Errorf("ucwa: unsubscribe: %w", err)
	}
	return nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
