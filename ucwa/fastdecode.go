package ucwa

import (
	"encoding/json"
	"errors"
	"net/url"
	"unicode/utf8"
)

// The event channel's answers are decoded in one pass over the body: a
// small scanner walks the JSON and builds Batch, Event and Resource
// directly, keeping each unknown property as a slice of the body (no
// decode to maps of raw values and again into structs). It takes the
// shapes UCWA sends; anything else — malformed JSON, escaped or non-ASCII
// keys of the envelope, duplicate keys, values of an unexpected type —
// makes it decline (errDecline), and the encoding/json decoder
// (decodeBatchStd, decodeResourceStd) decides, with its positioned
// errors. The two agree on every input the fuzz test tries.

// errDecline: the fast path does not take this input.
var errDecline = errors.New("ucwa: fast decoder declined")

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return errDecline
	}
	s.i++
	return nil
}

// strSpan scans a string and returns its contents (without quotes) and
// whether it is plain: no escape and valid UTF-8, so its bytes are its
// value.
func (s *scanner) strSpan() (raw []byte, plain bool, err error) {
	if s.peek() != '"' {
		return nil, false, errDecline
	}
	s.i++
	start := s.i
	plain, ascii := true, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				plain = false
			}
			return raw, plain, nil
		case c == '\\':
			plain = false
			s.i += 2
			continue
		case c < 0x20:
			return nil, false, errDecline
		case c >= 0x80:
			ascii = false
		}
		s.i++
	}
	return nil, false, errDecline
}

// str decodes a string value; null gives "".
func (s *scanner) str() (string, error) {
	if s.peek() == 'n' {
		return "", s.literal("null")
	}
	start := s.i
	raw, plain, err := s.strSpan()
	if err != nil {
		return "", err
	}
	if plain {
		return string(raw), nil
	}
	var v string
	if err := json.Unmarshal(s.b[start:s.i], &v); err != nil {
		return "", errDecline
	}
	return v, nil
}

// key reads an object key and the colon after it. Keys must be plain.
func (s *scanner) key() ([]byte, error) {
	raw, plain, err := s.strSpan()
	if err != nil || !plain {
		return nil, errDecline
	}
	if err := s.expect(':'); err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *scanner) literal(lit string) error {
	s.ws()
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return errDecline
	}
	s.i += len(lit)
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (s *scanner) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return errDecline
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return errDecline
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return errDecline
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return nil
}

// skip scans one value and returns its bytes.
func (s *scanner) skip() ([]byte, error) {
	return s.skipDepth(0)
}

const maxDepth = 1000

func (s *scanner) skipDepth(depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errDecline
	}
	c := s.peek()
	start := s.i
	var err error
	switch {
	case c == '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			break
		}
		for {
			if _, _, err = s.strSpan(); err != nil {
				return nil, err
			}
			if err = s.expect(':'); err != nil {
				return nil, err
			}
			if _, err = s.skipDepth(depth + 1); err != nil {
				return nil, err
			}
			if s.peek() == ',' {
				s.i++
				continue
			}
			if err = s.expect('}'); err != nil {
				return nil, err
			}
			break
		}
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			break
		}
		for {
			if _, err = s.skipDepth(depth + 1); err != nil {
				return nil, err
			}
			if s.peek() == ',' {
				s.i++
				continue
			}
			if err = s.expect(']'); err != nil {
				return nil, err
			}
			break
		}
	case c == '"':
		_, _, err = s.strSpan()
	case c == 't':
		err = s.literal("true")
	case c == 'f':
		err = s.literal("false")
	case c == 'n':
		err = s.literal("null")
	case c == '-' || isDigit(c):
		err = s.number()
	default:
		err = errDecline
	}
	if err != nil {
		return nil, err
	}
	return s.b[start:s.i], nil
}

// object calls fn for each key; fn consumes the value.
func (s *scanner) object(fn func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		k, err := s.key()
		if err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		if s.peek() == ',' {
			s.i++
			continue
		}
		return s.expect('}')
	}
}

// oneOrMany calls fn for an object, or for each non-null element of an
// array of objects; null calls nothing.
func (s *scanner) oneOrMany(fn func() error) error {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '{':
		return fn()
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			switch s.peek() {
			case 'n':
				if err := s.literal("null"); err != nil {
					return err
				}
			case '{':
				if err := fn(); err != nil {
					return err
				}
			default:
				return errDecline
			}
			if s.peek() == ',' {
				s.i++
				continue
			}
			return s.expect(']')
		}
	}
	return errDecline
}

