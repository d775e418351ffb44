// Package rules loads the YAML rules that route a bot's events to handler
// plugins, and evaluates them.
//
// A rules file lists rules; each names the event kinds it is for (on), an
// optional condition (when, an expr expression over a typed environment),
// the handler calls to make (do), and whether later rules still run
// (stop). docs/rules.md is the reference of the format.
//
// Loading is all or nothing: Load reads every file, compiles every
// expression once, builds every handler through Options.Build, and either
// returns a ready *Set or an error listing every problem with its
// file:line:column. A Reloader keeps the last good Set running when a
// reload fails.
//
// A Set is immutable and safe for concurrent use. Its rules are indexed by
// event kind, so an event costs only the rules written for its kind.
package rules
