package main

// The built-in plugins. A binary with plugins of its own is this command
// with one more blank import here.
import (
	_ "github.com/ucwabot/ucwabot/plugins/standard"
)
