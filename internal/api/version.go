package api

import (
	"net/http"

	"github.com/bias-iot/bias/internal/version"
)

// version serves the node's build: module version, commit, Go and
// CometBFT versions (GET /v1/version).
func (s *Server) version(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, version.Get())
	return nil
}
