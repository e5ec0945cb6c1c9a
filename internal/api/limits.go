package api

import (
	"net/http"
	"strconv"

	"github.com/bias-iot/bias/sdk"
)

// HeaderLimit is the most a request's header (request line and fields)
// may take: larger ones are refused with 431 and the reason
// headers-too-large, in the API's error format.
const HeaderLimit = 16 << 10

// ServerHeaderLimit is the http.Server's MaxHeaderBytes for the API: more
// than HeaderLimit, so that the API, not the server, refuses a header a
// little over it, in the API's error format. The server itself answers
// a header beyond this (plus the 4 KiB Go's server allows on top) with its
// own 431, in plain text, and closes the connection.
const ServerHeaderLimit = 64 << 10

// LimitHeaders refuses, with 431 in the API's error format, a request
// whose header takes more than limit bytes, as a request would carry it:
// the request line, then each field as "Name: value\r\n" (Host among
// them), then the blank line.
func LimitHeaders(h http.Handler, limit int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := headerSize(r); n > limit {
			w.Header().Set("Connection", "close")
			writeJSON(w, http.StatusRequestHeaderFieldsTooLarge, sdk.ErrorBody{
				Reason:  string(ReasonHeadersTooLarge),
				Message: "the request's header takes " + strconv.Itoa(n) + " bytes; at most " + strconv.Itoa(limit) + " are accepted",
			})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// headerSize is the size of r's header on the wire (HTTP/1.1 framing).
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 // request line
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}
