package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ucwabot/ucwabot/ucwa/ucwasim"
)

// scene scripts the people through the simulator and waits, after each
// step, until the bot has handled what the step caused.
type scene struct {
	sim   *ucwasim.Server
	tr    *transcript
	quiet time.Duration
	// pending returns the events the engine has read and not handled.
	pending func() int
	conv    *ucwasim.Conversation // the conversation people act in
}

// play is the scripted scene: Alice asks for help, Bob joins, both write,
// Bob leaves, Alice hangs up.
func (s *scene) play(ctx context.Context) error {
	steps := []string{
		"invite alice Hi, my VPN is down since this morning",
		"join bob",
		"say bob Same here, I cannot reach the intranet",
		"say alice What is the status of the VPN?",
		"say alice supervisor, please",
		"await has not joined yet",
		"leave bob",
		"say alice thanks!",
		"hangup alice",
	}
	for _, step := range steps {
		if err := s.do(ctx, step); err != nil {
			return err
		}
	}
	s.tr.mu.Lock()
	errs := s.tr.errs
	s.tr.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("the scene had %d handler errors: %w", len(errs), errors.Join(errs...))
	}
	fmt.Fprintln(s.tr.out, "\nThe scene is over.")
	return nil
}

const help = `Act as one of the people: alice, bob, carol or dave.
  invite WHO TEXT   WHO starts a conversation with the bot
  join WHO          WHO joins the current conversation
  say WHO TEXT      WHO writes in the current conversation
  leave WHO         WHO leaves the current conversation
  hangup WHO        WHO ends the current conversation
  help | quit`

// interact reads commands from in until it ends, "quit", or ctx is done.
func (s *scene) interact(ctx context.Context, in io.Reader) error {
	fmt.Fprintf(s.tr.out, "\n%s\n", help)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		fmt.Fprint(s.tr.out, "> ")
		select {
		case <-ctx.Done():
			fmt.Fprintln(s.tr.out)
			return nil
		case line, ok := <-lines:
			if !ok {
				fmt.Fprintln(s.tr.out)
				return nil
			}
			line = strings.TrimSpace(line)
			switch line {
			case "":
				continue
			case "quit", "exit":
				return nil
			case "help", "?":
				fmt.Fprintln(s.tr.out, help)
				continue
			}
			if err := s.do(ctx, line); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				fmt.Fprintf(s.tr.out, "  %v\n", err)
			}
		}
	}
}

// do runs one command and waits for the bot to settle.
func (s *scene) do(ctx context.Context, line string) error {
	verb, rest, _ := strings.Cut(line, " ")
	if verb == "await" {
		return s.await(ctx, rest)
	}
	who, text, _ := strings.Cut(strings.TrimSpace(rest), " ")
	uri, name, ok := person(who)
	if !ok {
		return fmt.Errorf("unknown person %q (alice, bob, carol or dave); type help", who)
	}
	if verb != "invite" && s.conv == nil {
		return errors.New("no conversation yet: start one with invite WHO TEXT or say WHO TEXT")
	}
	ended := s.conv != nil && s.conv.State() == "Disconnected"
	if verb == "say" && ended {
		// The scene ends its conversation; whoever writes next starts a
		// new one with the bot, as in a real client.
		verb = "restart"
	} else if ended && verb != "invite" {
		return errors.New("the conversation has ended: start a new one with invite WHO TEXT or say WHO TEXT")
	}
	before, _, _ := s.tr.progress()
	var err error
	switch verb {
	case "restart":
		s.tr.said("%s starts a new conversation: %s", name, text)
		s.conv, err = s.sim.Invite(uri, botURI, text)
	case "invite":
		s.tr.said("%s invites the bot: %s", name, text)
		s.conv, err = s.sim.Invite(uri, botURI, text)
	case "join":
		s.tr.said("%s joins the conversation", name)
		err = s.conv.Join(uri)
	case "say":
		s.tr.said("%s: %s", name, text)
		err = s.conv.Say(uri, text)
	case "leave":
		s.tr.said("%s leaves the conversation", name)
		err = s.conv.Leave(uri)
	case "hangup":
		s.tr.said("%s ends the conversation", name)
		err = s.conv.HangUp(uri)
	default:
		return fmt.Errorf("unknown command %q; type help", verb)
	}
	if err != nil {
		return err
	}
	return s.settle(ctx, before)
}

// await waits until the bot said something containing text (what a timer
// makes it say), then for the bot to settle.
func (s *scene) await(ctx context.Context, text string) error {
	before, _, _ := s.tr.progress()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, m := range s.sim.Sent(botURI) {
			if strings.Contains(m.Text, text) {
				return s.settle(ctx, before)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the bot did not say %q within 15s", text)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// settle waits until the bot handled at least one event after before, has
// acknowledged every event the simulator emitted (so the events that the
// bot's own answers cause, such as the participants of an accepted
// invitation, are in), has no event read and unhandled, has seen the echo
// of every message it sent, and then handled none for the quiet period.
func (s *scene) settle(ctx context.Context, before int) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, last, unechoed := s.tr.progress()
		if n > before && unechoed <= 0 && s.sim.Unacknowledged(botURI) == 0 && s.pending() == 0 && time.Since(last) >= s.quiet {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the bot handled no event within 15s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func person(who string) (uri, name string, ok bool) {
	for _, p := range people {
		if strings.EqualFold(strings.TrimPrefix(strings.SplitN(p.uri, "@", 2)[0], "sip:"), who) {
			return p.uri, p.name, true
		}
	}
	return "", "", false
}
