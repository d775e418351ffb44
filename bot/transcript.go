package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/store"
)

// Transcripts: with Config.TranscriptRetention set, each conversation's
// messages, joins and leaves, the bot's replies and the rules that fired
// are kept in the store (Values "transcript:<conversation>", and the list
// of them in "transcripts"), each for the retention after its last entry
// and at most TranscriptMax entries. The handling instance appends an
// event's entries when the event has run, under the lease's fence. With a
// retention of 0 nothing is kept.

// TranscriptEntry is one line of a transcript.
type TranscriptEntry struct {
	Time time.Time  `json:"time"`
	Kind event.Kind `json:"kind"`
	// From is the SIP URI of who wrote, joined or left; the bot's own
	// replies are from the bot account.
	From string `json:"from,omitempty"`
	Name string `json:"name,omitempty"`
	Text string `json:"text,omitempty"`
	// Rules are the rules that fired for the event.
	Rules []string `json:"rules,omitempty"`
}

// Transcript is one conversation's transcript.
type Transcript struct {
	Account      string            `json:"account"`
	Conversation string            `json:"conversation"`
	Subject      string            `json:"subject,omitempty"`
	Started      time.Time         `json:"started"`
	Updated      time.Time         `json:"updated"`
	Entries      []TranscriptEntry `json:"entries"`
	// Dropped counts the oldest entries left out to stay within
	// TranscriptMax.
	Dropped int `json:"dropped,omitempty"`
	// LastEvent is the id of the event whose entries came last: a run of
	// the same event again (a retry, a replay) adds nothing.
	LastEvent string `json:"last_event,omitempty"`
}

// TranscriptInfo is a transcript without its entries, for listings.
type TranscriptInfo struct {
	Account      string    `json:"account"`
	Conversation string    `json:"conversation"`
	Updated      time.Time `json:"updated"`
}

const transcriptIndexKey = "transcripts"

func transcriptKey(conv string) string { return "transcript:" + conv }

// transcribed are the kinds a transcript records.
var transcribed = map[event.Kind]bool{
	event.MessageReceived: true, event.ParticipantJoined: true, event.ParticipantLeft: true,
	event.ConversationStarted: true, event.ConversationEnded: true, event.MessageRequested: true,
}

// transcripts serialises an account's transcript writes (read, append,
// write) and remembers when it last wrote each conversation's index entry.
type transcripts struct {
	mu      sync.Mutex
	indexed map[string]time.Time
}

// transcribe appends ev's entries, and the replies said while it ran, to
// its conversation's transcript.
func (a *account) transcribe(ctx context.Context, log logrus.FieldLogger, ev *event.Event, fired []string, said []string) {
	keep := a.e.cfg.TranscriptRetention
	conv := ev.Conversation.ID
	// The bot's own joins and leaves say nothing a reader needs.
	record := transcribed[ev.Kind] && !(ev.Participant.Local && (ev.Kind == event.ParticipantJoined || ev.Kind == event.ParticipantLeft))
	if keep <= 0 || conv == "" || !record && len(said) == 0 {
		return
	}
	now := time.Now()
	var add []TranscriptEntry
	if record {
		e := TranscriptEntry{Time: ev.Time, Kind: ev.Kind, From: ev.Participant.URI, Name: ev.Participant.Name, Rules: fired}
		if ev.Kind == event.MessageRequested {
			e.From, e.Name = a.addr, "" // the bot writes what was asked of it
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		if ev.Kind == event.MessageReceived || ev.Kind == event.MessageRequested {
			e.Text = cmp.Or(ev.Message.Text, stripTags(ev.Message.HTML))
		}
		add = append(add, e)
	}
	for _, s := range said {
		add = append(add, TranscriptEntry{Time: now, Kind: event.MessageSent, From: a.addr, Text: s})
	}
	t := &a.transcripts
	t.mu.Lock()
	defer t.mu.Unlock()
	err := a.storeRetry(ctx, "transcript", func() error {
		tr, err := a.loadTranscript(ctx, conv)
		if errors.Is(err, store.ErrNotFound) {
			tr = Transcript{Account: a.addr, Conversation: conv, Subject: ev.Conversation.Subject, Started: add[0].Time}
		} else if err != nil {
			return err
		}
		if tr.LastEvent == ev.ID {
			return nil // this event's entries are in
		}
		tr.LastEvent = ev.ID
		tr.Entries = append(tr.Entries, add...)
		if over := len(tr.Entries) - a.e.cfg.TranscriptMax; over > 0 {
			tr.Entries = slices.Delete(tr.Entries, 0, over)
			tr.Dropped += over
		}
		tr.Updated = now
		b, err := json.Marshal(tr)
		if err != nil {
			return err
		}
		if err := a.e.store.SetValue(ctx, a.addr, a.fence(), transcriptKey(conv), b, keep); err != nil {
			return err
		}
		return a.indexTranscript(ctx, conv, now)
	})
	if err != nil {
		log.WithError(err).Warn("transcript not written")
	}
}

// indexTranscript lists conv in the account's transcript index with its
// last update, dropping the conversations whose transcripts are past the
// retention. It writes a conversation's entry again once a quarter of the
// retention has passed since, so that a long conversation stays listed.
func (a *account) indexTranscript(ctx context.Context, conv string, now time.Time) error {
	t := &a.transcripts
	keep := a.e.cfg.TranscriptRetention
	if at, ok := t.indexed[conv]; ok && now.Sub(at) < keep/4 {
		return nil
	}
	idx, err := a.transcriptIndex(ctx)
	if err != nil {
		return err
	}
	for c, at := range idx {
		if now.Sub(at) > keep {
			delete(idx, c)
		}
	}
	idx[conv] = now
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	// The index lives as long as its newest transcript.
	if err := a.e.store.SetValue(ctx, a.addr, a.fence(), transcriptIndexKey, b, keep); err != nil {
		return err
	}
	if t.indexed == nil {
		t.indexed = map[string]time.Time{}
	}
	for c, at := range t.indexed {
		if now.Sub(at) > keep {
			delete(t.indexed, c)
		}
	}
	t.indexed[conv] = now
	return nil
}

func (a *account) transcriptIndex(ctx context.Context) (map[string]time.Time, error) {
	idx := map[string]time.Time{}
	b, err := a.e.store.GetValue(ctx, a.addr, transcriptIndexKey)
	if errors.Is(err, store.ErrNotFound) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("bot: transcript index: %w", err)
	}
	return idx, nil
}

