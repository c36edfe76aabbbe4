package main

import (
	"time"

	"github.com/mdegate/mdegate/internal/metrics"
)

// regionStatus feeds the region metrics (round trip, health) from the current generation's
// routing table.
func (gw *gateway) regionStatus() []metrics.RegionStatus {
	g := gw.cur.Load()
	if g == nil {
		return nil
	}
	eps := g.routes.Endpoints()
	now := time.Now()
	out := make([]metrics.RegionStatus, len(eps))
	for i, ep := range eps {
		rtt, ok := ep.RTT()
		out[i] = metrics.RegionStatus{Region: ep.Region, RTT: rtt, Probed: ep.Probed(), Reachable: ok, Down: ep.Down(now)}
	}
	return out
}
