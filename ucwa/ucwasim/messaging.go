package ucwasim

import (
	"net/http"
	"strconv"
	"strings"
)

// handleCommunication serves conversations, invitations and the IM modality.
func (s *Server) handleCommunication(w http.ResponseWriter, r *http.Request, a *application, rt route, in *input) {
	switch rt.rel {
	case "conversations":
		onlyGet(w, r, func() { writeJSON(w, http.StatusOK, conversationsResource(a)) })
		return
	case "startMessaging":
		s.handleStartMessaging(w, r, a, in)
		return
	case "messagingInvitation", "accept", "decline":
		s.handleInvitation(w, r, a, rt, in)
		return
	case "addParticipant":
		rt.conv = r.URL.Query().Get("conversation")
	}
	c := a.convs[rt.conv]
	if c == nil {
		writeError(w, http.StatusNotFound, "ResourceNotFound", "The conversation does not exist.")
		return
	}
	switch {
	case r.Method == http.MethodGet:
		s.getConversationPart(w, c, rt)
	case rt.rel == "conversation" && r.Method == http.MethodDelete:
		c.stopLocked()
		w.WriteHeader(http.StatusNoContent)
	case rt.rel == "stopMessaging" && r.Method == http.MethodPost:
		c.stopLocked()
		w.WriteHeader(http.StatusNoContent)
	case rt.rel == "sendMessage" && r.Method == http.MethodPost:
		s.handleSendMessage(w, r, c, in)
	case rt.rel == "setIsTyping" && r.Method == http.MethodPost:
		if c.state != "Connected" {
			writeError(w, http.StatusConflict, "", "Messaging is not connected.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case rt.rel == "addParticipant" && r.Method == http.MethodPost:
		u := s.users[normURI(in.str("to"))]
		if u == nil || c.state != "Connected" {
			writeError(w, http.StatusBadRequest, "ParameterValidationFailure", "to: unknown or conversation not connected")
			return
		}
		if _, err := c.memberLocked(u.uri); err != nil && u.autoAccept {
			c.joinLocked(u) // one who does not accept never joins
		}
		w.Header().Set("Location", a.base+"/communication/participantInvitations/"+s.newID())
		w.WriteHeader(http.StatusCreated)
	default:
		writeError(w, http.StatusMethodNotAllowed, "", "")
	}
}

// getConversationPart answers GET on a conversation resource.
func (s *Server) getConversationPart(w http.ResponseWriter, c *Conversation, rt route) {
	switch rt.rel {
	case "conversation":
		writeJSON(w, http.StatusOK, c.conversationResource())
	case "messaging":
		writeJSON(w, http.StatusOK, c.messagingResource())
	case "participants":
		var links, embedded []any
		for _, m := range c.members {
			links = append(links, lkt(c.partPath(m.u.uri), m.u.name))
			embedded = append(embedded, c.participantResource(m.u))
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"_links":    map[string]any{"self": lk(c.path() + "/participants"), "participant": nonNil(links)},
			"_embedded": map[string]any{"participant": nonNil(embedded), "localParticipant": c.localParticipantResource()},
			"rel":       "participants",
		})
	case "participant", "participantMessaging":
		if normURI(rt.addr) == c.bot.uri {
			if rt.rel == "participant" {
				writeJSON(w, http.StatusOK, c.localParticipantResource())
			} else {
				writeJSON(w, http.StatusOK, c.participantMessagingResource(c.bot))
			}
			return
		}
		m, err := c.memberLocked(rt.addr)
		if err != nil {
			writeError(w, http.StatusNotFound, "ResourceNotFound", "")
		} else if rt.rel == "participant" {
			writeJSON(w, http.StatusOK, c.participantResource(m.u))
		} else {
			writeJSON(w, http.StatusOK, c.participantMessagingResource(m.u))
		}
	case "message":
		n, err := strconv.Atoi(rt.msgID)
		if err != nil || n < 1 || n > len(c.transcript) {
			writeError(w, http.StatusNotFound, "ResourceNotFound", "")
			return
		}
		writeJSON(w, http.StatusOK, c.messageResource(n))
	case "typingParticipants":
		writeJSON(w, http.StatusOK, map[string]any{
			"_links": map[string]any{"self": lk(c.msgPath() + "/typingParticipants")}, "rel": "typingParticipants",
		})
	default:
		writeError(w, http.StatusMethodNotAllowed, "", "")
	}
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// conversationsResource lists the active conversations as an array of links.
func conversationsResource(a *application) map[string]any {
	links := []any{}
	for _, c := range a.convs {
		if c.state != "Disconnected" {
			links = append(links, lk(c.path()))
		}
	}
	return map[string]any{
		"_links": map[string]any{"self": lk(a.base + "/communication/conversations?filter=active"), "conversation": links},
		"rel":    "conversations",
	}
}

// handleSendMessage posts the bot's message: 201 + Location, then message completed Outgoing.
func (s *Server) handleSendMessage(w http.ResponseWriter, r *http.Request, c *Conversation, in *input) {
	if c.state != "Connected" {
		writeError(w, http.StatusConflict, "", "Messaging is not connected.")
		return
	}
	ctype := in.ctype
	if ctype == "" {
		ctype = "text/plain"
	}
	if ctype != "text/plain" && ctype != "text/html" {
		writeError(w, http.StatusUnsupportedMediaType, "", "sendMessage takes text/plain or text/html.")
		return
	}
	q := r.URL.Query()
	op := q.Get("operationId")
	if op == "" {
		op = q.Get("OperationContext")
	}
	n, _ := c.addMessageLocked(Message{From: c.bot.uri, Text: string(in.raw), ContentType: ctype, OperationID: op})
	href := c.msgPath() + "/messages/" + itoa(int64(n))
	c.app.events.emit("conversation", c.path(), event{
		"link":      lk2("message", href),
		"status":    "Success",
		"_embedded": map[string]any{"message": c.messageResource(n)},
		"type":      "completed",
	})
	w.Header().Set("Location", href)
	w.WriteHeader(http.StatusCreated)
}

// handleInvitation serves GET of a messagingInvitation, accept and decline.
func (s *Server) handleInvitation(w http.ResponseWriter, r *http.Request, a *application, rt route, in *input) {
	c := a.invs[rt.inv]
	if c == nil {
		writeError(w, http.StatusNotFound, "ResourceNotFound", "The invitation does not exist.")
		return
	}
	switch {
	case rt.rel == "messagingInvitation" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, c.invitationResource(c.direction == "Incoming" && c.invState == "Connecting"))
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, "", "")
	case c.direction != "Incoming" || c.invState != "Connecting":
		writeError(w, http.StatusConflict, "", "The invitation is not pending.")
	case rt.rel == "accept":
		c.acceptLocked()
		w.WriteHeader(http.StatusNoContent)
	default: // decline
		c.completeInvitationLocked("Failure", "Gone", "Declined", "The invitation was declined.")
		c.endLocked()
		w.WriteHeader(http.StatusNoContent)
	}
}

