package ucwasim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

// sample loads an official sample from ucwa/testdata/samples.
func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "samples", name))
	if err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	return m
}

var guidKey = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// sameShape checks that every key of the sample (recursively) is present in got, with the same
// JSON kind (object, array, string, ...). The PUT marker property (a GUID key) only needs a
// GUID counterpart.
func sameShape(t *testing.T, where string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, sample has an object", where, got)
			return
		}
		for k, wv := range w {
			if guidKey.MatchString(k) {
				if !hasGUIDKey(g) {
					t.Errorf("%s: no GUID-named PUT marker property", where)
				}
				continue
			}
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s: missing key %q (got keys %v)", where, k, keys(g))
				continue
			}
			sameShape(t, where+"."+k, wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: got %T, sample has an array", where, got)
			return
		}
		if len(w) > 0 && len(g) > 0 {
			sameShape(t, where+"[0]", w[0], g[0])
		}
	case string:
		if _, ok := got.(string); !ok {
			t.Errorf("%s: got %T, sample has a string", where, got)
		}
	case bool:
		if _, ok := got.(bool); !ok {
			t.Errorf("%s: got %T, sample has a bool", where, got)
		}
	case float64:
		if _, ok := got.(float64); !ok {
			t.Errorf("%s: got %T, sample has a number", where, got)
		}
	}
}

func hasGUIDKey(m map[string]any) bool {
	for k := range m {
		if guidKey.MatchString(k) {
			return true
		}
	}
	return false
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sameEvents compares flattened events with the sample batches, one by one.
func sameEvents(t *testing.T, got []flat, samples ...string) {
	t.Helper()
	var want []flat
	for _, name := range samples {
		want = append(want, flatten(sample(t, name))...)
	}
	if len(got) < len(want) {
		t.Fatalf("got %d events, samples have %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].String() != w.String() {
			t.Errorf("event %d: got %v, sample %v", i, got[i], w)
			continue
		}
		sameShape(t, w.String(), w.ev, got[i].ev)
	}
}

func TestShapes_of_discovery_token_and_application(t *testing.T) {
	s := newServer(t, Options{})
	c := &tc{t: t, s: s}
	root := c.json("GET", s.DiscoveryURL(), "", "", 200)
	sameShape(t, "root", sample(t, "CreateAnApplication__doc-response__1.json"), root)
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	sameShape(t, "application (lurker)", sample(t, "applications__post-response__1.json")["_embedded"].(map[string]any)["people"], embedded(bot.app, "people"))
	for _, k := range []string{"culture", "userAgent", "_links", "_embedded", "rel"} {
		if _, ok := bot.app[k]; !ok {
			t.Errorf("application lacks %q", k)
		}
	}
	if href(embedded(bot.app, "me"), "reportMyActivity") != "" || href(embedded(bot.app, "me"), "makeMeAvailable") == "" {
		t.Errorf("lurker me links = %v", embedded(bot.app, "me")["_links"])
	}
	b := available(t, s, "sip:alice@contoso.com")
	sameShape(t, "application", sample(t, "ReceiveAnIM__doc-response-repaired__1.json"), b.app)
	sameEvents(t, b.collect(5), "ReceiveAnIM__doc-events__1.json")
	me := embedded(b.app, "me")
	sameShape(t, "presence", sample(t, "presence__get-response__1.json"), b.json("GET", href(me, "presence"), "", "", 200))
	sameShape(t, "note", sample(t, "note__get-response__1.json"), b.json("GET", href(me, "note"), "", "", 200))
	conversations := b.json("GET", href(embedded(b.app, "communication"), "conversations"), "", "", 200)
	if _, ok := conversations["_links"].(map[string]any)["conversation"].([]any); !ok {
		t.Errorf("conversations must list conversation links as an array: %v", conversations)
	}
}

func TestShapes_of_token_response(t *testing.T) {
	s := newServer(t, Options{})
	bot := signIn(t, s, "sip:bot@contoso.com", "pw")
	_ = bot
	c := &tc{t: t, s: s}
	tok := c.json("POST", s.URL()+tokenPath, "application/x-www-form-urlencoded", "grant_type=password&username=bot@contoso.com&password=pw", 200)
	sameShape(t, "token", sample(t, "CreateAnApplication__doc-response__2.json"), tok)
	if tok["token_type"] != "Bearer" || tok["access_token"].(string)[:4] != "cwt=" {
		t.Errorf("token = %v", tok)
	}
	c.token = tok["access_token"].(string)
	user := c.json("GET", s.URL()+userPath, "", "", 200)
	sameShape(t, "user", sample(t, "CreateAnApplication__doc-response__3.json"), user)
}

func TestShapes_of_the_incoming_IM_events(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	if _, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "Hi Tosh\r\n"); err != nil {
		t.Fatal(err)
	}
	first := bot.poll()
	sameShape(t, "batch", sample(t, "ReceiveAnIM__doc-events-repaired__2.json")["_links"], first["_links"])
	evs := append(flatten(first), bot.collect(5-len(flatten(first)))...)
	sameEvents(t, evs, "ReceiveAnIM__doc-events-repaired__2.json", "ReceiveAnIM__doc-events__3.json", "ReceiveAnIM__doc-events__4.json")
	inv := evs[0].ev["_embedded"].(map[string]any)["messagingInvitation"].(map[string]any)
	if got := href(inv, "message"); got != "data:text/plain;charset=utf-8,Hi+Tosh%0D%0A" {
		t.Errorf("message data URI = %q", got)
	}
	bot.json("POST", href(inv, "accept"), "", "", 204)
	sameEvents(t, bot.collect(8), "ReceiveAnIM__doc-events-repaired__5.json", "ReceiveAnIM__doc-events__6.json")
}

func TestShapes_of_the_outgoing_IM_events(t *testing.T) {
	s := newServer(t, Options{})
	bot := available(t, s, "sip:bot@contoso.com")
	bot.collect(5)
	bot.json("POST", href(embedded(bot.app, "communication"), "startMessaging"), "application/json",
		`{"importance":"Normal","sessionContext":"33dc","subject":"Task Sample","telemetryId":null,"to":"sip:alice@contoso.com","operationId":"5028e824"}`, 201)
	evs := bot.collect(10)
	sameEvents(t, evs, "SendAnIM__doc-events-repaired__1.json")
	messaging := evs[8].ev["_embedded"].(map[string]any)["messaging"].(map[string]any)
	bot.json("POST", href(messaging, "sendMessage")+"?operationId=x", "text/plain", "What's up?", 201)
	sameEvents(t, bot.collect(1), "SendAnIM__doc-events__3.json")
}
