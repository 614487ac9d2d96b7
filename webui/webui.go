// Package webui serves tokentrail's investigation web UI: a single-page
// app of plain HTML, CSS and JavaScript modules, embedded in the binary. The
// page calls the server's /api/v1 routes on the same origin with the API
// key the user types in, and fetches nothing from anywhere else.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:generate go run ./internal/mapgen -in internal/mapgen/source/countries-110m.json -out static/world.json

//go:embed static
var static embed.FS

// ContentSecurityPolicy is the policy sent with every response. The app
// loads scripts, styles and data only from its own origin, and it never
// needs inline scripts or styles, eval, frames or plugins.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// contentTypes maps the extensions of the embedded files to their media
// types. The table is fixed, where mime.TypeByExtension would read the
// host's /etc/mime.types, because a module script served with another type
// than JavaScript does not run.
var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
}

// assetsMarker is replaced in index.html by the versioned assets path.
const assetsMarker = "{{ASSETS}}"

// Handler returns the handler that serves the UI: GET / and /index.html
// return the page, and GET /assets/VERSION/FILE returns its scripts,
// styles and map data. It responds to other paths with 404 and to other
// methods with 405. Mount it at "/" beside the API: an http.ServeMux
// sends /api/ paths to their more specific patterns. The handler is safe
// for concurrent use.
//
// VERSION is a digest of every embedded file, so a new build moves the
// assets to a new path. Assets are cached for a year as immutable, and the
// page is revalidated on every load, so a browser never mixes the scripts
// of two builds.
func Handler() http.Handler {
	h, err := newHandler(static)
	if err != nil {
		// The files are embedded at build time, so this is a broken build.
		panic(fmt.Sprintf("webui: %v", err))
	}
	return h
}

type handler struct {
	index       []byte
	indexTag    string // ETag of index
	version     string
	assets      fs.FS
	assetPrefix string // "/assets/" + version + "/"
}

func newHandler(files fs.FS) (*handler, error) {
	assets, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("open static files: %w", err)
	}
	version, err := digest(assets)
	if err != nil {
		return nil, err
	}
	page, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		return nil, fmt.Errorf("read index.html: %w", err)
	}
	if !bytes.Contains(page, []byte(assetsMarker)) {
		return nil, fmt.Errorf("index.html does not contain %s", assetsMarker)
	}

	h := &handler{version: version, assets: assets, assetPrefix: "/assets/" + version + "/"}
	h.index = bytes.ReplaceAll(page, []byte(assetsMarker), []byte(strings.TrimSuffix(h.assetPrefix, "/")))
	h.indexTag = `"` + version + `"`
	return h, nil
}

// digest returns the first 16 hex digits of a SHA-256 over the names and
// contents of every file in files.
func digest(files fs.FS) (string, error) {
	sum := sha256.New()
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", name, len(data))
		sum.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digest static files: %w", err)
	}
	return hex.EncodeToString(sum.Sum(nil))[:16], nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	header := w.Header()
	header.Set("Content-Security-Policy", ContentSecurityPolicy)
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("Referrer-Policy", "no-referrer")
	header.Set("X-Frame-Options", "DENY")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		header.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the web UI serves GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}

	switch p := r.URL.Path; {
	case p == "/" || p == "/index.html":
		h.serveIndex(w, r)
	case strings.HasPrefix(p, h.assetPrefix):
		h.serveAsset(w, r, strings.TrimPrefix(p, h.assetPrefix))
	default:
		// Includes the assets of another build, which this one cannot serve.
		http.NotFound(w, r)
	}
}

func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	header := w.Header()
	header.Set("Content-Type", "text/html; charset=utf-8")
	header.Set("Cache-Control", "no-cache")
	header.Set("ETag", h.indexTag)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	name = path.Clean(name)
	if name == "index.html" || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(h.assets, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}

	header := w.Header()
	if ctype, ok := contentTypes[path.Ext(name)]; ok {
		header.Set("Content-Type", ctype)
	}
	header.Set("Cache-Control", "public, max-age=31536000, immutable")
	header.Set("ETag", `"`+h.version+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}
