// Package routing owns the map from what a caller names (a tenant's alias or its GUID) to the
// customer tenant and the regional Defender for Endpoint endpoint its calls go to.
//
// A Table is built once from plain options and is read-only afterwards, so lookups on the hot
// path take no lock and allocate nothing.
package routing
