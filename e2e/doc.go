// Package e2e holds whole-system tests: the real robotgate binary in front
// of real registries (the embedded CNCF registry, go-containerregistry's
// registry, an external registry process), driven by real clients.
package e2e
