package ucwa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// wireLink is a link object as sent.
type wireLink struct {
	Href  string `json:"href"`
	Title string `json:"title"`
}

// UnmarshalJSON decodes _links: each relation is a link object, an array of them, or null.
// Hrefs stay as sent; DecodeResource and DecodeBatch resolve them.
func (l *Links) UnmarshalJSON(data []byte) error {
	if isNull(data) || isEmptyArray(data) {
		*l = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("_links: %w", err)
	}
	out := make(Links, len(raw))
	for rel, v := range raw {
		many, err := oneOrMany(v)
		if err != nil {
			return fmt.Errorf("_links.%s: %w", rel, err)
		}
		for i, m := range many {
			var w wireLink
			if err := json.Unmarshal(m, &w); err != nil {
				return fmt.Errorf("_links.%s[%d]: %w", rel, i, err)
			}
			out[rel] = append(out[rel], Link{Rel: rel, Href: w.Href, Title: w.Title})
		}
	}
	*l = out
	return nil
}

// UnmarshalJSON decodes a resource: rel, _links, _embedded (one resource or an array per
// relation) and every other property into Props. Unknown properties are kept, never an error.
func (r *Resource) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	res := Resource{Props: make(map[string]json.RawMessage, len(raw))}
	for k, v := range raw {
		switch k {
		case "rel":
			if err := json.Unmarshal(v, &res.Rel); err != nil && !isNull(v) {
				return fmt.Errorf("rel: %w", err)
			}
		case "_links":
			if err := json.Unmarshal(v, &res.Links); err != nil {
				return err
			}
		case "_embedded":
			emb, err := decodeEmbedded(v)
			if err != nil {
				return err
			}
			res.Embedded = emb
		default:
			res.Props[k] = v
		}
	}
	*r = res
	return nil
}

// decodeEmbedded decodes an _embedded object; each relation holds a resource, an array of
// them, or null.
func decodeEmbedded(data []byte) (map[string][]*Resource, error) {
	if isNull(data) || isEmptyArray(data) {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("_embedded: %w", err)
	}
	out := make(map[string][]*Resource, len(raw))
	for rel, v := range raw {
		many, err := oneOrMany(v)
		if err != nil {
			return nil, fmt.Errorf("_embedded.%s: %w", rel, err)
		}
		for i, m := range many {
			res := new(Resource)
			if err := json.Unmarshal(m, res); err != nil {
				return nil, fmt.Errorf("_embedded.%s[%d]: %w", rel, i, err)
			}
			out[rel] = append(out[rel], res)
		}
	}
	return out, nil
}

// oneOrMany splits a JSON value that is an object, an array of objects, or null.
func oneOrMany(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	switch {
	case isNull(data):
		return nil, nil
	case len(data) > 0 && data[0] == '[':
		var many []json.RawMessage
		if err := json.Unmarshal(data, &many); err != nil {
			return nil, err
		}
		kept := many[:0]
		for _, m := range many {
			if !isNull(m) {
				kept = append(kept, m)
			}
		}
		return kept, nil
	case len(data) > 0 && data[0] == '{':
		return []json.RawMessage{data}, nil
	}
	return nil, errors.New("want an object or an array of objects")
}

func isNull(data []byte) bool { return string(bytes.TrimSpace(data)) == "null" }

// isEmptyArray reports "[]", which some serialisers write for an empty object.
func isEmptyArray(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) >= 2 && t[0] == '[' && len(bytes.TrimSpace(t[1:len(t)-1])) == 0 && t[len(t)-1] == ']'
}

// DecodeResource decodes a resource body and resolves every href in it (links of embedded
// resources too) against base, the URL that was requested. A nil base leaves hrefs as sent.
func DecodeResource(body []byte, base *url.URL) (*Resource, error) {
	if r, err := fastDecodeResource(body, base); err == nil {
		return r, nil
	}
	return decodeResourceStd(body, base)
}

// decodeResourceStd is DecodeResource with encoding/json: the reference the
// fast path agrees with, and the source of positioned errors.
func decodeResourceStd(body []byte, base *url.URL) (*Resource, error) {
	var r Resource
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("ucwa: decode resource: %w", jsonErr(body, err))
	}
	r.resolve(base)
	return &r, nil
}

// resolve makes every href of r and of its embedded resources absolute.
func (r *Resource) resolve(base *url.URL) {
	if r == nil {
		return
	}
	r.Links.resolve(base)
	for _, rs := range r.Embedded {
		for _, e := range rs {
			e.resolve(base)
		}
	}
}

func (l Links) resolve(base *url.URL) {
	for _, ls := range l {
		for i := range ls {
			ls[i].Href = resolveHref(base, ls[i].Href)
		}
	}
}

// resolveHref resolves a server-supplied href against base. Hrefs that already carry a scheme
// (https:, data:) are returned verbatim so that server-supplied query values stay untouched
// (PROTOCOL.md §1); so are hrefs that do not parse.
func resolveHref(base *url.URL, href string) string {
	if href == "" || base == nil || hasScheme(href) {
		return href
	}
	if origin, ok := plainOrigin(base); ok && plainAbsPath(href) {
		// What url.ResolveReference would return, without parsing.
		return origin + href
	}
	ref, err := url.Parse(href)
	if err != nil {
		return href
	}
	return base.ResolveReference(ref).String()
}

// plainOrigin returns "scheme://host" of base when resolving an absolute
// path against it needs nothing more.
func plainOrigin(base *url.URL) (string, bool) {
	if base.Scheme == "" || base.Host == "" || base.User != nil || base.Opaque != "" {
		return "", false
	}
	for i := 0; i < len(base.Host); i++ {
		if !plainByte(base.Host[i]) {
			return "", false
		}
	}
	return base.Scheme + "://" + base.Host, true
}

