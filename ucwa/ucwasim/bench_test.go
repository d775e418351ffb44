package ucwasim

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
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

// BenchmarkSimulator_message measures the cost of one message with 1,000 and with 100,000
// connected conversations: a person says something in one of them (spread over all) and the
// bot's P-GET, over loopback HTTP, gets it. The server runs on real time, janitor included,
// so whatever the server does per conversation in the background shows in the figures.
// cpu-ns/op is the CPU time of the whole process (server, janitor and client) per message.
func BenchmarkSimulator_message(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("convs=%d", n), func(b *testing.B) {
			s, err := New(Options{AppIdleTimeout: 1 << 40, InviteWait: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			_ = s.AddUser("sip:bot@contoso.com", "pw", "")
			_ = s.AddUser("sip:alice@contoso.com", "pw", "")
			bot := available(b, s, "sip:bot@contoso.com")
			bot.poll()
			convs := openConversations(b, s, n)
			bot.poll() // the events left by the setup
			// keep the bot reporting activity so that Away does not add events
			me := href(embedded(bot.app, "me"), "reportMyActivity")
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				c := convs[(i*7919)%n]
				if err := c.Say("sip:alice@contoso.com", "ping"); err != nil {
					b.Fatal(err)
				}
				if evs := flatten(bot.poll()); len(evs) != 1 {
					b.Fatalf("events = %v", evs)
				}
				if i%10000 == 9999 {
					bot.json("POST", me, "", "", 204)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// openConversations makes n incoming conversations that the bot accepted, and throws away
// the events they queue (the setup is not what the benchmark measures).
func openConversations(b *testing.B, s *Server, n int) []*Conversation {
	b.Helper()
	out := make([]*Conversation, 0, n)
	for i := 0; i < n; i++ {
		c, err := s.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "")
		if err != nil {
			b.Fatal(err)
		}
		s.mu.Lock()
		c.acceptLocked()
		if i%1000 == 999 || i == n-1 {
			c.app.events.pending = nil
		}
		s.mu.Unlock()
		out = append(out, c)
	}
	return out
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
