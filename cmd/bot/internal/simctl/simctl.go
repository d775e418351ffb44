// Package simctl scripts the UCWA simulator over HTTP: when `bot sim` runs
// the simulator as its own process, these /_sim/ routes let a test or a
// person invite the bot, join, write and leave as simulated people. The
// routes answer loopback clients only.
package simctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// Prefix is where the control routes live.
const Prefix = "/_sim/"

// Request bodies of the control routes. Fields not used by a route are
// ignored.
type Request struct {
	// Conversation is an id returned by /_sim/invite.
	Conversation string `json:"conversation,omitempty"`
	// From and To are SIP URIs: who invites whom.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// URI is the person acting (join, say, leave, hangup, presence).
	URI  string `json:"uri,omitempty"`
	Text string `json:"text,omitempty"`
	// Name and Password describe a user to add.
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
	// Availability is a presence state: Online, Busy, Away, Offline, ...
	Availability string `json:"availability,omitempty"`
}

// Invited is the answer of /_sim/invite.
type Invited struct {
	Conversation string `json:"conversation"`
}

// Handler returns the control routes over s. Routes:
//
//	POST /_sim/users        {uri, name, password}
//	POST /_sim/invite       {from, to, text} → {conversation}
//	POST /_sim/join         {conversation, uri}
//	POST /_sim/say          {conversation, uri, text}
//	POST /_sim/leave        {conversation, uri}
//	POST /_sim/hangup       {conversation, uri}
//	POST /_sim/presence     {uri, availability}
//	GET  /_sim/transcript?conversation=ID   → [message]
//	GET  /_sim/participants?conversation=ID → [uri]
//	GET  /_sim/sent?bot=URI                 → [message]
//	GET  /_sim/presence?uri=URI             → {uri, availability}
//	GET  /_sim/conversations?bot=URI        → [{id, state, participants}]
//	GET  /_sim/requests?from=N              → [request]
//	POST /_sim/faults       FaultSpec → {id}
//	GET  /_sim/faults                       → [{id, fault, hits, left}]
//	DELETE /_sim/faults, /_sim/faults/{id}  → {cleared}
//	POST /_sim/resync, /_sim/resume, /_sim/revoke, /_sim/kill, /_sim/expire {uri}
//
// GET /_sim/sent takes from=N too: only the messages after the first N.
func Handler(s *ucwasim.Server) http.Handler {
	c := &control{s: s}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_sim/users", c.addUser)
	mux.HandleFunc("POST /_sim/invite", c.invite)
	mux.HandleFunc("POST /_sim/join", c.act(func(cv *ucwasim.Conversation, r Request) error { return cv.Join(r.URI) }))
	mux.HandleFunc("POST /_sim/say", c.act(func(cv *ucwasim.Conversation, r Request) error { return cv.Say(r.URI, r.Text) }))
	mux.HandleFunc("POST /_sim/leave", c.act(func(cv *ucwasim.Conversation, r Request) error { return cv.Leave(r.URI) }))
	mux.HandleFunc("POST /_sim/hangup", c.act(func(cv *ucwasim.Conversation, r Request) error { return cv.HangUp(r.URI) }))
	mux.HandleFunc("POST /_sim/presence", c.setPresence)
	mux.HandleFunc("GET /_sim/presence", c.presence)
	mux.HandleFunc("GET /_sim/transcript", c.transcript)
	mux.HandleFunc("GET /_sim/participants", c.participants)
	mux.HandleFunc("GET /_sim/sent", c.sent)
	mux.HandleFunc("GET /_sim/conversations", c.conversations)
	mux.HandleFunc("GET /_sim/requests", c.requests)
	mux.HandleFunc("POST /_sim/faults", c.injectFault)
	mux.HandleFunc("GET /_sim/faults", c.listFaults)
	mux.HandleFunc("DELETE /_sim/faults", c.clearFaults)
	mux.HandleFunc("DELETE /_sim/faults/{id}", c.clearFaults)
	mux.HandleFunc("POST /_sim/resync", c.action(s.ForceResync))
	mux.HandleFunc("POST /_sim/resume", c.action(s.ForceResume))
	mux.HandleFunc("POST /_sim/revoke", c.action(s.RevokeTokens))
	mux.HandleFunc("POST /_sim/kill", c.action(s.KillApplication))
	mux.HandleFunc("POST /_sim/expire", c.action(s.ExpireApplication))
	return loopbackOnly(mux)
}