// stopLocked is the bot ending the conversation (stopMessaging, DELETE conversation, or cancel
// of its own pending invitation).
func (c *Conversation) stopLocked() {
	if c.invState == "Connecting" {
		if c.direction == "Outgoing" {
			c.completeInvitationLocked("Failure", "Gone", "Canceled", "The invitation was canceled.")
		} else {
			c.completeInvitationLocked("Failure", "Gone", "Declined", "The invitation was declined.")
		}
	}
	c.endLocked()
}

// handleStartMessaging starts an outgoing IM (SendAnIM): 201 + Location of the invitation.
func (s *Server) handleStartMessaging(w http.ResponseWriter, r *http.Request, a *application, in *input) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "", "")
		return
	}
	to := normURI(in.str("to"))
	if to == "" {
		writeError(w, http.StatusBadRequest, "ParameterValidationFailure", "to is required")
		return
	}
	peer := s.users[to]
	known := peer != nil
	if !known {
		peer = &user{uri: to, name: strings.SplitN(addrOf(to), "@", 2)[0]}
	}
	c := s.newConversationLocked(a, peer, "Outgoing")
	c.state, c.invState = "Connecting", "Connecting"
	c.subject, c.opID = in.str("subject"), in.str("operationId")
	if h := in.messageLink(); h != "" {
		c.pendingOut, _ = decodeDataURI(h)
	} else if m := in.str("message"); m != "" {
		c.pendingOut = m
	}
	comm, cp := c.commPath(), c.path()
	a.events.emit("communication", comm, event{
		"link":      lk2("messagingInvitation", c.invPath()),
		"_embedded": map[string]any{"messagingInvitation": c.invitationResource(false)},
		"type":      "started",
	})
	c.emitConversationLocked("added")
	a.events.emit("conversation", cp, event{
		"link":      lk3("localParticipant", c.partPath(c.bot.uri), c.bot.name),
		"_embedded": map[string]any{"localParticipant": c.localParticipantResource()},
		"type":      "added",
	})
	a.events.emit("conversation", cp, event{
		"link":      lk2("messaging", c.msgPath()),
		"_embedded": map[string]any{"messaging": c.messagingResource()},
		"type":      "updated",
	})
	switch {
	case !known:
		c.completeInvitationLocked("Failure", "NotFound", "DestinationNotFound", "The person does not exist.")
		c.endLocked()
	case peer.autoAccept:
		c.acceptOutgoingLocked()
	default:
		s.armInvitationLocked(c)
	}
	w.Header().Set("Location", c.invPath())
	w.WriteHeader(http.StatusCreated)
}

// acceptOutgoingLocked is the invited person accepting the bot's invitation.
func (c *Conversation) acceptOutgoingLocked() {
	a, cp := c.app, c.path()
	c.state, c.invState = "Connected", "Connected"
	c.members = []*member{{u: c.peer, inIM: true}}
	c.emitConversationLocked("updated")
	a.events.emit("conversation", cp, event{"link": lk3("participant", c.partPath(c.peer.uri), c.peer.name), "type": "added"})
	a.events.emit("conversation", cp, event{
		"link": lk2("participantMessaging", c.partPath(c.peer.uri)+"/messaging"),
		"in":   lk3("participant", c.partPath(c.peer.uri), c.peer.name),
		"type": "added",
	})
	a.events.emit("conversation", cp, event{
		"link":      lk2("participantMessaging", c.partPath(c.bot.uri)+"/messaging"),
		"in":        lk3("localParticipant", c.partPath(c.bot.uri), c.bot.name),
		"_embedded": map[string]any{"participantMessaging": c.participantMessagingResource(c.bot)},
		"type":      "added",
	})
	a.events.emit("conversation", cp, event{
		"link":      lk2("messaging", c.msgPath()),
		"_embedded": map[string]any{"messaging": c.messagingResource()},
		"type":      "updated",
	})
	c.completeInvitationLocked("Success", "", "", "")
	if c.pendingOut != "" {
		c.addMessageLocked(Message{From: c.bot.uri, Text: c.pendingOut, ContentType: "text/plain", OperationID: c.opID})
		c.pendingOut = ""
	}
}
