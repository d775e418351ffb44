package handlers_test

import (
	"context"
	"fmt"

	"github.com/ucwabot/ucwabot/bot/event"
	"github.com/ucwabot/ucwabot/handlers"
	"github.com/ucwabot/ucwabot/handlers/handlerstest"
)

// The reply template sees the event; the user's text is data, so a
// message that looks like a template is sent back as written.
func ExampleNewReply() {
	h, err := handlers.NewReply(handlers.ReplyConfig{Text: "Hi {{.Participant.Name}}, you wrote: {{.Message.Text}}"})
	if err != nil {
		panic(err)
	}
	rec := handlerstest.NewRecorder()
	req := &handlers.Request{
		Event: handlerstest.Message("sip:alice@contoso.com", "{{.Account}}"),
		State: event.NewState(nil),
		Reply: rec,
	}
	if err := h.Handle(context.Background(), req); err != nil {
		panic(err)
	}
	fmt.Println(rec.Said()[0])
	// Output: Hi Alice, you wrote: {{.Account}}
}
