package ucwa

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

var testBase, _ = url.Parse("https://fe1.contoso.com:443/ucwa/oauth/v1/applications/104/events?ack=2")

func TestDecodeResource_links_object_or_array(t *testing.T) {
	r, err := DecodeResource([]byte(`{"rel":"conversations","_links":{
		"self":{"href":"/ucwa/oauth/v1/applications/104/communication/conversations?filter=active"},
		"conversation":[{"href":"conversations/a"},{"href":"https://other.contoso.com/x/b","title":"B"}],
		"single":[{"href":"/one"}],
		"none":null}, "_embedded": []}`), testBase)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Self(), "https://fe1.contoso.com:443/ucwa/oauth/v1/applications/104/communication/conversations?filter=active"; got != want {
		t.Errorf("self = %q, want %q", got, want)
	}
	cs := r.Links["conversation"]
	if len(cs) != 2 || cs[0].Href != "https://fe1.contoso.com:443/ucwa/oauth/v1/applications/104/conversations/a" ||
		cs[1].Href != "https://other.contoso.com/x/b" || cs[1].Title != "B" || cs[1].Rel != "conversation" {
		t.Errorf("conversation links = %+v", cs)
	}
	if l, ok := r.Links.First("single"); !ok || l.Href != "https://fe1.contoso.com:443/one" {
		t.Errorf("single = %+v %v", l, ok)
	}
	if r.Links.Href("none") != "" || r.Links.Href("missing") != "" {
		t.Error("absent links must give empty hrefs")
	}
	if r.Rel != "conversations" {
		t.Errorf("rel = %q", r.Rel)
	}
}

func TestDecodeResource_embedded_one_or_array_and_props(t *testing.T) {
	r, err := DecodeResource([]byte(`{"rel":"messagingInvitation","direction":"Incoming","count":42,"n":"7",
		"flag":true,"modalities":["Messaging","Audio"],"lone":"x","timeStamp":"\/Date(1383784870271)\/","future":{"a":[1]},
		"_links":{"self":{"href":"/inv/1"},"message":{"href":"data:text/plain;charset=utf-8,Hi+Tosh%0d%0a"}},
		"_embedded":{"from":{"rel":"participant","name":"Lene","_links":{"self":{"href":"participants/lenea@contoso.com"}}},
		"acceptedByParticipant":[{"rel":"participant","uri":"sip:a@x"},{"rel":"participant","uri":"sip:b@x"}]}}`), testBase)
	if err != nil {
		t.Fatal(err)
	}
	from := r.First("from")
	if from == nil || from.String("name") != "Lene" ||
		from.Self() != "https://fe1.contoso.com:443/ucwa/oauth/v1/applications/104/participants/lenea@contoso.com" {
		t.Fatalf("from = %+v", from)
	}
	if acc := r.Embedded["acceptedByParticipant"]; len(acc) != 2 || acc[1].String("uri") != "sip:b@x" {
		t.Errorf("acceptedByParticipant = %+v", acc)
	}
	if r.First("nothing") != nil {
		t.Error("First of an absent relation must be nil")
	}
	if got := r.Links.Href("message"); got != "data:text/plain;charset=utf-8,Hi+Tosh%0d%0a" {
		t.Errorf("data URI altered: %q", got)
	}
	if r.String("direction") != "Incoming" || r.String("count") != "" || r.String("absent") != "" {
		t.Error("String")
	}
	if n, ok := r.Int("count"); !ok || n != 42 {
		t.Errorf("Int(count) = %d %v", n, ok)
	}
	if n, ok := r.Int("n"); !ok || n != 7 {
		t.Errorf("Int(n) = %d %v", n, ok)
	}
	if _, ok := r.Int("direction"); ok {
		t.Error("Int of a word")
	}
	if v, ok := r.Bool("flag"); !ok || !v {
		t.Error("Bool")
	}
	if ss := r.Strings("modalities"); len(ss) != 2 || ss[1] != "Audio" {
		t.Errorf("Strings = %v", ss)
	}
	if ss := r.Strings("lone"); len(ss) != 1 || ss[0] != "x" {
		t.Errorf("Strings(lone) = %v", ss)
	}
	if tm, ok := r.Time("timeStamp"); !ok || !tm.Equal(time.UnixMilli(1383784870271)) {
		t.Errorf("Time = %v %v", tm, ok)
	}
	if _, ok := r.Props["future"]; !ok {
		t.Error("unknown property dropped")
	}
	var nilRes *Resource
	if nilRes.Self() != "" || nilRes.String("x") != "" || nilRes.First("x") != nil {
		t.Error("nil resource accessors")
	}
}

