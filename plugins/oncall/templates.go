package oncall

// Templates returns the router's templates and the data they are rendered
// over (handlers.TemplateData and .Engineer), so that a rules loader can
// check the fields they name at load time.
func (h *Handler) Templates() ([]string, any) {
	return []string{h.message.String(), h.already.String()}, templateData{}
}
