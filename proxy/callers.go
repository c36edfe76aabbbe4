package proxy

// CallerLoad is one configured caller's load, for the status page.
type CallerLoad struct {
	// Name is the caller's configured name (never its key).
	Name string
	// InFlight is the number of its requests being served by this Handler now.
	InFlight int
	// Refusals counts its requests this Handler refused as not allowed (operation or tenant)
	// or over its in-flight cap. A reload builds a new Handler, which counts from zero.
	Refusals uint64
}

// Callers appends the load of every configured caller, in configuration order, to dst and
// returns it. It reads atomic counters only and allocates nothing when dst has room. A
// Handler without Clients (anonymous) has none.
func (h *Handler) Callers(dst []CallerLoad) []CallerLoad {
	if h.auth == nil {
		return dst
	}
	for _, c := range h.auth.list {
		dst = append(dst, CallerLoad{Name: c.name, InFlight: int(c.inFlight.Load()), Refusals: c.refusals.Load()})
	}
	return dst
}
