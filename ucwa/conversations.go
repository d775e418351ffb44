package ucwa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Conversation operations take hrefs the caller got from events or resources: links are
// followed, never built (PROTOCOL.md §1; §13.11: reference samples and walkthroughs use
// different paths for the same relations).

// Accept accepts an incoming messagingInvitation through its accept link (§8.2 step 4).
func (c *Client) Accept(ctx context.Context, acceptHref string) error {
	return c.postEmpty(ctx, "accept", acceptHref)
}

// Decline declines an incoming invitation; reason ("Local", "Global", ...) may be "".
func (c *Client) Decline(ctx context.Context, declineHref string, reason string) error {
	if err := requireLink("invitation", "decline", declineHref); err != nil {
		return err
	}
	var body []byte
	if reason != "" {
		body, _ = json.Marshal(map[string]string{"reason": reason})
	}
	if _, _, err := c.post(ctx, declineHref, body, scopeAny); err != nil {
		return fmt.Errorf("ucwa: decline: %w", err)
	}
	return nil
}

// SendMessage posts text to messaging's sendMessage link with ?operationId= (§8.4; the
// walkthrough's OperationContext is not used, §13.10). contentType is "text/plain" or
// "text/html". It returns the message's Location URL; the delivery result arrives later as a
// message completed event carrying the same operationId.
func (c *Client) SendMessage(ctx context.Context, sendMessageHref, contentType, text, operationID string) (string, error) {
	if err := requireLink("messaging", "sendMessage", sendMessageHref); err != nil {
		return "", err
	}
	switch contentType {
	case "", "text/plain":
		contentType = "text/plain"
	case "text/html":
	default:
		return "", fmt.Errorf("ucwa: send message: content type %q: want text/plain or text/html", contentType)
	}
	href, err := withOperationID(sendMessageHref, operationID)
	if err != nil {
		return "", err
	}
	resp, _, err := c.do(ctx, http.MethodPost, href, contentType+"; charset=utf-8", []byte(text), scopeAny)
	if err != nil {
		return "", fmt.Errorf("ucwa: send message: %w", err)
	}
	return location(resp, href), nil
}

func withOperationID(href, operationID string) (string, error) {
	if operationID == "" {
		return href, nil
	}
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("ucwa: %s: %w", redactURL(href), err)
	}
	u.RawQuery = setQueryParam(u.RawQuery, "operationId", operationID)
	return u.String(), nil
}

// SetIsTyping tells the others the bot is typing (§8.5); repeat to stay typing.
func (c *Client) SetIsTyping(ctx context.Context, setIsTypingHref string) error {
	return c.postEmpty(ctx, "setIsTyping", setIsTypingHref)
}

// StopMessaging stops the IM modality; in a two-party chat that ends the conversation.
func (c *Client) StopMessaging(ctx context.Context, stopMessagingHref string) error {
	return c.postEmpty(ctx, "stopMessaging", stopMessagingHref)
}

func (c *Client) postEmpty(ctx context.Context, rel, href string) error {
	if err := requireLink("resource", rel, href); err != nil {
		return err
	}
	if _, _, err := c.post(ctx, href, nil, scopeAny); err != nil {
		return fmt.Errorf("ucwa: %s: %w", rel, err)
	}
	return nil
}

// Leave leaves a conversation: DELETE on the conversation (§8.1).
func (c *Client) Leave(ctx context.Context, conversationHref string) error {
	if err := requireLink("conversation", "self", conversationHref); err != nil {
		return err
	}
	if _, _, err := c.do(ctx, http.MethodDelete, conversationHref, "", nil, scopeAny); err != nil {
		return fmt.Errorf("ucwa: leave: %w", err)
	}
	return nil
}

