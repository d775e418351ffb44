//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package botcli

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether r is a terminal. Other character devices,
// such as /dev/null, are not.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), ioctlReadTermios)
	return err == nil
}
