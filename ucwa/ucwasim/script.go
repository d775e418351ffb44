package ucwasim

import "fmt"

// Say makes the person uri send text to the conversation; the bot gets a message event.
// Messages said before the bot accepted are delivered right after it accepts.
func (c *Conversation) Say(uri, text string) error { return c.say(uri, text, "text/plain") }

// SayHTML is Say with an HTML message.
func (c *Conversation) SayHTML(uri, html string) error { return c.say(uri, html, "text/html") }

func (c *Conversation) say(uri, text, ctype string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	m, err := c.memberLocked(uri)
	if err != nil {
		return fmt.Errorf("ucwasim: %s says in %s: %w", uri, c.id, err)
	}
	_, idx := c.addMessageLocked(Message{From: m.u.uri, Text: text, ContentType: ctype})
	if c.state == "Connected" {
		c.emitIncomingLocked(idx)
	} else {
		c.held = append(c.held, idx)
	}
	return nil
}

// memberLocked returns the remote participant uri of a live conversation.
func (c *Conversation) memberLocked(uri string) (*member, error) {
	if c.state == "Disconnected" {
		return nil, ErrConversationEnded
	}
	uri = normURI(uri)
	for _, m := range c.members {
		if m.u.uri == uri {
			return m, nil
		}
	}
	return nil, ErrNotParticipant
}

// Typing shows the person uri as typing to the bot (typingParticipants participant added).
func (c *Conversation) Typing(uri string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	m, err := c.memberLocked(uri)
	if err != nil {
		return fmt.Errorf("ucwasim: %s types in %s: %w", uri, c.id, err)
	}
	c.app.events.emit("conversation", c.path(), event{
		"link": lk3("participant", c.partPath(m.u.uri), m.u.name),
		"in":   lk2("typingParticipants", c.msgPath()+"/typingParticipants"),
		"type": "added",
	})
	return nil
}

// Join adds the person uri to the conversation: participant added, then participantMessaging
// added in participant.
func (c *Conversation) Join(uri string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	u := c.s.users[normURI(uri)]
	if u == nil {
		return fmt.Errorf("ucwasim: %s joins %s: %w", uri, c.id, ErrUnknownUser)
	}
	if _, err := c.memberLocked(uri); err == nil {
		return fmt.Errorf("ucwasim: %s joins %s: %w", uri, c.id, ErrAlreadyParticipant)
	} else if err == ErrConversationEnded {
		return fmt.Errorf("ucwasim: %s joins %s: %w", uri, c.id, err)
	}
	c.joinLocked(u)
	return nil
}

func (c *Conversation) joinLocked(u *user) {
	m := &member{u: u}
	c.members = append(c.members, m)
	c.app.events.emit("conversation", c.path(), event{"link": lk3("participant", c.partPath(u.uri), u.name), "type": "added"})
	if c.state == "Connected" {
		m.inIM = true
		c.app.events.emit("conversation", c.path(), event{
			"link": lk2("participantMessaging", c.partPath(u.uri)+"/messaging"),
			"in":   lk3("participant", c.partPath(u.uri), u.name),
			"type": "added",
		})
	}
}

// UpdateParticipant signals that the IM modality of the person uri changed: participantMessaging
// updated in participant (PROTOCOL.md §participantMessaging). The person must be in the
// conversation and using IM.
func (c *Conversation) UpdateParticipant(uri string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	m, err := c.memberLocked(uri)
	if err != nil {
		return fmt.Errorf("ucwasim: %s updates in %s: %w", uri, c.id, err)
	}
	if !m.inIM {
		return fmt.Errorf("ucwasim: %s updates in %s: %w", uri, c.id, ErrNotParticipant)
	}
	c.app.events.emit("conversation", c.path(), event{
		"link": lk2("participantMessaging", c.partPath(m.u.uri)+"/messaging"),
		"in":   lk3("participant", c.partPath(m.u.uri), m.u.name),
		"type": "updated",
	})
	return nil
}

// Leave removes the person uri: participantMessaging deleted in participant, participant deleted.
func (c *Conversation) Leave(uri string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	m, err := c.memberLocked(uri)
	if err != nil {
		return fmt.Errorf("ucwasim: %s leaves %s: %w", uri, c.id, err)
	}
	c.leaveLocked(m)
	return nil
}

func (c *Conversation) leaveLocked(m *member) {
	cp := c.path()
	if m.inIM {
		c.app.events.emit("conversation", cp, event{
			"link": lk2("participantMessaging", c.partPath(m.u.uri)+"/messaging"),
			"in":   lk3("participant", c.partPath(m.u.uri), m.u.name),
			"type": "deleted",
		})
	}
	c.app.events.emit("conversation", cp, event{"link": lk3("participant", c.partPath(m.u.uri), m.u.name), "type": "deleted"})
	for i, x := range c.members {
		if x == m {
			c.members = append(c.members[:i], c.members[i+1:]...)
			break
		}
	}
}

