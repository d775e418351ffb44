package ucwa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// Application is a UCWA application (PROTOCOL.md §4): the bot's endpoint on the server, with
// its event channel and the links of its embedded me, people and communication resources.
type Application struct {
	// URL is the application's self href.
	URL string
	// EventsURL is the first P-GET href (events?ack=1 style), from the application's events link.
	EventsURL string
	// Resource is the application as last read. Refresh and MakeMeAvailable replace it; read
	// links through Link when those may run concurrently.
	Resource *Resource

	mu sync.RWMutex
}

// linkHolders are the embedded resources whose links an Application exposes, in search order.
var linkHolders = []string{"me", "people", "communication", "onlineMeetings"}

// Link returns the href of rel on the application itself or, failing that, on its embedded
// me, people, communication or onlineMeetings resource (e.g. "makeMeAvailable",
// "reportMyActivity", "presenceSubscriptions", "startMessaging", "conversations"). "" when absent.
func (a *Application) Link(rel string) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return appLink(a.Resource, rel)
}

func appLink(r *Resource, rel string) string {
	if r == nil {
		return ""
	}
	if h := r.Links.Href(rel); h != "" {
		return h
	}
	for _, holder := range linkHolders {
		if h := r.First(holder).Links.Href(rel); h != "" {
			return h
		}
	}
	return ""
}

// set replaces the application's resource. URL and EventsURL are fixed at creation.
func (a *Application) set(r *Resource) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Resource = r
}

func (a *Application) url() string { return a.URL }

// createInput is the POST applications body (walkthrough spelling, §4.1).
type createInput struct {
	UserAgent  string `json:"UserAgent"`
	EndpointID string `json:"EndpointId"`
	Culture    string `json:"Culture"`
}

// CreateApplication POSTs to the applications href found by SignIn with the configured
// UserAgent, EndpointId and Culture (§4.1). A server that already has an application for this
// endpoint answers with it (200) instead of a new one (201); both are returned.
func (c *Client) CreateApplication(ctx context.Context) (*Application, error) {
	apps := c.ApplicationsURL()
	if apps == "" {
		return nil, ErrNotSignedIn
	}
	body, err := json.Marshal(createInput{UserAgent: c.cfg.UserAgent, EndpointID: c.cfg.EndpointID, Culture: c.cfg.Culture})
	if err != nil {
		return nil, err
	}
	resp, data, err := c.post(ctx, apps, body, scopeAny)
	if err != nil {
		return nil, fmt.Errorf("ucwa: create application: %w", err)
	}
	var r *Resource
	if len(data) == 0 {
		loc := location(resp, apps)
		if loc == "" {
			return nil, fmt.Errorf("ucwa: create application: %d answer with neither body nor Location", resp.StatusCode)
		}
		if r, err = c.getScoped(ctx, loc, scopeApplication); err != nil {
			return nil, fmt.Errorf("ucwa: create application: %w", err)
		}
	} else if r, err = decodeAt(data, apps); err != nil {
		return nil, fmt.Errorf("ucwa: create application: %w", err)
	}
	return newApplication(r)
}

func newApplication(r *Resource) (*Application, error) {
	a := &Application{URL: r.Self(), EventsURL: r.Links.Href("events"), Resource: r}
	if a.URL == "" || a.EventsURL == "" {
		return nil, errors.New("ucwa: application without self or events link")
	}
	return a, nil
}

// OpenApplication GETs an existing application, e.g. to resume it after a restart. When the
// server no longer has it the error matches ErrApplicationGone.
func (c *Client) OpenApplication(ctx context.Context, appURL string) (*Application, error) {
	r, err := c.getScoped(ctx, appURL, scopeApplication)
	if err != nil {
		return nil, fmt.Errorf("ucwa: open application: %w", err)
	}
	return newApplication(r)
}

// Refresh re-reads the application; links such as reportMyActivity appear after
// makeMeAvailable (§5.1). ErrApplicationGone when the server no longer has it.
func (c *Client) Refresh(ctx context.Context, app *Application) error {
	r, err := c.getScoped(ctx, app.url(), scopeApplication)
	if err != nil {
		return fmt.Errorf("ucwa: refresh application: %w", err)
	}
	app.set(r)
	return nil
}

// DeleteApplication deletes the application (§4.2), tearing down its conversations and
// subscriptions. An application already gone counts as deleted.
func (c *Client) DeleteApplication(ctx context.Context, app *Application) error {
	_, _, err := c.do(ctx, http.MethodDelete, app.url(), "", nil, scopeApplication)
	if err != nil && !errors.Is(err, ErrApplicationGone) {
		return fmt.Errorf("ucwa: delete application: %w", err)
	}
	return nil
}
