package emulator

import (
	"bufio"
	"net/http"
	"time"
)

// SetStreamPause makes every software-inventory stream (GET
// /api/machines/SoftwareInventoryByMachine) send its status, headers and first record, then
// pause d before the rest, as a slow export does: a test can hold an answer that has started
// but not finished. Zero, the default, means no pause.
func (e *Emulator) SetStreamPause(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pauseStream = d
}

// streamPause flushes what bw holds and waits SetStreamPause's delay; false means the client
// or the region went away meanwhile.
func (e *Emulator) streamPause(c *call, bw *bufio.Writer) bool {
	e.mu.Lock()
	d := e.pauseStream
	e.mu.Unlock()
	if d <= 0 {
		return true
	}
	if bw.Flush() != nil {
		return false
	}
	_ = http.NewResponseController(c.w).Flush() // every writer here can flush
	return e.sleep(c.r.Context(), d, nil)
}
