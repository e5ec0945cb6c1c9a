package api

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"

	"github.com/bias-iot/bias/internal/version"
)

// servedOpenAPI is the OpenAPI document as GET /v1/openapi.yaml serves
// it: info.version is this build's version (GET /v1/version's).
var servedOpenAPI = sync.OnceValue(func() []byte { return stampOpenAPI(openAPI, version.Get().Version) })

// stampOpenAPI returns doc with the value of info.version (the first
// "  version:" line after "info:") replaced by v, quoted; doc itself if it
// has no such line.
func stampOpenAPI(doc []byte, v string) []byte {
	i := bytes.Index(doc, []byte("\ninfo:\n"))
	if i < 0 {
		return doc
	}
	key := []byte("\n  version: ")
	j := bytes.Index(doc[i:], key)
	if j < 0 {
		return doc
	}
	start := i + j + len(key)
	end := bytes.IndexByte(doc[start:], '\n')
	if end < 0 {
		end = len(doc) - start
	}
	out := make([]byte, 0, len(doc)+len(v))
	out = append(out, doc[:start]...)
	out = strconv.AppendQuoteToASCII(out, v)
	return append(out, doc[start+end:]...)
}

// openAPIDocument serves the stamped OpenAPI document.
func (s *Server) openAPIDocument(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, err := w.Write(servedOpenAPI())
	return err
}
