package ucwasim

import (
	"testing"
)

// BenchmarkSay_to_PGET measures one scripted message reaching the bot through a P-GET.
func BenchmarkSay_to_PGET(b *testing.B) {
	s, err := New(Options{AppIdleTimeout: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	_ = s.AddUser("sip:bot@contoso.com", "pw", "")
	_ = s.AddUser("sip:alice@contoso.com", "pw", "")
	bot, conv, _ := connected(b, s)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := conv.Say("sip:alice@contoso.com", "ping"); err != nil {
			b.Fatal(err)
		}
		if evs := flatten(bot.poll()); len(evs) != 1 {
			b.Fatalf("events = %v", evs)
		}
	}
}
