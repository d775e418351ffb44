// Package examples holds the example files of the repository that the bot
// command embeds: the helpdesk rules that `bot demo` runs.
package examples

import _ "embed"

// HelpdeskRules is examples/rules/helpdesk.yaml.
//
//go:embed rules/helpdesk.yaml
var HelpdeskRules []byte