// StartMessaging invites to (a SIP URI) to an IM conversation through communication's
// startMessaging link (§8.3), with text as the first message when not empty. It returns the
// messagingInvitation URL (Location); events about it carry operationID.
func (c *Client) StartMessaging(ctx context.Context, app *Application, to, subject, text, operationID string) (string, error) {
	href := app.Link("startMessaging")
	if err := requireLink("communication", "startMessaging", href); err != nil {
		return "", err
	}
	in := map[string]any{"to": to, "importance": "Normal", "operationId": operationID}
	if subject != "" {
		in["subject"] = subject
	}
	if text != "" {
		in["_links"] = map[string]any{"message": map[string]string{"href": EncodeDataURI("text/plain", text)}}
	}
	body, _ := json.Marshal(in)
	resp, _, err := c.post(ctx, href, body, scopeAny)
	if err != nil {
		return "", fmt.Errorf("ucwa: start messaging: %w", err)
	}
	return location(resp, href), nil
}

// AddParticipant invites to into a conversation through its addParticipant link and returns
// the participantInvitation URL (Location).
func (c *Client) AddParticipant(ctx context.Context, addParticipantHref, to, operationID string) (string, error) {
	if err := requireLink("conversation", "addParticipant", addParticipantHref); err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"to": to, "operationId": operationID})
	resp, _, err := c.post(ctx, addParticipantHref, body, scopeAny)
	if err != nil {
		return "", fmt.Errorf("ucwa: add participant: %w", err)
	}
	return location(resp, addParticipantHref), nil
}

// Participant is a member of a conversation.
type Participant struct {
	// URI is the participant's SIP URI.
	URI string
	// Name is the display name.
	Name string
	// Href is the participant resource's href.
	Href string
	// Local is true for the bot itself.
	Local bool
}

// Participants lists a conversation's participants, the bot included (Local), by following
// the conversation's participants link.
func (c *Client) Participants(ctx context.Context, conversationHref string) ([]Participant, error) {
	conv, err := c.Get(ctx, conversationHref)
	if err != nil {
		return nil, fmt.Errorf("ucwa: participants: %w", err)
	}
	href := conv.Links.Href("participants")
	if err := requireLink("conversation", "participants", href); err != nil {
		return nil, err
	}
	coll, err := c.Get(ctx, href)
	if err != nil {
		return nil, fmt.Errorf("ucwa: participants: %w", err)
	}
	local := conv.Links.Href("localParticipant")
	var out []Participant
	seen := map[string]bool{}
	add := func(p Participant) {
		if p.Href != "" && seen[p.Href] {
			return
		}
		seen[p.Href] = true
		p.Local = p.Local || (local != "" && p.Href == local)
		out = append(out, p)
	}
	for _, rel := range []string{"participant", "localParticipant"} {
		for _, r := range coll.Embedded[rel] {
			local, _ := r.Bool("local")
			add(Participant{URI: r.String("uri"), Name: r.String("name"), Href: r.Self(), Local: local || rel == "localParticipant"})
		}
	}
	for _, rel := range []string{"participant", "localParticipant"} {
		for _, l := range coll.Links[rel] {
			if !seen[l.Href] {
				add(Participant{URI: uriFromHref(l.Href), Name: l.Title, Href: l.Href, Local: rel == "localParticipant"})
			}
		}
	}
	return out, nil
}

// ActiveConversations lists the hrefs of the bot's active conversations through
// communication's conversations link (?filter=active on the walkthrough server).
func (c *Client) ActiveConversations(ctx context.Context, app *Application) ([]string, error) {
	href := app.Link("conversations")
	if err := requireLink("communication", "conversations", href); err != nil {
		return nil, err
	}
	r, err := c.Get(ctx, href)
	if err != nil {
		return nil, fmt.Errorf("ucwa: conversations: %w", err)
	}
	var out []string
	for _, l := range r.Links["conversation"] {
		out = append(out, l.Href)
	}
	for _, e := range r.Embedded["conversation"] {
		if s := e.Self(); s != "" && !containsFold(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
