package bot

// testCrash makes the engine's shutdown skip its goodbye, so that a
// cancelled Run leaves the application, the session and the lease as a
// crashed process would.
func (e *Engine) testCrash() { e.abandon.Store(true) }
