package bot

import (
	"hash/fnv"
	"testing"
)

func TestConvLinks_pack_and_unpack_give_back_every_link(t *testing.T) {
	const self = "https://pool.contoso.com/ucwa/oauth/v1/applications/101/communication/conversations/7f3"
	want := convLinks{
		Self:           self,
		Messaging:      self + "/messaging",
		SendMessage:    self + "/messaging/sendMessage",
		SetIsTyping:    self + "/messaging/typing",
		StopMessaging:  "",
		AddParticipant: "https://other.contoso.com/ucwa/add", // not under self: kept whole
		Accept:         self + "/accept",
		Decline:        self, // self itself is not shortened
		Subject:        "VPN",
	}
	l := want
	l.pack()
	if l.SendMessage == want.SendMessage || l.SendMessage[0] != 0 {
		t.Fatalf("packed sendMessage = %q, want a marked suffix", l.SendMessage)
	}
	if l.AddParticipant != want.AddParticipant || l.Decline != want.Decline || l.StopMessaging != "" {
		t.Fatalf("packed links that are not under self: %+v", l)
	}
	l.unpack()
	if l.Messaging != want.Messaging || l.SendMessage != want.SendMessage || l.SetIsTyping != want.SetIsTyping ||
		l.StopMessaging != want.StopMessaging || l.AddParticipant != want.AddParticipant || l.Accept != want.Accept ||
		l.Decline != want.Decline || l.Subject != want.Subject {
		t.Fatalf("unpacked = %+v\nwant       %+v", l, want)
	}
	again := l
	again.unpack() // nothing marked: unchanged
	if again.SendMessage != want.SendMessage {
		t.Fatalf("unpack of whole links changed them: %+v", again)
	}
}

func TestConvLinks_sum_is_FNV_1a_of_every_field(t *testing.T) {
	l := convLinks{Self: "https://x/c/1", Messaging: "https://x/c/1/messaging", SendMessage: "https://x/c/1/messaging/send",
		Subject: "VPN ☎", Direction: "Incoming", Formats: []string{"Plain", "Html"}}
	h := fnv.New64a()
	for _, f := range []string{l.Self, l.Messaging, l.SendMessage, l.SetIsTyping, l.StopMessaging,
		l.AddParticipant, l.Accept, l.Decline, l.Subject, l.ThreadID, l.Direction} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	for _, f := range l.Formats {
		h.Write([]byte(f))
		h.Write([]byte{1})
	}
	if got, want := l.sum(), h.Sum64(); got != want {
		t.Fatalf("sum = %x, hash/fnv says %x", got, want)
	}
	o := l
	o.Formats = []string{"Plain"}
	if o.sum() == l.sum() {
		t.Fatal("a change of formats leaves the sum as it was")
	}
}

func TestLinkCache_meta_tells_a_change_of_links_by_its_sum(t *testing.T) {
	c := newLinkCache()
	if _, ok := c.meta("https://x/c/1"); ok {
		t.Fatal("meta of an unknown conversation")
	}
	l := c.update("https://x/c/1", func(l *convLinks) {
		l.Messaging, l.SendMessage, l.Subject, l.Direction = "https://x/c/1/m", "https://x/c/1/m/send", "VPN", "Incoming"
	})
	m, ok := c.meta("https://x/c/1")
	if !ok || m.Sum != l.sum() || m.Subject != "VPN" || m.Direction != "Incoming" {
		t.Fatalf("meta = %+v, %v; want the links' subject, direction and sum %x", m, ok, l.sum())
	}
	c.update("https://x/c/1", func(l *convLinks) { l.SendMessage = "https://x/c/1/m/send2" })
	if m2, _ := c.meta("https://x/c/1"); m2.Sum == m.Sum {
		t.Fatal("the sum did not change with the send link")
	}
}
