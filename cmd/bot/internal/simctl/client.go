package simctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
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
	return c.SentFrom(ctx, bot, 0)
}

// SentFrom returns the messages the bot sent after its first from messages.
func (c *Client) SentFrom(ctx context.Context, bot string, from int) ([]ucwasim.Message, error) {
	var out []ucwasim.Message
	err := c.get(ctx, "sent?bot="+url.QueryEscape(bot)+"&from="+strconv.Itoa(from), &out)
	return out, err
}

// Conversations lists the bot's conversations, incoming and started by the bot.
func (c *Client) Conversations(ctx context.Context, bot string) ([]ConversationInfo, error) {
	var out []ConversationInfo
	err := c.get(ctx, "conversations?bot="+url.QueryEscape(bot), &out)
	return out, err
}

// Requests returns the simulator's request log (the newest 10,000 at most) after its first
// from entries.
func (c *Client) Requests(ctx context.Context, from int) ([]ucwasim.Request, error) {
	var out []ucwasim.Request
	err := c.get(ctx, "requests?from="+strconv.Itoa(from), &out)
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
	return c.postJSON(ctx, route, body, out)
}

func (c *Client) postJSON(ctx context.Context, route string, body, out any) error {
	return c.send(ctx, http.MethodPost, route, body, out)
}

func (c *Client) get(ctx context.Context, route string, out any) error {
	return c.send(ctx, http.MethodGet, route, nil, out)
}

// send makes a request to a control route; body, when not nil, is sent as JSON.
func (c *Client) send(ctx context.Context, method, route string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+Prefix+route, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
