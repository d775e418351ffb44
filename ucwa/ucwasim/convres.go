package ucwasim

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
)

// Paths of a conversation's resources, in the walkthrough scheme.
func (c *Conversation) path() string    { return c.app.base + "/communication/conversations/" + c.id }
func (c *Conversation) msgPath() string { return c.path() + "/messaging" }
func (c *Conversation) partPath(uri string) string {
	return c.path() + "/participants/" + addrOf(uri)
}
func (c *Conversation) invPath() string {
	return c.app.base + "/communication/messagingInvitations/" + c.inv
}
func (c *Conversation) commPath() string { return c.app.base + "/communication" }

// conversationResource is the conversation as embedded in events and returned by GET.
func (c *Conversation) conversationResource() map[string]any {
	p := c.path()
	links := map[string]any{
		"self":               lk(p),
		"applicationSharing": lk(p + "/applicationSharing"),
		"audioVideo":         lk(p + "/audioVideo"),
		"dataCollaboration":  lk(p + "/dataCollaboration"),
		"messaging":          lk(p + "/messaging"),
		"phoneAudio":         lk(p + "/phoneAudio"),
		"participants":       lk(p + "/participants"),
	}
	mods := []string{}
	if c.state == "Connected" || c.state == "Incoming" {
		mods = []string{"Messaging"}
	}
	if c.state == "Connected" {
		links["localParticipant"] = lkt(c.partPath(c.bot.uri), c.bot.name)
		links["addParticipant"] = lk(c.app.base + "/communication/participantInvitations?conversation=" + c.id)
	}
	return map[string]any{
		"state":            c.state,
		"threadId":         c.threadID,
		"subject":          c.subject,
		"activeModalities": mods,
		"importance":       "Normal",
		"recording":        false,
		"participantCount": len(c.members) + 1,
		"_links":           links,
		"rel":              "conversation",
	}
}

// messagingResource is the conversation's IM modality; links appear only while valid.
func (c *Conversation) messagingResource() map[string]any {
	p := c.msgPath()
	links := map[string]any{"self": lk(p), "conversation": lk(c.path())}
	state := "Disconnected"
	switch c.state {
	case "Connected":
		state = "Connected"
		links["stopMessaging"] = lk(p + "/terminate")
		links["sendMessage"] = lk(p + "/messages")
		links["setIsTyping"] = lk(p + "/typing")
		links["typingParticipants"] = lk(p + "/typingParticipants")
	case "Connecting", "Incoming":
		state = "Connecting"
		links["stopMessaging"] = lk(p + "/terminate")
	}
	res := map[string]any{"state": state, "_links": links, "rel": "messaging"}
	if state == "Connected" {
		res["negotiatedMessageFormats"] = c.app.formats
	}
	return res
}

// localParticipantResource is the bot in the conversation (resource rel participant).
func (c *Conversation) localParticipantResource() map[string]any {
	return map[string]any{
		"sourceNetwork": "SameEnterprise",
		"anonymous":     false,
		"local":         true,
		"name":          c.bot.name,
		"uri":           c.bot.uri,
		"_links": map[string]any{
			"self":                 lk(c.partPath(c.bot.uri)),
			"conversation":         lk(c.path()),
			"me":                   lk(c.app.base + "/me"),
			"participantMessaging": lk(c.partPath(c.bot.uri) + "/messaging"),
		},
		"rel": "participant",
	}
}

// participantResource is a remote participant.
func (c *Conversation) participantResource(u *user) map[string]any {
	pp := c.app.base + "/people/" + addrOf(u.uri)
	return map[string]any{
		"sourceNetwork": "SameEnterprise",
		"anonymous":     false,
		"name":          u.name,
		"uri":           u.uri,
		"_links": map[string]any{
			"self":                 lk(c.partPath(u.uri)),
			"conversation":         lk(c.path()),
			"contact":              lk(pp),
			"contactPresence":      lk(pp + "/presence"),
			"contactPhoto":         lk(c.app.base + "/photos/" + addrOf(u.uri)),
			"participantMessaging": lk(c.partPath(u.uri) + "/messaging"),
		},
		"rel": "participant",
	}
}