// emptyArray consumes "[]" (an empty object as some serialisers write it).
func (s *scanner) emptyArray() bool {
	save := s.i
	if s.peek() == '[' {
		s.i++
		if s.peek() == ']' {
			s.i++
			return true
		}
	}
	s.i = save
	return false
}

// fields matches the keys of a JSON object decoded into a Go struct:
// ASCII case-insensitively, each at most once (a repeated key declines:
// encoding/json merges repeats in ways not worth copying).
type fields struct {
	names []string
	seen  uint32
}

// match returns the index of key among names, -1 for an unknown key.
func (f *fields) match(key []byte) (int, error) {
	for i, n := range f.names {
		if equalFoldASCII(key, n) {
			if f.seen&(1<<i) != 0 {
				return 0, errDecline
			}
			f.seen |= 1 << i
			return i, nil
		}
	}
	for _, c := range key {
		if c >= 0x80 {
			return 0, errDecline // encoding/json folds some non-ASCII letters
		}
	}
	return -1, nil
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// link decodes {"rel","href","title"} (names: the keys to take).
func (s *scanner) link(names []string) (Link, error) {
	var l Link
	f := fields{names: names}
	err := s.object(func(k []byte) error {
		i, err := f.match(k)
		if err != nil {
			return err
		}
		var v string
		if i >= 0 {
			if v, err = s.str(); err != nil {
				return err
			}
		} else if _, err = s.skip(); err != nil {
			return err
		}
		switch {
		case i < 0:
		case names[i] == "rel":
			l.Rel = v
		case names[i] == "href":
			l.Href = v
		case names[i] == "title":
			l.Title = v
		}
		return nil
	})
	return l, err
}

var (
	wireLinkNames    = []string{"href", "title"}
	wireRelLinkNames = []string{"rel", "href", "title"}
)

// links decodes _links.
func (s *scanner) links() (Links, error) {
	switch {
	case s.peek() == 'n':
		return nil, s.literal("null")
	case s.emptyArray():
		return nil, nil
	}
	out := Links{}
	err := s.object(func(k []byte) error {
		rel := string(k)
		if _, dup := out[rel]; dup {
			return errDecline
		}
		var ls []Link
		err := s.oneOrMany(func() error {
			l, err := s.link(wireLinkNames)
			l.Rel = rel
			ls = append(ls, l)
			return err
		})
		if len(ls) > 0 {
			out[rel] = ls
		} else if err == nil {
			// a relation without links: remembered only to refuse a repeat
			out[rel] = nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for rel, ls := range out {
		if ls == nil {
			delete(out, rel)
		}
	}
	return out, nil
}

// embedded decodes _embedded.
func (s *scanner) embedded(depth int) (map[string][]*Resource, error) {
	switch {
	case s.peek() == 'n':
		return nil, s.literal("null")
	case s.emptyArray():
		return nil, nil
	}
	out := map[string][]*Resource{}
	err := s.object(func(k []byte) error {
		rel := string(k)
		if _, dup := out[rel]; dup {
			return errDecline
		}
		var rs []*Resource
		err := s.oneOrMany(func() error {
			r, err := s.resource(depth + 1)
			rs = append(rs, r)
			return err
		})
		out[rel] = rs
		return err
	})
	if err != nil {
		return nil, err
	}
	for rel, rs := range out {
		if len(rs) == 0 {
			delete(out, rel)
		}
	}
	return out, nil
}

// resource decodes a resource object.
func (s *scanner) resource(depth int) (*Resource, error) {
	if depth > maxDepth {
		return nil, errDecline
	}
	r := &Resource{Props: map[string]json.RawMessage{}}
	var seenRel, seenLinks, seenEmb bool
	err := s.object(func(k []byte) error {
		var err error
		switch string(k) {
		case "rel":
			if seenRel {
				return errDecline
			}
			seenRel = true
			r.Rel, err = s.str()
		case "_links":
			if seenLinks {
				return errDecline
			}
			seenLinks = true
			r.Links, err = s.links()
		case "_embedded":
			if seenEmb {
				return errDecline
			}
			seenEmb = true
			r.Embedded, err = s.embedded(depth)
		default:
			name := string(k)
			if _, dup := r.Props[name]; dup {
				return errDecline
			}
			var v []byte
			if v, err = s.skip(); err == nil {
				r.Props[name] = v
			}
		}
		return err
	})
	return r, err
}

var (
	batchNames  = []string{"_links", "sender"}
	senderNames = []string{"rel", "href", "events"}
	eventNames  = []string{"link", "in", "type", "status", "reason", "_embedded"}
	reasonNames = []string{"code", "subcode", "message"}
)

// fastDecodeBatch is DecodeBatch's fast path.
func fastDecodeBatch(body []byte, base *url.URL) (*Batch, error) {
	s := &scanner{b: body}
	if s.peek() != '{' {
		return nil, errDecline
	}
	b := &Batch{}
	var links Links
	f := fields{names: batchNames}
	err := s.object(func(k []byte) error {
		i, err := f.match(k)
		if err != nil {
			return err
		}
		switch i {
		case 0:
			links, err = s.links()
			return err
		case 1:
			return s.oneOrMany(func() error { return s.sender(b, base) })
		}
		_, err = s.skip()
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.peek() != 0 {
		return nil, errDecline
	}
	b.Self = resolveHref(base, links.Href("self"))
	b.Next = resolveHref(base, links.Href("next"))
	b.Resync = resolveHref(base, links.Href("resync"))
	b.Resume = resolveHref(base, links.Href("resume"))
	return b, nil
}

func (s *scanner) sender(b *Batch, base *url.URL) error {
	var rel, href string
	first := len(b.Events)
	f := fields{names: senderNames}
	err := s.object(func(k []byte) error {
		i, err := f.match(k)
		if err != nil {
			return err
		}
		switch i {
		case 0:
			rel, err = s.str()
		case 1:
			href, err = s.str()
		case 2:
			err = s.oneOrMany(func() error {
				ev, err := s.event(base)
				b.Events = append(b.Events, ev)
				return err
			})
		default:
			_, err = s.skip()
		}
		return err
	})
	if err != nil {
		return err
	}
	senderHref := resolveHref(base, href)
	for i := first; i < len(b.Events); i++ {
		b.Events[i].Sender, b.Events[i].SenderHref = rel, senderHref
	}
	return nil
}

func (s *scanner) event(base *url.URL) (Event, error) {
	var ev Event
	var emb map[string][]*Resource
	f := fields{names: eventNames}
	err := s.object(func(k []byte) error {
		i, err := f.match(k)
		if err != nil {
			return err
		}
		switch i {
		case 0, 1:
			var l Link
			if s.peek() == 'n' {
				err = s.literal("null")
			} else {
				l, err = s.link(wireRelLinkNames)
			}
			l.Href = resolveHref(base, l.Href)
			if i == 0 {
				ev.Link = l
			} else {
				ev.In = l
			}
		case 2:
			ev.Type, err = s.str()
		case 3:
			ev.Status, err = s.str()
		case 4:
			if s.peek() == 'n' {
				return s.literal("null")
			}
			var r Reason
			rf := fields{names: reasonNames}
			err = s.object(func(k []byte) error {
				j, err := rf.match(k)
				if err != nil {
					return err
				}
				switch j {
				case 0:
					r.Code, err = s.str()
				case 1:
					r.Subcode, err = s.str()
				case 2:
					r.Message, err = s.str()
				default:
					_, err = s.skip()
				}
				return err
			})
			ev.Reason = &r
		case 5:
			emb, err = s.embedded(0)
		default:
			_, err = s.skip()
		}
		return err
	})
	if err != nil {
		return Event{}, err
	}
	if rs := emb[ev.Link.Rel]; len(rs) > 0 {
		ev.Resource = rs[0]
		ev.Resource.resolve(base)
	}
	return ev, nil
}

// fastDecodeResource is DecodeResource's fast path.
func fastDecodeResource(body []byte, base *url.URL) (*Resource, error) {
	s := &scanner{b: body}
	if s.peek() != '{' {
		return nil, errDecline
	}
	r, err := s.resource(0)
	if err != nil {
		return nil, err
	}
	if s.peek() != 0 {
		return nil, errDecline
	}
	r.resolve(base)
	return r, nil
}
