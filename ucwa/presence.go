package ucwa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotRefreshed is makeMeAvailable accepted by the server but the application not read
// again after it: the bot is available and its event channel works, only the links that appear
// after makeMeAvailable (reportMyActivity, presence, note) are not known yet. ReportMyActivity
// reads them when they are missing.
var ErrNotRefreshed = errors.New("ucwa: makeMeAvailable accepted, application not read again")

// AvailabilityOptions is the makeMeAvailable input (PROTOCOL.md §5.1).
type AvailabilityOptions struct {
	// Modalities are the supported modalities; default ["Messaging"].
	Modalities []string
	// SupportedMessageFormats are the message formats; default ["Plain","Html"].
	SupportedMessageFormats []string
	// SignInAs is the initial availability (Online, Busy, ...); "" lets the server choose.
	SignInAs string
}

type makeMeAvailableInput struct {
	SupportedModalities     []string `json:"supportedModalities"`
	SupportedMessageFormats []string `json:"supportedMessageFormats"`
	SignInAs                string   `json:"signInAs,omitempty"`
}

// MakeMeAvailable posts makeMeAvailable, ending lurker mode, then refreshes the application so
// that presence, note and reportMyActivity links appear. When the link is already gone because
// the application is available, it only refreshes. When the POST succeeded and only the read
// after it failed, the error matches ErrNotRefreshed (and the read's error): the application
// is available and should be polled at once.
func (c *Client) MakeMeAvailable(ctx context.Context, app *Application, o AvailabilityOptions) error {
	href := app.Link("makeMeAvailable")
	if href == "" {
		if err := c.Refresh(ctx, app); err != nil {
			return err
		}
		if href = app.Link("makeMeAvailable"); href == "" {
			if app.Link("reportMyActivity") != "" {
				return nil // already available
			}
			return requireLink("application", "makeMeAvailable", "")
		}
	}
	in := makeMeAvailableInput{SupportedModalities: o.Modalities, SupportedMessageFormats: o.SupportedMessageFormats, SignInAs: o.SignInAs}
	if len(in.SupportedModalities) == 0 {
		in.SupportedModalities = []string{"Messaging"}
	}
	if len(in.SupportedMessageFormats) == 0 {
		in.SupportedMessageFormats = []string{"Plain", "Html"}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if _, _, err := c.post(ctx, href, body, scopeAny); err != nil {
		return fmt.Errorf("ucwa: makeMeAvailable: %w", err)
	}
	if err := c.Refresh(ctx, app); err != nil {
		return fmt.Errorf("%w: %w", ErrNotRefreshed, err)
	}
	return nil
}

// ReportMyActivity posts reportMyActivity (§5.2); call it well inside every 4 minutes. Without
// the link it reads the application again first (the read after makeMeAvailable may have
// failed, ErrNotRefreshed); still without it (before makeMeAvailable) the error matches
// ErrMakeMeAvailableRequired, as does the server's 409.
func (c *Client) ReportMyActivity(ctx context.Context, app *Application) error {
	href := app.Link("reportMyActivity")
	if href == "" {
		if err := c.Refresh(ctx, app); err != nil {
			return fmt.Errorf("ucwa: reportMyActivity: %w", err)
		}
		href = app.Link("reportMyActivity")
	}
	if href == "" {
		return fmt.Errorf("ucwa: reportMyActivity: no link: %w", ErrMakeMeAvailableRequired)
	}
	if _, _, err := c.post(ctx, href, nil, scopeAny); err != nil {
		return fmt.Errorf("ucwa: reportMyActivity: %w", err)
	}
	return nil
}

// meLink returns the href of one of me's links that exist only after makeMeAvailable.
func meLink(app *Application, rel string) (string, error) {
	href := app.Link(rel)
	if href == "" {
		return "", fmt.Errorf("ucwa: %s: no link: %w", rel, ErrMakeMeAvailableRequired)
	}
	return href, nil
}

// MyPresence returns the bot's own availability (Online, Away, ...; §5.3).
func (c *Client) MyPresence(ctx context.Context, app *Application) (string, error) {
	href, err := meLink(app, "presence")
	if err != nil {
		return "", err
	}
	r, err := c.Get(ctx, href)
	if err != nil {
		return "", fmt.Errorf("ucwa: presence: %w", err)
	}
	return r.String("availability"), nil
}

// SetMyPresence sets the bot's preferred availability (Online, Busy, DoNotDisturb,
// BeRightBack, Away, Offwork); "" resets to automatic presence.
func (c *Client) SetMyPresence(ctx context.Context, app *Application, availability string) error {
	href, err := meLink(app, "presence")
	if err != nil {
		return err
	}
	var body []byte
	if availability != "" {
		body, _ = json.Marshal(map[string]string{"availability": availability})
	}
	if _, _, err := c.post(ctx, href, body, scopeAny); err != nil {
		return fmt.Errorf("ucwa: set presence: %w", err)
	}
	return nil
}

// MyNote returns the bot's note message.
func (c *Client) MyNote(ctx context.Context, app *Application) (string, error) {
	href, err := meLink(app, "note")
	if err != nil {
		return "", err
	}
	r, err := c.Get(ctx, href)
	if err != nil {
		return "", fmt.Errorf("ucwa: note: %w", err)
	}
	return r.String("message"), nil
}

// SetMyNote sets the bot's personal note; "" clears it.
func (c *Client) SetMyNote(ctx context.Context, app *Application, text string) error {
	href, err := meLink(app, "note")
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"message": text})
	if _, _, err := c.post(ctx, href, body, scopeAny); err != nil {
		return fmt.Errorf("ucwa: set note: %w", err)
	}
	return nil
}

// ContactPresence GETs a contactPresence href (from a contactPresence event, §7.2) and returns
// the contact's availability and activity.
func (c *Client) ContactPresence(ctx context.Context, contactPresenceHref string) (availability, activity string, err error) {
	r, err := c.Get(ctx, contactPresenceHref)
	if err != nil {
		return "", "", fmt.Errorf("ucwa: contact presence: %w", err)
	}
	return r.String("availability"), r.String("activity"), nil
}
