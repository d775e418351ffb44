package botcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/ucwabot/ucwabot/internal/spelling"
)

// Stdio is a command's standard streams.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one sub-command: its flags are parsed by its own FlagSet.
type command struct {
	name    string // "rules check"
	args    string // "PATH..." for the usage line
	summary string
	// flags declares the command's flags; nil for none.
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, stdio Stdio, fs *flag.FlagSet) error
}

// usageError is a wrong invocation: printed with the usage, exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// commands returns every sub-command, sorted by name.
func commands() []*command {
	list := []*command{
		runCommand(),
		demoCommand(),
		rulesCheckCommand(),
		rulesTestCommand(),
		decodeCommand(),
		versionCommand(),
		simCommand(),
		configCheckCommand(),
		benchCommand(),
		chaosCommand(),
		sayCommand(),
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	return list
}

// Run runs the sub-command named by the process's arguments, with the
// process's standard streams, until it ends or SIGINT or SIGTERM asks it
// to stop, and exits with its code.
func Run() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

// Main runs the sub-command named by args and returns the process's exit
// code. Errors go to stdio.Err as one line each.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	if len(args) == 0 {
		printUsage(stdio.Err)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return Main(ctx, append(args[1:], "--help"), stdio)
		}
		printUsage(stdio.Out)
		return exitOK
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	}
	cmd, rest := find(args)
	if cmd == nil {
		return unknownCommand(args, stdio)
	}
	fs := flag.NewFlagSet("bot "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	usage := func() {
		fmt.Fprintf(fs.Output(), "Usage: bot %s", cmd.name)
		if hasFlags(fs) {
			fmt.Fprint(fs.Output(), " [flags]")
		}
		if cmd.args != "" {
			fmt.Fprint(fs.Output(), " "+cmd.args)
		}
		fmt.Fprintf(fs.Output(), "\n\n%s\n", cmd.summary)
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	// While parsing, flag prints its own error line but no usage: the
	// usage goes to standard output once when asked for (--help), and to
	// standard error after a wrong flag.
	fs.Usage = func() {}
	if err := parseInterspersed(fs, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdio.Out)
			usage()
			return exitOK
		}
		fmt.Fprintln(fs.Output())
		usage()
		return exitUsage
	}
	fs.Usage = usage
	err := cmd.run(ctx, stdio, fs)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stdio.Err, "bot %s: %s\n", cmd.name, ue.msg)
		fs.Usage()
		return exitUsage
	default:
		fmt.Fprintf(stdio.Err, "bot %s: %s\n", cmd.name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return exitError
	}
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments ("rules test PATH --cases FILE" as "rules test --cases FILE
// PATH"). "--" ends the flags: everything after it is positional. Once it
// returns nil, fs.Args() are the positional arguments in their order.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		// Parse stops at "--" (consuming it) or at the first non-flag.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// Leave the positional arguments as fs.Args().
	return fs.Parse(append([]string{"--"}, pos...))
}

// find matches the longest command name at the start of args.
func find(args []string) (*command, []string) {
	var best *command
	var rest []string
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(words) > len(args) {
			continue
		}
		match := true
		for i, w := range words {
			if args[i] != w {
				match = false
				break
			}
		}
		if match && (best == nil || len(words) > len(strings.Fields(best.name))) {
			best, rest = c, args[len(words):]
		}
	}
	return best, rest
}

// unknownCommand answers args that name no command: the commands of a
// group ("bot rules"), or the closest command to a mistyped one.
func unknownCommand(args []string, stdio Stdio) int {
	group := args[0]
	var sub []*command
	for _, c := range commands() {
		if first, _, ok := strings.Cut(c.name, " "); ok && first == group {
			sub = append(sub, c)
		}
	}
	if len(sub) > 0 && (len(args) == 1 || isHelp(args[1])) {
		w, code := stdio.Err, exitUsage
		if len(args) > 1 {
			w, code = stdio.Out, exitOK
		}
		fmt.Fprintf(w, "Usage: bot %s <command> [flags] [args]\n\nCommands:\n", group)
		for _, c := range sub {
			fmt.Fprintf(w, "  %-12s %s\n", c.name, firstLine(c.summary))
		}
		fmt.Fprintf(w, "\nRun `bot %s <command> --help` for a command's flags.\n", group)
		return code
	}
	typed := args[0]
	var names []string
	if len(sub) > 0 {
		typed = group + " " + args[1]
		for _, c := range sub {
			names = append(names, c.name)
		}
	} else {
		seen := map[string]bool{}
		for _, c := range commands() {
			first, _, _ := strings.Cut(c.name, " ")
			if !seen[first] {
				seen[first] = true
				names = append(names, first)
			}
		}
		names = append(names, "help")
	}
	best, bestDist := "", 3
	for _, n := range names {
		if d := spelling.Distance(typed, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		fmt.Fprintf(stdio.Err, "bot: unknown command %s; did you mean %s?\nRun `bot help` for the commands.\n", typed, best)
		return exitUsage
	}
	fmt.Fprintf(stdio.Err, "bot: unknown command %s\n\n", typed)
	printUsage(stdio.Err)
	return exitUsage
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: bot <command> [flags] [args]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, firstLine(c.summary))
	}
	fmt.Fprintln(w, "\nRun `bot <command> --help` for a command's flags.")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// getenv and environ are the environment of the process.
var (
	getenv  = os.Getenv
	environ = os.Environ
)

// CommandNames lists the sub-commands, sorted ("rules check", "run", ...).
func CommandNames() []string {
	var out []string
	for _, c := range commands() {
		out = append(out, c.name)
	}
	return out
}