func TestDecodeResource_errors_name_the_place(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"syntax":          {"{\n \"rel\": \"x\",\n \"a\": }", "line 3"},
		"links not obj":   {`{"_links": 3}`, "_links"},
		"link wrong type": {`{"_links": {"self": "nope"}}`, "_links.self"},
		"embedded scalar": {`{"_embedded": {"me": 5}}`, "_embedded.me"},
		"not an object":   {`[1,2]`, "decode resource"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeResource([]byte(c.body), testBase)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestDecodeBatch_shapes(t *testing.T) {
	cases := []struct {
		name                 string
		body                 string
		next, resync, resume string
		cont                 string
		events               int
	}{
		{"empty without sender", `{"_links":{"self":{"href":"events?ack=2"},"next":{"href":"events?ack=3"}}}`,
			"events?ack=3", "", "", "events?ack=3", 0},
		{"empty sender array", `{"_links":{"next":{"href":"events?ack=3"}},"sender":[]}`,
			"events?ack=3", "", "", "events?ack=3", 0},
		{"null sender", `{"_links":{"next":{"href":"events?ack=3"}},"sender":null}`,
			"events?ack=3", "", "", "events?ack=3", 0},
		{"sender block without events", `{"_links":{"next":{"href":"events?ack=3"}},"sender":[{"rel":"communication"}]}`,
			"events?ack=3", "", "", "events?ack=3", 0},
		{"resync only", `{"_links":{"resync":{"href":"events?ack=1"}}}`,
			"", "events?ack=1", "", "events?ack=1", 0},
		{"resume", `{"_links":{"self":{"href":"events?ack=9"},"resume":{"href":"events?ack=10"}}}`,
			"", "", "events?ack=10", "events?ack=10", 0},
		{"resync wins over next", `{"_links":{"next":{"href":"events?ack=3"},"resync":{"href":"events?ack=1"},"resume":{"href":"events?ack=4"}}}`,
			"events?ack=3", "events?ack=1", "events?ack=4", "events?ack=1", 0},
		{"single sender object and single event object", `{"_links":{"next":{"href":"events?ack=3"}},
			"sender":{"rel":"me","href":"/me","events":{"link":{"rel":"presence","href":"/me/presence"},"type":"updated"}}}`,
			"events?ack=3", "", "", "events?ack=3", 1},
	}
	abs := func(h string) string {
		if h == "" {
			return ""
		}
		return "https://fe1.contoso.com:443/ucwa/oauth/v1/applications/104/" + h
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := DecodeBatch([]byte(c.body), testBase)
			if err != nil {
				t.Fatal(err)
			}
			if b.Next != abs(c.next) || b.Resync != abs(c.resync) || b.Resume != abs(c.resume) || b.Continue() != abs(c.cont) {
				t.Errorf("links next=%q resync=%q resume=%q continue=%q", b.Next, b.Resync, b.Resume, b.Continue())
			}
			if len(b.Events) != c.events {
				t.Errorf("%d events, want %d", len(b.Events), c.events)
			}
		})
	}
}

