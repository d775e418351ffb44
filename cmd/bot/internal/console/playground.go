package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ucwabot/ucwabot/cmd/bot/internal/simctl"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// Playground lets the console act as the simulated people.
type Playground interface {
	// Bot is the SIP URI of the bot the people talk to.
	Bot() string
	// People are the simulated people one can act as.
	People() []Person
	// Conversations lists the bot's conversations on the simulator.
	Conversations(ctx context.Context) ([]simctl.ConversationInfo, error)
	// Transcript is what was said in one of them.
	Transcript(ctx context.Context, conv string) ([]ucwasim.Message, error)
	// Do carries out one action and returns the conversation it acted in.
	Do(ctx context.Context, a Action) (string, error)
}

// Person is a simulated person.
type Person struct {
	Key  string `json:"key"` // short name: alice
	URI  string `json:"uri"`
	Name string `json:"name"`
}

// Action is what a person does: invite (the bot, with a first message),
// say, join, leave, hangup, presence (set Availability), or fault (inject
// one of Faults).
type Action struct {
	Verb         string `json:"verb"`
	Who          string `json:"who,omitempty"`
	Conversation string `json:"conversation,omitempty"`
	Text         string `json:"text,omitempty"`
	Availability string `json:"availability,omitempty"`
	Fault        string `json:"fault,omitempty"`
}

// Faults are the failures the playground injects, by name.
var Faults = map[string]simctl.FaultSpec{
	"send-500":          {Rel: "sendMessage", Status: 500, Times: 1},
	"poll-drop":         {Rel: "events", Drop: true, Times: 1},
	"poll-503":          {Rel: "events", Status: 503, RetryAfter: "1s", Times: 1},
	"token-expired":     {Rel: "events", Status: 401, Times: 1},
	"kill-app":          {Action: ucwasim.FaultKill, Rel: "events", Times: 1},
	"resync":            {Action: ucwasim.FaultResync, Rel: "events", Times: 1},
	"slow-reply-2s":     {Rel: "sendMessage", Delay: "2s", Times: 1},
	"reply-answer-lost": {Rel: "sendMessage", AfterServe: true, Drop: true, Times: 1},
}

// SimPlayground is a Playground over the simulator's control API.
type SimPlayground struct {
	Client  *simctl.Client
	BotURI  string
	Persons []Person
}

var _ Playground = (*SimPlayground)(nil)

// DefaultPeople are Alice, Bob and Carol at domain.
func DefaultPeople(domain string) []Person {
	return []Person{
		{"alice", "sip:alice@" + domain, "Alice Lee"},
		{"bob", "sip:bob@" + domain, "Bob Kim"},
		{"carol", "sip:carol@" + domain, "Carol Diaz"},
	}
}

// Bot is the bot's SIP URI.
func (p *SimPlayground) Bot() string { return p.BotURI }

// People are the simulated people.
func (p *SimPlayground) People() []Person { return p.Persons }

// AddPeople adds the people to the simulator (they may exist already).
func (p *SimPlayground) AddPeople(ctx context.Context) {
	for _, x := range p.Persons {
		_ = p.Client.AddUser(ctx, x.URI, x.Name, "")
	}
}

// Conversations lists the bot's conversations.
func (p *SimPlayground) Conversations(ctx context.Context) ([]simctl.ConversationInfo, error) {
	return p.Client.Conversations(ctx, p.BotURI)
}

// Transcript is what was said in conv.
func (p *SimPlayground) Transcript(ctx context.Context, conv string) ([]ucwasim.Message, error) {
	return p.Client.Transcript(ctx, conv)
}

func (p *SimPlayground) person(key string) (Person, error) {
	for _, x := range p.Persons {
		if strings.EqualFold(x.Key, key) || strings.EqualFold(x.URI, key) {
			return x, nil
		}
	}
	return Person{}, fmt.Errorf("unknown person %q", key)
}

// Do carries out a.
func (p *SimPlayground) Do(ctx context.Context, a Action) (string, error) {
	c := p.Client
	if a.Verb == "fault" {
		spec, ok := Faults[a.Fault]
		if !ok {
			return "", fmt.Errorf("unknown fault %q", a.Fault)
		}
		spec.User = p.BotURI
		_, err := c.InjectFault(ctx, spec)
		return "", err
	}
	who, err := p.person(a.Who)
	if err != nil {
		return "", err
	}
	needConv := func() error {
		if a.Conversation == "" {
			return fmt.Errorf("%s needs a conversation", a.Verb)
		}
		return nil
	}
	switch a.Verb {
	case "invite":
		return c.Invite(ctx, who.URI, p.BotURI, a.Text)
	case "presence":
		return "", c.SetPresence(ctx, who.URI, a.Availability)
	case "say", "join", "leave", "hangup":
		if err := needConv(); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("unknown action %q", a.Verb)
	}
	switch a.Verb {
	case "say":
		err = c.Say(ctx, a.Conversation, who.URI, a.Text)
	case "join":
		err = c.Join(ctx, a.Conversation, who.URI)
	case "leave":
		err = c.Leave(ctx, a.Conversation, who.URI)
	case "hangup":
		err = c.HangUp(ctx, a.Conversation, who.URI)
	}
	return a.Conversation, err
}

// PlaygroundView is GET /console/api/playground.
type PlaygroundView struct {
	Bot           string                    `json:"bot"`
	People        []Person                  `json:"people"`
	Faults        []string                  `json:"faults"`
	Conversations []simctl.ConversationInfo `json:"conversations"`
}

// MessageView is one message of a simulator conversation.
type MessageView struct {
	From        string `json:"from"`
	Text        string `json:"text"`
	Time        string `json:"time"`
	Undelivered bool   `json:"undelivered,omitempty"`
}

func (c *server) playgroundRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/api/playground", c.playground)
	mux.HandleFunc("GET /console/api/playground/transcript", c.transcript)
	mux.HandleFunc("POST /console/api/playground/act", c.act)
}

func (c *server) noPlayground(w http.ResponseWriter) bool {
	if c.o.Playground == nil {
		writeJSON(w, http.StatusNotFound, errorBody{errNoPlayground.Error()})
		return true
	}
	return false
}

func (c *server) playground(w http.ResponseWriter, r *http.Request) {
	if c.noPlayground(w) {
		return
	}
	p := c.o.Playground
	convs, err := p.Conversations(r.Context())
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody{"simulator: " + err.Error()})
		return
	}
	v := PlaygroundView{Bot: p.Bot(), People: p.People(), Conversations: nonNil(convs)}
	for name := range Faults {
		v.Faults = append(v.Faults, name)
	}
	sortStrings(v.Faults)
	writeJSON(w, http.StatusOK, v)
}

func (c *server) transcript(w http.ResponseWriter, r *http.Request) {
	if c.noPlayground(w) {
		return
	}
	msgs, err := c.o.Playground.Transcript(r.Context(), r.URL.Query().Get("conversation"))
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorBody{"simulator: " + err.Error()})
		return
	}
	out := make([]MessageView, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, MessageView{From: m.From, Text: m.Text, Time: m.Time.Format("15:04:05"), Undelivered: m.Undelivered})
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *server) act(w http.ResponseWriter, r *http.Request) {
	if c.noPlayground(w) {
		return
	}
	var a Action
	if !readJSON(w, r, &a) {
		return
	}
	conv, err := c.o.Playground.Do(r.Context(), a)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"conversation": conv})
}

func sortStrings(s []string) { slices.Sort(s) }