// participantMessagingResource marks that a participant uses IM.
func (c *Conversation) participantMessagingResource(u *user) map[string]any {
	return map[string]any{
		"_links": map[string]any{
			"self":        lk(c.partPath(u.uri) + "/messaging"),
			"participant": lkt(c.partPath(u.uri), u.name),
		},
		"rel": "participantMessaging",
	}
}

// invitationResource is the messagingInvitation; pending incoming ones carry accept/decline.
func (c *Conversation) invitationResource(withAnswerLinks bool) map[string]any {
	p := c.invPath()
	res := map[string]any{
		"direction":  c.direction,
		"importance": "Normal",
		"threadId":   c.threadID,
		"state":      c.invState,
		"subject":    c.subject,
		"rel":        "messagingInvitation",
	}
	links := map[string]any{"self": lk(p), "conversation": lk(c.path()), "messaging": lk(c.msgPath())}
	if c.direction == "Incoming" {
		links["to"] = lk(c.app.base + "/people/" + addrOf(c.bot.uri))
		if c.first != "" {
			links["message"] = lk(dataURI("text/plain", c.first))
		}
		if withAnswerLinks {
			links["accept"] = lk(p + "/accept")
			links["decline"] = lk(p + "/decline")
		}
		res["_embedded"] = map[string]any{"from": c.participantResource(c.peer)}
	} else {
		links["from"] = lkt(c.partPath(c.bot.uri), c.bot.name)
		links["to"] = lk(c.app.base + "/people/" + addrOf(c.peer.uri))
		if c.invState == "Connecting" {
			links["cancel"] = lk(c.msgPath() + "/terminate")
		}
		if c.opID != "" {
			res["operationId"] = c.opID
		}
		if c.invState == "Connected" {
			res["_embedded"] = map[string]any{"acceptedByParticipant": []any{c.participantResource(c.peer)}}
		}
	}
	res["_links"] = links
	return res
}

// messageResource is message number n (1-based) of the conversation.
func (c *Conversation) messageResource(n int) map[string]any {
	m := c.transcript[n-1]
	p := c.msgPath() + "/messages/" + itoa(int64(n))
	links := map[string]any{"self": lk(p), "messaging": lk(c.msgPath())}
	dir := "Outgoing"
	if m.From != c.bot.uri {
		dir = "Incoming"
		if u := c.s.users[m.From]; u != nil {
			links["contact"] = lk(c.app.base + "/people/" + addrOf(u.uri))
			links["participant"] = lkt(c.partPath(u.uri), u.name)
		}
		if m.ContentType == "text/html" {
			links["htmlMessage"] = lk(dataURI("text/html", m.Text))
			links["plainMessage"] = lk(dataURI("text/plain", stripTags(m.Text)))
		} else {
			links["plainMessage"] = lk(dataURI("text/plain", m.Text))
		}
	}
	res := map[string]any{"direction": dir, "timeStamp": ucwaDate(m.Time), "_links": links, "rel": "message"}
	if m.OperationID != "" && dir == "Outgoing" {
		res["operationId"] = m.OperationID
	}
	return res
}

// dataURI encodes text the way UCWA does: form-URL-encoded ('+' for space).
func dataURI(mediaType, text string) string {
	return "data:" + mediaType + ";charset=utf-8," + url.QueryEscape(text)
}

// decodeDataURI decodes a data URI (form-URL-encoded or ;base64); non-data strings are
// returned as they are.
func decodeDataURI(s string) (text, mediaType string) {
	rest, ok := strings.CutPrefix(s, "data:")
	if !ok {
		return s, "text/plain"
	}
	meta, payload, _ := strings.Cut(rest, ",")
	mediaType, _, _ = strings.Cut(meta, ";")
	if strings.HasSuffix(meta, ";base64") {
		if b, err := base64.StdEncoding.DecodeString(payload); err == nil {
			return string(b), mediaType
		}
	}
	if t, err := url.QueryUnescape(payload); err == nil {
		return t, mediaType
	}
	return payload, mediaType
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func stripTags(html string) string { return tagRE.ReplaceAllString(html, "") }