func TestDecodeBatch_event_fields(t *testing.T) {
	body := `{"_links":{"next":{"href":"https://fe1.contoso.com:443/app/events?ack=3"}},"sender":[
	 {"rel":"conversation","href":"/app/conv/1","unknown":1,"events":[
	  {"link":{"rel":"participantMessaging","href":"/app/conv/1/participants/a@x/messaging"},
	   "in":{"rel":"participant","href":"/app/conv/1/participants/a@x","title":"A X"},"type":"added","extra":"ignored"},
	  {"link":{"rel":"localParticipant","href":"/app/conv/1/participants/bot@x"},"type":"added",
	   "_embedded":{"localParticipant":{"rel":"participant","uri":"sip:bot@x"},"other":{"rel":"other"}}}]},
	 {"rel":"communication","href":"/app/communication","events":[
	  {"link":{"rel":"messagingInvitation","href":"/app/inv/1"},"type":"completed","status":"Failure",
	   "reason":{"code":"Gone","subcode":"Declined","message":"no"},
	   "_embedded":{"messagingInvitation":[{"rel":"messagingInvitation","state":"Declined"}]}}]}]}`
	b, err := DecodeBatch([]byte(body), testBase)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 3 {
		t.Fatalf("%d events", len(b.Events))
	}
	e0, e1, e2 := b.Events[0], b.Events[1], b.Events[2]
	if e0.Sender != "conversation" || e0.SenderHref != "https://fe1.contoso.com:443/app/conv/1" ||
		e0.In.Rel != "participant" || e0.In.Title != "A X" || e0.In.Href != "https://fe1.contoso.com:443/app/conv/1/participants/a@x" ||
		e0.Resource != nil || e0.Reason != nil {
		t.Errorf("event 0 = %+v", e0)
	}
	if e1.Resource == nil || e1.Resource.Rel != "participant" || e1.In != (Link{}) {
		t.Errorf("event 1 = %+v", e1)
	}
	if e2.Sender != "communication" || e2.Succeeded() || e2.Reason == nil || e2.Reason.Subcode != "Declined" ||
		e2.Resource.String("state") != "Declined" {
		t.Errorf("event 2 = %+v", e2)
	}
	if (&Event{Status: "Succeeded"}).Succeeded() != true || (&Event{Status: "Success"}).Succeeded() != true {
		t.Error("Succeeded")
	}
}

func TestDecodeBatch_errors_name_sender_and_event(t *testing.T) {
	body := `{"sender":[{"rel":"me","events":[]},{"rel":"conversation","events":[{"type":"added"},{"link":7}]}]}`
	_, err := DecodeBatch([]byte(body), testBase)
	if err == nil || !strings.Contains(err.Error(), "sender[1] (conversation).events[1]") {
		t.Fatalf("err = %v", err)
	}
	if _, err := DecodeBatch([]byte(`{"sender":5}`), testBase); err == nil {
		t.Fatal("scalar sender accepted")
	}
	if _, err := DecodeBatch([]byte(`{"_links":`), testBase); err == nil || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("truncated body: %v", err)
	}
}

func TestDecodeResource_empty_arrays_for_empty_objects(t *testing.T) {
	r, err := DecodeResource([]byte(`{"rel":"x","_links":[ ],"_embedded":[]}`), testBase)
	if err != nil || len(r.Links) != 0 || len(r.Embedded) != 0 {
		t.Fatalf("%v %+v", err, r)
	}
	if _, err := DecodeResource([]byte(`{"_links":[{"href":"/x"}]}`), testBase); err == nil {
		t.Fatal("a non-empty links array was accepted")
	}
}

func TestDecode_nil_base_keeps_relative_hrefs(t *testing.T) {
	b, err := DecodeBatch([]byte(`{"_links":{"next":{"href":"/e?ack=3"}}}`), nil)
	if err != nil || b.Next != "/e?ack=3" {
		t.Fatalf("%v %q", err, b.Next)
	}
}

func TestParseDate(t *testing.T) {
	cases := []struct {
		in   string
		ms   int64
		fail bool
	}{
		{"/Date(1383784870271)/", 1383784870271, false},
		{`\/Date(1383784870271)\/`, 1383784870271, false},
		{"/Date(1383784870271+0000)/", 1383784870271, false},
		{"/Date(1383784870271-0500)/", 1383784870271, false},
		{"/Date(-1000)/", -1000, false},
		{"/Date()/", 0, true},
		{"/Date(12ab)/", 0, true},
		{"/Date(1+05)/", 0, true},
		{"2013-11-07T00:41:10Z", 0, true},
		{"", 0, true},
	}
	for _, c := range cases {
		got, err := ParseDate(c.in)
		if c.fail {
			if err == nil {
				t.Errorf("ParseDate(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got.UnixMilli() != c.ms || got.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = %v, %v", c.in, got, err)
		}
	}
	tm := time.UnixMilli(1383784870271)
	if back, err := ParseDate(FormatDate(tm)); err != nil || !back.Equal(tm) {
		t.Errorf("FormatDate round trip: %v %v", back, err)
	}
}
