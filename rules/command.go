package rules

import (
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ucwabot/ucwabot/bot/event"
)

// Commands and help. A rule with `command: deploy` fires for a
// message.received whose first word is deploy (any letter case, a leading
// "/" or "!" allowed), and its `when`, if any, must hold too. `help:` says
// what the command does. A person who writes the help word (`help`, or
// the files' `help: {command: WORD}`) gets the list of the commands they
// may use, written from the rules: a rule with `restrict_to:` (SIP URIs
// and domains) fires only for those people, and its command is listed only
// to them. The help word is answered only when some rule declares a
// command and none claims the word itself.

// DefaultHelpCommand is the help word unless the files set another.
const DefaultHelpCommand = "help"

// DefaultHelpIntro is the first line of the help answer.
const DefaultHelpIntro = "Here is what you can ask me:"

var commandWord = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// firstWord returns the command word a message starts with, lower case,
// and the rest of the text.
func firstWord(text string) (word, rest string) {
	text = strings.TrimSpace(text)
	text = strings.TrimLeft(text, "/!")
	word, rest, _ = strings.Cut(text, " ")
	if i := strings.IndexAny(word, "\t\n"); i >= 0 {
		word, rest = word[:i], word[i+1:]+" "+rest
	}
	// "urgent: the VPN is down" starts with the command urgent.
	word = strings.TrimRight(word, ":,.;!?")
	return strings.ToLower(word), strings.TrimSpace(rest)
}

// admits reports whether the rule's restrict_to lets uri use it.
func (r *Rule) admits(uri string) bool {
	if len(r.RestrictTo) == 0 {
		return true
	}
	u := strings.ToLower(strings.TrimPrefix(strings.ToLower(uri), "sip:"))
	if u == "" {
		return false
	}
	_, domain, _ := strings.Cut(u, "@")
	for _, who := range r.RestrictTo {
		w := strings.ToLower(strings.TrimPrefix(strings.ToLower(who), "sip:"))
		if strings.Contains(w, "@") {
			if w == u {
				return true
			}
		} else if domain == w || strings.HasSuffix(domain, "."+w) {
			return true
		}
	}
	return false
}

// fits reports whether a command rule is for ev: the first word is its
// command and the sender may use it.
func (r *Rule) fits(ev *event.Event) bool {
	if r.Schedule != nil {
		return ev.Kind == event.ScheduleFired && ev.Timer.Name == r.Name
	}
	if !r.admits(ev.Participant.URI) {
		return false
	}
	if r.Command == "" {
		return true
	}
	w, _ := firstWord(ev.Message.Text)
	return w == r.Command
}

// helpFor returns the help answer for ev when ev asks for help, else "".
func (s *Set) helpFor(ev *event.Event) string {
	if ev.Kind != event.MessageReceived || s.helpWord == "" || !s.hasCommands {
		return ""
	}
	// Only the help word alone: "help, the VPN is down" goes to the rules.
	if w, rest := firstWord(ev.Message.Text); w != s.helpWord || rest != "" {
		return ""
	}
	var lines []string
	seen := map[string]bool{}
	for _, r := range s.all {
		if r.Command == "" || !r.Enabled || !r.admits(ev.Participant.URI) || seen[r.Command] {
			continue
		}
		seen[r.Command] = true
		line := r.Command
		if r.Help != "" {
			line += " — " + r.Help
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "There is no command you can use here."
	}
	return s.helpIntro + "\n" + strings.Join(lines, "\n") + "\n" + s.helpWord + " — this list"
}

// help reads the files' `help:` mapping: command (the help word, "" to
// turn help off) and intro.
func (l *loader) help(file string, v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		l.errorf(at(file, v), "", "help", "want a mapping with command and intro")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "command":
			if val.Kind != yaml.ScalarNode || val.Value != "" && !commandWord.MatchString(val.Value) {
				l.errorf(at(file, val), "", "help.command", "want one word such as help, or \"\" to turn help off")
				continue
			}
			w := strings.ToLower(val.Value)
			l.helpWord = &w
		case "intro":
			if val.Kind != yaml.ScalarNode {
				l.errorf(at(file, val), "", "help.intro", "want a line of text")
				continue
			}
			l.helpIntro = val.Value
		default:
			l.errorf(at(file, k), "", "help", "unknown key %q (known: command, intro)", k.Value)
		}
	}
}

// command reads a rule's `command:`.
func (l *loader) command(file string, r *Rule, v *yaml.Node) {
	if v.Kind != yaml.ScalarNode || !commandWord.MatchString(strings.TrimLeft(v.Value, "/!")) {
		l.errorf(at(file, v), r.Name, "command", "want one word such as deploy (letters, digits, _ . -), got %q", v.Value)
		return
	}
	r.Command = strings.ToLower(strings.TrimLeft(v.Value, "/!"))
}

// restrictTo reads a rule's `restrict_to:`: SIP URIs and domains.
func (l *loader) restrictTo(file string, r *Rule, v *yaml.Node) {
	for _, s := range l.strings(file, r.Name, "restrict_to", v) {
		w := strings.TrimPrefix(strings.ToLower(s.value), "sip:")
		user, domain, isURI := strings.Cut(w, "@")
		if isURI && user == "" || !strings.Contains(domain+w, ".") && !isURI || strings.ContainsAny(w, " /:,;") {
			l.errorf(s.pos, r.Name, "restrict_to", "%q is neither a SIP URI (sip:alice@contoso.com) nor a domain (contoso.com)", s.value)
			continue
		}
		r.RestrictTo = append(r.RestrictTo, s.value)
	}
}

// checkCommand checks what a command rule needs once it is read.
func (l *loader) checkCommand(file string, n *yaml.Node, r *Rule, haveOn bool) bool {
	if r.Command == "" {
		return haveOn
	}
	if !haveOn {
		r.On = []event.Kind{event.MessageReceived}
		return true
	}
	if len(r.On) != 1 || r.On[0] != event.MessageReceived {
		l.errorf(at(file, n), r.Name, "on", "a rule with a command is for message.received only (leave on out)")
	}
	return true
}
