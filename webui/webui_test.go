package webui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// assetPath returns the versioned path of an asset as index.html names it.
func assetPath(t *testing.T, index, name string) string {
	t.Helper()
	m := regexp.MustCompile(`"(/assets/[0-9a-f]{16}/` + regexp.QuoteMeta(name) + `)"`).FindStringSubmatch(index)
	if m == nil {
		t.Fatalf("index.html names no versioned path of %s:\n%s", name, index)
	}
	return m[1]
}

func TestHandlerIndex(t *testing.T) {
	h := Handler()
	for _, target := range []string{"/", "/index.html"} {
		rec := get(t, h, http.MethodGet, target, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s status = %d, want 200", target, rec.Code)
		}
		checks := map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Cache-Control":           "no-cache",
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
		}
		for name, want := range checks {
			if got := rec.Header().Get(name); got != want {
				t.Errorf("GET %s %s = %q, want %q", target, name, got, want)
			}
		}
		if body := rec.Body.String(); strings.Contains(body, assetsMarker) {
			t.Errorf("GET %s body still contains %s", target, assetsMarker)
		}
	}
}

func TestHandlerCSPAllowsOnlySelf(t *testing.T) {
	for _, directive := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, directive) {
			t.Errorf("ContentSecurityPolicy lacks %q", directive)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Errorf("ContentSecurityPolicy = %q, want no unsafe-inline or unsafe-eval", ContentSecurityPolicy)
	}
}

func TestHandlerAssets(t *testing.T) {
	h := Handler()
	index := get(t, h, http.MethodGet, "/", nil).Body.String()

	tests := []struct {
		name, contentType string
	}{
		{"js/app.js", "text/javascript; charset=utf-8"},
		{"css/app.css", "text/css; charset=utf-8"},
		{"favicon.svg", "image/svg+xml"},
	}
	for _, tt := range tests {
		path := assetPath(t, index, tt.name)
		rec := get(t, h, http.MethodGet, path, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s status = %d, want 200", path, rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != tt.contentType {
			t.Errorf("GET %s Content-Type = %q, want %q", path, got, tt.contentType)
		}
		if got, want := rec.Header().Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
			t.Errorf("GET %s Cache-Control = %q, want %q", path, got, want)
		}
		if rec.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s has no Content-Security-Policy", path)
		}

		etag := rec.Header().Get("ETag")
		again := get(t, h, http.MethodGet, path, http.Header{"If-None-Match": {etag}})
		if again.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s status = %d, want 304", path, etag, again.Code)
		}
	}

	// The map sits beside the scripts, where map.js fetches it.
	jsPath := assetPath(t, index, "js/app.js")
	worldPath := strings.TrimSuffix(jsPath, "js/app.js") + "world.json"
	if rec := get(t, h, http.MethodGet, worldPath, nil); rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), `{"width":360`) {
		t.Errorf("GET %s status = %d, body %.40q, want the map", worldPath, rec.Code, rec.Body.String())
	}
}

func TestHandlerRejects(t *testing.T) {
	h := Handler()
	index := get(t, h, http.MethodGet, "/", nil).Body.String()
	jsPath := assetPath(t, index, "js/app.js")
	version := strings.Split(jsPath, "/")[2]

	tests := []struct {
		name, method, target string
		want                 int
	}{
		{"post", http.MethodPost, "/", http.StatusMethodNotAllowed},
		{"delete asset", http.MethodDelete, jsPath, http.StatusMethodNotAllowed},
		{"other build", http.MethodGet, "/assets/0000000000000000/js/app.js", http.StatusNotFound},
		{"unversioned", http.MethodGet, "/assets/js/app.js", http.StatusNotFound},
		{"missing file", http.MethodGet, "/assets/" + version + "/js/nothing.js", http.StatusNotFound},
		{"folder", http.MethodGet, "/assets/" + version + "/js", http.StatusNotFound},
		{"index as asset", http.MethodGet, "/assets/" + version + "/index.html", http.StatusNotFound},
		{"parent", http.MethodGet, "/assets/" + version + "/../webui.go", http.StatusNotFound},
		{"other path", http.MethodGet, "/token/abc", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.target, nil)
			if rec.Code != tt.want {
				t.Errorf("%s %s status = %d, want %d", tt.method, tt.target, rec.Code, tt.want)
			}
		})
	}
}

func TestVersionFollowsContent(t *testing.T) {
	files := fstest.MapFS{
		"static/index.html": {Data: []byte(`<script src="{{ASSETS}}/app.js"></script>`)},
		"static/app.js":     {Data: []byte(`one`)},
	}
	first, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	files["static/app.js"] = &fstest.MapFile{Data: []byte(`two`)}
	second, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	if first.version == second.version {
		t.Errorf("version = %s for both contents of app.js, want a new version when a file changes", first.version)
	}

	files["static/index.html"] = &fstest.MapFile{Data: []byte(`<p>no marker</p>`)}
	if _, err := newHandler(files); err == nil {
		t.Error("newHandler accepted an index.html without the assets marker")
	}
}

// TestScriptsInsertNoMarkup guards the rule that data reaches the DOM as
// text only: no script may parse strings as HTML or code.
func TestScriptsInsertNoMarkup(t *testing.T) {
	forbidden := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment|DOMParser`)
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".js") {
			return err
		}
		data, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if forbidden.MatchString(line) {
				t.Errorf("%s:%d parses text as markup or code: %s", name, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEveryAssetHasContentType(t *testing.T) {
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "static/index.html" {
			return err
		}
		if _, ok := contentTypes[path.Ext(name)]; !ok {
			t.Errorf("%s: no content type for %q in contentTypes", name, path.Ext(name))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
