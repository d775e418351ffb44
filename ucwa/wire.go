// Package ucwa is a client for the Unified Communications Web API 2.0 (UCWA), the web API of
// Skype for Business Server: discovery, sign-in through golang.org/x/oauth2 token sources, the
// application lifecycle, availability, the event channel (P-GET), presence subscriptions and
// instant-messaging conversations. Protocol facts come from docs/PROTOCOL.md.
//
// The client follows links; it never builds resource URLs itself. Every href it hands out is
// absolute, resolved against the URL of the document it came from.
package ucwa

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Link is one hypermedia link of a resource or an event. Href is absolute once decoded by
// DecodeResource or DecodeBatch (resolved against the document's URL); data: URIs are kept
// verbatim.
type Link struct {
	Rel   string
	Href  string
	Title string
}

// Links maps a link relation name to its links. A relation that may occur several times is an
// array on the wire even with one element; both forms decode to a slice.
type Links map[string][]Link

// Href returns the href of the first link with the relation rel, or "" when there is none.
func (l Links) Href(rel string) string {
	if lk, ok := l.First(rel); ok {
		return lk.Href
	}
	return ""
}

// First returns the first link with the relation rel.
func (l Links) First(rel string) (Link, bool) {
	if ls := l[rel]; len(ls) > 0 {
		return ls[0], true
	}
	return Link{}, false
}

// Resource is a UCWA resource: its rel, its links, its embedded resources and every other
// property kept raw for the typed accessors.
type Resource struct {
	// Rel is the resource's own rel property (e.g. "participant" for an embedded localParticipant).
	Rel string
	// Links are the resource's _links.
	Links Links
	// Embedded are the resources in _embedded, keyed by relation; one resource or an array on
	// the wire, always a slice here.
	Embedded map[string][]*Resource
	// Props holds all other properties, undecoded.
	Props map[string]json.RawMessage
}

// Self returns the resource's self href, its identity.
func (r *Resource) Self() string {
	if r == nil {
		return ""
	}
	return r.Links.Href("self")
}

// String returns the string property prop, or "" when absent or not a string.
func (r *Resource) String(prop string) string {
	if r == nil {
		return ""
	}
	raw := r.Props[prop]
	if v, ok := plainString(raw); ok {
		return v
	}
	var s string
	if raw == nil || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// plainString returns the value of a JSON string without escapes, control
// or non-ASCII bytes, which is its bytes; ok is false for anything else.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

// Strings returns the string-array property prop (a lone string counts as one element), or nil.
func (r *Resource) Strings(prop string) []string {
	if r == nil || r.Props[prop] == nil {
		return nil
	}
	var ss []string
	if json.Unmarshal(r.Props[prop], &ss) == nil {
		return ss
	}
	if s := r.String(prop); s != "" {
		return []string{s}
	}
	return nil
}

// Bool returns the boolean property prop; ok is false when absent or not a boolean.
func (r *Resource) Bool(prop string) (v, ok bool) {
	if r == nil || r.Props[prop] == nil {
		return false, false
	}
	switch string(r.Props[prop]) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return v, json.Unmarshal(r.Props[prop], &v) == nil
}

// Time returns the date property prop, written "/Date(ms)/" on the wire (PROTOCOL.md §1).
func (r *Resource) Time(prop string) (time.Time, bool) {
	t, err := ParseDate(r.String(prop))
	return t, err == nil
}

// Int returns the integer property prop; a number written as a string is accepted too.
func (r *Resource) Int(prop string) (int64, bool) {
	if r == nil || r.Props[prop] == nil {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(r.Props[prop], &n); err != nil {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// First returns the first resource embedded under embeddedRel, or nil.
func (r *Resource) First(embeddedRel string) *Resource {
	if r == nil || len(r.Embedded[embeddedRel]) == 0 {
		return nil
	}
	return r.Embedded[embeddedRel][0]
}

// Reason is the error block of an event or an operation (same shape as an error body, §9).
type Reason struct {
	Code, Subcode, Message string
}

// Event is one event of the event channel, with its sender block's identity.
type Event struct {
	// Sender is the sender block's rel (e.g. "communication", "conversation", "me", "people").
	Sender string
	// SenderHref is the sender's absolute href ("" when the block has none).
	SenderHref string
	// Link is the event's target resource: rel, absolute href, title.
	Link Link
	// In is the collection or parent the target belongs to; zero when absent.
	In Link
	// Type is added, updated, deleted, started or completed.
	Type string
	// Status is the completion status of an operation ("Success", "Failure"...), else "".
	Status string
	// Reason explains a failure or a server-initiated change; nil when absent.
	Reason *Reason
	// Resource is the embedded resource keyed by the link's rel; nil when not embedded (GET
	// Link.Href then).
	Resource *Resource
}

// Succeeded reports whether a completed operation succeeded. PROTOCOL.md §13.2: walkthroughs
// say "Success", Status_ref.md says "Succeeded"; both count.
func (e *Event) Succeeded() bool {
	return strings.EqualFold(e.Status, "Success") || strings.EqualFold(e.Status, "Succeeded")
}

// Batch is one event-channel response.
type Batch struct {
	// Self, Next, Resync and Resume are the absolute hrefs of the envelope's links, "" when absent.
	Self, Next, Resync, Resume string
	// Events are flattened in server order: sender blocks in order, events in order.
	Events []Event
}

// Continue returns the href to P-GET next: Resync if present, else Resume, else Next
// (PROTOCOL.md §6.4: resync takes precedence).
func (b *Batch) Continue() string {
	switch {
	case b.Resync != "":
		return b.Resync
	case b.Resume != "":
		return b.Resume
	}
	return b.Next
}
