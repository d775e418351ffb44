package simctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// Client scripts a simulator served by `bot sim` through its /_sim/ routes.
type Client struct {
	// Base is the simulator's URL, "http://127.0.0.1:PORT".
	Base string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// AddUser adds a user; bots need a password, scripted people do not.
func (c *Client) AddUser(ctx context.Context, uri, name, password string) error {
	return c.post(ctx, "users", Request{URI: uri, Name: name, Password: password}, nil)
}

// Invite makes from invite to with a first message; it returns the
// conversation's id.
func (c *Client) Invite(ctx context.Context, from, to, text string) (string, error) {
	var out Invited
	err := c.post(ctx, "invite", Request{From: from, To: to, Text: text}, &out)
	return out.Conversation, err
}

// Join makes uri join the conversation's IM.
func (c *Client) Join(ctx context.Context, conv, uri string) error {
	return c.post(ctx, "join", Request{Conversation: conv, URI: uri}, nil)
}

// Say makes uri write text in the conversation.
func (c *Client) Say(ctx context.Context, conv, uri, text string) error {
	return c.post(ctx, "say", Request{Conversation: conv, URI: uri, Text: text}, nil)
}

// Leave makes uri leave the conversation's IM.
func (c *Client) Leave(ctx context.Context, conv, uri string) error {
	return c.post(ctx, "leave", Request{Conversation: conv, URI: uri}, nil)
}

// HangUp makes uri end the conversation for everyone.
func (c *Client) HangUp(ctx context.Context, conv, uri string) error {
	return c.post(ctx, "hangup", Request{Conversation: conv, URI: uri}, nil)
}

// Transcript returns every message of the conversation, in order.
func (c *Client) Transcript(ctx context.Context, conv string) ([]ucwasim.Message, error) {
	var out []ucwasim.Message
	err := c.get(ctx, "transcript?conversation="+url.QueryEscape(conv), &out)
	return out, err
}

// Sent returns every message the bot sent.
func (c *Client) Sent(ctx context.Context, bot string) ([]ucwasim.Message, error) {
	var out []ucwasim.Message
	err := c.get(ctx, "sent?bot="+url.QueryEscape(bot), &out)
	return out, err
}

// SetPresence sets uri's availability (Online, Busy, Away, ...).
func (c *Client) SetPresence(ctx context.Context, uri, availability string) error {
	return c.post(ctx, "presence", Request{URI: uri, Availability: availability}, nil)
}

// Presence returns uri's availability.
func (c *Client) Presence(ctx context.Context, uri string) (string, error) {
	var out Request
	err := c.get(ctx, "presence?uri="+url.QueryEscape(uri), &out)
	return out.Availability, err
}

func (c *Client) post(ctx context.Context, route string, body Request, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.Base, "/")+Prefix+route, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

func (c *Client) get(ctx context.Context, route string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.Base, "/")+Prefix+route, nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("sim %s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("sim %s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}
