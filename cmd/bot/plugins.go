package main

// The plugins linked into this binary: the built-in handlers, faq and
// oncall. A binary with plugins of its own is this command with one more
// blank import here (see examples/custombot).
import (
	_ "github.com/ucwabot/ucwabot/plugins/standard"
)
