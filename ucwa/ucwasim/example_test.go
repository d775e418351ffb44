package ucwasim_test

import (
	"fmt"
	"strings"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// A test starts a simulator, adds the bot and the people it talks to, and hands the
// discovery URL to the client under test.
func Example() {
	sim, err := ucwasim.New(ucwasim.Options{TimeScale: 60, InviteWait: -1})
	if err != nil {
		panic(err)
	}
	defer sim.Close()
	_ = sim.AddUser("sip:bot@contoso.com", "secret", "Help Bot")
	_ = sim.AddUser("sip:alice@contoso.com", "pw", "Alice")

	fmt.Println(strings.HasPrefix(sim.DiscoveryURL(), sim.URL()+"/Autodiscover/"))
	// The bot has not signed in yet, so nobody can invite it.
	_, err = sim.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "hi")
	fmt.Println(err)
	// Output:
	// true
	// ucwasim: invite sip:bot@contoso.com: ucwasim: user has no available application
}
