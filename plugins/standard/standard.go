// Package standard links every plugin of this repository into a binary:
// the built-in handlers, faq and oncall. cmd/bot imports it; a bot with
// plugins of its own is cmd/bot's main plus one blank import of them.
package standard

import (
	// The built-in handlers: reply, set, unset, accept, decline, forward,
	// webhook, log, leave.
	_ "github.com/ucwabot/ucwabot/plugins/builtin"
	// The FAQ answerer.
	_ "github.com/ucwabot/ucwabot/plugins/faq"
	// The on-call router.
	_ "github.com/ucwabot/ucwabot/plugins/oncall"
)
