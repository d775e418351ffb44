package faq

// DependsOn returns the FAQ file, so that the rules' version covers its
// content and a reload after it changed replaces the running rules
// (rules.Dependent).
func (h *Handler) DependsOn() (files, env []string) { return []string{h.cfg.File}, nil }