// plainAbsPath reports whether href is an absolute path ("/…", not
// "//host") of characters url.URL.String writes unchanged, without dot
// segments, percent escapes in the path or a fragment: resolving it
// against a base only prefixes the base's origin. The query is kept byte
// for byte either way.
func plainAbsPath(href string) bool {
	if len(href) == 0 || href[0] != '/' || (len(href) > 1 && href[1] == '/') {
		return false
	}
	inQuery := false
	prev := byte('/')
	for i := 0; i < len(href); i++ {
		c := href[i]
		switch {
		case c == '?':
			inQuery = true
		case c == '#':
			return false
		case inQuery:
			if c <= ' ' || c >= 0x7f {
				return false
			}
		case c == '%':
			return false
		case c == '.' && prev == '/':
			return false // a dot segment, maybe
		case !plainByte(c):
			return false
		}
		prev = c
	}
	return true
}

// plainByte: a path byte that url.URL.String writes as it is.
func plainByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '/', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

// hasScheme reports whether s starts with an RFC 3986 scheme followed by ':'.
func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c == ':':
			return i > 0
		default:
			return false
		}
	}
	return false
}

// jsonErr adds the line and column to a JSON syntax or type error.
func jsonErr(body []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(body)) {
		return err
	}
	line := 1 + bytes.Count(body[:off], []byte("\n"))
	col := int(off) - bytes.LastIndexByte(body[:off], '\n')
	return fmt.Errorf("offset %d (line %d, column %d): %w", off, line, col, err)
}

// wireBatch is an event-channel envelope as sent.
type wireBatch struct {
	Links  Links           `json:"_links"`
	Sender json.RawMessage `json:"sender"`
}

type wireSender struct {
	Rel    string          `json:"rel"`
	Href   string          `json:"href"`
	Events json.RawMessage `json:"events"`
}

type wireEvent struct {
	Link     *wireRelLink    `json:"link"`
	In       *wireRelLink    `json:"in"`
	Type     string          `json:"type"`
	Status   string          `json:"status"`
	Reason   *wireReason     `json:"reason"`
	Embedded json.RawMessage `json:"_embedded"`
}

type wireRelLink struct {
	Rel   string `json:"rel"`
	Href  string `json:"href"`
	Title string `json:"title"`
}

type wireReason struct {
	Code    string `json:"code"`
	Subcode string `json:"subcode"`
	Message string `json:"message"`
}

// DecodeBatch decodes an event-channel body (PROTOCOL.md §6.2). Hrefs are resolved against
// base, the URL that was requested. It is tolerant of links given as an object or an array,
// _embedded holding one resource or an array, unknown fields, and an absent or empty sender
// (an empty batch). Errors name the JSON offset or the sender and event index.
func DecodeBatch(body []byte, base *url.URL) (*Batch, error) {
	if b, err := fastDecodeBatch(body, base); err == nil {
		return b, nil
	}
	return decodeBatchStd(body, base)
}

// decodeBatchStd is DecodeBatch with encoding/json: the reference the fast
// path agrees with, and the source of positioned errors.
func decodeBatchStd(body []byte, base *url.URL) (*Batch, error) {
	var w wireBatch
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("ucwa: decode events: %w", jsonErr(body, err))
	}
	b := &Batch{
		Self:   resolveHref(base, w.Links.Href("self")),
		Next:   resolveHref(base, w.Links.Href("next")),
		Resync: resolveHref(base, w.Links.Href("resync")),
		Resume: resolveHref(base, w.Links.Href("resume")),
	}
	senders, err := oneOrMany(w.Sender)
	if err != nil && len(bytes.TrimSpace(w.Sender)) > 0 {
		return nil, fmt.Errorf("ucwa: decode events: sender: %w", err)
	}
	for si, raw := range senders {
		var s wireSender
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("ucwa: decode events: sender[%d]: %w", si, err)
		}
		events, err := oneOrMany(s.Events)
		if err != nil && len(bytes.TrimSpace(s.Events)) > 0 {
			return nil, fmt.Errorf("ucwa: decode events: sender[%d] (%s).events: %w", si, s.Rel, err)
		}
		senderHref := resolveHref(base, s.Href)
		for ei, raw := range events {
			ev, err := decodeEvent(raw, base)
			if err != nil {
				return nil, fmt.Errorf("ucwa: decode events: sender[%d] (%s).events[%d]: %w", si, s.Rel, ei, err)
			}
			ev.Sender, ev.SenderHref = s.Rel, senderHref
			b.Events = append(b.Events, ev)
		}
	}
	return b, nil
}

func decodeEvent(raw []byte, base *url.URL) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		return Event{}, err
	}
	ev := Event{Type: w.Type, Status: w.Status}
	if w.Link != nil {
		ev.Link = Link{Rel: w.Link.Rel, Href: resolveHref(base, w.Link.Href), Title: w.Link.Title}
	}
	if w.In != nil {
		ev.In = Link{Rel: w.In.Rel, Href: resolveHref(base, w.In.Href), Title: w.In.Title}
	}
	if w.Reason != nil {
		ev.Reason = &Reason{Code: w.Reason.Code, Subcode: w.Reason.Subcode, Message: w.Reason.Message}
	}
	if len(w.Embedded) > 0 {
		emb, err := decodeEmbedded(w.Embedded)
		if err != nil {
			return Event{}, err
		}
		if rs := emb[ev.Link.Rel]; len(rs) > 0 {
			ev.Resource = rs[0]
			ev.Resource.resolve(base)
		}
	}
	return ev, nil
}
