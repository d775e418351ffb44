//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package botcli

import "os"

// isTerminal reports whether r is a character device, such as a terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
