package bot

import "testing"

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