type control struct {
	s *ucwasim.Server
}

// ConversationInfo is one conversation as GET /_sim/conversations lists it.
type ConversationInfo struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Participants []string `json:"participants"`
}

func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			http.Error(w, "simulator control answers loopback clients only", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func decode(w http.ResponseWriter, r *http.Request) (Request, bool) {
	var req Request
	ok := decodeInto(w, r, &req)
	return req, ok
}

// decodeInto decodes the JSON body strictly into v: unknown fields, and
// anything after the one JSON value, are an error.
func decodeInto(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, tail := dec.Token(); !errors.Is(tail, io.EOF) {
			err = errors.New("more than one JSON value")
		}
	}
	if err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (c *control) addUser(w http.ResponseWriter, r *http.Request) {
	req, ok := decode(w, r)
	if !ok {
		return
	}
	if req.URI == "" {
		http.Error(w, "uri is required", http.StatusBadRequest)
		return
	}
	if err := c.s.AddUser(req.URI, req.Password, req.Name); err != nil {
		http.Error(w, "add user: "+err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *control) invite(w http.ResponseWriter, r *http.Request) {
	req, ok := decode(w, r)
	if !ok {
		return
	}
	cv, err := c.s.Invite(req.From, req.To, req.Text)
	if err != nil {
		http.Error(w, "invite: "+err.Error(), http.StatusConflict)
		return
	}
	reply(w, Invited{Conversation: cv.ID()})
}

func (c *control) conversation(id string) (*ucwasim.Conversation, error) {
	cv := c.s.Conversation(id)
	if cv == nil {
		return nil, fmt.Errorf("no conversation %q (ids come from /_sim/invite or /_sim/conversations)", id)
	}
	return cv, nil
}

func (c *control) act(fn func(*ucwasim.Conversation, Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req, ok := decode(w, r)
		if !ok {
			return
		}
		cv, err := c.conversation(req.Conversation)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if err := fn(cv, req); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (c *control) setPresence(w http.ResponseWriter, r *http.Request) {
	req, ok := decode(w, r)
	if !ok {
		return
	}
	if err := c.s.SetPresence(req.URI, req.Availability); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *control) presence(w http.ResponseWriter, r *http.Request) {
	uri := r.URL.Query().Get("uri")
	reply(w, Request{URI: uri, Availability: c.s.Presence(uri)})
}

func (c *control) transcript(w http.ResponseWriter, r *http.Request) {
	cv, err := c.conversation(r.URL.Query().Get("conversation"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	reply(w, nonNil(cv.Transcript()))
}

func (c *control) participants(w http.ResponseWriter, r *http.Request) {
	cv, err := c.conversation(r.URL.Query().Get("conversation"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	reply(w, nonNil(cv.Participants()))
}

func (c *control) sent(w http.ResponseWriter, r *http.Request) {
	from, ok := fromParam(w, r)
	if !ok {
		return
	}
	reply(w, nonNil(c.s.SentFrom(r.URL.Query().Get("bot"), from)))
}

// fromParam reads the from=N query parameter (default 0).
func fromParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("from")
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		http.Error(w, "from "+strconv.Quote(s)+": want a count of entries already read", http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

func (c *control) conversations(w http.ResponseWriter, r *http.Request) {
	out := []ConversationInfo{}
	for _, cv := range c.s.Conversations(r.URL.Query().Get("bot")) {
		out = append(out, ConversationInfo{ID: cv.ID(), State: cv.State(), Participants: nonNil(cv.Participants())})
	}
	reply(w, out)
}

func (c *control) requests(w http.ResponseWriter, r *http.Request) {
	from, ok := fromParam(w, r)
	if !ok {
		return
	}
	all := c.s.Requests()
	reply(w, nonNil(all[min(from, len(all)):]))
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
