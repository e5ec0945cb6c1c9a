package api

import (
	"reflect"
	"slices"
	"testing"

	"github.com/bias-iot/bias/sdk"
)

// TestOpenAPIX509Schemas: the X.509 views match their OpenAPI schemas (a
// test of its own, beside TestOpenAPIViewSchemas).
func TestOpenAPIX509Schemas(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, v := range map[string]any{"X509Certificate": sdk.X509Certificate{}} {
		names, required := jsonFields(reflect.TypeOf(v))
		props, req := schemaFields(t, doc, name)
		if !slices.Equal(names, props) {
			t.Errorf("schema %s has properties %v; the Go view has %v", name, props, names)
		}
		if !slices.Equal(required, req) {
			t.Errorf("schema %s requires %v; the Go view always sends %v", name, req, required)
		}
	}
}
