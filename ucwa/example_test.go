package ucwa_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ucwabot/ucwabot/ucwa"
	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// Example signs a bot in to the simulator, makes it available, accepts an incoming chat and
// answers the first message.
func Example() {
	sim, _ := ucwasim.New(ucwasim.Options{})
	defer sim.Close()
	_ = sim.AddUser("sip:bot@contoso.com", "pw", "Bot")
	_ = sim.AddUser("sip:alice@contoso.com", "pw", "Alice")

	ctx := context.Background()
	c, _ := ucwa.New(ucwa.Config{DiscoveryURL: sim.DiscoveryURL(), InsecureHTTP: true, Address: "sip:bot@contoso.com", Password: "pw", EndpointID: "example"})
	if err := c.SignIn(ctx); err != nil {
		fmt.Println(err)
		return
	}
	app, _ := c.CreateApplication(ctx)
	_ = c.MakeMeAvailable(ctx, app, ucwa.AvailabilityOptions{})

	conv, _ := sim.Invite("sip:alice@contoso.com", "sip:bot@contoso.com", "hello")
	href := app.EventsURL
	var sendHref string
	for done := false; !done; {
		b, err := c.Poll(ctx, href, time.Second)
		if err != nil {
			fmt.Println(err)
			return
		}
		href = b.Continue()
		for _, e := range b.Events {
			switch {
			case e.Link.Rel == "messagingInvitation" && e.Type == "started":
				_ = c.Accept(ctx, e.Resource.Links.Href("accept"))
			case e.Link.Rel == "messaging" && e.Resource != nil && e.Resource.String("state") == "Connected":
				sendHref = e.Resource.Links.Href("sendMessage")
			case e.Link.Rel == "message" && e.Resource != nil && e.Resource.String("direction") == "Incoming":
				_, text, _ := ucwa.DecodeDataURI(e.Resource.Links.Href("plainMessage"))
				fmt.Println("alice:", text)
				_, _ = c.SendMessage(ctx, sendHref, "text/plain", "hi Alice", "op-1")
				done = true
			}
		}
	}
	msgs, _ := sim.WaitTranscript(ctx, conv, 2)
	fmt.Println("bot:", msgs[1].Text)
	_ = c.DeleteApplication(ctx, app)
	// Output:
	// alice: hello
	// bot: hi Alice
}