// HangUp makes the person uri end the conversation: messaging Disconnected, participants
// removed, localParticipant deleted, conversation deleted.
func (c *Conversation) HangUp(uri string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if _, err := c.memberLocked(uri); err != nil {
		return fmt.Errorf("ucwasim: %s hangs up %s: %w", uri, c.id, err)
	}
	if c.invState == "Connecting" {
		c.completeInvitationLocked("Failure", "Gone", "Canceled", "The sender canceled the invitation.")
	}
	c.endLocked()
	return nil
}

// acceptLocked is the bot accepting an incoming invitation (ReceiveAnIM steps 5 and 6).
func (c *Conversation) acceptLocked() {
	a, cp, comm := c.app, c.path(), c.commPath()
	c.state, c.invState = "Connected", "Connected"
	a.events.emit("conversation", cp, event{
		"link":      lk2("messaging", c.msgPath()),
		"_embedded": map[string]any{"messaging": c.messagingResource()},
		"type":      "updated",
	})
	c.emitConversationLocked("updated")
	a.events.emit("conversation", cp, event{
		"link":      lk2("participantMessaging", c.partPath(c.bot.uri)+"/messaging"),
		"in":        lk3("localParticipant", c.partPath(c.bot.uri), c.bot.name),
		"_embedded": map[string]any{"participantMessaging": c.participantMessagingResource(c.bot)},
		"type":      "added",
	})
	for _, m := range c.members {
		m.inIM = true
		a.events.emit("conversation", cp, event{
			"link": lk2("participantMessaging", c.partPath(m.u.uri)+"/messaging"),
			"in":   lk3("participant", c.partPath(m.u.uri), m.u.name),
			"type": "added",
		})
		a.events.emit("conversation", cp, event{"link": lk3("participant", c.partPath(m.u.uri), m.u.name), "type": "updated"})
	}
	a.events.emit("communication", comm, event{
		"link":      lk2("messagingInvitation", c.invPath()),
		"status":    "Success",
		"_embedded": map[string]any{"messagingInvitation": c.invitationResource(false)},
		"type":      "completed",
	})
	if c.first != "" {
		c.emitIncomingLocked(0) // the first message again, as a message event
		c.emitConversationLocked("updated")
	}
	for _, idx := range c.held {
		c.emitIncomingLocked(idx)
	}
	c.held = nil
}

// emitConversationLocked emits conversation <typ> from communication, embedded.
func (c *Conversation) emitConversationLocked(typ string) {
	c.app.events.emit("communication", c.commPath(), event{
		"link":      lk2("conversation", c.path()),
		"_embedded": map[string]any{"conversation": c.conversationResource()},
		"type":      typ,
	})
}

// completeInvitationLocked completes the messagingInvitation with status and, on failure, reason.
func (c *Conversation) completeInvitationLocked(status, code, subcode, msg string) {
	ev := event{"link": lk2("messagingInvitation", c.invPath()), "status": status, "type": "completed"}
	if status != "Success" {
		c.invState = map[string]string{"Declined": "Declined", "Canceled": "Cancelled"}[subcode]
		if c.invState == "" {
			c.invState = "Failed"
		}
		ev["reason"] = map[string]any{"code": code, "subcode": subcode, "message": msg}
	}
	ev["_embedded"] = map[string]any{"messagingInvitation": c.invitationResource(false)}
	c.app.events.emit("communication", c.commPath(), ev)
}

// endLocked ends the conversation with the deletion events (messaging Disconnected,
// participantMessaging deleted, participant deleted, localParticipant deleted, conversation deleted).
func (c *Conversation) endLocked() {
	if c.state == "Disconnected" {
		return
	}
	a, cp := c.app, c.path()
	wasConnected := c.state == "Connected"
	c.state = "Disconnected"
	a.events.emit("conversation", cp, event{
		"link":      lk2("messaging", c.msgPath()),
		"_embedded": map[string]any{"messaging": c.messagingResource()},
		"type":      "updated",
	})
	if wasConnected {
		a.events.emit("conversation", cp, event{
			"link": lk2("participantMessaging", c.partPath(c.bot.uri)+"/messaging"),
			"in":   lk3("localParticipant", c.partPath(c.bot.uri), c.bot.name),
			"type": "deleted",
		})
	}
	for len(c.members) > 0 {
		c.leaveLocked(c.members[0])
	}
	a.events.emit("conversation", cp, event{"link": lk3("localParticipant", c.partPath(c.bot.uri), c.bot.name), "type": "deleted"})
	a.events.emit("communication", c.commPath(), event{"link": lk2("conversation", cp), "type": "deleted"})
	c.dropHeldLocked()
	c.s.cancelLocked(c.invTimer)
}

// dropHeldLocked marks the messages held for an accept that never came as undelivered.
func (c *Conversation) dropHeldLocked() {
	for _, idx := range c.held {
		c.transcript[idx].Undelivered = true
	}
	c.held = nil
}

// endSilentlyLocked ends the conversation without events (application gone, resume).
func (c *Conversation) endSilentlyLocked() {
	c.state = "Disconnected"
	c.members = nil
	c.dropHeldLocked()
	c.s.cancelLocked(c.invTimer)
}
