package server

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPIOperation is the part of an OpenAPI operation that the test
// checks.
type openAPIOperation struct {
	Description string         `yaml:"description"`
	Security    *[]any         `yaml:"security"`
	Responses   map[string]any `yaml:"responses"`
}

func readOpenAPI(t *testing.T) (paths map[string]map[string]openAPIOperation, raw string) {
	t.Helper()
	data, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                 `yaml:"openapi"`
		Paths   map[string]map[string]openAPIOperation `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("docs/openapi.yaml declares openapi %q, want 3.x", doc.OpenAPI)
	}
	return doc.Paths, string(data)
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	paths, _ := readOpenAPI(t)
	s := newTestServer(t, nil)

	registered := map[string]route{"GET /metrics": {method: http.MethodGet, path: "/metrics"}}
	for _, rt := range s.apiRoutes() {
		registered[rt.method+" "+rt.path] = rt
	}
	documented := map[string]openAPIOperation{}
	for path, ops := range paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = op
		}
	}

	for name, rt := range registered {
		op, ok := documented[name]
		if !ok {
			t.Errorf("route %s is not in docs/openapi.yaml", name)
			continue
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != (len(rt.roles) == 0) {
			t.Errorf("%s: documented without API key = %v, want %v", name, public, len(rt.roles) == 0)
		}
		for _, role := range rt.roles {
			if !strings.Contains(op.Description, "role "+string(role)) && !strings.Contains(op.Description, "or "+string(role)) {
				t.Errorf("%s: the description does not name role %s", name, role)
			}
		}
		if len(rt.roles) > 0 {
			for _, status := range []string{"401", "403", "429", "500"} {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s: response %s is not documented", name, status)
				}
			}
		}
	}
	for name := range documented {
		if _, ok := registered[name]; !ok {
			t.Errorf("docs/openapi.yaml documents %s, which the server does not register", name)
		}
	}
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	_, raw := readOpenAPI(t)
	var doc struct {
		Components map[string]map[string]any `yaml:"components"`
	}
	if err := yaml.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$ref: "#/components/(\w+)/(\w+)"`).FindAllStringSubmatch(raw, -1) {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("docs/openapi.yaml refers to %s/%s, which components does not define", m[1], m[2])
		}
	}
	codes := []Code{CodeBadRequest, CodePositionPastEnd, CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeTooLarge, CodeRateLimited, CodeUnavailable, CodeInternal}
	for _, c := range codes {
		if !strings.Contains(raw, string(c)) {
			t.Errorf("docs/openapi.yaml does not name error code %s", c)
		}
	}
}
