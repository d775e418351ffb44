package bot

import (
	"fmt"

	"github.com/ucwabot/ucwabot/ucwa"
)

// DecodedEvent is one UCWA event of an event-channel body. Its JSON
// form is one line of `bot decode` output: the keys sender, rel, type,
// href, in and event, in that order (the field order below), so a field
// added here changes that output.
type DecodedEvent struct {
	// Sender is the sender block's rel.
	Sender string `json:"sender"`
	// Rel is the event link's rel.
	Rel string `json:"rel"`
	// Type is added, updated, deleted, started or completed.
	Type string `json:"type"`
	// Href is the event link's href.
	Href string `json:"href"`
	// In is the rel of the event's in link, or "".
	In string `json:"in"`
	// Event is the kind of domain event the engine makes of it, or "".
	Event string `json:"event"`
}

// Decode reads one event-channel response body and returns its UCWA
// events in server order. A malformed body gets an error naming what is
// wrong and where.
func Decode(body []byte) ([]DecodedEvent, error) {
	b, err := ucwa.DecodeBatch(body, nil)
	if err != nil {
		return nil, fmt.Errorf("decode event-channel body: %w", err)
	}
	out := make([]DecodedEvent, 0, len(b.Events))
	for i := range b.Events {
		ev := &b.Events[i]
		out = append(out, DecodedEvent{
			Sender: ev.Sender,
			Rel:    ev.Link.Rel,
			Type:   ev.Type,
			Href:   ev.Link.Href,
			In:     ev.In.Rel,
			Event:  string(classify(ev)),
		})
	}
	return out, nil
}
