// Package helm holds the test that renders the Helm chart in deploy/helm/mdegate with Helm's
// Go SDK, checks the objects it makes, and has the gateway's own check-config (built from the
// main module) accept the config it renders. It is its own module (deploy/go.mod), so the main
// module's go.mod never carries Helm and the Kubernetes libraries: CI runs it with
// `go -C deploy test ./...`.
package helm