func (a *account) loadTranscript(ctx context.Context, conv string) (Transcript, error) {
	b, err := a.e.store.GetValue(ctx, a.addr, transcriptKey(conv))
	if err != nil {
		return Transcript{}, err
	}
	var tr Transcript
	if err := json.Unmarshal(b, &tr); err != nil {
		return Transcript{}, fmt.Errorf("bot: transcript of %s: %w", conv, err)
	}
	return tr, nil
}

// Transcripts lists the kept transcripts of every account, newest first.
func (e *Engine) Transcripts(ctx context.Context) ([]TranscriptInfo, error) {
	var out []TranscriptInfo
	for _, a := range e.accounts {
		idx, err := a.transcriptIndex(ctx)
		if err != nil {
			return nil, err
		}
		for conv := range idx {
			// The index may name a transcript that expired since.
			tr, err := a.loadTranscript(ctx, conv)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, TranscriptInfo{Account: a.addr, Conversation: conv, Updated: tr.Updated})
		}
	}
	slices.SortFunc(out, func(x, y TranscriptInfo) int {
		return cmp.Or(y.Updated.Compare(x.Updated), cmp.Compare(x.Account, y.Account), cmp.Compare(x.Conversation, y.Conversation))
	})
	return out, nil
}

// TranscriptOf returns one conversation's transcript; store.ErrNotFound
// when none is kept. account may be empty when the engine drives one.
func (e *Engine) TranscriptOf(ctx context.Context, account, conv string) (Transcript, error) {
	a, err := e.accountFor(account)
	if err != nil {
		return Transcript{}, err
	}
	return a.loadTranscript(ctx, conv)
}

// Text renders the transcript for a person: one line per entry.
func (t Transcript) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Transcript of %s", cmp.Or(t.Subject, "the conversation"))
	if t.Dropped > 0 {
		fmt.Fprintf(&b, " (the first %d entries are left out)", t.Dropped)
	}
	b.WriteString("\n")
	for _, e := range t.Entries {
		who := cmp.Or(e.Name, strings.TrimPrefix(e.From, "sip:"))
		at := e.Time.UTC().Format("2006-01-02 15:04:05Z")
		switch e.Kind {
		case event.MessageReceived, event.MessageSent, event.MessageRequested:
			fmt.Fprintf(&b, "%s %s: %s\n", at, who, e.Text)
		case event.ParticipantJoined:
			fmt.Fprintf(&b, "%s %s joined\n", at, who)
		case event.ParticipantLeft:
			fmt.Fprintf(&b, "%s %s left\n", at, who)
		case event.ConversationStarted:
			fmt.Fprintf(&b, "%s the conversation started\n", at)
		case event.ConversationEnded:
			fmt.Fprintf(&b, "%s the conversation ended\n", at)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// transcriptText is Request.Transcript for ev: the transcript of its
// conversation so far, rendered; nil when transcripts are not kept.
func (a *account) transcriptText(ev *event.Event) func(ctx context.Context) (string, error) {
	if a.e.cfg.TranscriptRetention <= 0 || ev.Conversation.ID == "" {
		return nil
	}
	return func(ctx context.Context) (string, error) {
		tr, err := a.loadTranscript(ctx, ev.Conversation.ID)
		if errors.Is(err, store.ErrNotFound) {
			return Transcript{Conversation: ev.Conversation.ID, Subject: ev.Conversation.Subject}.Text(), nil
		}
		return tr.Text(), err
	}
}
